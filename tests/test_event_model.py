"""The events model (models/events/): one event per order, every rule, every byte of its JSON.

Each test writes item lines as the line model (meta_offline_events) holds them into a DuckDB file,
builds the event models from them with dbt's compiled SQL (event_models.py), and reads the events
and rejected lines back. The expected JSON is built the plain way in Python (a dict, then
json.dumps), with the reference normalizer (tests/reference_normalize.py).
"""

from __future__ import annotations

import decimal
import hashlib
import json
import random
from datetime import UTC, datetime

import duckdb
import pytest
from babel.numbers import get_currency_precision
from event_models import build_event_models
from reference_normalize import hashed_user_data, sha256_hex

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CUSTOMER = {
    "external_id": "amp-1",
    "email": " John_Smith@Gmail.com ",
    "phone": "(650) 555-1212",
    "given_name": "John",
    "surname": "O'Smith",
    "birthdate": None,
    "gender": None,
    "city": None,
    "state": None,
    "postal": None,
    "country": "US",
}
CUSTOMER_COLUMNS = tuple(CUSTOMER)
# The line model's columns as tests write them; the optional ones only when a test gives them.
COLUMN_TYPES = {
    **dict.fromkeys(CUSTOMER_COLUMNS, "varchar"),
    "birthdate": "date",
    "order_id": "varchar",
    "product_id": "varchar",
    "quantity": "integer",
    "price": "double",
    "currency": "varchar",
    "timestamp": "timestamp",
    "action_source": "varchar",
    "event_name": "varchar",
    "event_id": "varchar",
    "event_source_url": "varchar",
    "client_user_agent": "varchar",
    "value": "double",
}
OPTIONAL = ("event_id", "event_source_url", "client_user_agent", "value")


def item(product_id, quantity, price, **overrides) -> dict:
    """A line of the line model."""
    return {
        **CUSTOMER,
        "order_id": "o-1",
        "product_id": product_id,
        "quantity": quantity,
        "price": price,
        "currency": "usd",
        "timestamp": datetime(2026, 11, 22, 9, 30),
        "action_source": "physical_store",
        "event_name": "Purchase",
        **overrides,
    }


class Built:
    def __init__(self, events: list[dict], rejected: list[dict]) -> None:
        self.events = events
        self.rejected = rejected

    @property
    def event(self) -> dict | None:
        sendable = [event for event in self.events if event["reject_reason"] is None]
        assert len(sendable) <= 1
        return sendable[0] if sendable else None

    @property
    def reasons(self) -> list[str]:
        return [line["reason"] for line in sorted(self.rejected, key=lambda line: line["line_number"])]


def build(tmp_path, *lines: dict) -> Built:
    """Build the event models from these lines; the events and the rejected lines."""
    names = [name for name in COLUMN_TYPES if name not in OPTIONAL or any(name in line for line in lines)]
    database = tmp_path / "warehouse.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    con.execute("create table main.meta_offline_events (" + ", ".join(f'"{n}" {COLUMN_TYPES[n]}' for n in names) + ")")
    con.executemany(
        f"insert into main.meta_offline_events values ({', '.join('?' for _ in names)})",
        [[line.get(name) for name in names] for line in lines],
    )
    con.close()
    build_event_models(database, AS_OF)
    con = duckdb.connect(str(database), read_only=True)
    try:
        return Built(rows(con, "meta_capi_events"), rows(con, "meta_capi_rejected_lines"))
    finally:
        con.close()


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    cursor = con.execute(f"select * from main.{table}")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def payload(built: Built) -> dict:
    return json.loads(built.event["payload"])


def test_lines_of_an_order_become_one_event(tmp_path):
    built = build(tmp_path, item("sku-1", 2, 9.99), item("sku-2", 1, 0.5, timestamp=datetime(2026, 11, 22, 9, 0)))
    assert built.rejected == []
    assert payload(built) == {
        "event_name": "Purchase",
        "event_time": 1795338000,  # the earliest line: 09:00 UTC
        "action_source": "physical_store",
        "event_id": "o-1",
        "user_data": {
            "em": sha256_hex("john_smith@gmail.com"),
            "ph": sha256_hex("16505551212"),
            "fn": sha256_hex("john"),
            "ln": sha256_hex("osmith"),
            "country": sha256_hex("us"),
            "external_id": sha256_hex("amp-1"),
        },
        "custom_data": {
            "currency": "USD",
            "value": 20.48,
            "contents": [
                {"id": "sku-1", "quantity": 2, "item_price": 9.99},
                {"id": "sku-2", "quantity": 1, "item_price": 0.5},
            ],
            "order_id": "o-1",
            "num_items": 3,
            "content_type": "product",
        },
    }
    event = built.event
    assert event["payload_hash"] == hashlib.sha256(event["payload"].encode()).hexdigest()
    assert (event["event_id"], event["order_id"], event["line_count"]) == ("o-1", "o-1", 2)
    assert (event["has_em"], event["has_ph"], event["has_db"]) == (True, True, False)


