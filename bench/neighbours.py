"""How much CPU the rest of the machine used while the benchmark ran: its neighbours.

Every ``interval`` seconds the sampler reads the machine's busy CPU time from ``/proc/stat`` and the
CPU time of each process of the benchmark's own tree from ``/proc/<pid>/stat``; at the end, the
neighbours' CPU is the machine's busy CPU over the run minus the tree's. The benchmark's note states
that figure instead of assuming a quiet or a busy machine.

The tree is the benchmark process, every process whose parent chain leads to it, and every process
carrying this run's marker in its environment (``MARKER``, set when the sampler starts, so every
process started afterwards inherits it): ``pg_ctl start`` daemonizes PostgreSQL, whose postmaster is
then a child of init rather than of the benchmark, yet it is the benchmark's server.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "CHILDCARE_BENCH_TREE"
SAMPLE_SECONDS = 2.0  # short enough that what escapes the tree's count between samples stays small

# /proc/stat's aggregate "cpu" line: user nice system idle iowait irq softirq steal guest guest_nice.
# Busy is everything but idle and iowait; guest time is already inside user (and guest_nice in nice).
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def machine_busy(stat_text: str) -> tuple[int, int]:
    """The busy clock ticks of all CPUs together and the number of CPUs, from ``/proc/stat``."""
    busy, cores = 0, 0
    for line in stat_text.splitlines():
        name, _, values = line.partition(" ")
        if name == "cpu":
            columns = [int(v) for v in values.split()]
            busy = sum(columns[i] for i in _BUSY_COLUMNS if i < len(columns))
        elif name.startswith("cpu") and name[3:].isdigit():
            cores += 1
    return busy, cores


@dataclass(frozen=True)
class ProcessTimes:
    """One process as ``/proc/<pid>/stat`` shows it (times in clock ticks)."""

    pid: int
    ppid: int
    starttime: int  # ticks after boot: with the pid, names one process even when pids are reused
    own: int  # utime + stime
    reaped: int  # cutime + cstime: the children it has waited for, with their reaped children

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.starttime

    @staticmethod
    def parse(pid: int, stat_text: str) -> ProcessTimes:
        # the command name (field 2) is in parentheses and may hold spaces or ")": split after the last
        fields = stat_text.rsplit(")", 1)[1].split()  # fields[0] is field 3 of proc(5), the state
        return ProcessTimes(
            pid=pid,
            ppid=int(fields[1]),
            starttime=int(fields[19]),
            own=int(fields[11]) + int(fields[12]),
            reaped=int(fields[13]) + int(fields[14]),
        )


def read_processes() -> dict[int, ProcessTimes]:
    processes: dict[int, ProcessTimes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            processes[int(entry.name)] = ProcessTimes.parse(int(entry.name), (entry / "stat").read_text())
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
    return processes


def carries(pid: int, marker: bytes) -> bool:
    """Whether the process's environment holds ``marker`` (``NAME=value``); another user's processes
    are unreadable without privileges, and those are not the benchmark's."""
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


@dataclass(frozen=True)
class Usage:
    wall_seconds: float
    cores: int
    machine_cpu_seconds: float  # busy CPU of all cores together
    tree_cpu_seconds: float  # of those, the benchmark's own processes

    @property
    def neighbours_cpu_seconds(self) -> float:
        return max(0.0, self.machine_cpu_seconds - self.tree_cpu_seconds)

    @property
    def neighbours_share_of_one_core(self) -> float:
        return self.neighbours_cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


