"""bench/neighbours.py: the CPU of the benchmark's own processes is told apart from its neighbours'.

Three processes burn a second of CPU each while the sampler runs in this process: a child (the
tree by its parent chain), a daemonized grandchild that inherited the run's marker (as PostgreSQL's
postmaster after ``pg_ctl start``: its parent is init, yet it is the benchmark's) and a daemonized
grandchild started without the marker (a neighbour)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.neighbours import MARKER, NeighbourSampler, ProcessTimes, machine_busy
from bench.run import neighbours_text
from devstack.postgres import LocalPostgres

BURN_SECONDS = 1.0
# until its own CPU time reaches BURN_SECONDS (not wall time: the machine may be shared)
BURN = f"import time\nwhile time.process_time() < {BURN_SECONDS}: pass\n"
# starts the burner and exits at once, so the burner's parent becomes init (or a subreaper above us)
# (its output elsewhere: the pipe the pid is read from closes when the middle process exits)
DAEMONIZE = (
    "import subprocess, sys\n"
    "quiet = {'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL}\n"
    "burner = subprocess.Popen([sys.executable, '-c', sys.argv[1]], **quiet)\n"
    "print(burner.pid)\n"
)


def daemonized_burner(env: dict[str, str]) -> int:
    middle = subprocess.run(
        [sys.executable, "-c", DAEMONIZE, BURN], env=env, capture_output=True, text=True, check=True
    )
    return int(middle.stdout)


def wait_gone(pid: int) -> None:
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.05)


def test_the_tree_and_the_neighbours_are_told_apart() -> None:
    own_before = time.process_time()
    with NeighbourSampler(interval=0.2) as sampler:
        assert MARKER in os.environ
        child = subprocess.Popen([sys.executable, "-c", BURN])
        marked = daemonized_burner(dict(os.environ))
        unmarked = daemonized_burner({k: v for k, v in os.environ.items() if k != MARKER})
        assert ProcessTimes.parse(marked, Path(f"/proc/{marked}/stat").read_text()).ppid != os.getpid()
        child.wait()
        wait_gone(marked)
        wait_gone(unmarked)
    own = time.process_time() - own_before  # this process's CPU in the window (the sampler's thread too)
    usage = sampler.usage
    assert usage is not None
    assert MARKER not in os.environ

    assert child.pid in sampler.tree_pids
    assert marked in sampler.tree_pids
    assert unmarked not in sampler.tree_pids

    # the tree: this process, the child and the marked burner (all of their CPU, the child's and the
    # two middle processes' through this process's reaped time), plus Python start-ups; not the
    # unmarked burner, which would add another second
    expected = own + 2 * BURN_SECONDS
    assert expected - 0.1 <= usage.tree_cpu_seconds <= expected + 0.6, (usage, own)
    # the unmarked burner is the neighbours' (other processes on the machine may add to it)
    assert usage.neighbours_cpu_seconds >= BURN_SECONDS - 0.1, usage
    assert usage.machine_cpu_seconds >= usage.tree_cpu_seconds + BURN_SECONDS - 0.1, usage
    assert usage.cores == os.cpu_count()


def test_the_benchmarks_postgresql_is_the_trees_though_pg_ctl_daemonizes_it(tmp_path: Path) -> None:
    with NeighbourSampler(interval=0.2) as sampler:
        server = LocalPostgres(tmp_path / "pg", delete_on_exit=True).start()
        try:
            postmaster = server.server.get_pid()
            assert postmaster is not None
            assert ProcessTimes.parse(postmaster, Path(f"/proc/{postmaster}/stat").read_text()).ppid != os.getpid()
            server.sql("SELECT count(*) FROM pg_class;")
            time.sleep(0.5)  # a sample or two while it runs
        finally:
            server.stop()
    assert postmaster in sampler.tree_pids


def test_the_note_states_what_was_measured() -> None:
    before = {"load_at_start": "0.98 / 0.34 / 0.12 (1/5/15 min)", "cpu": "Xeon × 2 logical CPUs"}
    assert "not measured in this run" in neighbours_text(before)
    measured = before | {"bench_cpu_seconds": 5000.0, "run_wall_seconds": 3000.0, "cores": 2}
    measured |= {"load_at_end": "1.90 / 1.80 / 1.70 (1/5/15 min)"}
    quiet = neighbours_text(measured | {"neighbours_cpu_seconds": 150.0})
    assert "Other processes on this machine used 150 CPU-seconds during the run (5% of one core" in quiet
    assert "used 5,000 CPU-seconds" in quiet
    assert "noisy" not in quiet
    shared = neighbours_text(measured | {"neighbours_cpu_seconds": 900.0})
    assert "(30% of one core" in shared
    assert "noisy" in shared


def test_busy_time_leaves_out_idle_and_iowait() -> None:
    stat = (
        "cpu  100 20 30 5000 400 6 7 8 90 10\n"  # user nice system idle iowait irq softirq steal guest guest_nice
        "cpu0 50 10 15 2500 200 3 3 4 45 5\n"
        "cpu1 50 10 15 2500 200 3 4 4 45 5\n"
        "intr 123 4 5\n"
        "ctxt 999\n"
    )
    assert machine_busy(stat) == (100 + 20 + 30 + 6 + 7 + 8, 2)


def test_a_command_name_with_spaces_and_parentheses_is_parsed() -> None:
    fields = " ".join(["S", "77", *["0"] * 9, "120", "30", "5", "6", *["0"] * 4, "4242", "0"])
    times = ProcessTimes.parse(1234, f"1234 (odd) name (x)) {fields}")
    assert (times.ppid, times.own, times.reaped, times.starttime) == (77, 150, 11, 4242)
