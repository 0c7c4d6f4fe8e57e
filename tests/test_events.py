"""One event per order (exporter/events.py)."""

import decimal
import hashlib
import json
import random
from datetime import UTC, datetime

import pytest
from babel.numbers import get_currency_precision

from exporter import events as events_module
from exporter.events import EventBuilder, hashed_customers, user_data
from exporter.model_reader import CUSTOMER_COLUMNS, LINE_FIELDS, Order
from exporter.normalize import hashed_user_data, sha256_hex

NOW_SECONDS = int(datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp())
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


def item(product_id, quantity, price, **overrides):
    """A line as the model reader yields it: the model's columns and the ones its query computes."""
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
        "missing_reason": None,
        "rule_reason": None,
        "event_time": 1795339800,
        "currency_code": "USD",
        **overrides,
    }


def build(*lines, sent=None):
    return EventBuilder().build(
        Order(
            lines[0]["order_id"],
            [tuple(line.get(name) for name in LINE_FIELDS) for line in lines],
            [user_data(tuple(line.get(name) for name in CUSTOMER_COLUMNS)) for line in lines],
            sent,
        )
    )


def test_lines_of_an_order_become_one_event():
    result = build(item("sku-1", 2, 9.99), item("sku-2", 1, 0.5, event_time=1795338000))
    assert result.rejections == []
    event = json.loads(result.event.json)
    assert event == {
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
    assert result.event.payload_hash == hashlib.sha256(result.event.json.encode()).hexdigest()
    assert (result.event.event_id, result.event.order_id, result.event.line_count) == ("o-1", "o-1", 2)


def test_the_same_order_gives_the_same_text_every_time():
    first = build(item("sku-1", 2, 9.99)).event
    again = build(item("sku-1", 2, 9.99)).event
    changed = build(item("sku-1", 3, 9.99)).event
    assert first.json == again.json and first.payload_hash == again.payload_hash
    assert changed.event_id == first.event_id and changed.payload_hash != first.payload_hash


def test_value_is_the_exact_sum_rounded_to_cents():
    # price = item_revenue / item_quantity: 10.00 / 3 comes back as 3.333..., and 3 of them are 10.00.
    event = json.loads(build(item("a", 3, 10 / 3), item("b", 1, 0.004)).event.json)
    assert event["custom_data"]["value"] == 10.0
    assert event["custom_data"]["contents"][0]["item_price"] == 3.33


def custom_data_text(*lines) -> str:
    text = build(*lines).event.json
    return text[text.index('"custom_data"') : text.index(',"event_id"')]


def test_money_without_float_noise():
    # 138.15 / 3 as a double is 46.050000000000004; three of them are exactly 138.150000000000012.
    assert 138.15 / 3 == 46.050000000000004
    assert custom_data_text(item("sku-1", 3, 138.15 / 3)) == (
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
        ("USD", 2.675, 1, 2.68, 2.68),  # half up, from the amount the data shows (2.675)
        ("USD", 0.125, 1, 0.13, 0.13),
        ("USD", 0.005, 3, 0.01, 0.02),  # value from the exact sum (0.015), not from rounded prices
        ("USD", 1e-7, 1, 0.0, 0.0),
        ("USD", 999_999_999_999.99, 1, 999_999_999_999.99, 999_999_999_999.99),
    ],
)
def test_amounts_are_rounded_to_the_currencys_minor_unit_half_up(currency, price, quantity, item_price, value):
    event = json.loads(build(item("sku-1", quantity, price, currency_code=currency)).event.json)
    assert event["custom_data"]["contents"][0]["item_price"] == item_price
    assert event["custom_data"]["value"] == value


def test_the_models_value_is_rounded_too():
    event = json.loads(build(item("sku-1", 3, 46.05, value=138.15 / 3 * 3, currency_code="JPY")).event.json)
    assert event["custom_data"]["value"] == 138.0


def test_a_value_above_the_bound_rejects_the_order():
    result = build(item("sku-1", 2, 600_000_000_000.0), item("sku-2", 1, 1.0))
    assert result.event is None
    assert [r.reason for r in result.rejections] == ["value_too_large"] * 2
    assert build(item("sku-1", 1, 1e12)).event is not None  # the bound itself is fine


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_never_reaches_a_body(number):
    # Validation rejects such lines (price_not_finite, value_not_finite); should one get
    # through anyway, building its event fails loudly rather than writing NaN or Infinity.
    with pytest.raises(ValueError, match="not a finite number"):
        build(item("sku-1", 1, number))
    with pytest.raises(ValueError, match="not a finite number"):
        build(item("sku-1", 1, 1.0, value=number))
    with pytest.raises(ValueError):
        events_module._json({"value": number})


