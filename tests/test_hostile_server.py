"""A server that answers badly: redirects, plain http, cut and dribbled answers, 413, echoed secrets.

Each test runs the exporter (or `token check|refresh`) end to end against the fake Meta on
127.0.0.1 and checks that no secret leaves, no run hangs and nothing acknowledged is forgotten.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests
import urllib3
from conftest import DATASET, TOKEN, order_lines
from fake_meta import FakeMeta, appsecret_proof

from exporter import transport
from exporter.cli import main
from exporter.transport import Transport, TransportError

APP_SECRET = "app-secret-for-hostile-tests"
PROOF = appsecret_proof(APP_SECRET, TOKEN)
SECRETS = (TOKEN, APP_SECRET, PROOF)


def accepted(meta) -> list[str]:
    return sorted(event["custom_data"]["order_id"] for event in meta.accepted_events)


def run_with_report(export_env, model, tmp_path, *extra):
    path = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    code = export_env(model, "--report-json", str(path), *extra)
    return code, json.loads(path.read_text())


def state_text(model) -> str:
    """Everything the exporter stored in meta_capi, as text."""
    tables = ("runs", "send_log", "rejected_rows")
    return "".join(str(model.query(f"select * from meta_capi.{table}")) for table in tables)


@pytest.fixture
def elsewhere():
    """A second server a redirect points to: it must never hear from the exporter."""
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], app_secret=APP_SECRET) as server:
        yield server


# ---------------------------------------------------------------- 1. redirects
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_configuration_error_and_the_token_goes_nowhere(
    model, meta, export_env, elsewhere, tmp_path, capsys, status
):
    model.write(order_lines(3))
    meta.fail_next("redirect", status=status, to=f"http://localhost:{elsewhere.port}/v26.0/{DATASET}/events")

    code, report = run_with_report(export_env, model, tmp_path)

    assert code == 2
    assert elsewhere.requests == []
    assert f"localhost:{elsewhere.port}" in report["error"]
    assert "redirect" in capsys.readouterr().err
    assert len(meta.event_requests) == 1  # not retried either
    assert model.query("select exit_code, completed from meta_capi.runs") == [(2, False)]


@pytest.mark.parametrize("command", [["check"], ["refresh", "--output", "TOKEN_FILE"]])
def test_token_commands_never_follow_a_redirect_with_the_app_secret(
    meta, token_env, elsewhere, monkeypatch, tmp_path, capsys, command
):
    token_env(APP_SECRET)
    meta.fail_next("redirect", on="token", to=f"http://localhost:{elsewhere.port}/v26.0/oauth/access_token")
    output = tmp_path / "token"

    code = main(["token", *(str(output) if part == "TOKEN_FILE" else part for part in command)])

    assert code == 2
    assert elsewhere.requests == []
    assert f"localhost:{elsewhere.port}" in capsys.readouterr().err
    assert not output.exists()


# ---------------------------------------------------------------- 2. plain http
def test_plain_http_to_a_host_that_is_not_loopback_is_refused(model, meta, export_env, capsys):
    model.write(order_lines(3))
    # 0.0.0.0 reaches this machine, but it is not a loopback address: a stand-in for a
    # mistyped host that would carry the token in clear text.
    code = export_env(model, "--graph-url", f"http://0.0.0.0:{meta.port}")
    assert code == 2
    assert "https" in capsys.readouterr().err
    assert meta.requests == []


def test_token_commands_refuse_plain_http_too(meta, token_env, monkeypatch, capsys):
    token_env(APP_SECRET, f"http://0.0.0.0:{meta.port}")
    assert main(["token", "check"]) == 2
    assert "https" in capsys.readouterr().err
    assert meta.requests == []


# ---------------------------------------------------------------- 3. cut answers
@pytest.mark.parametrize("how", ["length", "chunked", "gzip", "reset"])
def test_a_cut_answer_is_retried_with_the_same_event_ids(model, meta, export_env, tmp_path, how):
    model.write(order_lines(10))
    meta.fail_next("cut", how=how)  # Meta took the batch, the answer was lost

    code, report = run_with_report(export_env, model, tmp_path, "-q")

    assert code == 0
    assert (report["retries"], report["events_accepted"], report["events_undelivered"]) == (1, 10, 0)
    # Sent twice with the same event_ids, which Meta deduplicates; logged once.
    assert Counter(event["event_id"] for event in meta.accepted_events) == {f"ord-{n:06d}": 2 for n in range(10)}
    assert model.query("select count(*), count(distinct event_id) from meta_capi.send_log") == [(10, 10)]


# ---------------------------------------------------------------- 4. dribbled answers
def test_a_dribbled_answer_times_out_and_the_retry_delivers(model, meta, export_env, tmp_path):
    model.write(order_lines(4))
    meta.fail_next("dribble", interval=0.3)

    started = time.monotonic()
    code, report = run_with_report(export_env, model, tmp_path, "-q", "--timeout", "1")

    assert code == 0
    assert time.monotonic() - started < 15
    assert (report["retries"], report["events_accepted"]) == (1, 4)
    assert model.query("select count(*) from meta_capi.send_log") == [(4,)]


def test_a_server_that_always_dribbles_cannot_outlive_the_retry_budget(model, meta, tmp_path):
    model.write(order_lines(40))
    meta.fail_next("dribble", count=10_000, interval=0.5)
    report_path = tmp_path / "report.json"
    env = {**os.environ, "META_ACCESS_TOKEN": TOKEN, "META_DATASET_ID": DATASET, "META_GRAPH_URL": meta.url}
    budget, timeout = 2.0, 1.0
    command = [sys.executable, "-m", "exporter", "-q", "--report-json", str(report_path)]
    command += model.args("--batch-size", "10", "--timeout", str(timeout), "--retry-budget", str(budget))
    command += ["--first-retry-wait", "0.1", "--max-tries", "100"]

    started = time.monotonic()
    try:
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the exporter hung on a dribbling server")
    elapsed = time.monotonic() - started

    assert finished.returncode == 1, finished.stderr
    # Process start and reading the model take a few seconds on a busy machine: generous.
    assert elapsed < budget + timeout + 15
    report = json.loads(report_path.read_text())
    assert report["events_accepted"] == 0 and report["events_undelivered"] > 0
    assert "Traceback" not in finished.stderr


# ---------------------------------------------------------------- 5. 413
def test_a_request_too_large_is_split_until_it_fits(model, meta, export_env, tmp_path):
    lines = order_lines(20)
    model.write(lines)
    one_event = 1200  # bytes: an event of this model is ~900-1100 bytes
    meta.max_request_bytes = 3 * one_event

    code, report = run_with_report(export_env, model, tmp_path, "-q", "--batch-size", "20")

    assert code == 0
    assert accepted(meta) == [f"ord-{n:06d}" for n in range(20)]
    assert report["events_accepted"] == 20 and report["events_rejected_by_meta"] == 0
    assert all(request.body_bytes <= 3 * one_event for request in meta.event_requests if request.status == 200)


def test_an_event_too_large_on_its_own_is_rejected_and_the_rest_delivered(model, meta, export_env, tmp_path):
    model.write(order_lines(6))
    meta.max_request_bytes = 1  # nothing fits

    code, report = run_with_report(export_env, model, tmp_path, "-q")

    assert code == 1
    assert (report["events_rejected_by_meta"], report["events_undelivered"]) == (6, 0)
    reasons = model.query("select distinct reason from meta_capi.rejected_rows")
    assert reasons == [("too_large_for_meta",)]

    meta.max_request_bytes = None
    assert export_env(model, "-q") == 0  # the next run is not stuck on the same batch
    assert accepted(meta) == [f"ord-{n:06d}" for n in range(6)]


# ---------------------------------------------------------------- 6. echoed secrets
@pytest.mark.parametrize("code, exit_code", [(100, 1), (190, 2), (1, 1)])
def test_an_error_that_echoes_the_request_leaks_no_secret(
    model, meta, export_env, tmp_path, capsys, monkeypatch, code, exit_code
):
    meta.app_secret = APP_SECRET
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    model.write(order_lines(1))
    meta.fail_next("echo", count=3, code=code, transient=code == 1)

    result, report = run_with_report(export_env, model, tmp_path, "-v", "--max-tries", "3")

    assert result == exit_code
    output = capsys.readouterr()
    everything = output.out + output.err + json.dumps(report) + state_text(model)
    assert "Invalid request" in everything  # Meta's message is kept ...
    for secret in SECRETS:
        assert secret not in everything  # ... without the secrets in it


@pytest.mark.parametrize("command", [["check"], ["refresh", "--output", "TOKEN_FILE"]])
def test_token_commands_leak_no_secret_from_an_echo(meta, token_env, monkeypatch, tmp_path, capsys, command):
    token_env(APP_SECRET)
    meta.fail_next("echo", on="token")

    code = main(["token", *(str(tmp_path / "token") if part == "TOKEN_FILE" else part for part in command)])

    assert code in (1, 2)
    output = capsys.readouterr()
    assert "Invalid request" in output.err
    for secret in SECRETS:
        assert secret not in output.out + output.err


# ---------------------------------------------------------------- the deadline, at the transport
@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and then neither reads nor answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connections = []
    accepting = threading.Thread(target=lambda: connections.append(server.accept()[0]), daemon=True)
    accepting.start()
    yield server.getsockname()[1]
    for connection in connections:
        connection.close()
    server.close()


@pytest.mark.parametrize("body_bytes", [10, 20_000_000])  # waiting for an answer; stuck uploading
def test_the_deadline_ends_a_request_to_a_server_that_never_reads_or_answers(silent_server, body_bytes):
    transport = Transport(timeout_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline of 1s") as raised:
        transport.post(f"http://127.0.0.1:{silent_server}/v26.0/1/events", b"x" * body_bytes)
    assert time.monotonic() - started < 5
    assert raised.value.sent is (body_bytes == 10)  # a body stuck on its way was never sent whole
    transport.close()


def test_a_body_stuck_on_its_way_times_out_as_the_deadline_whichever_fires_first():
    """The socket's send times out at the deadline too, and may beat the deadline's timer: urllib3
    then reports a ProtocolError around the TimeoutError, requests a ConnectionError. Both are the
    deadline; a refused connection is not."""
    stuck = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", TimeoutError("timed out")))
    refused = requests.ConnectionError(urllib3.exceptions.NewConnectionError(None, "refused"))
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert "deadline of 1s" in str(transport._failure(stuck, transport._Watch(1.0), 1.0))
    assert "failed before the request was sent" in str(transport._failure(refused, transport._Watch(1.0), 1.0))
