"""Run one measured pipeline in its own process: wall time, CPU time and peak RSS of that process."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_mb: float  # ru_maxrss of the process (Linux reports KiB)
    cpu_seconds: float  # user + system
    returncode: int


def run_measured(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> Measured:
    """Run `command` to completion, stdout and stderr to `log`; measure it with wait4()."""
    with open(log, "wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    return Measured(
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
    )
