"""Write output files safely: whole or not at all, never through a symlink, private when asked.

A file is written to a temporary file in the destination's folder, then renamed over the
destination. The rename replaces whatever is at the path, a symlink included, instead of
writing through it (so a link planted at `--report-json` cannot make the exporter overwrite
another file), and a reader never sees half a file. Files holding hashed customer data or
secrets are private (mode 600) from their first byte on: the temporary file already is.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

PRIVATE_MODE = 0o600


def _umask() -> int:
    # Reading the umask means setting it; done once, at import, before the exporter starts threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


SHARED_MODE = 0o666 & ~_umask()  # what open() would have given the file


class AtomicFile:
    """A text file that appears at `path` on commit(), complete, or not at all."""

    def __init__(self, path: Path, private: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self._temporary = Path(temporary)
        try:
            os.fchmod(descriptor, PRIVATE_MODE if private else SHARED_MODE)
            self._file = os.fdopen(descriptor, "w", encoding="utf-8")
        except BaseException:
            os.close(descriptor)
            self._temporary.unlink()
            raise

    def write(self, text: str) -> None:
        self._file.write(text)

    def commit(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temporary, self.path)
        except BaseException:
            self.discard()
            raise
        _sync_folder(self.path.parent)

    def discard(self) -> None:
        with suppress(OSError):
            self._file.close()
        with suppress(OSError):
            self._temporary.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_text(path: Path, text: str, private: bool = False) -> None:
    with AtomicFile(path, private) as file:
        file.write(text)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every file system lets a folder be synced."""
    with suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
