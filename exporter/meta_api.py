"""The Graph API client: one method per call the exporter makes, errors turned into MetaApiError.

The access token only ever travels in a request body (never in a URL), so it cannot leak into
proxy logs, exception messages or our own logs.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

RATE_LIMIT_CODES = {4, 17, 32, 613, 80000, 80003, 80004, 80014}
TEMPORARY_CODES = {1, 2, 341}
TERMS_SUBCODES = {1870034, 1870090, 1870092}
PERMISSION_CODES = {10, 294} | set(range(200, 300))
# Graph API parameter errors name the event as data[N], e.g. "param data[3][event_time] ...".
EVENT_INDEX = re.compile(r"data\[(\d+)\]")


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"  # rate limits, temporary errors, 5xx, timeouts, dropped connections
    INVALID_EVENT = "invalid_event"  # code 100: an event of the batch is invalid
    AUTH = "auth"  # code 190: token invalid or expired
    TERMS = "terms"  # terms of service not accepted
    PERMISSION = "permission"
    UNKNOWN_DATASET = "unknown_dataset"  # code 100, subcode 33
    POLICY_BLOCK = "policy_block"  # code 368
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

    def __str__(self) -> str:
        detail = f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "") if self.code else "no error code"
        status = f"HTTP {self.http_status}, " if self.http_status else ""
        extra = f" {self.user_title}: {self.user_msg}" if self.user_msg else ""
        trace = f" (fbtrace_id {self.fbtrace_id})" if self.fbtrace_id else ""
        return f"{self.message} [{status}{detail}]{extra}{trace}"

    @property
    def kind(self) -> ErrorKind:
        code, subcode = self.code, self.subcode
        if code == 190:
            return ErrorKind.AUTH
        if code in RATE_LIMIT_CODES or code in TEMPORARY_CODES or self.is_transient:
            return ErrorKind.TRANSIENT
        if self.http_status is None or self.http_status >= 500 or self.http_status == 429:
            return ErrorKind.TRANSIENT  # timeouts, dropped connections, server errors, HTTP 429
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
        self._timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

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
        answer = self._request("POST", f"/{dataset_id}/events", data=body.encode())
        received = answer.get("events_received")
        if received != len(event_jsons):
            raise MetaApiError(
                f"Meta acknowledged {received} events of the {len(event_jsons)} sent",
                http_status=200,
                fbtrace_id=answer.get("fbtrace_id"),
            )
        return Accepted(received, answer.get("fbtrace_id"))

    def exchange_token(self, app_id: str, app_secret: str) -> dict:
        """Exchange the current token for a long-lived one (fb_exchange_token)."""
        return self._request(
            "POST",
            "/oauth/access_token",
            data={
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": app_secret,
                "fb_exchange_token": self._token,
            },
        )

    def debug_token(self, app_id: str, app_secret: str) -> dict:
        """Describe the current token (validity, expiry) using the app's own token."""
        return self._request(
            "POST",
            "/debug_token",
            data={"input_token": self._token, "access_token": f"{app_id}|{app_secret}"},
        ).get("data", {})

    def _request(self, method: str, path: str, data: bytes | dict) -> dict:
        headers = {"Content-Type": "application/json"} if isinstance(data, bytes) else {}
        try:
            response = self._session.request(
                method, self.base_url + path, data=data, headers=headers, timeout=self._timeout
            )
        except requests.Timeout:
            raise MetaApiError(f"no answer from Meta within {self._timeout[1]:g}s") from None
        except requests.ConnectionError as exc:
            raise MetaApiError(f"connection to Meta failed ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 200 and isinstance(answer, dict) and "error" not in answer:
            return answer
        raise _error_from(response, answer)


def _error_from(response: requests.Response, answer: object) -> MetaApiError:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return MetaApiError(
            f"unexpected answer from Meta: HTTP {response.status_code}",
            http_status=response.status_code,
            retry_after=_retry_after(response.headers),
        )
    return MetaApiError(
        message=str(error.get("message", "")),
        http_status=response.status_code,
        code=error.get("code"),
        subcode=error.get("error_subcode"),
        is_transient=bool(error.get("is_transient")),
        user_title=error.get("error_user_title"),
        user_msg=error.get("error_user_msg"),
        fbtrace_id=error.get("fbtrace_id"),
        retry_after=_retry_after(response.headers),
    )


def _retry_after(headers) -> float | None:
    """Seconds to wait as the server asks: Retry-After, or the ad-account throttle header."""
    value = headers.get("Retry-After")
    if value and value.strip().isdigit():
        return float(value)
    usage = headers.get("X-Business-Use-Case-Usage")
    if usage:
        try:
            entries = [entry for account in json.loads(usage).values() for entry in account]
            minutes = max(float(entry.get("estimated_time_to_regain_access") or 0) for entry in entries)
        except (ValueError, TypeError, AttributeError):
            return None
        return minutes * 60 if minutes > 0 else None
    return None
