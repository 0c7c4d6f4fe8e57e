"""Progress and logs that fit where the exporter runs: a bar on a terminal, periodic log lines
elsewhere, every batch with -v, errors only with -q; never a token or raw customer data."""

from __future__ import annotations

import io
import re

from conftest import TOKEN, order_lines

from exporter.progress import Progress
from exporter.report import RunReport

PROGRESS_LINE = re.compile(
    r"INFO exporter\.progress: progress: [\d,]+ of [\d,]+ rows read \(\d+%\), [\d,]+ events sent, "
    r"[\d,]+ accepted, [\d,]+ events/s, ETA (\d+:\d\d:\d\d|unknown)"
)
BATCH_LINE = re.compile(
    r"DEBUG exporter\.delivery: batch of (\d+) events: attempt (\d+), (HTTP \d+|no answer), fbtrace_id (\S+), [\d.]+s"
)


def assert_no_secret_or_pii(text: str) -> None:
    assert TOKEN not in text
    assert "example.com" not in text.lower() and "555-" not in text and "O'Brien" not in text


def test_without_a_terminal_progress_is_a_log_line_per_interval(model, export_env, capsys):
    model.write(order_lines(40))
    assert export_env(model, "--batch-size", "10", "--progress-every", "1e-9") == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "progress:" in line]
    assert len(lines) == 4  # one per batch, with an interval of a nanosecond
    assert all(PROGRESS_LINE.fullmatch(line) for line in lines), lines
    assert "79 of 79 rows read (100%)" in lines[-1] and "40 events sent" in lines[-1]
    assert_no_secret_or_pii(err)


def test_the_default_interval_keeps_a_short_run_quiet(model, export_env, capsys):
    model.write(order_lines(40))
    assert export_env(model, "--batch-size", "10") == 0
    assert "progress:" not in capsys.readouterr().err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_with_rate_and_eta_is_redrawn_in_place():
    report = RunReport("run", "1", "main.model", dry_run=False, test_event_code=False)
    report.rows_in_model = 1000
    now = [100.0]
    terminal = FakeTerminal()
    progress = Progress(report, interval=10, stream=terminal, clock=lambda: now[0])
    report.rows_read, report.events_sent, report.events_accepted = 250, 200, 100
    now[0] = 110.0
    progress.show()
    assert terminal.getvalue() == (
        "\r[#######                       ] 250 of 1,000 rows read (25%), 200 events sent, 100 accepted, "
        "20 events/s, ETA 0:00:30"
    )
    now[0] = 110.2  # redrawn at most twice a second, whatever the log interval
    progress.show()
    assert terminal.getvalue().count("\r") == 1
    progress.done()
    assert terminal.getvalue().endswith("\r")


def test_verbose_logs_every_batch_and_every_attempt(model, meta, export_env, capsys):
    model.write(order_lines(25))
    meta.fail_next("server_error")
    assert export_env(model, "-v", "--batch-size", "10", "--concurrency", "1") == 0
    err = capsys.readouterr().err
    batches = [BATCH_LINE.fullmatch(line) for line in err.splitlines() if "batch of" in line]
    assert all(batches), err
    attempts = sorted((int(m[1]), int(m[2]), m[3]) for m in batches)
    assert attempts == [(5, 1, "HTTP 200"), (10, 1, "HTTP 200"), (10, 1, "HTTP 500"), (10, 2, "HTTP 200")]
    assert all(m[4] != "-" for m in batches if m[3] == "HTTP 200")  # Meta's trace id, to quote to support
    assert_no_secret_or_pii(err)


def test_quiet_logs_nothing_but_errors(model, meta, export_env, capsys):
    model.write(order_lines(5))
    assert export_env(model, "-q", "--progress-every", "1e-9") == 0
    assert capsys.readouterr().err == ""
    meta.expire_token()
    assert export_env(model, "-q", "--resend") == 2
    err = capsys.readouterr().err
    assert err.startswith("ERROR") and all(line.startswith(("ERROR", " ")) or not line for line in err.splitlines())
    assert_no_secret_or_pii(err)
