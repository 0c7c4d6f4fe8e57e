"""Reading the model (exporter/model_reader.py): every line once, with its own customer, grouped by order."""

from __future__ import annotations

from datetime import datetime

import duckdb
from conftest import order_lines

from exporter import model_reader
from exporter.dbt_artifacts import find_model
from exporter.model_reader import CUSTOMER_COLUMNS, LINE, ModelReader

NOW_SECONDS = int(datetime(2030, 1, 1).timestamp())


def read_orders(model, sent_payloads_sql=None):
    con = duckdb.connect(str(model.database))
    try:
        reader = ModelReader(con, find_model(model.target, "meta_offline_events", True))
        return list(reader.orders(NOW_SECONDS, sent_payloads_sql))
    finally:
        con.close()


def customer_of(line: dict) -> tuple:
    return tuple(line.get(name) for name in CUSTOMER_COLUMNS)


def test_each_line_comes_once_with_its_own_customer_and_orders_are_grouped(model):
    lines = order_lines(40, customers=7)
    for number, line in enumerate(lines):
        line["product_id"] = f"line-{number}"  # identifies the line below
    # An order whose lines name different customers, a customer with two versions of their data
    # (a model not deduplicated by external_id), lines without external_id or order_id.
    lines[5]["external_id"], lines[5]["email"] = "amp-9999", "other@example.com"
    lines[9]["email"] = "second.version@example.com"
    lines[12]["external_id"] = None
    lines[20]["order_id"] = lines[21]["order_id"] = None
    model.write(lines)

    orders = read_orders(model)

    by_product = {line["product_id"]: line for line in lines}
    seen = []
    for order in orders:
        assert len(order.lines) == len(order.customers)
        for line, customer in zip(order.lines, order.customers, strict=True):
            source = by_product[line[LINE["product_id"]]]
            assert line[LINE["order_id"]] == source["order_id"] == order.order_id
            assert customer == (None if source["external_id"] is None else customer_of(source))
            seen.append(source["product_id"])
    assert sorted(seen) == sorted(by_product)  # every line exactly once
    order_ids = [order.order_id for order in orders if order.order_id is not None]
    assert len(order_ids) == len(set(order_ids))  # an order's lines come together
    # Orders come customer by customer (by the smallest external_id of the order).
    order_customers = [min(c[0] for c in order.customers if c) for order in orders if any(order.customers)]
    assert order_customers == sorted(order_customers)


def test_a_model_with_only_the_required_columns_and_email(model):
    con = duckdb.connect(str(model.database))
    con.execute(
        "create table main.meta_offline_events as select 'amp-1' as external_id, 'a@b.co' as email, 'o-1' as order_id, "
        "2 as quantity, timestamp '2029-12-31 10:00' as timestamp, 9.5::double as price, 'usd' as currency"
    )
    con.close()

    [order] = read_orders(model)

    assert order.customers == [("amp-1", "a@b.co", *[None] * 9)]
    line = order.lines[0]
    assert (
        line[LINE["currency_code"]],
        line[LINE["product_id"]],
        line[LINE["missing_reason"]],
        line[LINE["rule_reason"]],
    ) == ("USD", None, None, None)


def test_read_in_parts_every_line_still_comes_once_and_each_customer_in_one_part(model, monkeypatch):
    monkeypatch.setattr(model_reader, "LINES_PER_PART", 10)
    lines = order_lines(60, customers=13)
    model.write(lines)
    con = duckdb.connect(str(model.database))
    try:
        reader = ModelReader(con, find_model(model.target, "meta_offline_events", True))
        customer_rows = list(reader.customer_rows())
        orders = list(reader.orders(NOW_SECONDS, None))
    finally:
        con.close()

    assert reader.parts() == 12  # 118 lines
    assert len({key[1] for key, _, _ in customer_rows}) == len(customer_rows) == 13  # each customer in one part
    assert sorted(line[LINE["order_id"]] for order in orders for line in order.lines) == sorted(
        line["order_id"] for line in lines
    )
    assert len({order.order_id for order in orders}) == 60
    for order in orders:
        assert all(
            customer[0] == line[LINE["external_id"]]
            for line, customer in zip(order.lines, order.customers, strict=True)
        )


def test_a_customer_the_merge_misses_is_looked_up_on_its_own(model, monkeypatch):
    # The merge relies on DuckDB and Python ordering external_ids alike; should they ever
    # disagree, each missed customer is fetched by itself rather than lost.
    monkeypatch.setattr(model_reader._CustomerMerge, "_advance_to", lambda self, key: setattr(self, "_by_hash", {}))
    lines = order_lines(6, customers=4)
    model.write(lines)

    orders = read_orders(model)

    by_order = {line["order_id"]: customer_of(line) for line in lines}
    assert {order.order_id: order.customers[0] for order in orders} == by_order
