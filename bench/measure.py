"""Run one measured pipeline in its own process: wall time, CPU time and peak RSS of that process.

Peak RSS comes from `wait4()`'s `ru_maxrss`, but not taken by the bench itself: on Linux, exec
records the high-water RSS of the memory image it replaces, so a child started straight from the
bench (which has held DuckDB's buffers while generating data) would report the bench's peak, not
its own. So a small launcher process (`python -m bench.measure`, ~10 MB) starts the command and
reports its rusage, as `/usr/bin/time` does.

`ru_maxrss` is the peak of the largest single process, though, and a pipeline may run worker
processes. So the launcher also samples the whole process tree every 0.1 s (every descendant
of the command, from /proc): the sum of their RSS and of their PSS (shared pages divided among
the processes sharing them, so forked workers are not counted twice). The reported peak RSS is
the larger of `ru_maxrss` and the tree's peak PSS; the tree's peak RSS sum and process count are
reported too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_mb: float  # ru_maxrss of the process (Linux reports KiB)
    cpu_seconds: float  # user + system, of the whole process tree
    returncode: int
    tree_peak_rss_mb: float = 0.0  # the process tree's peak sum of RSS, sampled
    tree_peak_pss_mb: float = 0.0  # the process tree's peak sum of PSS, sampled
    tree_max_processes: int = 1
    background_cores: float | None = None  # set by the bench: CPU other processes used meanwhile


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, from /proc/stat)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_measured(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> Measured:
    """Run `command` to completion, stdout and stderr to `log`, measured by the launcher."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_path = Path(handle.name)
    try:
        with open(log, "wb") as output:
            subprocess.run(
                [sys.executable, "-m", "bench.measure", str(result_path), "--", *command],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd or Path(__file__).resolve().parent.parent,
                check=False,
            )
        return Measured(**json.loads(result_path.read_text()))
    finally:
        result_path.unlink(missing_ok=True)


def _tree(root: int) -> list[int]:
    """`root` and its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) once it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _launch(result_path: str, command: list[str]) -> int:
    started = time.monotonic()
    process = subprocess.Popen(command)
    peaks = {"rss": 0, "pss": 0, "processes": 1}
    cpu: dict[int, float] = {}  # the last CPU time seen per process of the tree
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            pids = _tree(process.pid)
            memory = [_memory_kb(pid) for pid in pids]
            peaks["rss"] = max(peaks["rss"], sum(rss for rss, _ in memory))
            peaks["pss"] = max(peaks["pss"], sum(pss for _, pss in memory))
            peaks["processes"] = max(peaks["processes"], sum(1 for rss, _ in memory if rss))
            for pid in pids:
                cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    largest = usage.ru_maxrss / 1024
    measured = Measured(
        wall_seconds=wall,
        peak_rss_mb=max(largest, peaks["pss"] / 1024),
        # rusage covers the command and the descendants it reaped; the samples also cover workers
        # that others reaped (a forkserver's), up to their last 0.1 s.
        cpu_seconds=max(usage.ru_utime + usage.ru_stime, sum(cpu.values())),
        returncode=process.returncode,
        tree_peak_rss_mb=peaks["rss"] / 1024,
        tree_peak_pss_mb=peaks["pss"] / 1024,
        tree_max_processes=peaks["processes"],
    )
    Path(result_path).write_text(json.dumps(measured.__dict__))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        raise SystemExit("usage: python -m bench.measure RESULT.json -- COMMAND [ARGS...]")
    sys.exit(_launch(sys.argv[1], sys.argv[3:]))
