"""The exact events for the sample data, byte for byte, against a file committed once.

Any change to how events are built, normalized, hashed or serialized (including performance
work) must leave these bytes alone, or update the golden file on purpose:
    UPDATE_GOLDEN=1 ./scripts/test tests/test_golden_events.py

Each request body carries one event (batch size 1) and the bodies are compared sorted, so the
order in which the exporter emits orders may change; the text of every event may not.
"""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from pathlib import Path

import duckdb_reference
from duckdb_reference import AS_OF

from exporter.config import ExportConfig
from exporter.pipeline import run_export

GOLDEN = Path(__file__).parent / "golden" / "sample_events.jsonl"


def sorted_bodies(path: Path) -> bytes:
    return b"".join(sorted(path.read_bytes().splitlines(keepends=True)))


def test_sample_data_gives_exactly_the_golden_events(tmp_path):
    db_path, target = duckdb_reference.copy_to(tmp_path)  # `dbt build` of the sample's seeds and models at AS_OF
    bodies = tmp_path / "bodies.jsonl"
    config = ExportConfig(
        dataset_id="1234567890",
        database=db_path,
        dbt_target_path=target,
        dry_run=True,
        dry_run_output=bodies,
        batch_size=1,
    )

    report_now = AS_OF.replace(tzinfo=UTC) + timedelta(minutes=5)
    report = run_export(config, now=lambda: report_now)

    assert (report.rows_read, report.rows_rejected, report.events_built) == (277, 3, 121)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(sorted_bodies(bodies))
    assert sorted_bodies(bodies) == GOLDEN.read_bytes()
