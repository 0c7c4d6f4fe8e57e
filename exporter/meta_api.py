"""The Graph API client: one method per call the exporter makes, errors turned into MetaApiError.

The access token only ever travels in a request body (never in a URL), so it cannot leak into
proxy logs, exception messages or our own logs. Whatever the server answers is treated as
untrusted: any status, headers and body (or none) end as an answer or a MetaApiError, and every
text taken from it is scrubbed of the secrets (see redact.py) and shortened.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from exporter import redact
from exporter.transport import Answer, Transport, TransportError

log = logging.getLogger(__name__)

RATE_LIMIT_CODES = {4, 17, 32, 613, 80000, 80003, 80004, 80014}
TEMPORARY_CODES = {1, 2, 341}
TERMS_SUBCODES = {1870034, 1870090, 1870092}
PERMISSION_CODES = {10, 294} | set(range(200, 300))
# Graph API parameter errors name the event as data[N], e.g. "param data[3][event_time] ...".
EVENT_INDEX = re.compile(r"data\[(\d+)\]")


MAX_TEXT = 2000  # characters kept of each text of an error answer
MAX_WAIT_HINT = 86400.0  # seconds: a server asking for more is not believed


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"  # rate limits, temporary errors, 5xx, timeouts, dropped connections, lost answers
    TOO_LARGE = "too_large"  # HTTP 413: the request was too large; smaller ones may pass
    INVALID_EVENT = "invalid_event"  # code 100: an event of the batch is invalid
    AUTH = "auth"  # code 190: token invalid or expired
    TERMS = "terms"  # terms of service not accepted
    PERMISSION = "permission"
    UNKNOWN_DATASET = "unknown_dataset"  # code 100, subcode 33
    POLICY_BLOCK = "policy_block"  # code 368
    REDIRECT = "redirect"  # a 3xx answer: the URL is not the Graph API's (never followed)
    OTHER = "other"


@dataclass
class MetaApiError(Exception):
    """An error answer from Meta, or a transport failure (code None)."""

    message: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    is_transient: bool = False
    user_title: str | None = None
    user_msg: str | None = None
    fbtrace_id: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After or X-Business-Use-Case-Usage
    # The request was sent whole but no complete answer came back: Meta may have acted on it.
    outcome_unknown: bool = False

    def __str__(self) -> str:
        detail = f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "") if self.code else "no error code"
        status = f"HTTP {self.http_status}, " if self.http_status else ""
        extra = f" {self.user_title}: {self.user_msg}" if self.user_msg else ""
        trace = f" (fbtrace_id {self.fbtrace_id})" if self.fbtrace_id else ""
        return f"{self.message} [{status}{detail}]{extra}{trace}"

    @property
    def kind(self) -> ErrorKind:
        code, subcode, status = self.code, self.subcode, self.http_status
        if status is not None and 300 <= status < 400:
            return ErrorKind.REDIRECT
        if status == 413:
            return ErrorKind.TOO_LARGE
        if code == 190:
            return ErrorKind.AUTH
        if code in RATE_LIMIT_CODES or code in TEMPORARY_CODES or self.is_transient or self.outcome_unknown:
            return ErrorKind.TRANSIENT
        if status is None or status >= 500 or status in (408, 429):
            return ErrorKind.TRANSIENT  # timeouts, dropped connections, server errors, HTTP 408 and 429
        if code == 100 and subcode == 33:
            return ErrorKind.UNKNOWN_DATASET
        if code == 100:
            return ErrorKind.INVALID_EVENT
        if subcode in TERMS_SUBCODES:
            return ErrorKind.TERMS
        if code in PERMISSION_CODES:
            return ErrorKind.PERMISSION
        if code == 368:
            return ErrorKind.POLICY_BLOCK
        return ErrorKind.OTHER

    def event_index(self) -> int | None:
        """The index of the offending event when Meta's message names it (data[N])."""
        for text in (self.message, self.user_msg or "", self.user_title or ""):
            if match := EVENT_INDEX.search(text):
                return int(match[1])
        return None

    def terms_url(self) -> str | None:
        for text in (self.message, self.user_msg or ""):
            if match := re.search(r"https://\S+", text):
                return match[0].rstrip(".,)")
        return None


@dataclass(frozen=True)
class Accepted:
    events_received: int
    fbtrace_id: str | None


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Hex HMAC-SHA256 of the token keyed by the app secret, as Meta's SDK computes it."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


