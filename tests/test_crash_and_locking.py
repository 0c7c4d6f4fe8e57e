"""Crashes and a broken environment: kill -9, cut answers, corrupt files, a full disk, a locked database."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import DATASET, TOKEN, order_lines

from exporter.state import StateStore

BATCH, CONCURRENCY, ORDERS = 20, 2, 600


def start_exporter(model, meta, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "META_ACCESS_TOKEN": TOKEN,
        "META_DATASET_ID": DATASET,
        "META_GRAPH_URL": meta.url,
    }
    command = [
        sys.executable,
        "-m",
        "exporter",
        *model.args("-q", "--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY), *extra),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def assert_rerun_sends_exactly_what_was_not_logged(model, meta, export_env, orders: int) -> None:
    """Every event Meta acknowledged is in send_log or sent again with the same event_id; nothing else is."""
    time.sleep(0.2)  # a request the fake had fully received is processed before it is counted
    acknowledged = Counter(event["event_id"] for event in meta.accepted_events)
    logged = {row[0] for row in model.query("select event_id from meta_capi.send_log")}
    assert len(logged) == model.query("select count(*) from meta_capi.send_log")[0][0]  # each logged once
    assert logged <= set(acknowledged)  # only what Meta acknowledged is logged
    meta.reset()

    assert export_env(model, "-q") == 0

    resent = Counter(event["event_id"] for event in meta.accepted_events)
    assert max(resent.values(), default=1) == 1
    assert not logged & set(resent)  # nothing logged is sent again
    assert set(acknowledged) <= logged | set(resent)  # every acknowledged event is logged or sent again
    assert logged | set(resent) == {f"ord-{n:06d}" for n in range(orders)}
    # The same order keeps its event_id (and event_time), so Meta deduplicates what it had.
    assert all(event["event_id"] == event["custom_data"]["order_id"] for event in meta.accepted_events)


def test_sigkill_mid_run_then_rerun_delivers_every_event(model, meta, export_env, capsys):
    meta.delay = 0.05  # slow enough to be killed mid-run
    model.write(order_lines(ORDERS))
    exporter = start_exporter(model, meta)
    try:
        wait_until(lambda: len(meta.accepted_events) >= 5 * BATCH)

        # A second exporter on the same file fails fast instead of waiting or corrupting state.
        assert export_env(model) == 2
        assert "in use by another process" in capsys.readouterr().err
    finally:
        exporter.send_signal(signal.SIGKILL)
        exporter.wait()
    delivered_before_kill = len(meta.accepted_events)
    assert 0 < delivered_before_kill < ORDERS * 0.9
    meta.delay = 0

    assert_rerun_sends_exactly_what_was_not_logged(model, meta, export_env, ORDERS)

    # The killed run never finished; the second one completed the first send.
    assert sorted(model.query("select completed, exit_code from meta_capi.runs")) == [(False, None), (True, 0)]


@pytest.mark.parametrize("how", ["length", "gzip", "reset"])
def test_answers_cut_until_the_run_gives_up_then_the_rerun_sends_exactly_the_rest(
    model, meta, export_env, tmp_path, how
):
    model.write(order_lines(100))
    meta.fail_next("pass", count=2)  # two batches answered as usual ...
    meta.fail_next("cut", count=3, how=how)  # ... then Meta takes the third three times, its answers lost
    report_path = tmp_path / "report.json"

    code = export_env(
        model, "-q", "--batch-size", "20", "--concurrency", "1", "--max-tries", "3", "--report-json", str(report_path)
    )

    assert code == 1
    report = json.loads(report_path.read_text())
    assert (report["events_accepted"], report["exit_code"], report["completed"]) == (40, 1, False)
    assert report["events_undelivered"] >= 20 and "same event_id" in report["error"]
    assert model.query("select exit_code, completed, finished_at is not null from meta_capi.runs") == [(1, False, True)]
    third = [event["event_id"] for event in meta.event_requests[2].events]
    assert [[event["event_id"] for event in request.events] for request in meta.event_requests[2:5]] == [third] * 3
    acknowledged = Counter(event["event_id"] for event in meta.accepted_events)
    assert {acknowledged[event_id] for event_id in third} == {3}  # Meta had the batch all along

    assert_rerun_sends_exactly_what_was_not_logged(model, meta, export_env, 100)


# ---------------------------------------------------------------- a broken file or disk: exit 2, one line
def one_line_error(err: str) -> str:
    """The one line that tells the error (an INFO line before it, e.g. the state's migration, aside)."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("INFO ")]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def test_a_file_that_is_not_a_duckdb_database_is_exit_2_in_one_line(model, meta, export_env, capsys):
    model.database.write_bytes(os.urandom(64 * 1024))
    assert export_env(model) == 2
    line = one_line_error(capsys.readouterr().err)
    assert str(model.database) in line and "not a valid DuckDB database" in line
    assert meta.requests == []


def test_a_truncated_duckdb_file_is_exit_2_in_one_line(model, meta, export_env, capsys):
    model.write(order_lines(2000))
    data = model.database.read_bytes()
    model.database.write_bytes(data[: len(data) // 2])
    assert export_env(model) == 2
    line = one_line_error(capsys.readouterr().err)
    assert str(model.database) in line
    assert meta.requests == []


def test_a_database_locked_by_another_process_is_exit_2_in_one_line(model, meta, export_env, capsys):
    model.write(order_lines(2))
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(model.database)!r}); "
         "print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert export_env(model) == 2
    finally:
        holder.communicate("")
    assert "in use by another process" in one_line_error(capsys.readouterr().err)
    assert meta.requests == []


def run_with_file_size_limit(model, meta, limit: int, *extra: str) -> subprocess.CompletedProcess:
    """The exporter in a process whose files cannot grow beyond `limit` bytes: a full disk, for DuckDB."""

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "META_ACCESS_TOKEN": TOKEN, "META_DATASET_ID": DATASET, "META_GRAPH_URL": meta.url}
    command = [sys.executable, "-m", "exporter", *model.args(*extra)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size)


