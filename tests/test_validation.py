"""Meta's rules for one item line (exporter/validation.py), evaluated by DuckDB as the reader does."""

from datetime import UTC, date, datetime, timedelta, timezone

import duckdb
import pytest

from exporter.validation import REASONS, event_time_sql, missing_reason_sql, rule_reason_sql

NOW = datetime(2026, 11, 23, 12, 0)  # naive = UTC
NOW_SECONDS = int(NOW.replace(tzinfo=UTC).timestamp())
TYPES = {
    "order_id": "VARCHAR",
    "external_id": "VARCHAR",
    "quantity": "INTEGER",
    "timestamp": "TIMESTAMP",
    "price": "DOUBLE",
    "currency": "VARCHAR",
    "action_source": "VARCHAR",
    "event_name": "VARCHAR",
    "event_id": "VARCHAR",
    "client_user_agent": "VARCHAR",
    "event_source_url": "VARCHAR",
}


def line(**overrides):
    base = {
        "order_id": "o-1",
        "external_id": "amp-1",
        "quantity": 2,
        "timestamp": datetime(2026, 11, 22, 9, 30),
        "price": 9.99,
        "currency": "USD",
        "action_source": "physical_store",
        "event_name": "Purchase",
        "event_id": None,
        "client_user_agent": None,
        "event_source_url": None,
    }
    return {**base, **overrides}


def evaluate(sql: str, row: dict, types: dict) -> object:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in types.items())
    con.execute(f"create table model ({columns})")
    con.execute(f"insert into model values ({', '.join('?' * len(types))})", [row.get(name) for name in types])
    return con.execute(f"select {sql} from model").fetchone()[0]


def problem(row: dict, types: dict = TYPES) -> str | None:
    return evaluate(f"coalesce({missing_reason_sql(types)}, {rule_reason_sql(types, NOW_SECONDS)})", row, types)


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        ("TIMESTAMP", datetime(2026, 11, 22, 9, 30), 1795339800),  # naive = UTC
        ("TIMESTAMP", datetime(2026, 11, 22, 9, 30, 0, 700000), 1795339800),
        ("TIMESTAMPTZ", datetime(2026, 11, 22, 10, 30, tzinfo=timezone(timedelta(hours=1))), 1795339800),
        ("DATE", date(2026, 11, 22), 1795305600),
        ("BIGINT", 1795339800, 1795339800),
        ("DOUBLE", 1795339800.7, 1795339800),
        ("DOUBLE", float("nan"), None),
        ("VARCHAR", "1795339800", 1795339800),
        ("VARCHAR", " 2026-11-22T09:30:00 ", 1795339800),
        ("VARCHAR", "2026-11-22 10:30:00+01:00", 1795339800),
        ("VARCHAR", "yesterday", None),
        ("BOOLEAN", True, None),
        ("TIMESTAMP", None, None),
    ],
)
def test_event_time_from_timestamps_dates_unix_seconds_and_iso_strings(kind, value, expected):
    assert evaluate(event_time_sql("timestamp", kind), {"timestamp": value}, {"timestamp": kind}) == expected


def test_a_good_line_passes():
    assert problem(line()) is None