class MetaClient:
    """Posts to `{graph_url}/{version}/...` over one pooled session (thread-safe for our use)."""

    def __init__(
        self,
        graph_url: str,
        api_version: str,
        access_token: str,
        app_secret: str | None = None,
        timeout_seconds: float = 60.0,
        pool_size: int = 4,
    ) -> None:
        self.base_url = f"{graph_url.rstrip('/')}/{api_version}"
        self._token = access_token
        self._proof = appsecret_proof(access_token, app_secret) if app_secret else None
        redact.register(access_token, app_secret, self._proof)
        self._transport = Transport(timeout_seconds, pool_size)

    def close(self) -> None:
        self._transport.close()

    def post_events(self, dataset_id: str, event_jsons: list[str], test_event_code: str | None = None) -> Accepted:
        """Post already-serialized events as one JSON body; raises MetaApiError on any failure."""
        fields = {"access_token": self._token}
        if self._proof:
            fields["appsecret_proof"] = self._proof
        if test_event_code:
            fields["test_event_code"] = test_event_code
        # Events are serialized once (their payload hash is taken from the same text), so the
        # body is assembled around them instead of re-encoding a megabyte of JSON.
        body = '{"data":[' + ",".join(event_jsons) + "]," + json.dumps(fields)[1:]
        answer = self._request(f"/{dataset_id}/events", body.encode(), {"Content-Type": "application/json"})
        received = answer.get("events_received")
        trace = _trace_id(answer.get("fbtrace_id"))
        if type(received) is not int or received != len(event_jsons):
            raise MetaApiError(
                f"Meta acknowledged {redact.scrub_limited(repr(received), 40)} events of the {len(event_jsons)} sent",
                http_status=200,
                fbtrace_id=trace,
            )
        return Accepted(received, trace)

    def exchange_token(self, app_id: str, app_secret: str) -> dict:
        """Exchange the current token for a long-lived one (fb_exchange_token)."""
        return self._request(
            "/oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": app_secret,
                "fb_exchange_token": self._token,
            },
        )

    def debug_token(self, app_id: str, app_secret: str) -> dict:
        """Describe the current token (validity, expiry) using the app's own token."""
        redact.register(f"{app_id}|{app_secret}")
        answer = self._request("/debug_token", {"input_token": self._token, "access_token": f"{app_id}|{app_secret}"})
        data = answer.get("data")
        if not isinstance(data, dict):
            raise MetaApiError("Meta's answer about the token held no description of it", http_status=200)
        return data

    def _request(self, path: str, data: bytes | dict, headers: Mapping[str, str] | None = None) -> dict:
        try:
            answer = self._transport.post(self.base_url + path, data, headers)
        except TransportError as exc:
            raise MetaApiError(str(exc), outcome_unknown=exc.sent) from None
        if 300 <= answer.status < 400:
            raise _redirect_error(answer)
        parsed = _json(answer.body)
        if answer.status == 200 and isinstance(parsed, dict) and "error" not in parsed:
            return parsed
        if answer.status == 200 and not isinstance(parsed, dict):
            # Meta took the request but what came back is not its answer: as good as no answer.
            raise MetaApiError(
                "Meta's answer (HTTP 200) was not the JSON it sends", http_status=200, outcome_unknown=True
            )
        raise _error_from(answer, parsed)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not text, or nested beyond reason
        return None


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    """A text of the server's answer as we print and store it: a string, scrubbed, shortened."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return redact.scrub_limited(text, limit)


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value):
        return int(value)
    return None


def _trace_id(value: object) -> str | None:
    return _text(value, 100) if isinstance(value, str) and value else None


def _redirect_error(answer: Answer) -> MetaApiError:
    location = answer.headers.get("Location") or ""
    try:
        parts = urlsplit(location)
        target = parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else None
    except ValueError:
        target = None
    target = _text(target, 200) if target and target.isascii() and target.isprintable() else None
    return MetaApiError(
        f"the Graph API URL answered with a redirect (HTTP {answer.status}) to "
        f"{target or 'another address'}, which the exporter does not follow: the token is only ever sent "
        "to the URL you configured. Check --graph-url / META_GRAPH_URL (it should be https://graph.facebook.com)",
        http_status=answer.status,
    )


def _error_from(answer: Answer, parsed: object) -> MetaApiError:
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return MetaApiError(
            f"unexpected answer from Meta: HTTP {answer.status}",
            http_status=answer.status,
            retry_after=_retry_after(answer.headers),
        )
    return MetaApiError(
        message=_text(error.get("message")) or "",
        http_status=answer.status,
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        is_transient=error.get("is_transient") is True,
        user_title=_text(error.get("error_user_title")),
        user_msg=_text(error.get("error_user_msg")),
        fbtrace_id=_trace_id(error.get("fbtrace_id")),
        retry_after=_retry_after(answer.headers),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait as the server asks: Retry-After, or the ad-account throttle header."""
    value = headers.get("Retry-After")
    if value and re.fullmatch(r"\s*[0-9]{1,9}\s*", value):
        return min(float(value), MAX_WAIT_HINT)
    usage = headers.get("X-Business-Use-Case-Usage")
    if usage:
        try:
            entries = [entry for account in json.loads(usage).values() for entry in account]
            minutes = max(float(entry.get("estimated_time_to_regain_access") or 0) for entry in entries)
        except (ValueError, TypeError, AttributeError, RecursionError):
            return None
        return min(minutes * 60, MAX_WAIT_HINT) if math.isfinite(minutes) and minutes > 0 else None
    return None
