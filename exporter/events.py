"""One Meta event per order: lines grouped into custom_data.contents, customer data hashed.

An event is serialized once, here; its payload hash (what the send log compares on the next run)
and the request body are both made from that same text.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from exporter.model_reader import Order
from exporter.normalize import hashed_user_data
from exporter.state import Rejection
from exporter.validation import DEFAULT_ACTION_SOURCE, DEFAULT_EVENT_NAME, event_time, line_problem

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
    def __init__(self, now_seconds: int, default_phone_region: str = "US") -> None:
        self.now_seconds = now_seconds

        # Customers repeat across lines and orders: normalize and hash each distinct one once.
        @lru_cache(maxsize=2**16)
        def user_data_for(customer: tuple) -> dict[str, str]:
            return hashed_user_data(dict(zip(CUSTOMER_COLUMNS, customer)), default_phone_region)

        self._user_data_for = user_data_for

    def build(self, order: Order) -> OrderResult:
        lines = order.lines
        user_data = [self._user_data_for(tuple(line.get(c) for c in CUSTOMER_COLUMNS)) for line in lines]
        problems = [
            line_problem(line, "em" in data or "ph" in data, self.now_seconds) for line, data in zip(lines, user_data)
        ]
        if not any(problems) and len({str(line["currency"]).strip().upper() for line in lines}) > 1:
            problems = ["order_currencies_differ"] * len(lines)
        if any(problems):
            # A partial order would send a wrong value, so one bad line holds back the whole order.
            reasons = [problem or "order_has_rejected_line" for problem in problems]
            return OrderResult(None, [_rejection(line, reason) for line, reason in zip(lines, reasons)])
        return OrderResult(_event(order, user_data[0]), [])


def _event(order: Order, user_data: dict[str, str]) -> BuiltEvent:
    lines = order.lines
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
        "currency": str(first["currency"]).strip().upper(),
        "value": round(float(value), 2),
        "contents": contents,
        "order_id": str(order.order_id),
        "num_items": sum(int(line["quantity"]) for line in lines),
        "content_type": "product",
    }
    if first.get("client_user_agent"):
        user_data = {**user_data, "client_user_agent": first["client_user_agent"]}  # never hashed
    event_id = str(first.get("event_id") or order.order_id)  # deterministic: same order, same id
    event = {
        "event_name": first.get("event_name") or DEFAULT_EVENT_NAME,
        "event_time": min(event_time(line["timestamp"]) for line in lines),
        "action_source": first.get("action_source") or DEFAULT_ACTION_SOURCE,
        "event_id": event_id,
        "user_data": user_data,
        "custom_data": custom_data,
    }
    if first.get("event_source_url"):
        event["event_source_url"] = first["event_source_url"]
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    payload_hash = hashlib.sha256(text.encode()).hexdigest()
    return BuiltEvent(event_id, str(order.order_id), text, payload_hash, len(lines))


def _rejection(line: dict, reason: str) -> Rejection:
    order_id = line.get("order_id")
    product_id = line.get("product_id")
    return Rejection(
        None if order_id is None else str(order_id),
        None if product_id is None else str(product_id),
        "validation",
        reason,
    )


def reason_counts(rejections: list[Rejection]) -> Counter:
    return Counter(rejection.reason for rejection in rejections)