def test_the_same_order_gives_the_same_text_every_time(tmp_path):
    first = build(tmp_path, item("sku-1", 2, 9.99)).event
    again = build(tmp_path, item("sku-1", 2, 9.99)).event
    changed = build(tmp_path, item("sku-1", 3, 9.99)).event
    assert first["payload"] == again["payload"] and first["payload_hash"] == again["payload_hash"]
    assert changed["event_id"] == first["event_id"] and changed["payload_hash"] != first["payload_hash"]


def test_value_is_the_exact_sum_rounded_to_cents(tmp_path):
    # price = item_revenue / item_quantity: 10.00 / 3 comes back as 3.333..., and 3 of them are 10.00.
    event = payload(build(tmp_path, item("a", 3, 10 / 3), item("b", 1, 0.004)))
    assert event["custom_data"]["value"] == 10.0
    assert event["custom_data"]["contents"][0]["item_price"] == 3.33


def test_money_without_float_noise(tmp_path):
    # 138.15 / 3 as a double is 46.050000000000004; three of them are exactly 138.150000000000012.
    assert 138.15 / 3 == 46.050000000000004
    text = build(tmp_path, item("sku-1", 3, 138.15 / 3)).event["payload"]
    assert text[text.index('"custom_data"') : text.index(',"event_id"')] == (
        '"custom_data":{"content_type":"product","contents":[{"id":"sku-1","item_price":46.05,"quantity":3}],'
        '"currency":"USD","num_items":3,"order_id":"o-1","value":138.15}'
    )


@pytest.mark.parametrize(
    ("currency", "price", "quantity", "item_price", "value"),
    [
        ("USD", 9.99, 2, 9.99, 19.98),
        ("EUR", 0.1, 3, 0.1, 0.3),  # 0.30000000000000004 as doubles
        ("JPY", 1234 / 3, 3, 411.0, 1234.0),  # no minor unit
        ("KRW", 15000.0, 1, 15000.0, 15000.0),
        ("BHD", 1.2345, 2, 1.235, 2.469),  # three decimals; half up at the tie
        ("KWD", 2.0005, 1, 2.001, 2.001),
        ("CLF", 1.23456, 1, 1.2346, 1.2346),  # four decimals
        ("USD", 2.675, 1, 2.68, 2.68),  # half up, from the amount the data shows (2.675)
        ("USD", 0.125, 1, 0.13, 0.13),
        ("USD", 0.005, 3, 0.01, 0.02),  # value from the exact sum (0.015), not from rounded prices
        ("USD", 1e-7, 1, 0.0, 0.0),
        ("USD", 999_999_999_999.99, 1, 999_999_999_999.99, 999_999_999_999.99),
    ],
)
def test_amounts_are_rounded_to_the_currencys_minor_unit_half_up(
    tmp_path, currency, price, quantity, item_price, value
):
    event = payload(build(tmp_path, item("sku-1", quantity, price, currency=currency)))
    assert event["custom_data"]["contents"][0]["item_price"] == item_price
    assert event["custom_data"]["value"] == value


def test_the_models_value_is_rounded_too(tmp_path):
    event = payload(build(tmp_path, item("sku-1", 3, 46.05, value=138.15 / 3 * 3, currency="JPY")))
    assert event["custom_data"]["value"] == 138.0


def test_a_value_above_the_bound_rejects_the_order(tmp_path):
    built = build(tmp_path, item("sku-1", 2, 600_000_000_000.0), item("sku-2", 1, 1.0))
    assert built.event is None
    assert built.reasons == ["value_too_large"] * 2
    assert build(tmp_path, item("sku-1", 1, 1e12)).event is not None  # the bound itself is fine
    # Enough absurd lines to overflow any exact sum: still one clean rejection.
    many = [item(f"sku-{n}", 1_000_000, 1e12) for n in range(200)]
    assert set(build(tmp_path, *many).reasons) == {"value_too_large"}


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_never_reaches_a_payload(tmp_path, number):
    assert build(tmp_path, item("sku-1", 1, number)).reasons == ["price_not_finite"]
    assert build(tmp_path, item("sku-1", 1, 1.0, value=number)).reasons == ["value_not_finite"]


