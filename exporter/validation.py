"""Meta's rules for one item line, as SQL evaluated set-wise by DuckDB while the model is read.

Each rejected line gets a reason code from REASONS. Two columns come out of the reading query:
`missing_reason` (a required value is empty) and `rule_reason` (the first other rule the line
breaks). The one rule SQL cannot decide, "has a usable email or phone", needs the normalized
customer data and is applied in events.py between the two, keeping this precedence:
missing value > no usable email or phone > the other rules. The rules of an order as a whole
(its lines' customers and currencies agree, its value is within MAX_AMOUNT) are applied in
events.py too, once every line has passed, and reject all of the order's lines with one reason.
"""

from __future__ import annotations

from datetime import timedelta

import pycountry

ACTION_SOURCES = (
    "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated", "business_messaging", "other",
)  # fmt: skip
# The event names the replaced destination allows.
EVENT_NAMES = (
    "ViewContent",
    "Search",
    "AddToCart",
    "AddToWishlist",
    "InitiateCheckout",
    "AddPaymentInfo",
    "Purchase",
    "Lead",
    "Other",
)
CURRENCIES = tuple(sorted(currency.alpha_3 for currency in pycountry.currencies))
DEFAULT_ACTION_SOURCE = "physical_store"
DEFAULT_EVENT_NAME = "Purchase"
MAX_AGE = timedelta(days=7)
# Meta asks for store transactions to be uploaded within 62 days of the purchase.
MAX_AGE_PHYSICAL_STORE = timedelta(days=62)
REQUIRED_VALUES = ("order_id", "external_id", "quantity", "timestamp", "price", "currency")
# Bounds past which a number is no store purchase in any currency Meta takes, but a unit error
# or corrupt data: a price or an order's value above 10^12 (about a billion US dollars even in
# yen), a quantity above 10^6. Up to 10^12, an amount with its currency's decimals has at most
# 15 significant digits, which the double Meta reads it into keeps exactly.
MAX_AMOUNT = 10**12
MAX_QUANTITY = 10**6

REASONS = {
    "missing_order_id": "order_id is empty",
    "missing_external_id": "external_id is empty",
    "missing_quantity": "quantity is empty",
    "missing_timestamp": "timestamp is empty",
    "missing_price": "price is empty",
    "missing_currency": "currency is empty",
    "missing_product_id": "product_id is empty",
    "no_usable_email_or_phone": "neither a valid email nor a valid phone number",
    "quantity_not_positive": "quantity is 0 or negative",
    "quantity_too_large": f"quantity is above {MAX_QUANTITY:,}",
    "price_not_finite": "price is NaN or infinite",
    "price_negative": "price is negative",
    "price_too_large": f"price is above {MAX_AMOUNT:,}",
    "value_not_finite": "value is NaN or infinite",
    "value_too_large": f"the order's value (its value column, or the sum of price x quantity) is above {MAX_AMOUNT:,}",
    "invalid_currency": "currency is not an ISO 4217 code",
    "invalid_action_source": "action_source is not one of Meta's action sources",
    "invalid_event_name": "event_name is not one of the allowed event names",
    "invalid_timestamp": "timestamp is not a timestamp, a date, Unix seconds or an ISO 8601 string",
    "timestamp_in_future": "timestamp is in the future",
    "timestamp_too_old": "timestamp is older than Meta accepts (7 days; 62 for physical_store)",
    "website_missing_client_user_agent": "website events need client_user_agent",
    "website_missing_event_id": "website events need event_id",
    "website_missing_event_source_url": "website events need event_source_url",
    "order_customers_differ": "the order's lines belong to different customers (external_id or customer data differ)",
    "order_currencies_differ": "the order's lines have different currencies",
    "order_has_rejected_line": "another line of the same order was rejected",
}


def quoted(column: str) -> str:
    """A column name as a DuckDB identifier."""
    return f'"{column}"'


def _in_list(expression: str, values: tuple[str, ...]) -> str:
    return f"{expression} in ({', '.join(repr(value) for value in values)})"


