"""Meta's rules for one item line (exporter/validation.py)."""

from datetime import date, datetime, timedelta, timezone

import pytest

from exporter.validation import REASONS, event_time, line_problem

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
NOW_SECONDS = int(NOW.timestamp())


def line(**overrides):
    base = {
        "external_id": "amp-1",
        "order_id": "o-1",
        "quantity": 2,
        "timestamp": datetime(2026, 11, 22, 9, 30),
        "price": 9.99,
        "currency": "USD",
        "action_source": "physical_store",
        "event_name": "Purchase",
    }
    return {**base, **overrides}


@pytest.mark.parametrize(
    "value, expected",
    [
        (datetime(2026, 11, 22, 9, 30), 1795339800),  # naive = UTC
        (datetime(2026, 11, 22, 10, 30, tzinfo=timezone(timedelta(hours=1))), 1795339800),
        (date(2026, 11, 22), 1795305600),
        (1795339800, 1795339800),
        (1795339800.7, 1795339800),
        ("1795339800", 1795339800),
        ("2026-11-22T09:30:00", 1795339800),
        ("2026-11-22T09:30:00+00:00", 1795339800),
        ("yesterday", None),
        (True, None),
        (float("nan"), None),
        (None, None),
    ],
)
def test_event_time_accepts_timestamps_dates_and_unix_seconds(value, expected):
    assert event_time(value) == expected


def test_a_good_line_passes():
    assert line_problem(line(), True, NOW_SECONDS) is None


@pytest.mark.parametrize("column", ["order_id", "external_id", "quantity", "timestamp", "price", "currency"])
@pytest.mark.parametrize("empty", [None, "", "  "])
def test_required_columns(column, empty):
    assert line_problem(line(**{column: empty}), True, NOW_SECONDS) == f"missing_{column}"


@pytest.mark.parametrize(
    "overrides, has_contact, reason",
    [
        ({}, False, "no_usable_email_or_phone"),
        ({"quantity": 0}, True, "quantity_not_positive"),
        ({"quantity": -1}, True, "quantity_not_positive"),
        ({"price": -0.01}, True, "price_negative"),
        ({"currency": "US$"}, True, "invalid_currency"),
        ({"currency": "XYZ"}, True, "invalid_currency"),
        ({"action_source": "store"}, True, "invalid_action_source"),
        ({"event_name": "purchase"}, True, "invalid_event_name"),
        ({"timestamp": "not a time"}, True, "invalid_timestamp"),
        ({"timestamp": NOW + timedelta(seconds=1)}, True, "timestamp_in_future"),
        ({"timestamp": NOW - timedelta(days=62)}, True, "timestamp_too_old"),
        ({"timestamp": NOW - timedelta(days=7), "action_source": "email"}, True, "timestamp_too_old"),
        ({"action_source": "website", "timestamp": NOW - timedelta(days=1)}, True, "website_missing_client_user_agent"),
        (
            {"action_source": "website", "timestamp": NOW - timedelta(days=1), "client_user_agent": "Mozilla/5.0"},
            True,
            "website_missing_event_id",
        ),
        (
            {"action_source": "website", "timestamp": NOW - timedelta(days=1), "client_user_agent": "UA", "event_id": "e"},
            True,
            "website_missing_event_source_url",
        ),
    ],
)
def test_rules(overrides, has_contact, reason):
    assert reason in REASONS
    assert line_problem(line(**overrides), has_contact, NOW_SECONDS) == reason


@pytest.mark.parametrize(
    "overrides",
    [
        {"price": 0},  # free items are fine
        {"currency": " eur "},  # trimmed and upper-cased
        {"timestamp": NOW},  # now is not the future
        {"timestamp": NOW - timedelta(days=62) + timedelta(seconds=1)},  # physical_store: 62 days
        {"timestamp": NOW - timedelta(days=7) + timedelta(seconds=1), "action_source": "email"},
        {"action_source": None, "event_name": None},  # defaults physical_store / Purchase
        {
            "action_source": "website",
            "timestamp": NOW - timedelta(days=1),
            "client_user_agent": "UA",
            "event_id": "e",
            "event_source_url": "https://shop.example/checkout",
        },
    ],
)
def test_edges_that_pass(overrides):
    assert line_problem(line(**overrides), True, NOW_SECONDS) is None
