"""One Meta event per order: lines grouped into custom_data.contents, customer data hashed.

Each distinct customer is normalized, hashed and serialized once (hashed_customers, in worker
processes for large models: it is the largest CPU cost of an export). An event is serialized
once, here; its payload hash (what the send log compares on the next run) and the request body
are both made from that same text.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial
from itertools import islice
from json.encoder import encode_basestring
from typing import NamedTuple

from babel.numbers import get_currency_precision

from exporter.model_reader import CUSTOMER_COLUMNS, EVENT_COLUMNS, LINE, Customer, Order
from exporter.normalize import DEFAULT_REGION, hash_user_data
from exporter.state import Rejection
from exporter.validation import DEFAULT_ACTION_SOURCE, DEFAULT_EVENT_NAME, MAX_AMOUNT


class BuiltEvent(NamedTuple):
    event_id: str
    order_id: str
    json: str  # the event exactly as posted
    payload_hash: str
    line_count: int
    match_keys: tuple[str, ...]  # the user_data keys it carries, for the run's coverage figures


class OrderResult(NamedTuple):
    event: BuiltEvent | None
    rejections: list[Rejection]


class UserData(NamedTuple):
    """One customer, normalized, hashed and serialized once (in a worker process for large models)."""

    json: str  # the user_data object as sent
    has_contact: bool  # a usable email or phone
    dropped: tuple[tuple[str, str], ...]  # (Meta key, reason) of each value given but unusable
    keys: tuple[str, ...] = ()  # the keys of user_data: the match keys the customer's events carry


NO_CUSTOMER = UserData("{}", False, ())  # a line without external_id (rejected for that)


def user_data(customer: Customer | None, default_phone_region: str = DEFAULT_REGION) -> UserData:
    """Normalize, hash and serialize one customer (CUSTOMER_COLUMNS values)."""
    if customer is None:
        return NO_CUSTOMER
    hashed, dropped = hash_user_data(dict(zip(CUSTOMER_COLUMNS, customer, strict=True)), default_phone_region)
    return UserData(_json(hashed), "em" in hashed or "ph" in hashed, dropped, tuple(hashed))


class EventBuilder:
    def __init__(self, default_phone_region: str = DEFAULT_REGION) -> None:
        # For the few customers that come with a line rather than from hashed_customers().
        self.user_data_for: Callable[[Customer], UserData] = lru_cache(maxsize=1024)(
            partial(user_data, default_phone_region=default_phone_region)
        )

    def build(self, order: Order) -> OrderResult:
        """The order's event, or why its lines are rejected; order.customers holds UserData."""
        lines = order.lines
        customers = [customer or NO_CUSTOMER for customer in order.customers]
        # The reading query decided every rule but the one that needs normalized customer data.
        problems = [
            line[MISSING_REASON] or (None if customer.has_contact else "no_usable_email_or_phone") or line[RULE_REASON]
            for line, customer in zip(lines, customers, strict=True)
        ]
        if not any(problems):
            # The rules of the order as a whole: one reason for all its lines.
            first = customers[0]
            if any(customer.json != first.json for customer in customers):
                # One event carries one customer: sending it under either identity would give
                # that customer the other's purchases. (Two versions of one customer's data
                # that normalize alike are the same identity, and go through.)
                problem = "order_customers_differ"
            elif len({line[CURRENCY] for line in lines}) > 1:
                problem = "order_currencies_differ"
            else:
                digits = minor_digits(lines[0][CURRENCY])
                value = round_amount(_order_value(lines), digits)
                if value <= MAX_AMOUNT:
                    return OrderResult(_event(order.order_id, lines, first, value, digits), [])
                problem = "value_too_large"
            problems = [problem] * len(lines)
        # A partial order would send a wrong value, so one bad line holds back the whole order.
        reasons = [problem or "order_has_rejected_line" for problem in problems]
        return OrderResult(None, [_rejection(line, reason) for line, reason in zip(lines, reasons, strict=True)])


