"""Kill a real exporter mid-run, start it again: every event arrives, nothing but in-flight batches twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from conftest import DATASET, TOKEN, order_lines

BATCH, CONCURRENCY, ORDERS = 20, 2, 600


def start_exporter(model, meta) -> subprocess.Popen:
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
        *model.args("-q", "--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY)),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


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
    assert export_env(model, "-q") == 0

    counts = Counter(event["custom_data"]["order_id"] for event in meta.accepted_events)
    assert sorted(counts) == [f"ord-{n:06d}" for n in range(ORDERS)]
    sent_twice = [order for order, count in counts.items() if count > 1]
    # Only batches that were in flight (accepted by Meta, not yet logged) can be sent twice ...
    assert len(sent_twice) <= (CONCURRENCY + 1) * BATCH
    # ... and they carry the same event_id, so Meta deduplicates them.
    ids = {(e["custom_data"]["order_id"], e["event_id"], e["event_time"]) for e in meta.accepted_events}
    assert len(ids) == ORDERS
    # The killed run never finished; the second one completed the first send.
    assert sorted(model.query("select completed, exit_code from meta_capi.runs")) == [(False, None), (True, 0)]
