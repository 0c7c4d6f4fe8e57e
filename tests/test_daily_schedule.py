"""The documented daily schedule, three days running on one DuckDB file, with an analyst's filters set
in dbt_project.yml: each day `dbt build` (unit tests included), then `python -m exporter` sending to
the fake Meta. Every command exits 0; day 1 is the first send (62 days), and days 2 and 3 send
exactly the orders that are new, in the 7-day window the completed first send leads to.

"Now" is pinned per day through dbt's `as_of`; the days end now, because the fake Meta and the
exporter check event ages against the real clock, as Meta does.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import duckdb
from conftest import DATASET
from dbt_helpers import prepare_project, run_dbt, run_results, set_project_vars

from exporter.cli import main

FILTERS = {"purchase_channels": ["store"], "purchase_brands": ["Northwind", "Contoso Outdoor"]}
LINES_CSV = "unified_itemized_transactions.csv"


def new_orders(day: int, as_of: datetime, customer_id: str) -> list[dict]:
    """The day's orders, placed since the previous run: two the filters keep, two they leave out."""

    def line(order_id, at, product_id, brand, channel="store", quantity=1, revenue="10.00"):
        return {
            "amperity_id": customer_id,
            "order_id": f"DAY{day}-{order_id}",
            "order_datetime": at.strftime("%Y-%m-%d %H:%M:%S"),
            "product_id": product_id,
            "item_quantity": quantity,
            "item_revenue": revenue,
            "currency": "USD",
            "purchase_channel": channel,
            "purchase_brand": brand,
            "store_id": "ST-007" if channel == "store" else "",
            "is_cancellation": "false",
            "is_return": "false",
        }

    morning = as_of - timedelta(hours=3)
    return [
        line("STORE", morning, "SKU-1001", "Northwind"),
        line("STORE", morning, "SKU-2001", "Contoso Outdoor", quantity=2, revenue="258.00"),
        line("STORE-AT-AS-OF", as_of, "SKU-1002", "Northwind"),
        line("ONLINE", morning, "SKU-1003", "Northwind", channel="online"),
        line("FABRIKAM", morning, "SKU-3001", "Fabrikam"),
    ]


def append_lines(path, lines: list[dict]) -> None:
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lines[0]), lineterminator="\n")
        writer.writerows(lines)


def query(db_path, sql):
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_three_days_of_dbt_build_then_send_with_filters_set(tmp_path, meta, scheduled_env):
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    days = [now - timedelta(days=2), now - timedelta(days=1), now]
    project = prepare_project(tmp_path / "project", days[0])
    set_project_vars(project, **FILTERS)  # as an analyst configures the project
    with (project / "seeds" / LINES_CSV).open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with (project / "seeds" / "customer_360.csv").open(encoding="utf-8") as handle:
        customer_id = next(csv.DictReader(handle))["amperity_id"]  # Jamie Rivera, the edge cases' customer
    db_path, target = tmp_path / "warehouse.duckdb", tmp_path / "target"

    sent: dict[int, set[str]] = {}
    for day, as_of in enumerate(days, start=1):
        if day > 1:
            lines = new_orders(day, as_of, customer_id)
            assert list(lines[0]) == header
            append_lines(project / "seeds" / LINES_CSV, lines)

        build = run_dbt(
            ["build"],
            project,
            db_path,
            target,
            vars={"as_of": as_of.isoformat(sep=" ")},
            env={"META_DATASET_ID": DATASET},
        )
        assert build.returncode == 0
        statuses = run_results(target)
        assert sum(unique_id.startswith("unit_test.") for unique_id in statuses) >= 25
        assert set(statuses.values()) <= {"success", "pass", "warn"}
        assert not {"purchase_channels_match_source_lines", "purchase_brands_match_source_lines"} & {
            unique_id.split(".")[2] for unique_id, status in statuses.items() if status == "warn"
        }

        accepted_before = len(meta.accepted_events)
        exit_code = main(["--database", str(db_path), "--dbt-target-path", str(target), "--graph-url", meta.url, "-q"])
        assert exit_code == 0
        events = meta.accepted_events[accepted_before:]
        sent[day] = {event["custom_data"]["order_id"] for event in events}
        assert len(sent[day]) == len(events)  # each order once

        # Only what the filters keep, in the window of the day.
        kept = query(
            db_path,
            "select distinct lower(purchase_channel), purchase_brand, window_lookback_days from main.meta_offline_events",
        )
        assert {row[0] for row in kept} == {"store"}
        assert {row[1] for row in kept} <= set(FILTERS["purchase_brands"])
        assert {row[2] for row in kept} == {62 if day == 1 else 7}
        model_orders = {row[0] for row in query(db_path, "select distinct order_id from main.meta_offline_events")}
        rejected = {
            row[0]
            for row in query(
                db_path,
                "select distinct order_id from meta_capi.rejected_rows "
                "where run_id = (select run_id from meta_capi.runs order by started_at desc limit 1)",
            )
        }
        assert sent[day] == model_orders - rejected - set().union(*(sent[earlier] for earlier in range(1, day)))

    assert len(sent[1]) > 40 and not any(order_id.startswith("DAY") for order_id in sent[1])
    # The order placed an hour after day 1's run was in the future then; it is new on day 2.
    assert sent[2] == {"DAY2-STORE", "DAY2-STORE-AT-AS-OF", "ORD-FUTURE"}
    assert sent[3] == {"DAY3-STORE", "DAY3-STORE-AT-AS-OF"}
    assert query(db_path, "select count(*), count(*) filter (where completed) from meta_capi.runs") == [(3, 3)]