ORDER_ID, PRODUCT_ID, QUANTITY, PRICE, CURRENCY, EVENT_TIME, MISSING_REASON, RULE_REASON = (
    LINE[name] for name in ("order_id", "product_id", "quantity", "price", "currency_code", "event_time", "missing_reason", "rule_reason")
)  # fmt: skip
EVENT_NAME, ACTION_SOURCE, EVENT_ID, EVENT_SOURCE_URL, CLIENT_USER_AGENT, VALUE = (LINE[name] for name in EVENT_COLUMNS)


def _json(value: object) -> str:
    # Strict JSON: a NaN or an infinity raises rather than reaching Meta as `NaN`/`Infinity`.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _string(value: object) -> str:
    """As _json(value), faster for the strings nearly every value is."""
    return encode_basestring(value) if type(value) is str else _json(value)


# --- money: amounts as the currency writes them ------------------------------------------

# Exact decimal arithmetic: at this precision, sums and products of amounts never round.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
# Prices repeat (a catalog's products): converting and rounding each once saves ~1 µs a line.
# Bounded: an entry costs ~300 bytes.
_PRICE_CACHE_SIZE = 2**12


@lru_cache(maxsize=1024)
def minor_digits(currency: str) -> int:
    """Digits after the decimal point of the currency's amounts: 2 for most, 0 for JPY or KRW,
    3 for BHD or KWD. From CLDR's currency data, as Babel ships it (see the README, "What it
    sends", for why CLDR rather than ISO 4217's table)."""
    return get_currency_precision(currency)


@lru_cache(maxsize=_PRICE_CACHE_SIZE)
def exact_amount(number: float | int | Decimal) -> Decimal:
    """The model's number as an exact Decimal. A float is taken at its shortest repr, what
    DuckDB and Python print (46.050000000000004, 2.675), not at its binary expansion
    (2.67499999999999982236431605997495353221893310546875): the amount the data shows is the
    amount that is rounded."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def round_amount(amount: Decimal, digits: int) -> Decimal:
    """``amount`` rounded to ``digits`` decimals, half up (ties away from zero; amounts here
    are never negative).

    Half up, not half even: it is how a till and a receipt round one amount, and how DuckDB
    rounds a DECIMAL (rules will move into SQL). Half even only pays off when many rounded
    amounts are summed, and value is never summed from rounded prices: it is rounded once,
    from the exact sum.
    """
    if not amount.is_finite():
        # Validation rejects such lines (price_not_finite, value_not_finite) before this.
        raise ValueError("an amount that is not a finite number reached the event builder")
    return amount.quantize(Decimal((0, (1,), -digits)), rounding=ROUND_HALF_UP, context=_EXACT)


def _number(amount: Decimal) -> str:
    """A rounded amount as a JSON number: the shortest text of the nearest double (Meta reads a
    double), e.g. 46.05, 10.0, 1500.0. Amounts are at most MAX_AMOUNT with at most 3 decimals
    (CLF's and UYW's 4 aside), so at most 15 significant digits, which a double keeps exactly:
    the text shows the rounded amount's digits."""
    return repr(float(amount))


@lru_cache(maxsize=_PRICE_CACHE_SIZE)
def _item_price(price: float | int | Decimal, digits: int) -> str:
    return _number(round_amount(exact_amount(price), digits))


def _order_value(lines: list[tuple]) -> Decimal:
    """The model's `value` when it has one, else Σ price × quantity, exactly (not rounded)."""
    value = lines[0][VALUE]
    if value is not None:
        return exact_amount(value)
    total = Decimal(0)
    for line in lines:
        total = _EXACT.add(total, _EXACT.multiply(exact_amount(line[PRICE]), int(line[QUANTITY])))
    return total


# --- the event's text ----------------------------------------------------------------------


