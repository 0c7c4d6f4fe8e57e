"""Error classification and retry waits (exporter/meta_api.py, exporter/delivery.py)."""

import pytest

from exporter.config import RetryPolicy
from exporter.delivery import Deliverer
from exporter.meta_api import ErrorKind, MetaApiError, _retry_after


@pytest.mark.parametrize(
    "error, kind",
    [
        (MetaApiError("x", 400, 190, 463), ErrorKind.AUTH),
        (MetaApiError("x", 401, 190), ErrorKind.AUTH),
        (MetaApiError("x", 400, 4), ErrorKind.TRANSIENT),
        (MetaApiError("x", 400, 17), ErrorKind.TRANSIENT),
        (MetaApiError("x", 400, 80004), ErrorKind.TRANSIENT),
        (MetaApiError("x", 400, 2), ErrorKind.TRANSIENT),
        (MetaApiError("x", 400, 999, is_transient=True), ErrorKind.TRANSIENT),
        (MetaApiError("x", 503), ErrorKind.TRANSIENT),
        (MetaApiError("x", 429), ErrorKind.TRANSIENT),
        (MetaApiError("no answer"), ErrorKind.TRANSIENT),  # timeouts, dropped connections
        (MetaApiError("x", 400, 100, 33), ErrorKind.UNKNOWN_DATASET),
        (MetaApiError("x", 400, 100, 2804003), ErrorKind.INVALID_EVENT),
        (MetaApiError("x", 403, 200, 1870034), ErrorKind.TERMS),
        (MetaApiError("x", 403, 200, 1870092), ErrorKind.TERMS),
        (MetaApiError("x", 403, 200), ErrorKind.PERMISSION),
        (MetaApiError("x", 403, 10), ErrorKind.PERMISSION),
        (MetaApiError("x", 400, 368), ErrorKind.POLICY_BLOCK),
        (MetaApiError("x", 400, 12345), ErrorKind.OTHER),
        (MetaApiError("acknowledged 9 of 10", 200), ErrorKind.OTHER),  # not retried: some may have arrived
        (MetaApiError("x", 404), ErrorKind.OTHER),
    ],
)
def test_classification(error, kind):
    assert error.kind is kind


def test_event_index_and_terms_url_come_from_metas_message():
    error = MetaApiError("Invalid parameter", 400, 100, user_msg="data[12][event_time]: too old")
    assert error.event_index() == 12
    assert MetaApiError("Invalid parameter", 400, 100).event_index() is None
    terms = MetaApiError(
        "Please agree to the terms at https://business.facebook.com/ads/manage/customaudiences/tos/?act=42."
    )
    assert terms.terms_url() == "https://business.facebook.com/ads/manage/customaudiences/tos/?act=42"


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "7"}, 7.0),
        (
            {
                "X-Business-Use-Case-Usage": '{"123": [{"type": "ads_management", "estimated_time_to_regain_access": 2}]}'
            },
            120.0,
        ),
        ({"X-Business-Use-Case-Usage": '{"123": [{"estimated_time_to_regain_access": 0}]}'}, None),
        ({"X-Business-Use-Case-Usage": "not json"}, None),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_server_hints_for_how_long_to_wait(headers, seconds):
    assert _retry_after(headers) == seconds


def test_backoff_doubles_with_jitter_up_to_the_maximum_unless_the_server_says():
    policy = RetryPolicy(first_wait=1.0, max_wait=60.0)
    lowest = Deliverer(None, "1", None, policy, jitter=lambda: 0.0)
    highest = Deliverer(None, "1", None, policy, jitter=lambda: 1.0)
    assert [lowest.wait_before_retry(attempt, None) for attempt in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert [highest.wait_before_retry(attempt, None) for attempt in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert lowest.wait_before_retry(3, server_hint=42.0) == 42.0


def test_the_token_is_not_part_of_an_errors_text():
    error = MetaApiError("Error validating access token", 400, 190, 463, fbtrace_id="AbC")
    assert str(error) == "Error validating access token [HTTP 400, code 190/463] (fbtrace_id AbC)"