def test_one_bad_line_holds_back_the_whole_order():
    result = build(item("sku-1", 2, 9.99), item("sku-2", 1, -1.0, rule_reason="price_negative"))
    assert result.event is None
    assert [(r.order_id, r.product_id, r.stage, r.reason) for r in result.rejections] == [
        ("o-1", "sku-1", "validation", "order_has_rejected_line"),
        ("o-1", "sku-2", "validation", "price_negative"),
    ]


def test_an_order_in_two_currencies_is_rejected():
    result = build(item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, currency="EUR", currency_code="EUR"))
    assert result.event is None
    assert [r.reason for r in result.rejections] == ["order_currencies_differ"] * 2


def test_an_order_whose_lines_belong_to_two_customers_is_rejected_whole():
    # Neither customer's identity may carry the other's purchases.
    result = build(item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, external_id="amp-2", email="jane@example.com"))
    assert result.event is None
    assert [(r.order_id, r.product_id, r.reason) for r in result.rejections] == [
        ("o-1", "sku-1", "order_customers_differ"),
        ("o-1", "sku-2", "order_customers_differ"),
    ]
    # The same external_id with other customer data (a model not deduplicated by customer).
    result = build(item("sku-1", 1, 1.0), item("sku-2", 1, 1.0, phone="+44 20 7946 0958"))
    assert [r.reason for r in result.rejections] == ["order_customers_differ"] * 2


def test_two_versions_of_a_customer_that_normalize_alike_are_one_customer():
    result = build(
        item("sku-1", 1, 1.0),
        item("sku-2", 1, 1.0, email="JOHN_SMITH@GMAIL.COM", phone="+1 650-555-1212", country="United States"),
    )
    assert result.rejections == []
    assert result.event.line_count == 2


def test_a_bad_line_comes_before_the_customers_of_the_order():
    result = build(item("sku-1", 1, 1.0, missing_reason="missing_product_id"), item("sku-2", 1, 1.0, external_id="b"))
    assert [r.reason for r in result.rejections] == ["missing_product_id", "order_has_rejected_line"]


def test_a_customer_without_usable_contact_is_rejected():
    result = build(item("sku-1", 1, 1.0, email="not-an-email", phone="123"))
    assert [r.reason for r in result.rejections] == ["no_usable_email_or_phone"]


def test_a_missing_value_comes_before_contact_which_comes_before_other_rules():
    no_contact = {"email": None, "phone": None}
    result = build(
        item("a", 1, 1.0, missing_reason="missing_price", rule_reason="quantity_not_positive", **no_contact),
        item("b", 1, 1.0, rule_reason="quantity_not_positive", **no_contact),
        item("c", 1, 1.0, rule_reason="quantity_not_positive"),
    )
    assert [r.reason for r in result.rejections] == [
        "missing_price",
        "no_usable_email_or_phone",
        "quantity_not_positive",
    ]


def test_website_events_carry_their_extra_fields_unhashed():
    result = build(
        item(
            "sku-1", 1, 1.0,
            action_source="website", event_id="web-42", client_user_agent="Mozilla/5.0",
            event_source_url="https://shop.example/thanks",
        )
    )  # fmt: skip
    event = json.loads(result.event.json)
    assert event["event_id"] == "web-42"
    assert event["event_source_url"] == "https://shop.example/thanks"
    assert event["user_data"]["client_user_agent"] == "Mozilla/5.0"


