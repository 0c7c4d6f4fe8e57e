"""Meta's rules for one item line: each rejected line gets a reason code from REASONS."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone

import pycountry

ACTION_SOURCES = frozenset(
    {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated", "business_messaging", "other"}
)
# The event names the replaced destination allows.
EVENT_NAMES = frozenset(
    {"ViewContent", "Search", "AddToCart", "AddToWishlist", "InitiateCheckout", "AddPaymentInfo", "Purchase", "Lead", "Other"}
)
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
DEFAULT_ACTION_SOURCE = "physical_store"
DEFAULT_EVENT_NAME = "Purchase"
MAX_AGE = timedelta(days=7)
# Meta asks for store transactions to be uploaded within 62 days of the purchase.
MAX_AGE_PHYSICAL_STORE = timedelta(days=62)

REASONS = {
    "missing_order_id": "order_id is empty",
    "missing_external_id": "external_id is empty",
    "missing_quantity": "quantity is empty",
    "missing_timestamp": "timestamp is empty",
    "missing_price": "price is empty",
    "missing_currency": "currency is empty",
    "no_usable_email_or_phone": "neither a valid email nor a valid phone number",
    "quantity_not_positive": "quantity is 0 or negative",
    "price_negative": "price is negative",
    "invalid_currency": "currency is not an ISO 4217 code",
    "invalid_action_source": "action_source is not one of Meta's action sources",
    "invalid_event_name": "event_name is not one of the allowed event names",
    "invalid_timestamp": "timestamp is not a timestamp, a date or Unix seconds",
    "timestamp_in_future": "timestamp is in the future",
    "timestamp_too_old": "timestamp is older than Meta accepts (7 days; 62 for physical_store)",
    "website_missing_client_user_agent": "website events need client_user_agent",
    "website_missing_event_id": "website events need event_id",
    "website_missing_event_source_url": "website events need event_source_url",
    "order_currencies_differ": "the order's lines have different currencies",
    "order_has_rejected_line": "another line of the same order was rejected",
}


def event_time(value: object) -> int | None:
    """Unix seconds from a timestamp (naive = UTC), a date, Unix seconds or an ISO string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(aware.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp())
    return None


def line_problem(line: Mapping[str, object], has_email_or_phone: bool, now_seconds: int) -> str | None:
    """The first rule the line breaks, as a REASONS code, or None when it can be sent."""
    for column in ("order_id", "external_id", "quantity", "timestamp", "price", "currency"):
        value = line.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"missing_{column}"
    if not has_email_or_phone:
        return "no_usable_email_or_phone"
    if line["quantity"] <= 0:
        return "quantity_not_positive"
    if line["price"] < 0:
        return "price_negative"
    if str(line["currency"]).strip().upper() not in CURRENCIES:
        return "invalid_currency"
    action_source = line.get("action_source") or DEFAULT_ACTION_SOURCE
    if action_source not in ACTION_SOURCES:
        return "invalid_action_source"
    if (line.get("event_name") or DEFAULT_EVENT_NAME) not in EVENT_NAMES:
        return "invalid_event_name"
    seconds = event_time(line["timestamp"])
    if seconds is None:
        return "invalid_timestamp"
    if seconds > now_seconds:
        return "timestamp_in_future"
    max_age = MAX_AGE_PHYSICAL_STORE if action_source == "physical_store" else MAX_AGE
    if seconds <= now_seconds - max_age.total_seconds():
        return "timestamp_too_old"
    if action_source == "website":
        for column in ("client_user_agent", "event_id", "event_source_url"):
            if not line.get(column):
                return f"website_missing_{column}"
    return None