class NeighbourSampler:
    """``with NeighbourSampler() as sampler: …`` then ``sampler.usage``: the machine's and the tree's
    CPU between entering and leaving.

    Each process of the tree counts with its own CPU time and that of the children it reaped (cutime,
    cstime: the short-lived ones, PostgreSQL's backends say, that started and ended between two
    samples) since the first sample or its start. When a process of the tree ends and its parent is
    in the tree, its time moves into the parent's reaped time, so its own count is dropped then. What
    escapes: a process of the tree reaped by a process outside it (a daemonized grandchild whose
    middle parent exited counts only while it is seen) and the CPU of a process between its last
    sample and its end when nobody in the tree reaps it. Both land on the neighbours' side, so the
    neighbours' figure is an upper bound; a 2 s interval keeps the difference small.
    """

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.root = os.getpid()
        self.ticks_per_second = os.sysconf("SC_CLK_TCK")
        self.usage: Usage | None = None
        self.tree_pids: set[int] = set()  # every pid counted in the tree (for tests and curiosity)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="neighbours", daemon=True)
        self._marker = b""
        self._previous_marker: str | None = None
        self._outside: set[tuple[int, int]] = set()  # processes already found not to be the tree's
        self._counted: dict[tuple[int, int], int] = {}  # per process of the tree: its ticks in the run
        self._baseline: dict[tuple[int, int], int] = {}
        self._parent_in_tree: dict[tuple[int, int], bool] = {}  # at the last sample that saw it
        self._first_busy = self._last_busy = 0
        self._cores = 0
        self._started = self._ended = 0.0

    def __enter__(self) -> NeighbourSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        root_start = ProcessTimes.parse(self.root, Path(f"/proc/{self.root}/stat").read_text()).starttime
        value = f"{self.root}-{root_start}"
        self._marker = f"{MARKER}={value}".encode()
        self._previous_marker = os.environ.get(MARKER)
        os.environ[MARKER] = value  # before any process of the run starts, so every one inherits it
        self._started = time.monotonic()
        self._sample(first=True)
        self._thread.start()

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join()
        self._sample(first=False)
        self._ended = time.monotonic()
        if self._previous_marker is None:
            os.environ.pop(MARKER, None)
        else:
            os.environ[MARKER] = self._previous_marker
        tick = 1 / self.ticks_per_second
        self.usage = Usage(
            wall_seconds=self._ended - self._started,
            cores=self._cores,
            machine_cpu_seconds=(self._last_busy - self._first_busy) * tick,
            tree_cpu_seconds=sum(self._counted.values()) * tick,
        )
        return self.usage

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(first=False)

    def _in_tree(self, process: ProcessTimes, processes: dict[int, ProcessTimes], known: dict[int, bool]) -> bool:
        """Whether ``process`` is the tree's: the root, counted before (a child whose parent ended
        stays the tree's), carrying the marker, or a child of a process of the tree. A process found
        outside stays outside: a parent chain never changes into the tree (only towards init)."""
        chain: list[int] = []
        current: ProcessTimes | None = process
        verdict = False
        while current is not None:
            if current.pid in known:
                verdict = known[current.pid]
                break
            chain.append(current.pid)
            if current.pid == self.root or current.key in self._counted:
                verdict = True
                break
            if current.key in self._outside:
                break
            if carries(current.pid, self._marker):
                verdict = True
                break
            current = processes.get(current.ppid) if current.ppid not in chain else None
        for pid in chain:
            known[pid] = verdict
            if not verdict:
                self._outside.add(processes[pid].key)
        return verdict

    def _sample(self, *, first: bool) -> None:
        with self._lock:
            busy, cores = machine_busy(Path("/proc/stat").read_text())
            processes = read_processes()
            known: dict[int, bool] = {}
            seen: set[tuple[int, int]] = set()
            for process in processes.values():
                if not self._in_tree(process, processes, known):
                    continue
                total = process.own + process.reaped
                # what it had used before the run started is not the run's; a process started
                # since counts from zero
                base = self._baseline.setdefault(process.key, total if first else 0)
                self._counted[process.key] = total - base
                parent = processes.get(process.ppid)
                self._parent_in_tree[process.key] = parent is not None and self._in_tree(parent, processes, known)
                seen.add(process.key)
                self.tree_pids.add(process.pid)
            for key in [k for k in self._parent_in_tree if k not in seen]:
                # ended: reaped by a parent of the tree, its whole time is now in the parent's reaped
                # time; else what was seen of it stays counted
                if self._parent_in_tree.pop(key):
                    del self._counted[key]
            if first:
                self._first_busy = busy
            self._last_busy, self._cores = busy, cores
