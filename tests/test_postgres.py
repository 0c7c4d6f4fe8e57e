"""The whole dbt project on PostgreSQL 15 (target `postgres`): `dbt build` passes (seeds, models,
the incremental one, unit tests, data tests), and the events are byte for byte those DuckDB
builds from the same sample data, and those of the golden file. The builds are the session's
(postgres_sample.py), shared with test_exporter_postgres.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

GOLDEN = Path(__file__).parent / "golden" / "sample_events.jsonl"


def test_sample_project_builds_on_postgres_with_the_events_duckdb_builds(postgres_sample):
    rows = postgres_sample.rows
    postgres_events = rows["postgres_events"]

    assert len(postgres_events) == 124
    assert postgres_events == rows["duckdb_events"]
    assert rows["postgres_rejected"] == rows["duckdb_rejected"]

    # The golden file holds each request body as {"data":[<event>]}: the event's text is the payload.
    golden = sorted(line[len('{"data":[') : -len("]}")] for line in GOLDEN.read_text().splitlines())
    assert sorted(payload for _, payload, _, reason in postgres_events if reason is None) == golden
