"""The repository itself: nothing large or generated is committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_TRACKED_BYTES = 1_000_000  # wheels, databases and data sets are installed or generated, never committed


def test_no_tracked_file_is_over_one_megabyte():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [ROOT / name for name in tracked.decode().split("\0") if name]
    assert paths, "git ls-files listed nothing: not run from a checkout?"
    too_large = {
        str(path.relative_to(ROOT)): path.stat().st_size
        for path in paths
        if path.is_file() and path.stat().st_size > MAX_TRACKED_BYTES
    }
    assert too_large == {}
