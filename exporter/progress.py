"""Progress of a run, fitted to where it runs.

On a terminal: one line redrawn in place, with a bar, events per second and the time left.
Elsewhere (cron, Airflow, CI), where a redrawn line is noise in a log file: one log line every
`interval` seconds with the same figures, so a scheduled run that takes an hour is not silent
for an hour. Neither shows anything but counts: no order ids, no customer data.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from exporter.report import RunReport

log = logging.getLogger(__name__)

BAR_WIDTH = 30
REDRAW_SECONDS = 0.5


class Progress:
    def __init__(
        self,
        report: RunReport,
        interval: float,
        stream: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.report = report
        self.on_terminal = stream.isatty()
        self.interval = REDRAW_SECONDS if self.on_terminal else interval
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.last_shown = self.started

    def show(self) -> None:
        """Called as the run goes; shows the figures at most once per interval."""
        now = self.clock()
        if now - self.last_shown < self.interval:
            return
        self.last_shown = now
        if self.on_terminal:
            self.stream.write("\r" + self.bar_line(now))
            self.stream.flush()
        else:
            log.info("progress: %s", self.figures(now))

    def done(self) -> None:
        if self.on_terminal:
            self.stream.write("\r" + " " * (BAR_WIDTH + 110) + "\r")
            self.stream.flush()

    def bar_line(self, now: float) -> str:
        share = self.share_read()
        return f"[{'#' * int(share * BAR_WIDTH):<{BAR_WIDTH}}] {self.figures(now)}"

    def figures(self, now: float) -> str:
        report, elapsed = self.report, max(now - self.started, 1e-9)
        share = self.share_read()
        rate = report.events_sent / elapsed
        # The time left, from the pace of reading so far: reading and sending go on together.
        left = elapsed * (1 - share) / share if share > 0 else None
        return (
            f"{report.rows_read:,} of {report.rows_in_model:,} rows read ({share:.0%}), "
            f"{report.events_sent:,} events sent, {report.events_accepted:,} accepted, "
            f"{rate:,.0f} events/s, ETA {_duration(left)}"
        )

    def share_read(self) -> float:
        report = self.report
        return min(1.0, report.rows_read / report.rows_in_model) if report.rows_in_model else 1.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