def event_time_sql(column: str, duckdb_type: str) -> str:
    """Unix seconds from a timestamp (naive = UTC), a date, Unix seconds or an ISO 8601 string.

    Needs the session TimeZone set to UTC, so that ISO strings without an offset are UTC.
    """
    value, kind = quoted(column), duckdb_type.upper()
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"cast(floor(epoch(cast({value} as timestamptz))) as bigint)"
    if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"):
        return f"cast({value} as bigint)"
    if kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL"):
        return f"case when isfinite(cast({value} as double)) then cast(trunc({value}) as bigint) end"
    if kind == "VARCHAR":
        text = f"trim({value})"
        return (
            f"case when regexp_full_match({text}, '-?[0-9]+') then try_cast({text} as bigint) "
            f"else cast(floor(epoch(try_cast({text} as timestamptz))) as bigint) end"
        )
    return "cast(null as bigint)"


def _with_default(column: str, default: str, types: dict[str, str]) -> str:
    """The column's value, or the default where the column is absent, NULL or empty."""
    if column not in types:
        return f"'{default}'"
    return f"coalesce(nullif(cast({quoted(column)} as varchar), ''), '{default}')"


def missing_reason_sql(types: dict[str, str]) -> str:
    """The first required value that is NULL or blank, as `missing_<column>`.

    product_id too, when the model has that column: a line without one would be counted in
    the event's value and num_items but could not be listed in its contents. A model without
    the column (a query written for the replaced destination, which did not require it) sends
    its events with empty contents.
    """
    branches = []
    for column in (*REQUIRED_VALUES, *(("product_id",) if "product_id" in types else ())):
        value = quoted(column)
        empty = f"{value} is null" + (f" or trim({value}) = ''" if types[column].upper() == "VARCHAR" else "")
        branches.append(f"when {empty} then 'missing_{column}'")
    return f"case {' '.join(branches)} end"


def rule_reason_sql(types: dict[str, str], now_seconds: int) -> str:
    """The first of Meta's other rules the line breaks (for lines with every required value)."""
    action_source = _with_default("action_source", DEFAULT_ACTION_SOURCE, types)
    event_name = _with_default("event_name", DEFAULT_EVENT_NAME, types)
    currency = 'upper(trim(cast("currency" as varchar)))'
    event_time = event_time_sql("timestamp", types["timestamp"])
    oldest_store, oldest = (
        now_seconds - int(MAX_AGE_PHYSICAL_STORE.total_seconds()),
        now_seconds - int(MAX_AGE.total_seconds()),
    )
    # DuckDB orders NaN above every number, so "not finite" comes before the comparisons.
    price_finite = 'isfinite(cast("price" as double))'
    branches = [
        ('"quantity" <= 0', "quantity_not_positive"),
        (f'"quantity" > {MAX_QUANTITY}', "quantity_too_large"),
        (f"not {price_finite}", "price_not_finite"),
        ('"price" < 0', "price_negative"),
        (f'"price" > {MAX_AMOUNT}', "price_too_large"),
        (f"not {_in_list(currency, CURRENCIES)}", "invalid_currency"),
        (f"not {_in_list(action_source, ACTION_SOURCES)}", "invalid_action_source"),
        (f"not {_in_list(event_name, EVENT_NAMES)}", "invalid_event_name"),
        (f"{event_time} is null", "invalid_timestamp"),
        (f"{event_time} > {now_seconds}", "timestamp_in_future"),
        (
            f"{event_time} <= case when {action_source} = 'physical_store' then {oldest_store} else {oldest} end",
            "timestamp_too_old",
        ),
    ]
    if "value" in types:  # optional: an order's value as the model computes it
        branches += [
            ('"value" is not null and not isfinite(cast("value" as double))', "value_not_finite"),
            (f'"value" > {MAX_AMOUNT}', "value_too_large"),
        ]
    for column in ("client_user_agent", "event_id", "event_source_url"):
        present = f"coalesce(cast({quoted(column)} as varchar), '') <> ''" if column in types else "false"
        branches.append((f"{action_source} = 'website' and not ({present})", f"website_missing_{column}"))
    return "case " + " ".join(f"when {condition} then '{reason}'" for condition, reason in branches) + " end"
