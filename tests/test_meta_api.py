"""Error classification and retry waits (exporter/meta_api.py, exporter/delivery.py)."""

import pytest

from exporter import redact
from exporter.config import ConfigError, RetryPolicy, check_graph_url
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


@pytest.mark.parametrize(
    "error, kind",
    [
        (MetaApiError("moved", 301), ErrorKind.REDIRECT),
        (MetaApiError("moved", 307), ErrorKind.REDIRECT),
        (MetaApiError("too large", 413), ErrorKind.TOO_LARGE),
        (MetaApiError("too large", 413, 1, is_transient=True), ErrorKind.TOO_LARGE),
        (MetaApiError("slow", 408), ErrorKind.TRANSIENT),
        (MetaApiError("cut", 200, outcome_unknown=True), ErrorKind.TRANSIENT),
        (MetaApiError("lost", outcome_unknown=True), ErrorKind.TRANSIENT),
    ],
)
def test_classification_of_hostile_answers(error, kind):
    assert error.kind is kind


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com",
        "https://graph.facebook.com:443/",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://127.0.0.1:1234",
        "http://127.1.2.3",
        "http://[::1]:9000/base",
    ],
)
def test_graph_urls_that_are_accepted(url):
    check_graph_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://graph.facebook.com",
        "http://0.0.0.0:8080",
        "http://10.0.0.1",
        "http://[::2]",
        "http://localhost.evil.example",
        "ftp://graph.facebook.com",
        "graph.facebook.com",
        "https://",
        "https://token@graph.facebook.com",
        "https://graph.facebook.com/?access_token=x",
        "https://graph.facebook.com:port",
    ],
)
def test_graph_urls_that_are_refused(url):
    with pytest.raises(ConfigError):
        check_graph_url(url)


def test_scrub_removes_secrets_whole_encoded_and_in_pieces():
    redact.register("EAAsecret+token/0123456789", "app-secret-xyz")
    text = (
        "echo EAAsecret+token/0123456789 and EAAsecret%2Btoken%2F0123456789, "
        "cut EAAsecret+to, secret app-secret-xyz, and an innocent word"
    )
    scrubbed = redact.scrub(text)
    assert scrubbed == ("echo <redacted> and <redacted>, cut <redacted>, secret <redacted>, and an innocent word")
    assert redact.scrub_limited(text, 12) == "echo <redact…"


def test_values_too_short_to_be_secrets_are_not_registered():
    redact.register("1", "ab", None, "")
    assert redact.scrub("1 ab") == "1 ab"