def test_one_bad_line_holds_back_the_whole_order(tmp_path):
    built = build(tmp_path, item("sku-1", 2, 9.99), item("sku-2", 1, -1.0))
    assert built.event is None
    assert [(r["order_id"], r["product_id"], r["reason"]) for r in built.rejected] == [
        ("o-1", "sku-1", "order_has_rejected_line"),
        ("o-1", "sku-2", "price_negative"),
    ]
    assert built.events[0]["reject_reason"] == "price_negative"


def test_an_order_in_two_currencies_is_rejected(tmp_path):
    built = build(tmp_path, item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, currency="EUR"))
    assert built.event is None
    assert built.reasons == ["order_currencies_differ"] * 2


def test_an_order_whose_lines_belong_to_two_customers_is_rejected_whole(tmp_path):
    # Neither customer's identity may carry the other's purchases.
    built = build(tmp_path, item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, external_id="amp-2", email="jane@example.com"))
    assert built.event is None
    assert built.reasons == ["order_customers_differ"] * 2
    # The same external_id with other customer data (a model not deduplicated by customer).
    built = build(tmp_path, item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, phone="+44 20 7946 0958"))
    assert built.reasons == ["order_customers_differ"] * 2


def test_two_versions_of_a_customer_that_normalize_alike_are_one_customer(tmp_path):
    built = build(
        tmp_path,
        item("sku-1", 1, 1.0),
        item("sku-2", 1, 1.0, email="JOHN_SMITH@GMAIL.COM", phone="+1 650-555-1212", country="United States"),
    )
    assert built.rejected == []
    assert built.event["line_count"] == 2


def test_a_bad_line_comes_before_the_customers_of_the_order(tmp_path):
    built = build(tmp_path, item(None, 1, 1.0), item("sku-2", 1, 1.0, external_id="b"))
    assert sorted(built.reasons) == ["missing_product_id", "order_has_rejected_line"]


def test_a_customer_without_usable_contact_is_rejected(tmp_path):
    assert build(tmp_path, item("sku-1", 1, 1.0, email="not-an-email", phone="123")).reasons == [
        "no_usable_email_or_phone"
    ]


def test_a_missing_value_comes_before_contact_which_comes_before_other_rules(tmp_path):
    no_contact = {"email": None, "phone": None}
    built = build(
        tmp_path,
        item("a", 0, None, **no_contact, order_id="o-1"),
        item("b", 0, 1.0, **no_contact, order_id="o-2"),
        item("c", 0, 1.0, order_id="o-3"),
    )
    assert sorted((r["order_id"], r["reason"]) for r in built.rejected) == [
        ("o-1", "missing_price"),
        ("o-2", "no_usable_email_or_phone"),
        ("o-3", "quantity_not_positive"),
    ]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"order_id": None}, "missing_order_id"),
        ({"external_id": " "}, "missing_external_id"),
        ({"quantity": None}, "missing_quantity"),
        ({"timestamp": None}, "missing_timestamp"),
        ({"currency": ""}, "missing_currency"),
        ({"quantity": 1_000_001}, "quantity_too_large"),
        ({"price": 1e12 + 1}, "price_too_large"),
        ({"currency": "US$"}, "invalid_currency"),
        ({"action_source": "store"}, "invalid_action_source"),
        ({"event_name": "Buy"}, "invalid_event_name"),
        ({"timestamp": datetime(2026, 11, 23, 12, 0, 1)}, "timestamp_in_future"),
        ({"timestamp": datetime(2026, 9, 22, 12, 0)}, "timestamp_too_old"),  # 62 days
        ({"action_source": "other", "timestamp": datetime(2026, 11, 16, 12, 0)}, "timestamp_too_old"),  # 7 days
        ({"action_source": "website"}, "website_missing_client_user_agent"),
        ({"action_source": "website", "client_user_agent": "Mozilla/5.0"}, "website_missing_event_id"),
        (
            {"action_source": "website", "client_user_agent": "Mozilla/5.0", "event_id": "e-1"},
            "website_missing_event_source_url",
        ),
    ],
)
def test_each_line_rule_has_its_reason(tmp_path, overrides, reason):
    assert build(tmp_path, {**item("sku-1", 1, 1.0), **overrides}).reasons == [reason]


def test_the_window_bounds_are_exclusive_of_old_and_inclusive_of_now(tmp_path):
    assert build(tmp_path, item("sku-1", 1, 1.0, timestamp=datetime(2026, 11, 23, 12, 0))).event is not None
    assert build(tmp_path, item("sku-1", 1, 1.0, timestamp=datetime(2026, 9, 22, 12, 0, 1))).event is not None