def test_a_full_disk_before_the_run_is_exit_2_in_one_line(model, meta):
    model.write(order_lines(5))
    finished = run_with_file_size_limit(model, meta, 1, "-q")
    assert finished.returncode == 2
    line = one_line_error(finished.stderr)
    assert str(model.database) in line and "File too large" in line, line
    assert meta.requests == []


def test_a_full_disk_mid_run_ends_the_run_cleanly_and_the_next_run_finishes(model, meta, export_env, tmp_path):
    model.write(order_lines(400))
    # The state exists (a dry run made it), so the limited run writes only rows.
    assert export_env(model, "-q", "--dry-run", "--dry-run-output", str(tmp_path / "bodies.jsonl")) == 0
    report_path = tmp_path / "report.json"

    finished = run_with_file_size_limit(
        model, meta, 8 * 1024, "--batch-size", "50", "--concurrency", "1", "--report-json", str(report_path)
    )

    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr
    assert "File too large" in finished.stderr and "Meta offline events run" in finished.stderr  # the summary
    report = json.loads(report_path.read_text())
    assert report["exit_code"] == 2 and "File too large" in report["error"]
    assert_rerun_sends_exactly_what_was_not_logged(model, meta, export_env, 400)


def test_sigterm_mid_run_ends_the_run_with_its_report_and_state(model, meta, export_env, tmp_path):
    meta.delay = 0.05
    model.write(order_lines(ORDERS))
    report_path = tmp_path / "report.json"
    exporter = start_exporter(model, meta, "--report-json", str(report_path))
    try:
        wait_until(lambda: len(meta.accepted_events) >= 3 * BATCH)
        exporter.send_signal(signal.SIGTERM)
        _, err = exporter.communicate(timeout=60)
    finally:
        exporter.kill()
    meta.delay = 0

    assert exporter.returncode == 1
    assert "Traceback" not in err and "Interrupted" in err
    report = json.loads(report_path.read_text())
    assert report["exit_code"] == 1 and report["completed"] is False
    assert model.query("select exit_code, completed, finished_at is not null from meta_capi.runs") == [(1, False, True)]
    # What Meta had acknowledged was logged before the process ended (a signal landing between
    # counting a batch and queueing it for the log leaves that batch to the next run).
    assert 0 < model.query("select count(*) from meta_capi.send_log")[0][0] <= report["events_accepted"]
    assert_rerun_sends_exactly_what_was_not_logged(model, meta, export_env, ORDERS)


def test_a_bug_mid_run_ends_the_run_and_shows_a_scrubbed_traceback_only_with_v(
    model, meta, export_env, tmp_path, capsys, monkeypatch
):
    model.write(order_lines(30))
    read = StateStore.pending_events
    built = []

    def read_then_fail(self, *args, **kwargs):
        for event in read(self, *args, **kwargs):
            built.append(event.order_id)
            if len(built) == 12:  # after two batches of 5, in each run
                raise RuntimeError(f"a bug that mentions the token {TOKEN}")
            yield event

    monkeypatch.setattr(StateStore, "pending_events", read_then_fail)

    for flags, traceback in (([], False), (["-v"], True)):
        report_path = tmp_path / "report.json"
        built.clear()
        assert export_env(model, *flags, "--batch-size", "5", "--report-json", str(report_path)) == 1
        err = capsys.readouterr().err
        assert ("Traceback" in err) is traceback
        assert "Internal error (RuntimeError" in err and TOKEN not in err
        report = json.loads(report_path.read_text())
        assert report["exit_code"] == 1 and "Internal error" in report["error"] and TOKEN not in report["error"]
    runs = model.query("select exit_code, completed, error from meta_capi.runs order by started_at")
    assert [row[:2] for row in runs] == [(1, False), (1, False)]
    assert all(TOKEN not in row[2] for row in runs)
    # What was accepted before the bug is logged.
    assert model.query("select count(distinct event_id) from meta_capi.send_log")[0][0] >= 15
