"""Users' own source tables: columns the contract makes optional may be absent, `order_datetime` may
be ISO 8601 text, and a missing required column stops the run with a message naming it.

Each source is made from the sample data in a schema of its own (var `source_schema`), as a user's
tables would be; the model must hold exactly the rows the rules give for the same purchases.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
from dbt_helpers import (
    create_source_tables,
    expected_model_rows,
    model_rows,
    prepare_project,
    run_dbt,
    run_results,
    sample_rows,
)

AS_OF = datetime(2026, 11, 23, 12, 0, 0)  # naive = UTC
VARS = {"as_of": "2026-11-23 12:00:00"}
ABSENT_LINE_COLUMNS = ("currency", "purchase_brand", "store_id", "is_cancellation")
ABSENT_CUSTOMER_COLUMNS = ("birthdate", "gender", "city", "state", "postal", "country")

# order_datetime as ISO 8601 text, the same instants as the sample's naive UTC values, written four
# ways: with Z, without an offset (var source_timezone: UTC), and at +09:00 and -05:30.
TEXT_TIMES = """
    select * exclude ({absent}, row_number) replace (
        case row_number % 4
            when 0 then strftime(order_datetime, '%Y-%m-%dT%H:%M:%SZ')
            when 1 then strftime(order_datetime, '%Y-%m-%d %H:%M:%S')
            when 2 then strftime(order_datetime + interval 9 hour, '%Y-%m-%dT%H:%M:%S+09:00')
            else strftime(order_datetime - interval 330 minute, '%Y-%m-%dT%H:%M:%S-0530')
        end as order_datetime
    )
    from (select *, row_number() over (order by order_id, product_id, order_datetime) as row_number from lines)
""".format(absent=", ".join(ABSENT_LINE_COLUMNS))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return prepare_project(tmp_path_factory.mktemp("dbt_sources") / "project", AS_OF)


def test_optional_columns_may_be_absent_and_times_may_be_iso_text(project, tmp_path):
    db_path, target = tmp_path / "warehouse.duckdb", tmp_path / "target"
    create_source_tables(
        db_path,
        "pos",
        project / "seeds",
        transactions=TEXT_TIMES,
        customers=f"select * exclude ({', '.join(ABSENT_CUSTOMER_COLUMNS)}) from customers",
    )
    with duckdb.connect(str(db_path), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'pos' and table_name = 'unified_itemized_transactions'"
            ).fetchall()
        )
    assert kinds["order_datetime"] == "VARCHAR" and not set(ABSENT_LINE_COLUMNS) & set(kinds)

    # The whole build, unit tests included: none depends on the columns of the user's tables.
    run_dbt(["build"], project, db_path, target, vars={**VARS, "source_schema": "pos"})

    assert set(run_results(target).values()) <= {"success", "pass", "warn"}
    lines, customers = sample_rows(project / "seeds")
    # Absent means NULL: no currency (the default), no brand, no cancellation flag (unknown, kept).
    lines = [{**line, **dict.fromkeys(ABSENT_LINE_COLUMNS)} for line in lines]
    assert model_rows(db_path) == expected_model_rows(lines, customers, as_of=AS_OF, lookback_days=62)
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute(
            "select distinct currency, purchase_brand, store_id, birthdate, gender, city, state, postal, country "
            "from main.meta_offline_events"
        ).fetchall() == [("USD", None, None, None, None, None, None, None, None)]
        # A cancellation flagged only in the absent column is a plain sale now (quantity 2).
        assert con.execute(
            "select quantity from main.meta_offline_events where order_id = 'ORD-CANCEL-POSITIVE'"
        ).fetchall() == [(2,)]


def test_a_missing_required_column_stops_the_run_naming_it(project, tmp_path):
    db_path, target = tmp_path / "warehouse.duckdb", tmp_path / "target"
    create_source_tables(
        db_path,
        "pos",
        project / "seeds",
        transactions="select * exclude (item_revenue) from lines",
        customers="select * exclude (email, phone) from customers",
    )
    result = run_dbt(["run"], project, db_path, target, vars={**VARS, "source_schema": "pos"}, check=False)
    output = " ".join(result.stdout.split())  # dbt wraps long messages
    assert result.returncode == 1
    assert '"pos"."unified_itemized_transactions" has no column item_revenue, which is required.' in output
    assert '"pos"."customer_360" needs at least one of the columns email, phone; it has neither.' in output
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'main'").fetchall() == [
            (0,)
        ]


def test_a_source_schema_without_the_tables_says_so(project, tmp_path):
    db_path, target = tmp_path / "warehouse.duckdb", tmp_path / "target"
    result = run_dbt(
        ["run", "--select", "stg_amperity__customer_360"],
        project,
        db_path,
        target,
        vars={**VARS, "source_schema": "amperity"},
        check=False,
    )
    output = " ".join(result.stdout.split())
    assert result.returncode == 1
    assert "The source table customer_360 does not exist as" in output
    assert (
        "set var source_schema to the schema that holds unified_itemized_transactions and customer_360 (now 'amperity')"
        in output
    )