def as_dict_then_json(lines: list[dict]) -> str:
    """The event built the plain way (a dict, then json.dumps): what the written-out text must equal."""
    first = lines[0]
    user_data = hashed_user_data({name: first.get(name) for name in CUSTOMER_COLUMNS})
    if first.get("client_user_agent"):
        user_data["client_user_agent"] = first["client_user_agent"]
    digits = get_currency_precision(first["currency_code"])

    def rounded(number) -> float:
        exact = decimal.Decimal(str(number)) if isinstance(number, float) else decimal.Decimal(number)
        return float(exact.quantize(decimal.Decimal(10) ** -digits, rounding=decimal.ROUND_HALF_UP))

    value = first.get("value")
    if value is None:
        with decimal.localcontext(prec=100):
            value = sum(decimal.Decimal(str(line["price"])) * int(line["quantity"]) for line in lines)
    event = {
        "event_name": first.get("event_name") or "Purchase",
        "event_time": min(line["event_time"] for line in lines),
        "action_source": first.get("action_source") or "physical_store",
        "event_id": str(first.get("event_id") or first["order_id"]),
        "user_data": user_data,
        "custom_data": {
            "currency": first["currency_code"],
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


TRICKY_TEXT = ['quote " and \\ backslash', "tab\t newline\n nul\x00 del\x7f", "ünïcödé ✓ \u2028 😀", "</script>", ""]


@pytest.mark.parametrize("case", range(60))
def test_the_written_out_text_is_exactly_json_dumps_of_the_event(case):
    rng = random.Random(case)
    pick = rng.choice
    order_id = pick(["o-1", *TRICKY_TEXT[:4]])
    lines = [
        item(
            pick(["sku-1", 42, None, *TRICKY_TEXT]),
            pick([1, 2, 7, 1000]),
            pick([0.0, 9.99, 10 / 3, 1e-7, 1e16, 123456.785, 2.675, 138.15 / 3, decimal.Decimal("19.99")]),
            order_id=order_id,
            event_time=rng.randrange(1795300000, 1795400000),
            event_name=pick([None, "Purchase", "Other"]),
            action_source=pick([None, "physical_store", "website"]),
            event_id=pick([None, "web-42", 77]),
            event_source_url=pick([None, "", 'https://shop.example/?a=1&b="2"']),
            client_user_agent=pick([None, "", 'Mozilla/5.0 (X11; Linux) "quoted"']),
            value=pick([None, None, 12.345, decimal.Decimal("100.005")]),
            email=pick([None, "a@b.co", "not-an-email"]),
            phone=pick([None, "+44 20 7946 0958"]) if case % 7 else None,
            given_name=pick([None, *TRICKY_TEXT]),
            currency_code=pick(["USD", "JPY", "BHD"]),
        )
        for _ in range(rng.randrange(1, 5))
    ]
    # Event-level fields and the customer come from the first line, as the reader guarantees per order.
    lines = [
        lines[0],
        *(
            {
                **line,
                **{
                    k: lines[0][k]
                    for k in (
                        *CUSTOMER_COLUMNS,
                        "event_name",
                        "action_source",
                        "event_id",
                        "event_source_url",
                        "client_user_agent",
                        "value",
                        "currency_code",
                    )
                },
            }
            for line in lines[1:]
        ),
    ]
    result = build(*lines)
    if result.event is None:  # no usable contact: rejected, nothing to compare
        assert {r.reason for r in result.rejections} <= {
            "no_usable_email_or_phone",
            "order_has_rejected_line",
            "value_too_large",
        }
        return
    expected = as_dict_then_json(lines)
    at = next((i for i, (a, b) in enumerate(zip(result.event.json, expected, strict=False)) if a != b), None)
    assert result.event.json == expected, (
        at,
        result.event.json[at - 40 : at + 40] if at is not None else None,
        expected[at - 40 : at + 40] if at is not None else None,
    )


def test_unusable_values_travel_back_with_the_hashed_customer_and_are_counted_once_per_customer():
    # Customers are hashed in worker processes for large models: what each lost must come
    # back with its user_data, and be counted once per distinct customer.
    german = ("amp-de", None, "030 6459913", None, None, None, None, None, None, None, "Deutschland")
    lost = ("amp-x", "jane.doe@nowhere", "12", None, None, None, None, None, None, None, "Narnia")
    rows = [((0, "amp-de"), 1, german), ((0, "amp-x"), 2, lost)]
    assert user_data(german).dropped == ()
    assert user_data(german).has_contact
    assert user_data(lost).dropped == (
        ("em", "not_an_email"),
        ("ph", "not_a_valid_number"),
        ("country", "not_recognized"),
    )
    for workers in (0, 1):
        counted = []
        hashed = list(hashed_customers(iter(rows), "US", workers, counted.append))
        assert [row[2] for row in hashed] == [user_data(german), user_data(lost)]
        assert counted == [user_data(lost).dropped]
