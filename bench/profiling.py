"""Reading cProfile output for the report: own time grouped by package, and the top functions.

cProfile charges a coroutine's own time to the coroutine each time it is resumed, so the own-time
(``tottime``) view is the reliable one for asyncio code; cumulative times double-count awaits."""

from __future__ import annotations

import pstats
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

_SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)")
_IDLE = {("runners.py", "run"), ("selectors.py", "select"), ("{method 'poll' of 'select.epoll' objects}", "")}


def package_of(filename: str, function: str) -> str:
    if filename == "~":
        if "select.epoll" in function or "poll" in function:
            return "(idle: waiting in the event loop)"
        return "(builtins: " + _builtin_kind(function) + ")"
    match = _SITE.search(filename)
    if match:
        return match.group(1)
    for marker in ("/services/", "/shared/", "/bench/", "/devstack/"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            head = rest.split("/", 1)[0].removesuffix(".py")
            return marker.strip("/") + "/" + head
    if "/lib/python3" in filename:
        if filename.endswith("asyncio/runners.py") and function == "run":
            return "(idle: waiting in the event loop)"
        return "stdlib/" + Path(filename).parent.name if "asyncio" in filename else "stdlib"
    return "other"


def _builtin_kind(function: str) -> str:
    if "socket" in function or "send" in function or "recv" in function:
        return "socket I/O"
    return "C functions"


def summarise(path: Path, *, top: int = 15) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    functions: list[tuple[float, int, str]] = []
    total = 0.0
    for (filename, line, function), (_cc, ncalls, tottime, _ct, _callers) in raw.items():
        package = package_of(filename, function)
        by_package[package] += tottime
        total += tottime
        if not package.startswith("(idle"):
            short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
            functions.append((tottime, ncalls, f"{short}:{line}({function})"))
    busy = total - by_package.get("(idle: waiting in the event loop)", 0.0)
    functions.sort(reverse=True)
    return {
        "total_seconds": total,
        "busy_seconds": busy,
        "packages": sorted(by_package.items(), key=lambda kv: -kv[1]),
        "functions": functions[:top],
    }


def render(summary: dict[str, Any], *, packages: int = 12) -> str:
    busy = summary["busy_seconds"] or 1.0
    lines = ["| own time by package | seconds | share of busy time |", "| --- | ---: | ---: |"]
    for name, seconds in summary["packages"][:packages]:
        share = "—" if name.startswith("(idle") else f"{100 * seconds / busy:.1f} %"
        lines.append(f"| {name} | {seconds:.2f} | {share} |")
    lines += ["", "| top functions (own time) | calls | seconds |", "| --- | ---: | ---: |"]
    for seconds, calls, name in summary["functions"]:
        lines.append(f"| `{name}` | {calls} | {seconds:.2f} |")
    return "\n".join(lines)
