"""End to end: the sample data for a pinned moment, `dbt build` on a temporary DuckDB file, and the
rows of `meta_offline_events` checked exactly, against the deliberate cases and against a small
Python re-statement of the rules.

The project is copied to a temporary directory and the seeds generated there (dbt reads seeds
only from `seed-paths`), so the repository's `seeds/` is never written and tests can run in
parallel. DuckDB's session TimeZone is set to a non-UTC zone to show the model does not depend
on it. Each scenario works on its own copy of the built DuckDB file, so tests run in any order.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import duckdb
import pytest
from dbt_helpers import (
    REFERENCE_SEEDS,
    expected_model_rows,
    generate_sample_data,
    model_rows,
    prepare_project,
    run_dbt,
    run_results,
    source_rows,
    write_profile,
)

AS_OF = datetime(2026, 11, 23, 12, 0, 0)  # naive = UTC
VARS = {"as_of": "2026-11-23 12:00:00"}
DATASET = "1234567890"

CONTRACT_COLUMNS = [
    ("external_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("given_name", "VARCHAR"),
    ("surname", "VARCHAR"),
    ("birthdate", "DATE"),
    ("gender", "VARCHAR"),
    ("city", "VARCHAR"),
    ("state", "VARCHAR"),
    ("postal", "VARCHAR"),
    ("country", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("quantity", "INTEGER"),
    ("product_id", "VARCHAR"),
    ("timestamp", "TIMESTAMP"),
    ("price", "DOUBLE"),
    ("currency", "VARCHAR"),
    ("action_source", "VARCHAR"),
    ("event_name", "VARCHAR"),
]

# Deliberate cases of seeds/generate_sample_data.py: order_id -> model rows with 62 / 7 days.
CASES = {
    "ORD-AT-AS-OF": (1, 1),
    "ORD-FUTURE": (0, 0),
    "ORD-7D-INSIDE": (1, 1),
    "ORD-7D-EXACT": (1, 0),
    "ORD-7D-OUTSIDE": (1, 0),
    "ORD-62D-INSIDE": (1, 0),
    "ORD-62D-EXACT": (0, 0),
    "ORD-62D-OUTSIDE": (0, 0),
    "ORD-CANCELLED": (1, 1),  # the sale line; its cancellation line is dropped
    "ORD-CANCEL-POSITIVE": (0, 0),
    "ORD-RETURNED": (1, 1),  # the sale line; its return line is dropped
    "ORD-RETURN-POSITIVE": (0, 0),
    "ORD-NULL-FLAGS": (1, 1),
    "ORD-ZERO-QTY": (0, 0),
    "ORD-NULL-QTY": (0, 0),
    "ORD-NEGATIVE-QTY": (0, 0),
    "ORD-FREE-ITEM": (1, 1),
    "ORD-BAD-CURRENCY": (1, 1),
    "ORD-NULL-CURRENCY": (1, 1),
    "ORD-LOWER-CURRENCY": (1, 1),
    "ORD-NO-CONTACT": (0, 0),
    "ORD-BLANK-CONTACT": (0, 0),
    "ORD-UNKNOWN-CUSTOMER": (0, 0),
    "ORD-ONLY-EMAIL": (1, 1),
    "ORD-ONLY-PHONE": (1, 1),
    "ORD-MALFORMED-EMAIL": (1, 1),
    "ORD-BAD-PHONE-ONLY": (1, 1),
    "ORD-HASHED-EMAIL": (1, 1),
    "ORD-DUPLICATE-CUSTOMER": (1, 1),
    "ORD-MULTI-LINE": (5, 5),
}
# Pinned for the default seed: a change to the generator must update these on purpose.
EXPECTED_ROWS = {62: 277, 30: 204, 7: 150}


def expected_rows(db_path, lookback_days: int, schema: str = "amperity_sample") -> Counter:
    lines, customers = source_rows(db_path, schema)
    return expected_model_rows(lines, customers, as_of=AS_OF, lookback_days=lookback_days)


def query(db_path, sql):
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def counts_by_case(db_path) -> dict[str, int]:
    found = dict(query(db_path, "select order_id, count(*) from main.meta_offline_events group by order_id"))
    return {order_id: found.get(order_id, 0) for order_id in CASES}


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt_project")
    project = prepare_project(root / "project", AS_OF)
    # Not UTC on purpose: nothing in the models may depend on the session's time zone.
    profiles = write_profile(root / "profiles", settings={"TimeZone": "America/Los_Angeles"})
    return root, project, profiles


@pytest.fixture(scope="module")
def first_build(work):
    """`dbt build` (seeds, models, unit and data tests) on a fresh DuckDB file: the first send."""
    root, project, profiles = work
    db_path, target = root / "first.duckdb", root / "target-first"
    result = run_dbt(["build"], project, db_path, target, vars=VARS, profiles_dir=profiles)
    return db_path, target, result


# Later runs, on other tables with the same rows (var source_schema), each on its own DuckDB file
# with its own `meta_capi.runs` rows: name -> (runs, env, extra vars, dbt command). Independent,
# so they run concurrently.
SCENARIOS = {
    # A first send cut short and a completed send to another dataset do not count.
    "not_completed": (
        [("cut-short", DATASET, False), ("other-dataset", "999", True)],
        {"META_DATASET_ID": DATASET},
        {},
        ["build"],
    ),
    "completed": (
        [("cut-short", DATASET, False), ("finished", DATASET, True)],
        {"META_DATASET_ID": DATASET},
        {},
        ["build"],
    ),
    # Without META_DATASET_ID, a completed send to any dataset counts.
    "any_dataset": ([("other-dataset", "999", True)], {}, {}, ["run"]),
    "override": ([], {"META_DATASET_ID": DATASET}, {"lookback_days": 30}, ["run"]),
}


@pytest.fixture(scope="module")
def scenarios(work, first_build):
    """{name: (DuckDB file, target path, error or None)} after running every scenario."""
    root, project, profiles = work

    def run(name):
        runs, env, extra_vars, command = SCENARIOS[name]
        db_path, target = root / f"{name}.duckdb", root / f"target-{name}"
        with duckdb.connect(str(db_path)) as con:
            con.execute(f"attach '{first_build[0]}' as built (read_only)")
            con.execute("create schema crm")
            # An extra column: sources may hold more than the contract names.
            con.execute(
                "create table crm.unified_itemized_transactions as "
                "select *, 'nightly' as loaded_by from built.amperity_sample.unified_itemized_transactions"
            )
            con.execute("create table crm.customer_360 as select * from built.amperity_sample.customer_360")
            # The reference seeds, as a warehouse that ran `dbt seed` (or `dbt build`) once has them.
            con.execute("create schema meta_capi_reference")
            for (table,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'built' and table_schema = 'meta_capi_reference'"
            ).fetchall():
                con.execute(
                    f"create table meta_capi_reference.{table} as select * from built.meta_capi_reference.{table}"
                )
            if runs:
                # The columns of the exporter's table the macro relies on (it has more).
                con.execute("create schema meta_capi")
                con.execute(
                    "create table meta_capi.runs (run_id varchar primary key, dataset_id varchar not null, "
                    "started_at timestamp not null, finished_at timestamp, exit_code integer, "
                    "completed boolean not null default false)"
                )
                for run_id, dataset_id, completed in runs:
                    started = AS_OF - timedelta(days=1)
                    con.execute(
                        "insert into meta_capi.runs values (?, ?, ?, ?, ?, ?)",
                        [run_id, dataset_id, started, started + timedelta(minutes=5), 0 if completed else 1, completed],
                    )
        try:
            # Unit tests ran in the first build; here the models and their data tests.
            run_dbt(
                [*command, "--exclude", "resource_type:unit_test"],
                project,
                db_path,
                target,
                vars={**VARS, "source_schema": "crm", **extra_vars},
                env=env,
                profiles_dir=profiles,
            )
        except Exception as error:  # reported by the scenario's own test
            return db_path, target, error
        return db_path, target, None

    with ThreadPoolExecutor(max_workers=max(2, min(len(SCENARIOS), os.cpu_count() or 2))) as pool:
        return dict(zip(SCENARIOS, pool.map(run, SCENARIOS), strict=True))


def scenario(scenarios, name):
    db_path, target, error = scenarios[name]
    if error is not None:
        raise error
    return db_path, target


# -- the sample data ----------------------------------------------------------------------------
def test_generator_is_deterministic_and_relative_to_as_of(tmp_path):
    first = generate_sample_data(tmp_path / "a", AS_OF)
    again = generate_sample_data(tmp_path / "b", AS_OF)
    later = generate_sample_data(tmp_path / "c", AS_OF + timedelta(days=3, hours=5))
    assert first == again == later
    assert 60 <= first["customers"] <= 100 and 200 <= first["lines"] <= 500
    for name in ("unified_itemized_transactions.csv", "customer_360.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Shifting as_of shifts every timestamp and nothing else.
    shifted = [
        line.replace(line.split(",")[2], str(datetime.fromisoformat(line.split(",")[2]) + timedelta(days=3, hours=5)))
        for line in (tmp_path / "a" / "unified_itemized_transactions.csv").read_text().splitlines()[1:]
    ]
    assert sorted(shifted) == sorted(
        (tmp_path / "c" / "unified_itemized_transactions.csv").read_text().splitlines()[1:]
    )


# -- the first build: 62 days -------------------------------------------------------------------
def test_build_passes_with_only_the_expected_warnings(first_build):
    db_path, target, result = first_build
    statuses = run_results(target)
    warned = sorted(unique_id.split(".")[2] for unique_id, status in statuses.items() if status == "warn")
    # The sample data holds a duplicated customer_360 row and a 'US$' currency on purpose.
    assert warned == ["meta_offline_events_currency_has_three_letters", "unique_stg_amperity__customer_360_amperity_id"]
    assert set(statuses.values()) == {"success", "pass", "warn"}
    assert sum(unique_id.startswith("unit_test.") for unique_id in statuses) >= 20


def test_model_has_the_contract_columns_in_order(first_build):
    columns = query(
        first_build[0],
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = 'meta_offline_events' "
        "order by ordinal_position",
    )
    assert columns[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS


def test_first_send_keeps_62_days(first_build):
    db_path = first_build[0]
    assert {order_id: rows_62 for order_id, (rows_62, _) in CASES.items()} == counts_by_case(db_path)
    assert model_rows(db_path) == expected_rows(db_path, 62)
    assert sum(model_rows(db_path).values()) == EXPECTED_ROWS[62]
    assert query(
        db_path,
        "select distinct window_as_of, window_lookback_days, action_source, event_name from main.meta_offline_events",
    ) == [(AS_OF, 62, "physical_store", "Purchase")]


def test_first_send_window_edges(first_build):
    timestamps = dict(
        query(
            first_build[0],
            "select order_id, timestamp from main.meta_offline_events "
            "where order_id like 'ORD-%D-%' or order_id = 'ORD-AT-AS-OF'",
        )
    )
    assert min(timestamps.values()) == AS_OF - timedelta(days=62) + timedelta(hours=1)
    assert max(timestamps.values()) == AS_OF
    assert timestamps["ORD-7D-EXACT"] == AS_OF - timedelta(days=7)


def test_values_are_standardized_not_dropped(first_build):
    rows = {
        row[0]: row[1:]
        for row in query(
            first_build[0],
            """
        select order_id, currency, price, email, phone from main.meta_offline_events
        where order_id in ('ORD-BAD-CURRENCY', 'ORD-NULL-CURRENCY', 'ORD-LOWER-CURRENCY', 'ORD-MALFORMED-EMAIL',
                           'ORD-BAD-PHONE-ONLY', 'ORD-FREE-ITEM', 'ORD-DUPLICATE-CUSTOMER')
    """,
        )
    }
    assert rows["ORD-BAD-CURRENCY"][0] == "US$"
    assert rows["ORD-NULL-CURRENCY"][:2] == ("USD", 19.99)  # 39.98 for 2 units
    assert rows["ORD-LOWER-CURRENCY"][0] == "EUR"
    assert rows["ORD-MALFORMED-EMAIL"][2:] == ("maria.garcia@", None)
    assert rows["ORD-BAD-PHONE-ONLY"][2:] == (None, "12345")
    assert rows["ORD-FREE-ITEM"][1] == 0.0
    # Of the duplicated customer's two rows, the one with both email and phone.
    assert rows["ORD-DUPLICATE-CUSTOMER"][2:] == ("siobhan.oconnor@example.co.uk", "+44 20 7946 0321")
    prices = query(first_build[0], "select sum(price * quantity) from main.meta_offline_events")[0][0]
    assert prices > 0


# -- other source tables, and the 62 -> 7 switch -------------------------------------------------
def test_other_source_tables_give_the_same_rows_and_load_no_seeds(first_build, scenarios):
    db_path, target = scenario(scenarios, "not_completed")
    assert model_rows(db_path) == model_rows(first_build[0])
    assert model_rows(db_path) == expected_rows(db_path, 62, schema="crm")
    schemas = {row[0] for row in query(db_path, "select schema_name from information_schema.schemata")}
    assert "amperity_sample" not in schemas
    # No sample seeds (the reference seeds the rules need still load).
    assert not any(uid.startswith("seed.") and uid.split(".")[2] not in REFERENCE_SEEDS for uid in run_results(target))
    assert set(run_results(target).values()) == {"success", "pass", "warn"}  # the data tests ran


def test_window_stays_62_days_until_a_send_to_this_dataset_completes(scenarios):
    db_path, _ = scenario(scenarios, "not_completed")
    assert query(db_path, "select distinct window_lookback_days from main.meta_offline_events") == [(62,)]


def test_window_narrows_to_7_days_after_the_first_completed_send(scenarios):
    db_path, target = scenario(scenarios, "completed")
    assert {order_id: rows_7 for order_id, (_, rows_7) in CASES.items()} == counts_by_case(db_path)
    assert model_rows(db_path) == expected_rows(db_path, 7, schema="crm")
    assert sum(model_rows(db_path).values()) == EXPECTED_ROWS[7]
    assert query(db_path, "select distinct window_lookback_days from main.meta_offline_events") == [(7,)]
    assert set(run_results(target).values()) == {"success", "pass", "warn"}  # the data tests ran


def test_any_dataset_counts_when_meta_dataset_id_is_unset(scenarios):
    db_path, _ = scenario(scenarios, "any_dataset")
    assert model_rows(db_path) == expected_rows(db_path, 7, schema="crm")


def test_numeric_lookback_days_overrides(scenarios):
    db_path, _ = scenario(scenarios, "override")
    assert model_rows(db_path) == expected_rows(db_path, 30, schema="crm")
    assert sum(model_rows(db_path).values()) == EXPECTED_ROWS[30]
