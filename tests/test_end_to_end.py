"""The whole product: sample data -> `dbt build` -> `python -m exporter` -> a fake Meta on 127.0.0.1.

"Now" is pinned through dbt's `as_of` var to the moment the test starts, because the fake Meta
checks event ages against the real clock as Meta does.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import duckdb
import pytest
from conftest import DATASET, TOKEN
from dbt_helpers import prepare_project, run_dbt
from fake_meta import FakeMeta, sha256_hex

from exporter.cli import main

# Deliberate rows of the sample data that the model keeps and the exporter must reject.
REJECTED_CASES = {
    "ORD-BAD-CURRENCY": "invalid_currency",
    "ORD-MALFORMED-EMAIL": "no_usable_email_or_phone",
    "ORD-BAD-PHONE-ONLY": "no_usable_email_or_phone",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample data for now, built once by dbt; each test works on its own copy of the file."""
    root = tmp_path_factory.mktemp("e2e")
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    project = prepare_project(root / "project", as_of)
    db_path, target = root / "warehouse.duckdb", root / "target"
    dbt_vars = {"as_of": as_of.isoformat(sep=" ")}
    run_dbt(["build"], project, db_path, target, vars=dbt_vars, env={"META_DATASET_ID": DATASET})
    return project, db_path, target, dbt_vars


def query(db_path, sql):
    with duckdb.connect(str(db_path)) as con:
        return con.execute(sql).fetchall()


def export(db_path, target, meta, *extra) -> int:
    return main(["--database", str(db_path), "--dbt-target-path", str(target), "--graph-url", meta.url, "-q", *extra])


def test_dbt_then_exporter_delivers_one_correct_event_per_sendable_order(built, scheduled_env, tmp_path):
    project, built_db, target, dbt_vars = built
    db_path = tmp_path / "warehouse.duckdb"
    db_path.write_bytes(built_db.read_bytes())
    report_path = tmp_path / "report.json"

    with FakeMeta(token=TOKEN, dataset_ids=[DATASET]) as meta:
        assert export(db_path, target, meta, "--report-json", str(report_path)) == 0
        events = {event["custom_data"]["order_id"]: event for event in meta.accepted_events}
        assert len(events) == len(meta.accepted_events)  # one event per order, each once
        assert not any(TOKEN in line for line in meta.request_lines)

    model_orders = {row[0] for row in query(db_path, "select distinct order_id from main.meta_offline_events")}
    rejected = dict(query(db_path, "select order_id, any_value(reason) from meta_capi.rejected_rows group by 1"))
    for order_id, reason in REJECTED_CASES.items():
        assert rejected[order_id] == reason
    assert set(events) == model_orders - set(rejected)
    assert {"ORD-62D-INSIDE", "ORD-7D-OUTSIDE", "ORD-AT-AS-OF", "ORD-HASHED-EMAIL", "ORD-NULL-FLAGS"} <= set(events)

    # The five-line order, field by field, from the model's rows and the customer's known data.
    lines = query(
        db_path,
        "select external_id, product_id, quantity, price, timestamp, birthdate, gender "
        "from main.meta_offline_events where order_id = 'ORD-MULTI-LINE' order by product_id",
    )
    external_id, birthdate, gender = lines[0][0], lines[0][5], lines[0][6]
    expected_user_data = {
        "em": sha256_hex("jamie.rivera@example.com"),
        "ph": sha256_hex("12065550134"),
        "fn": sha256_hex("jamie"),
        "ln": sha256_hex("rivera"),
        "ct": sha256_hex("seattle"),
        "st": sha256_hex("wa"),
        "zp": sha256_hex("98101"),
        "country": sha256_hex("us"),
        "external_id": sha256_hex(external_id),
    }
    if birthdate:
        expected_user_data["db"] = sha256_hex(birthdate.strftime("%Y%m%d"))
    if gender and gender.strip().lower() in ("f", "female", "m", "male"):
        expected_user_data["ge"] = sha256_hex(gender.strip().lower()[0])
    assert events["ORD-MULTI-LINE"] == {
        "event_name": "Purchase",
        "event_time": int(lines[0][4].replace(tzinfo=UTC).timestamp()),
        "action_source": "physical_store",
        "event_id": "ORD-MULTI-LINE",
        "user_data": expected_user_data,
        "custom_data": {
            "currency": "USD",
            "value": round(sum(line[2] * line[3] for line in lines), 2),
            "contents": [{"id": line[1], "quantity": line[2], "item_price": line[3]} for line in lines],
            "order_id": "ORD-MULTI-LINE",
            "num_items": sum(line[2] for line in lines),
            "content_type": "product",
        },
    }
    assert events["ORD-HASHED-EMAIL"]["user_data"]["em"] == sha256_hex("pre.hashed@example.com")
    assert events["ORD-LOWER-CURRENCY"]["custom_data"]["currency"] == "EUR"

    report = json.loads(report_path.read_text())
    assert report["rows_read"] == query(db_path, "select count(*) from main.meta_offline_events")[0][0]
    assert report["rows_read"] == report["rows_rejected"] + sum(
        len(e["custom_data"]["contents"]) for e in events.values()
    )
    assert (report["events_sent"], report["events_accepted"], report["completed"]) == (len(events), len(events), True)


def test_first_send_is_62_days_then_the_window_narrows_to_7(built, scheduled_env, tmp_path, monkeypatch):
    project, built_db, built_target, dbt_vars = built
    db_path = tmp_path / "warehouse.duckdb"
    db_path.write_bytes(built_db.read_bytes())
    target = tmp_path / "target"  # this test's dbt runs write their own artifacts
    shutil.copytree(built_target, target)
    dataset_env = {"META_DATASET_ID": DATASET}

    def window_days() -> set[int]:
        return {row[0] for row in query(db_path, "select distinct window_lookback_days from main.meta_offline_events")}

    def dbt_run() -> None:
        run_dbt(["run"], project, db_path, target, vars=dbt_vars, env=dataset_env)

    with FakeMeta(token=TOKEN, dataset_ids=[DATASET]) as meta:
        assert window_days() == {62}  # as the module's build left it
        first_send = len({row[0] for row in query(db_path, "select order_id from main.meta_offline_events")})

        # Test events and an interrupted send are not a completed first send.
        assert export(db_path, target, meta, "--test-event-code", "TEST1") == 0
        meta.expire_token(after=0)
        assert export(db_path, target, meta) == 2
        dbt_run()
        assert window_days() == {62}

        meta.add_token("EAAnew")
        monkeypatch.setenv("META_ACCESS_TOKEN", "EAAnew")
        meta.reset()
        assert export(db_path, target, meta) == 0
        assert len(meta.accepted_events) == first_send - len(REJECTED_CASES)

        dbt_run()
        assert window_days() == {7}
        orders = {row[0] for row in query(db_path, "select order_id from main.meta_offline_events")}
        assert "ORD-7D-INSIDE" in orders and "ORD-7D-OUTSIDE" not in orders and "ORD-62D-INSIDE" not in orders

        # The next run sends nothing new: every order in the 7-day window was accepted already.
        meta.reset()
        assert export(db_path, target, meta) == 0
        assert meta.accepted_events == []

        # Another dataset has had no first send yet: 62 days for it.
        run_dbt(["run"], project, db_path, target, vars=dbt_vars, env={"META_DATASET_ID": "999"})
        assert window_days() == {62}
