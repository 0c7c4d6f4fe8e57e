"""A folder for one test run, shared by its pytest-xdist workers: conftest.py makes it before the
workers start (they inherit its path through the environment) and removes it after the run.
What a run makes once for every worker goes there, under a lock:

    with run_folder.locked("duckdb-reference") as folder:   # the other workers wait here
        if not (folder / "duckdb-reference").exists():
            ...  # make it
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "META_CAPI_TEST_RUN_FOLDER"


@contextmanager
def locked(name: str) -> Iterator[Path]:
    """The run's folder, while this process holds the lock called `name` in it."""
    if VARIABLE not in os.environ:  # outside pytest (a script importing the helpers): this process's
        os.environ[VARIABLE] = tempfile.mkdtemp(prefix="meta-capi-tests-")
    folder = Path(os.environ[VARIABLE])
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder
