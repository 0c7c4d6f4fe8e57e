"""One Meta event per order: lines grouped into custom_data.contents, customer data hashed.

An event is serialized once, here; its payload hash (what the send log compares on the next run)
and the request body are both made from that same text.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from json.encoder import encode_basestring

from exporter.model_reader import CUSTOMER_COLUMNS, EVENT_COLUMNS, LINE, Customer, Order
from exporter.normalize import hashed_user_data
from exporter.state import Rejection
from exporter.validation import DEFAULT_ACTION_SOURCE, DEFAULT_EVENT_NAME


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
    def __init__(self, default_phone_region: str = "US") -> None:
        # The reader yields each customer's orders together, so a small cache normalizes, hashes
        # and serializes each customer once.
        @lru_cache(maxsize=1024)
        def user_data_for(customer: Customer | None) -> tuple[str, bool]:
            if customer is None:
                return "{}", False
            user_data = hashed_user_data(dict(zip(CUSTOMER_COLUMNS, customer)), default_phone_region)
            return _json(user_data), "em" in user_data or "ph" in user_data

        self._user_data_for = user_data_for

    def build(self, order: Order) -> OrderResult:
        lines = order.lines
        user_data = [self._user_data_for(customer) for customer in order.customers]
        # The reading query decided every rule but the one that needs normalized customer data.
        problems = [
            line[MISSING_REASON] or (None if has_contact else "no_usable_email_or_phone") or line[RULE_REASON]
            for line, (_, has_contact) in zip(lines, user_data)
        ]
        if not any(problems) and len({line[CURRENCY] for line in lines}) > 1:
            problems = ["order_currencies_differ"] * len(lines)
        if any(problems):
            # A partial order would send a wrong value, so one bad line holds back the whole order.
            reasons = [problem or "order_has_rejected_line" for problem in problems]
            return OrderResult(None, [_rejection(line, reason) for line, reason in zip(lines, reasons)])
        return OrderResult(_event(order.order_id, lines, user_data[0][0]), [])


ORDER_ID, PRODUCT_ID, QUANTITY, PRICE, CURRENCY, EVENT_TIME, MISSING_REASON, RULE_REASON = (
    LINE[name] for name in ("order_id", "product_id", "quantity", "price", "currency_code", "event_time", "missing_reason", "rule_reason")
)  # fmt: skip
EVENT_NAME, ACTION_SOURCE, EVENT_ID, EVENT_SOURCE_URL, CLIENT_USER_AGENT, VALUE = (LINE[name] for name in EVENT_COLUMNS)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _string(value: object) -> str:
    """As _json(value), faster for the strings nearly every value is."""
    return encode_basestring(value) if type(value) is str else _json(value)


def _float(value: float) -> str:
    """As _json(value) for a float: the shortest repr, and JSON's names for what is not finite."""
    return repr(value) if math.isfinite(value) else _json(value)


def _event(order_id: str, lines: list[tuple], user_data_json: str) -> BuiltEvent:
    """The event's JSON text, byte for byte what _json() of the event as a dict would give.

    Written out key by key (sorted, as _json sorts them) because json.dumps of nested dicts was
    the largest cost after hashing; tests/test_events.py compares the two on many orders.
    """
    first = lines[0]
    contents = ",".join(
        f'{{"id":{_string(str(line[PRODUCT_ID]))},"item_price":{_float(float(line[PRICE]))},"quantity":{int(line[QUANTITY])}}}'
        for line in lines
        if line[PRODUCT_ID] is not None
    )
    value = first[VALUE]
    if value is None:
        value = sum(float(line[PRICE]) * int(line[QUANTITY]) for line in lines)
    num_items = sum(int(line[QUANTITY]) for line in lines)
    if first[CLIENT_USER_AGENT]:  # never hashed; per event, not per customer ("client_user_agent" sorts first)
        rest = "," + user_data_json[1:] if user_data_json != "{}" else "}"
        user_data_json = '{"client_user_agent":' + _string(first[CLIENT_USER_AGENT]) + rest
    event_id = str(first[EVENT_ID] or order_id)  # deterministic: same order, same id
    event_source_url = f'"event_source_url":{_string(first[EVENT_SOURCE_URL])},' if first[EVENT_SOURCE_URL] else ""
    text = (
        f'{{"action_source":{_string(first[ACTION_SOURCE] or DEFAULT_ACTION_SOURCE)},'
        f'"custom_data":{{"content_type":"product","contents":[{contents}],"currency":{_string(first[CURRENCY])},'
        f'"num_items":{num_items},"order_id":{_string(str(order_id))},"value":{_float(round(float(value), 2))}}},'
        f'"event_id":{_string(event_id)},"event_name":{_string(first[EVENT_NAME] or DEFAULT_EVENT_NAME)},'
        f'{event_source_url}"event_time":{min(line[EVENT_TIME] for line in lines)},"user_data":{user_data_json}}}'
    )
    payload_hash = hashlib.sha256(text.encode()).hexdigest()
    return BuiltEvent(event_id, str(order_id), text, payload_hash, len(lines))


def _rejection(line: tuple, reason: str) -> Rejection:
    order_id, product_id = line[ORDER_ID], line[PRODUCT_ID]
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


def build_events(orders: Iterator[Order], default_phone_region: str, workers: int) -> Iterator[tuple[Order, OrderResult]]:
    """(order, result) for every order, in the orders' order.

    With workers, chunks of orders are built in that many processes (normalizing and hashing
    is CPU-bound Python) while this process goes on reading and sending; at most two chunks
    per worker are in flight, so memory stays flat.
    """
    if workers <= 0:
        builder = EventBuilder(default_phone_region)
        for order in orders:
            yield order, builder.build(order)
        return
    # forkserver: workers start from a clean process, not a fork of one running DuckDB threads.
    context = multiprocessing.get_context("forkserver")
    in_flight: deque[tuple[list[Order], Future]] = deque()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(default_phone_region,)) as pool:
        while True:
            while len(in_flight) < 2 * workers and (chunk := list(islice(orders, ORDERS_PER_TASK))):
                in_flight.append((chunk, pool.submit(_build_chunk, chunk)))
            if not in_flight:
                return
            chunk, future = in_flight.popleft()
            yield from zip(chunk, future.result())


_worker_builder: EventBuilder | None = None


def _start_worker(default_phone_region: str) -> None:
    global _worker_builder
    _worker_builder = EventBuilder(default_phone_region)


def _build_chunk(orders: list[Order]) -> list[OrderResult]:
    return [_worker_builder.build(order) for order in orders]
