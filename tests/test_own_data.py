"""The user's own data, end to end through `python -m exporter --dry-run`: customers written the way
local data writes them, money as the model's doubles give it, orders that disagree with themselves,
and an empty model."""

from __future__ import annotations

import json
from datetime import timedelta

from conftest import KNOWN_HASHES, utc_now_naive

from exporter.cli import main

WHEN = utc_now_naive() - timedelta(hours=5)


def customer(external_id: str, country: str | None, phone: str | None, email: str | None = None) -> dict:
    none = dict.fromkeys(("given_name", "surname", "birthdate", "gender", "city", "state", "postal"))
    return {"external_id": external_id, "email": email, "phone": phone, **none, "country": country}


def line(who: dict, order_id: str, product_id: str | None, quantity: int, price: float, currency: str) -> dict:
    return {
        **who,
        "order_id": order_id,
        "quantity": quantity,
        "product_id": product_id,
        "timestamp": WHEN,
        "price": price,
        "currency": currency,
        "action_source": "physical_store",
        "event_name": "Purchase",
    }


# Phones only, written nationally, the country in the customer's own language.
GERMANY = customer("amp-de", "Deutschland", "030 6459913")
ITALY = customer("amp-it", "Italia", "02 1234 5639")
FRANCE = customer("amp-fr", "France", "01 23 45 67 89")
FRANCE_CODE = customer("amp-fr2", "FR", "01.23.45.67.89")
SPAIN = customer("amp-es", "España", "912 34 56 78")
# An email that works, a country no language knows: the phone cannot be read in any region.
UNKNOWN = customer("amp-xx", "Narnia", "030 6459913", email="someone@example.com")


# Customers any version reads alike, for the money and order tests.
BUYER = customer("amp-buyer", "DE", "+49 30 6459913", email="buyer@example.com")
OTHER = customer("amp-other", "ES", "+34 912 34 56 78", email="other@example.com")


def run_dry(model, tmp_path, *extra: str) -> tuple[int, dict, list[dict]]:
    bodies, report = tmp_path / "bodies.jsonl", tmp_path / "report.json"
    code = main(model.args("--dry-run", "--dry-run-output", str(bodies), "--report-json", str(report), *extra))
    events = []
    for text in bodies.read_text().splitlines() if bodies.exists() else []:
        # Strict JSON: NaN or Infinity anywhere fails here.
        events += json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))["data"]
    return code, json.loads(report.read_text()), events


def test_customers_written_as_local_data_writes_them(model, scheduled_env, tmp_path, capsys):
    model.write(
        [
            line(GERMANY, "ord-de", "sku-1", 1, 19.99, "EUR"),
            line(ITALY, "ord-it", "sku-1", 2, 10.0, "EUR"),
            line(FRANCE, "ord-fr", "sku-1", 1, 5.0, "EUR"),
            line(FRANCE_CODE, "ord-fr2", "sku-1", 1, 5.0, "EUR"),
            line(SPAIN, "ord-es", "sku-1", 1, 7.5, "EUR"),
            line(UNKNOWN, "ord-xx", "sku-1", 1, 1.0, "EUR"),
        ]
    )

    code, report, events = run_dry(model, tmp_path)

    assert code == 0
    user_data = {event["custom_data"]["order_id"]: event["user_data"] for event in events}
    expected = {
        "ord-de": ("49306459913", "de"),
        "ord-it": ("390212345639", "it"),
        "ord-fr": ("33123456789", "fr"),
        "ord-fr2": ("33123456789", "fr"),
        "ord-es": ("34912345678", "es"),
    }
    for order_id, (phone, country) in expected.items():
        assert user_data[order_id]["ph"] == KNOWN_HASHES[phone], order_id
        assert user_data[order_id]["country"] == KNOWN_HASHES[country], order_id
    assert "ph" not in user_data["ord-xx"] and "country" not in user_data["ord-xx"]
    assert "em" in user_data["ord-xx"]
    # What the unknown customer lost is counted, per distinct customer, and said in the summary.
    assert report["dropped_user_data"] == {"country": {"not_recognized": 1}, "ph": {"not_a_valid_number": 1}}
    assert report["rows_rejected"] == 0 and report["warnings"] == []
    err = capsys.readouterr().err
    assert "match keys dropped" in err
    assert "1  country: not recognized" in err
    assert "6459913" not in err + json.dumps(report)  # never raw phones


def test_money_and_orders_that_disagree_with_themselves(model, scheduled_env, tmp_path):
    model.write(
        [
            line(BUYER, "ord-noise", "sku-1", 3, 138.15 / 3, "EUR"),  # 46.050000000000004
            line(BUYER, "ord-yen", "sku-1", 3, 1234 / 3, "JPY"),
            line(BUYER, "ord-nan", "sku-1", 1, float("nan"), "EUR"),
            line(BUYER, "ord-nan", "sku-2", 1, 1.0, "EUR"),
            line(BUYER, "ord-inf", "sku-1", 1, float("inf"), "EUR"),
            line(BUYER, "ord-huge", "sku-1", 1, 2e12, "EUR"),
            line(BUYER, "ord-two", "sku-1", 1, 1.0, "EUR"),
            line(OTHER, "ord-two", "sku-2", 1, 1.0, "EUR"),
            line(BUYER, "ord-noid", None, 1, 1.0, "EUR"),
            line(BUYER, "ord-noid", "sku-2", 1, 1.0, "EUR"),
        ]
    )

    code, report, events = run_dry(model, tmp_path)

    assert code == 0
    by_order = {event["custom_data"]["order_id"]: event["custom_data"] for event in events}
    assert sorted(by_order) == ["ord-noise", "ord-yen"]
    assert by_order["ord-noise"]["contents"] == [{"id": "sku-1", "item_price": 46.05, "quantity": 3}]
    assert by_order["ord-noise"]["value"] == 138.15
    assert by_order["ord-yen"]["contents"][0]["item_price"] == 411.0
    assert by_order["ord-yen"]["value"] == 1234.0
    # Every other row is in rejected_rows with its reason, none merged into another's event.
    rejected = model.query("select order_id, product_id, reason from meta_capi.rejected_rows order by all")
    assert rejected == [
        ("ord-huge", "sku-1", "price_too_large"),
        ("ord-inf", "sku-1", "price_not_finite"),
        ("ord-nan", "sku-1", "price_not_finite"),
        ("ord-nan", "sku-2", "order_has_rejected_line"),
        ("ord-noid", "sku-2", "order_has_rejected_line"),
        ("ord-noid", None, "missing_product_id"),  # nulls sort last
        ("ord-two", "sku-1", "order_customers_differ"),
        ("ord-two", "sku-2", "order_customers_differ"),
    ]
    assert report["rows_read"] == 10 == report["rows_rejected"] + 2


def test_an_empty_model_says_so(model, scheduled_env, tmp_path, capsys):
    model.write([])

    code, report, events = run_dry(model, tmp_path)

    assert code == 0  # nothing failed; the warning is what a scheduler's log shows
    assert events == []
    assert report["warnings"] == ["model_empty"]
    assert (report["rows_in_model"], report["rows_read"], report["events_sent"]) == (0, 0, 0)
    assert "WARNING: the model is empty" in capsys.readouterr().err
