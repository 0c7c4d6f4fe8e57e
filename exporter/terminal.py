"""What both commands (`python -m exporter` and `token`) print: one-line usage errors, scrubbed logs."""

from __future__ import annotations

import argparse
import logging
import sys

from exporter import redact
from exporter.status import ExitStatus


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """A usage error in one line (argparse would print the whole usage first), exit 2."""
        self.exit(ExitStatus.CONFIG, f"{self.prog}: {message} (see --help)\n")


class ScrubbingFormatter(logging.Formatter):
    """Every log line, tracebacks included, without the secrets (see redact.py)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact.scrub(super().format(record))


def setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("urllib3").setLevel(logging.WARNING)
