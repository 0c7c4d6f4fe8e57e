"""One Meta event per order: lines grouped into custom_data.contents, customer data hashed.

An event is serialized once, here; its payload hash (what the send log compares on the next run)
and the request body are both made from that same text.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from exporter.model_reader import Order
from exporter.normalize import hashed_user_data
from exporter.state import Rejection
from exporter.validation import DEFAULT_ACTION_SOURCE, DEFAULT_EVENT_NAME

CUSTOMER_COLUMNS = (
    "external_id", "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal", "country",
)  # fmt: skip


@dataclass(frozen=True)
class BuiltEvent:
    event_id: str
    order_id: str
    json: str  # the event exactly as posted
    payload_hash: str
    line_count: int


@dataclass(frozen=True)
class OrderResult:
    event: BuiltEvent | None
    rejections: list[Rejection]


class EventBuilder:
    def __init__(self, names: list[str], default_phone_region: str = "US") -> None:
        self.names = names
        # Customers repeat across lines and orders: normalize, hash and serialize each one once.
        @lru_cache(maxsize=2**15)  # ~1.5 kB a customer
        def user_data_for(customer: tuple) -> tuple[str, bool]:
            user_data = hashed_user_data(dict(zip(CUSTOMER_COLUMNS, customer)), default_phone_region)
            return _json(user_data), "em" in user_data or "ph" in user_data

        self._user_data_for = user_data_for

    def build(self, order: Order) -> OrderResult:
        lines = [dict(zip(self.names, line)) for line in order.lines]
        user_data = [self._user_data_for(tuple(line.get(c) for c in CUSTOMER_COLUMNS)) for line in lines]
        # The reading query decided every rule but the one that needs normalized customer data.
        problems = [
            line["missing_reason"] or (None if has_contact else "no_usable_email_or_phone") or line["rule_reason"]
            for line, (_, has_contact) in zip(lines, user_data)
        ]
        if not any(problems) and len({line["currency_code"] for line in lines}) > 1:
            problems = ["order_currencies_differ"] * len(lines)
        if any(problems):
            # A partial order would send a wrong value, so one bad line holds back the whole order.
            reasons = [problem or "order_has_rejected_line" for problem in problems]
            return OrderResult(None, [_rejection(line, reason) for line, reason in zip(lines, reasons)])
        return OrderResult(_event(order.order_id, lines, user_data[0][0]), [])


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _event(order_id: str, lines: list[dict], user_data_json: str) -> BuiltEvent:
    first = lines[0]
    contents = [
        {"id": str(line["product_id"]), "quantity": int(line["quantity"]), "item_price": float(line["price"])}
        for line in lines
        if line.get("product_id") is not None
    ]
    value = first.get("value")
    if value is None:
        value = sum(float(line["price"]) * int(line["quantity"]) for line in lines)
    custom_data = {
        "currency": first["currency_code"],
        "value": round(float(value), 2),
        "contents": contents,
        "order_id": str(order_id),
        "num_items": sum(int(line["quantity"]) for line in lines),
        "content_type": "product",
    }
    if first.get("client_user_agent"):  # never hashed; per event, not per customer
        user_data_json = _json({**json.loads(user_data_json), "client_user_agent": first["client_user_agent"]})
    event_id = str(first.get("event_id") or order_id)  # deterministic: same order, same id
    event = {
        "event_name": first.get("event_name") or DEFAULT_EVENT_NAME,
        "event_time": min(line["event_time"] for line in lines),
        "action_source": first.get("action_source") or DEFAULT_ACTION_SOURCE,
        "event_id": event_id,
        "custom_data": custom_data,
    }
    if first.get("event_source_url"):
        event["event_source_url"] = first["event_source_url"]
    # Keys are sorted, and "user_data" sorts last: the customer's cached JSON is spliced in as is.
    text = _json(event)[:-1] + ',"user_data":' + user_data_json + "}"
    payload_hash = hashlib.sha256(text.encode()).hexdigest()
    return BuiltEvent(event_id, str(order_id), text, payload_hash, len(lines))


def _rejection(line: dict, reason: str) -> Rejection:
    order_id = line.get("order_id")
    product_id = line.get("product_id")
    return Rejection(
        None if order_id is None else str(order_id),
        None if product_id is None else str(product_id),
        "validation",
        reason,
    )


# Below this many lines, starting worker processes costs more than it saves.
PARALLEL_FROM_ROWS = 100_000
ORDERS_PER_TASK = 2_000


def default_workers(rows: int) -> int:
    return 0 if rows < PARALLEL_FROM_ROWS else min(os.cpu_count() or 1, 4)


def build_events(
    orders: Iterator[Order], names: list[str], default_phone_region: str, workers: int
) -> Iterator[tuple[Order, OrderResult]]:
    """(order, result) for every order, in the orders' order.

    With workers, chunks of orders are built in that many processes (normalizing and hashing
    is CPU-bound Python) while this process goes on reading and sending; at most two chunks
    per worker are in flight, so memory stays flat.
    """
    if workers <= 0:
        builder = EventBuilder(names, default_phone_region)
        for order in orders:
            yield order, builder.build(order)
        return
    # forkserver: workers start from a clean process, not a fork of one running DuckDB threads.
    context = multiprocessing.get_context("forkserver")
    in_flight: deque[tuple[list[Order], Future]] = deque()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(names, default_phone_region)) as pool:
        while True:
            while len(in_flight) < 2 * workers and (chunk := list(islice(orders, ORDERS_PER_TASK))):
                in_flight.append((chunk, pool.submit(_build_chunk, chunk)))
            if not in_flight:
                return
            chunk, future = in_flight.popleft()
            yield from zip(chunk, future.result())


_worker_builder: EventBuilder | None = None


def _start_worker(names: list[str], default_phone_region: str) -> None:
    global _worker_builder
    _worker_builder = EventBuilder(names, default_phone_region)


def _build_chunk(orders: list[Order]) -> list[OrderResult]:
    return [_worker_builder.build(order) for order in orders]