def test_website_events_carry_their_extra_fields_unhashed(tmp_path):
    built = build(
        tmp_path,
        item(
            "sku-1", 1, 1.0,
            action_source="website", event_id="web-42", client_user_agent="Mozilla/5.0",
            event_source_url="https://shop.example/thanks",
        ),
    )  # fmt: skip
    event = payload(built)
    assert event["event_id"] == "web-42"
    assert event["event_source_url"] == "https://shop.example/thanks"
    assert event["user_data"]["client_user_agent"] == "Mozilla/5.0"


def test_unusable_values_are_listed_with_the_event(tmp_path):
    built = build(tmp_path, item("sku-1", 1, 1.0, email="jane.doe@nowhere", country="Narnia"))
    assert built.event["dropped_user_data"] == "em:not_an_email,country:not_recognized"


def as_dict_then_json(lines: list[dict]) -> str:
    """The event built the plain way (a dict, then json.dumps): what the model's text must equal."""
    first = lines[0]
    user_data = hashed_user_data({name: first.get(name) for name in CUSTOMER_COLUMNS})
    if first.get("client_user_agent"):
        user_data["client_user_agent"] = first["client_user_agent"]
    currency = first["currency"].strip().upper()
    digits = get_currency_precision(currency)

    def rounded(number) -> float:
        exact = decimal.Decimal(repr(number)) if isinstance(number, float) else decimal.Decimal(number)
        return float(exact.quantize(decimal.Decimal(10) ** -digits, rounding=decimal.ROUND_HALF_UP))

    value = first.get("value")
    if value is None:
        with decimal.localcontext(prec=100):
            value = sum(decimal.Decimal(repr(line["price"])) * int(line["quantity"]) for line in lines)
    event = {
        "event_name": first.get("event_name") or "Purchase",
        "event_time": int(min(line["timestamp"] for line in lines).replace(tzinfo=UTC).timestamp()),
        "action_source": first.get("action_source") or "physical_store",
        "event_id": str(first.get("event_id") or first["order_id"]),
        "user_data": user_data,
        "custom_data": {
            "currency": currency,
            "value": rounded(value),
            "contents": [
                {"id": str(line["product_id"]), "quantity": int(line["quantity"]), "item_price": rounded(line["price"])}
                for line in lines
                if line.get("product_id") is not None
            ],
            "order_id": str(first["order_id"]),
            "num_items": sum(int(line["quantity"]) for line in lines),
            "content_type": "product",
        },
    }
    if first.get("event_source_url"):
        event["event_source_url"] = first["event_source_url"]
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


TRICKY_TEXT = ['quote " and \\ backslash', "tab\t newline\n nul\x01 del\x7f", "ünïcödé ✓ \u2028 😀", "</script>"]


@pytest.mark.parametrize("case", range(40))
def test_the_models_text_is_exactly_json_dumps_of_the_event(tmp_path, case):
    rng = random.Random(case)
    pick = rng.choice
    order_id = pick(["o-1", *TRICKY_TEXT])
    first = item(
        "sku-0",
        1,
        1.0,
        order_id=order_id,
        event_name=pick(["Purchase", "Other"]),
        action_source=pick(["physical_store", "website"]),
        event_id=pick(["web-42", "77", order_id]),
        event_source_url=pick(["https://shop.example/", 'https://shop.example/?a=1&b="2"']),
        client_user_agent=pick(['Mozilla/5.0 (X11; Linux) "quoted"', "Mozilla/5.0"]),
        value=pick([None, None, 12.345, 100.005]),
        email=pick(["a@b.co", "x@example.com"]),
        given_name=pick([None, *TRICKY_TEXT]),
        currency=pick(["USD", "JPY", "BHD"]),
    )
    products = ["sku-1", "42", *TRICKY_TEXT]
    prices = [0.0, 9.99, 10 / 3, 1e-7, 123456.785, 2.675, 138.15 / 3, 19.99]
    # One product per line: the order of lines with the same product is the model's to choose.
    lines = [first] + [
        {**first, "product_id": product, "quantity": pick([1, 2, 7, 1000]), "price": pick(prices),
         "timestamp": datetime(2026, 11, 22, rng.randrange(0, 12), 30)}
        for product in rng.sample(products, rng.randrange(0, 4))
    ]  # fmt: skip
    expected = as_dict_then_json(sorted(lines, key=lambda line: line["product_id"]))
    assert build(tmp_path, *lines).event["payload"] == expected