@pytest.mark.parametrize(
    "column, empty",
    [(column, None) for column in ("order_id", "external_id", "quantity", "timestamp", "price", "currency")]
    + [(column, blank) for column in ("order_id", "external_id", "currency") for blank in ("", "  ")],
)
def test_required_columns(column, empty):
    assert problem(line(**{column: empty})) == f"missing_{column}"


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"quantity": 0}, "quantity_not_positive"),
        ({"quantity": -1}, "quantity_not_positive"),
        ({"price": -0.01}, "price_negative"),
        ({"currency": "US$"}, "invalid_currency"),
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"action_source": "store"}, "invalid_action_source"),
        ({"event_name": "purchase"}, "invalid_event_name"),
        ({"timestamp": NOW + timedelta(seconds=1)}, "timestamp_in_future"),
        ({"timestamp": NOW - timedelta(days=62)}, "timestamp_too_old"),
        ({"timestamp": NOW - timedelta(days=7), "action_source": "email"}, "timestamp_too_old"),
        ({"action_source": "website", "timestamp": NOW - timedelta(days=1)}, "website_missing_client_user_agent"),
        (
            {"action_source": "website", "timestamp": NOW - timedelta(days=1), "client_user_agent": "Mozilla/5.0"},
            "website_missing_event_id",
        ),
        (
            {
                "action_source": "website",
                "timestamp": NOW - timedelta(days=1),
                "client_user_agent": "UA",
                "event_id": "e",
            },
            "website_missing_event_source_url",
        ),
        ({"quantity": 0, "price": -1.0, "currency": "US$"}, "quantity_not_positive"),  # the first rule broken
        ({"quantity": 1_000_001}, "quantity_too_large"),
        ({"price": float("nan")}, "price_not_finite"),
        ({"price": float("inf")}, "price_not_finite"),
        ({"price": float("-inf")}, "price_not_finite"),
        ({"price": 1e12 + 0.01}, "price_too_large"),
        ({"price": 1e300}, "price_too_large"),
    ],
)
def test_rules(overrides, reason):
    assert reason in REASONS
    assert problem(line(**overrides)) == reason


def test_an_unparseable_timestamp_string():
    types = {**TYPES, "timestamp": "VARCHAR"}
    assert problem(line(timestamp="last tuesday"), types) == "invalid_timestamp"


@pytest.mark.parametrize(
    "overrides",
    [
        {"price": 0},  # free items are fine
        {"price": 1e12, "quantity": 1_000_000},  # the bounds themselves
        {"currency": " eur "},  # trimmed and upper-cased
        {"timestamp": NOW},  # now is not the future
        {"timestamp": NOW - timedelta(days=62) + timedelta(seconds=1)},  # physical_store: 62 days
        {"timestamp": NOW - timedelta(days=7) + timedelta(seconds=1), "action_source": "email"},
        {"action_source": None, "event_name": None},  # defaults physical_store / Purchase
        {"action_source": "", "event_name": ""},
        {
            "action_source": "website",
            "timestamp": NOW - timedelta(days=1),
            "client_user_agent": "UA",
            "event_id": "e",
            "event_source_url": "https://shop.example/checkout",
        },
    ],
)
def test_edges_that_pass(overrides):
    assert problem(line(**overrides)) is None


def test_optional_columns_may_be_absent():
    types = {
        name: kind
        for name, kind in TYPES.items()
        if name in ("order_id", "external_id", "quantity", "timestamp", "price", "currency")
    }
    assert problem(line(), types) is None


@pytest.mark.parametrize(
    "value, reason",
    [
        (None, None),  # the exporter sums price x quantity
        (19.98, None),
        (1e12, None),
        (float("nan"), "value_not_finite"),
        (float("inf"), "value_not_finite"),
        (1e12 + 1, "value_too_large"),
    ],
)
def test_the_models_value_column(value, reason):
    assert reason is None or reason in REASONS
    assert problem(line(value=value), {**TYPES, "value": "DOUBLE"}) == reason


def test_a_decimal_price_column():
    types = {**TYPES, "price": "DECIMAL(18,4)"}
    assert problem(line(price=9.99), types) is None
    assert problem(line(price=-1), types) == "price_negative"


@pytest.mark.parametrize(
    "product_id, reason",
    [("sku-1", None), (None, "missing_product_id"), ("", "missing_product_id"), ("  ", "missing_product_id")],
)
def test_product_id_is_required_when_the_model_has_the_column(product_id, reason):
    # Meta lists each line in contents by its id: a line without one would be counted in the
    # value and num_items but missing from contents.
    types = {**TYPES, "product_id": "VARCHAR"}
    assert reason is None or reason in REASONS
    assert problem(line(product_id=product_id), types) == reason
    # Other missing values come first, as before.
    assert problem(line(product_id=product_id, currency=None), types) == "missing_currency"


def test_a_model_without_a_product_id_column_needs_none():
    assert problem(line(product_id=None)) is None  # TYPES has no product_id
