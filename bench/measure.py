"""Run one measured pipeline in its own process: wall time, CPU time and peak RSS of that process.

Peak RSS comes from `wait4()`'s `ru_maxrss`, but not taken by the bench itself: on Linux, exec
records the high-water RSS of the memory image it replaces, so a child started straight from the
bench (which has held DuckDB's buffers while generating data) would report the bench's peak, not
its own. So a small launcher process (`python -m bench.measure`, ~10 MB) starts the command and
reports its rusage, as `/usr/bin/time` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_mb: float  # ru_maxrss of the process (Linux reports KiB)
    cpu_seconds: float  # user + system
    returncode: int
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


def _launch(result_path: str, command: list[str]) -> int:
    started = time.monotonic()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    measured = Measured(
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
    )
    Path(result_path).write_text(json.dumps(measured.__dict__))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        raise SystemExit("usage: python -m bench.measure RESULT.json -- COMMAND [ARGS...]")
    sys.exit(_launch(sys.argv[1], sys.argv[3:]))