def _event(order_id: str, lines: list[tuple], customer: UserData, value: Decimal, digits: int) -> BuiltEvent:
    """The event's JSON text, byte for byte what _json() of the event as a dict would give.

    Written out key by key (sorted, as _json sorts them) because json.dumps of nested dicts was
    the largest cost after hashing; tests/test_events.py compares the two on many orders.
    ``value`` is already rounded to the currency's ``digits``; item prices are rounded here.
    """
    first = lines[0]
    user_data_json = customer.json
    contents = ",".join(
        f'{{"id":{_string(str(line[PRODUCT_ID]))},"item_price":{_item_price(line[PRICE], digits)},"quantity":{int(line[QUANTITY])}}}'
        for line in lines
        if line[PRODUCT_ID] is not None
    )
    num_items = sum(int(line[QUANTITY]) for line in lines)
    if first[CLIENT_USER_AGENT]:  # never hashed; per event, not per customer ("client_user_agent" sorts first)
        rest = "," + user_data_json[1:] if user_data_json != "{}" else "}"
        user_data_json = '{"client_user_agent":' + _string(first[CLIENT_USER_AGENT]) + rest
    event_id = str(first[EVENT_ID] or order_id)  # deterministic: same order, same id
    event_source_url = f'"event_source_url":{_string(first[EVENT_SOURCE_URL])},' if first[EVENT_SOURCE_URL] else ""
    text = (
        f'{{"action_source":{_string(first[ACTION_SOURCE] or DEFAULT_ACTION_SOURCE)},'
        f'"custom_data":{{"content_type":"product","contents":[{contents}],"currency":{_string(first[CURRENCY])},'
        f'"num_items":{num_items},"order_id":{_string(str(order_id))},"value":{_number(value)}}},'
        f'"event_id":{_string(event_id)},"event_name":{_string(first[EVENT_NAME] or DEFAULT_EVENT_NAME)},'
        f'{event_source_url}"event_time":{min(line[EVENT_TIME] for line in lines)},"user_data":{user_data_json}}}'
    )
    payload_hash = hashlib.sha256(text.encode()).hexdigest()
    return BuiltEvent(event_id, str(order_id), text, payload_hash, len(lines), customer.keys)


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
CUSTOMERS_PER_TASK = 1_000
# Enough hashing queued that workers keep going while this process sorts a part or sends; each
# chunk's results are ~1 MB.
CHUNKS_IN_FLIGHT_PER_WORKER = 8


def default_workers(rows: int) -> int:
    return 0 if rows < PARALLEL_FROM_ROWS else min(os.cpu_count() or 1, 4)


def hashed_customers(
    rows: Iterator[tuple],
    default_phone_region: str,
    workers: int,
    count_dropped: Callable[[tuple[tuple[str, str], ...]], None] | None = None,
) -> Iterator[tuple]:
    """(key, customer_hash, UserData) for each (key, customer_hash, customer) row, in order.

    Normalizing and hashing is CPU-bound Python (phone numbers above all), so with workers,
    chunks of customers are hashed in that many processes while this one reads the lines and
    sends. Only customers cross between processes, each once; a bounded number of chunks is
    in flight, so memory stays flat.

    `count_dropped` gets each customer's unusable values (UserData.dropped) when it has any:
    these rows are each distinct customer once, so the counts are per distinct customer.
    """
    hashed = _hashed_customers(rows, default_phone_region, workers)
    try:
        for row in hashed:
            if row[2].dropped and count_dropped is not None:
                count_dropped(row[2].dropped)
            yield row
    finally:
        hashed.close()  # stops the worker processes now when the run ends early


def _hashed_customers(rows: Iterator[tuple], default_phone_region: str, workers: int) -> Iterator[tuple]:
    if workers <= 0:
        for row in rows:
            yield row[0], row[1], user_data(row[2], default_phone_region)
        return
    # forkserver: workers start from a clean process, not a fork of one running DuckDB threads.
    context = multiprocessing.get_context("forkserver")
    in_flight: deque[tuple[list[tuple], Future]] = deque()
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        while True:
            while len(in_flight) < CHUNKS_IN_FLIGHT_PER_WORKER * workers and (
                chunk := list(islice(rows, CUSTOMERS_PER_TASK))
            ):
                task = pool.submit(_hash_chunk, [row[2] for row in chunk], default_phone_region)
                in_flight.append((chunk, task))
            if not in_flight:
                return
            chunk, task = in_flight.popleft()
            for row, hashed in zip(chunk, task.result(), strict=True):
                yield row[0], row[1], hashed


def _hash_chunk(customers: list[Customer], default_phone_region: str) -> list[UserData]:
    return [user_data(customer, default_phone_region) for customer in customers]
