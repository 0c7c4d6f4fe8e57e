"""A local stand-in for Meta's Graph API (Conversions API + token endpoints) for tests.

Nothing here reaches the internet: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral
port) in a daemon thread, behaving as Meta documents its Conversions API (requests, limits, errors, token endpoints).

Usage::

    from fake_meta import FakeMeta, appsecret_proof

    with FakeMeta(token="tok", dataset_ids=["123"], app_secret="s3cret") as meta:
        env = {"META_GRAPH_URL": meta.url, "META_ACCESS_TOKEN": "tok", ...}
        meta.fail_next("throttle", count=2, code=80004, retry_after=1)
        meta.fail_next("server_error")              # queued after the two throttles
        meta.reject_events(order_ids=["O-17"])      # any batch containing O-17 fails (code 100)
        meta.expire_token(after=3)                  # 4th event post onward: 190/463
        ...run the exporter...
        assert [e["custom_data"]["order_id"] for e in meta.accepted_events] == [...]
        assert not any("tok" in line for line in meta.request_lines)

Constructor (all keyword-only)
    token="test-token"       valid access token(s): a string or an iterable of strings
    dataset_ids=("1234567890",)  datasets that exist and the token may post to
    app_id="100000000000001", app_secret=None
                             with app_secret set, event posts must carry a valid
                             ``appsecret_proof`` (unless require_proof=False; a proof that is
                             sent is always checked); the token exchange checks both.
    delay=0.0                seconds to wait before every response (runtime: ``meta.delay = x``)
    index_in_errors=True     name the bad event's index in errors (runtime: attribute)
    now=None                 the clock: None = time.time, a number = frozen, or a callable
                             (runtime: ``meta.now = ...``). Event-age checks use it.
    expire_after=None        same as calling ``expire_token(after=N)`` right away
    auth_status=400          HTTP status of code-190 errors (Meta sends 400; 401 also seen)
    max_events=1000, clock_skew=10 (seconds an event_time may lie in the future)
    max_request_bytes=None   an event post with a larger body gets HTTP 413 with an HTML body,
                             as the front end in Meta's path does (runtime: attribute)

Fault injection (thread-safe, FIFO per endpoint; each queued fault answers exactly one request,
before any other check)
    meta.fail_next(kind, count=1, on="events", **options)   on="events" faults event posts,
                      on="token" the token endpoints (exchange and debug_token). Kinds:
      "throttle"      rate limit. code=4 (also 17, 32, 613, 80000-80014), status=400,
                      retry_after=None (adds ``Retry-After: N``), regain_minutes=None (adds
                      ``X-Business-Use-Case-Usage`` with estimated_time_to_regain_access)
      "server_error"  status=500, code=2, transient=True, body=True (False: an HTML body)
      "drop"          read the request, then close the socket without any response
      "tos"           code 200 subcode 1870034 (subcode= 1870090/1870092), act="1234567890":
                      the message and error_user_msg carry
                      https://business.facebook.com/ads/manage/customaudiences/tos/?act=<act>
      "policy"        code 368 (temporarily blocked for policy reasons)
      "miscount"      HTTP 200 but events_received=len(data)-1 (or received=N); nothing accepted
      "error"         anything: give code= (and subcode, message, status, transient, ...)
      "redirect"      status=307 (also 301, 302, 303, 308), to="https://elsewhere.example/": a
                      redirect, as a misconfigured proxy or a hostile server answers
      "too_large"     HTTP 413 with an HTML body (json=True: Meta's error shape, code 1)
      "echo"          HTTP 400, code 100, and the message, error_user_msg and fbtrace_id repeat
                      the request's parameters, secrets included (as some servers' errors do)
    Hostile answers to a request that was processed as usual (events accepted, tokens issued):
      "pass"          the usual answer: lets requests through before the faults queued after it
      "cut"           how="length": Content-Length promises more than is sent, then the socket
                      closes; "chunked": the first chunk stops short; "gzip": Content-Encoding
                      gzip over bytes that are not gzip; "reset": no answer at all
      "dribble"       the whole answer (status line, headers, body) one byte every
                      interval=1.0 seconds; stops when the client goes away
    Options valid for every kind except "drop", "cut" and "dribble": status, code, subcode,
    message, transient, title, user_msg, headers (dict of extra response headers).
    meta.clear_faults(); meta.pending_faults -> list of queued (kind, options) for event posts
    meta.reject_events(event_ids=(), order_ids=())  such events are invalid (code 100, subcode
                      2804019), so a batch containing one is rejected whole; clear_rejections()
    meta.expire_token(after=0)  after N more successful event posts every token valid at that
                      moment expires (code 190, subcode 463 "Session has expired ...")
    meta.add_token(token, expires_at=0)

Errors have Meta's shape ``{"error": {"message", "type": "OAuthException", "code",
"error_subcode", "is_transient", "error_user_title", "error_user_msg", "fbtrace_id"}}``; like
Meta, keys without a value (subcode, user title/msg) are left out; ``is_transient`` is always
present. An invalid event (the first one found; the whole request is rejected) gets HTTP 400::

    {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
     "error_subcode": 2804003, "is_transient": false,
     "error_user_title": "Event Timestamp Too Old",
     "error_user_msg": "data[3][event_time]: The timestamp for this event is too far in the past. ...",
     "fbtrace_id": "..."}

i.e. ``error_user_msg`` starts with ``data[<index>][<field>]...: `` (find the index with
``re.search(r"data\\[(\\d+)\\]", error_user_msg)``). With ``index_in_errors=False`` the
``data[...]: `` prefix is left out and nothing in the error names the event. Subcodes:
2804003 too old, 2804004 in the future, 2804050 no email/phone, 2804019 anything else
(the non-2804003 values are this fake's choice). A request with more than ``max_events``
events: code 100, subcode 2804001, no index.

Other checks, in order: token (missing/unknown: 190; expired: 190/463), appsecret_proof (100),
dataset (100/33 "Unsupported post request. Object with ID '...' does not exist, ..."), the
``data`` parameter (100), the number of events, then each event.

Endpoints
    POST /{vN.N}/{dataset_id}/events   body as JSON (``data`` an array or a JSON string),
         multipart/form-data or x-www-form-urlencoded (``data`` a JSON string); query-string
         parameters are accepted too (as Meta does). Token: body ``access_token``, else
         ``Authorization: Bearer|OAuth <token>``, else query ``access_token``.
    GET /{vN.N}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
         &fb_exchange_token  -> {"access_token", "token_type": "bearer", "expires_in": 5183944}
    GET /debug_token and /{vN.N}/debug_token?input_token=..&access_token=(a valid token or
         "<app_id>|<app_secret>") -> {"data": {"app_id", "type", "is_valid", "expires_at", ...}}
         Both token endpoints also take POST with the parameters in a form/JSON body.

Recorded (thread-safe copies)
    meta.requests          every request: RecordedRequest(method, path, query, request_line
                           (raw, token NOT redacted), headers (lower-case keys, Authorization
                           redacted), content_type, fields (body + query params; access_token
                           and fb_exchange_token redacted), token, token_source, version,
                           dataset_id, events, status (None if dropped), response, fbtrace_id,
                           body_bytes)
    meta.event_requests    those to /events (``events``: the parsed data array, also when the
                           request failed);  meta.rejected_requests: those not answered 200
    meta.accepted_events   accepted event dicts in acceptance order;  meta.accepted_by_dataset
    meta.request_lines     raw request lines ("POST /v26.0/123/events HTTP/1.1")
    meta.issued_tokens     tokens handed out by the exchange endpoint
    meta.errors            exceptions raised inside the fake (should stay empty)
    meta.reset()           forget recordings (not configuration)
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeMeta", "RecordedRequest", "appsecret_proof", "sha256_hex"]

API_VERSION = "v26.0"
LONG_LIVED_SECONDS = 5183944
MAX_BODY = 64 * 1024 * 1024
REDACTED = "<redacted>"

ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
HASHED_KEYS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")
UNHASHED_KEYS = ("client_user_agent", "client_ip_address", "fbc", "fbp")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_VERSION = r"v\d+\.\d+"
_EVENTS_PATH = re.compile(rf"/({_VERSION})/([^/]+)/events/?")
_EXCHANGE_PATH = re.compile(rf"/({_VERSION})/oauth/access_token/?")
_DEBUG_PATH = re.compile(rf"(?:/({_VERSION}))?/debug_token/?")

SUB_GENERIC, SUB_TOO_OLD, SUB_FUTURE, SUB_NO_CUSTOMER, SUB_TOO_MANY = (2804019, 2804003, 2804004, 2804050, 2804001)
TOS_URL = "https://business.facebook.com/ads/manage/customaudiences/tos/?act={act}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def appsecret_proof(app_secret: str, token: str) -> str:
    """Hex HMAC-SHA256 of the token keyed by the app secret (as Meta's SDK computes it)."""
    return hmac.new(app_secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    request_line: str
    headers: dict[str, str]
    content_type: str
    fields: dict[str, Any]
    token: str | None = None
    token_source: str | None = None  # "body", "header", "query" or None
    version: str | None = None
    dataset_id: str | None = None
    events: list | None = None
    status: int | None = None  # None: connection dropped, no response
    response: Any = None
    fbtrace_id: str | None = None
    received_at: float = 0.0
    body_bytes: int = 0


class _Reply:
    """What a handler sends back: a JSON body (or raw text) plus status and headers."""

    def __init__(self, status: int, body: Any, headers: dict | None = None, drop: bool = False, raw: str | None = None):
        self.status, self.body, self.headers = status, body, dict(headers or {})
        self.drop, self.raw = drop, raw
        self.cut: str | None = None  # how the answer is cut off: "length", "chunked", "gzip"
        self.dribble: float | None = None  # seconds between the answer's bytes


class _BadRequest(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclasses.dataclass
class _Token:
    expires_at: int = 0  # 0: never
    expired_at: float | None = None  # set by expire_token()
    issued_at: int = 0
    type: str = "USER"


def _is_hashed(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) and _HEX64.fullmatch(v) for v in value)
    return isinstance(value, str) and bool(_HEX64.fullmatch(value))


def _http_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


class FakeMeta:
    def __init__(
        self,
        *,
        token: str | list[str] | tuple = "test-token",  # noqa: S107 (a fake)
        dataset_ids=("1234567890",),
        app_id: str = "100000000000001",
        app_secret: str | None = None,
        require_proof: bool = True,
        delay: float = 0.0,
        index_in_errors: bool = True,
        now: float | Callable[[], float] | None = None,
        expire_after: int | None = None,
        auth_status: int = 400,
        max_events: int = 1000,
        clock_skew: int = 10,
        scopes=("ads_management", "business_management"),
        max_request_bytes: int | None = None,
    ):
        self.app_id, self.app_secret, self.require_proof = str(app_id), app_secret, require_proof
        self.dataset_ids = {str(d) for d in dataset_ids}
        self.delay, self.index_in_errors, self.now = delay, index_in_errors, now
        self.auth_status, self.max_events, self.clock_skew = auth_status, max_events, clock_skew
        self.max_request_bytes = max_request_bytes
        self.scopes = list(scopes)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tokens: dict[str, _Token] = {}
        for t in [token] if isinstance(token, str) else list(token):
            self._tokens[t] = _Token(issued_at=int(self._now()))
        self._faults: dict[str, list[tuple[str, dict]]] = {"events": [], "token": []}
        self._reject_event_ids: set[str] = set()
        self._reject_order_ids: set[str] = set()
        self._expire_countdown: int | None = None
        self._trace_ids: set[str] = set()
        self._conns: set[socket.socket] = set()
        self._answering: set[socket.socket] = set()  # those of _conns with a request being answered
        self.reset()
        if expire_after is not None:
            self.expire_token(after=expire_after)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeMeta:
        if self._server is not None:
            return self
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256
            allow_reuse_address = True

        self._stopping.clear()
        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-meta", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay
        server.shutdown()
        server.server_close()
        deadline = time.monotonic() + 1
        while self._answering and time.monotonic() < deadline:  # the woken ones send their answer
            time.sleep(0.005)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections: end them now
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeMeta:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeMeta is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events_url(self, dataset_id: str | None = None, version: str = API_VERSION) -> str:
        ds = dataset_id if dataset_id is not None else sorted(self.dataset_ids)[0]
        return f"{self.url}/{version}/{ds}/events"

    # --------------------------------------------------------------- configuration
    def fail_next(self, kind: str, count: int = 1, on: str = "events", **options) -> None:
        if kind not in _FAULT_KINDS and kind not in _ANSWER_FAULTS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted([*_FAULT_KINDS, *_ANSWER_FAULTS])}")
        if kind == "error" and "code" not in options:
            raise ValueError('fail_next("error") needs code=')
        if kind == "cut" and options.get("how", "length") not in ("length", "chunked", "gzip", "reset"):
            raise ValueError('fail_next("cut") takes how="length", "chunked", "gzip" or "reset"')
        if on not in self._faults:
            raise ValueError(f'on= is "events" or "token", not {on!r}')
        with self._lock:
            self._faults[on].extend((kind, dict(options)) for _ in range(count))

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    @property
    def pending_faults(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self._faults["events"])

    def _take_fault(self, on: str) -> tuple[str, dict] | None:
        with self._lock:
            queue = self._faults[on]
            return queue.pop(0) if queue else None

    def _with_fault(self, on: str, params: dict, n_events: int, answer: Callable[[], _Reply]) -> _Reply:
        """The answer, unless a fault is queued: either instead of it, or done to it."""
        fault = self._take_fault(on)
        if fault is None:
            return answer()
        kind, opts = fault
        if kind not in _ANSWER_FAULTS:
            return self._fault_reply(kind, opts, n_events, params)
        reply = answer()  # processed as usual (events accepted, tokens issued) ...
        if kind == "pass":
            pass
        elif kind == "dribble":  # ... then answered too slowly
            reply.dribble = float(opts.get("interval", 1.0))
        elif opts.get("how", "length") == "reset":  # ... or not at all
            reply.drop = True
        else:  # ... or cut off
            reply.cut = opts.get("how", "length")
        return reply

    def reject_events(self, event_ids=(), order_ids=()) -> None:
        with self._lock:
            self._reject_event_ids.update(map(str, event_ids))
            self._reject_order_ids.update(map(str, order_ids))

    def clear_rejections(self) -> None:
        with self._lock:
            self._reject_event_ids.clear()
            self._reject_order_ids.clear()

    def expire_token(self, after: int = 0) -> None:
        with self._lock:
            if after <= 0:
                self._expire_all_locked()
            else:
                self._expire_countdown = after

    def add_token(self, token: str, expires_at: int = 0) -> None:
        with self._lock:
            self._tokens[token] = _Token(expires_at=expires_at, issued_at=int(self._now()))

    def _expire_all_locked(self) -> None:
        now = self._now()
        for info in self._tokens.values():
            if info.expired_at is None:
                info.expired_at = now
        self._expire_countdown = None

    def _now(self) -> float:
        now = self.now
        if now is None:
            return time.time()
        return float(now() if callable(now) else now)

    # ------------------------------------------------------------------ recordings
    def reset(self) -> None:
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._accepted: list[tuple[str, dict]] = []
            self._issued: list[str] = []
            self._errors: list[BaseException] = []

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def event_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/events") and r.method == "POST"]

    @property
    def rejected_requests(self) -> list[RecordedRequest]:
        return [r for r in self.event_requests if r.status != 200]

    @property
    def accepted_events(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(ev) for _, ev in self._accepted]

    @property
    def accepted_by_dataset(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        with self._lock:
            for ds, ev in self._accepted:
                out.setdefault(ds, []).append(copy.deepcopy(ev))
        return out

    @property
    def request_lines(self) -> list[str]:
        return [r.request_line for r in self.requests]

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    @property
    def errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._errors)

    # ------------------------------------------------------------------- helpers
    def _trace_id(self) -> str:
        with self._lock:
            while True:
                tid = "A" + secrets.token_urlsafe(16)
                if tid not in self._trace_ids:
                    self._trace_ids.add(tid)
                    return tid

    def _error(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        transient: bool = False,
        title: str | None = None,
        user_msg: str | None = None,
        headers: dict | None = None,
    ) -> _Reply:
        err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            err["error_subcode"] = subcode
        err["is_transient"] = transient
        if title is not None:
            err["error_user_title"] = title
        if user_msg is not None:
            err["error_user_msg"] = user_msg
        err["fbtrace_id"] = self._trace_id()
        hdrs = dict(headers or {})
        if code == 190:
            hdrs.setdefault("WWW-Authenticate", f'OAuth "Facebook Platform" "invalid_token" "{message}"')
        return _Reply(status, {"error": err}, hdrs)

    def _token_state(self, token: str | None) -> str:
        """'missing', 'invalid', 'expired' or 'valid'."""
        if not token:
            return "missing"
        with self._lock:
            info = self._tokens.get(token)
        if info is None:
            return "invalid"
        now = self._now()
        if info.expired_at is not None or (info.expires_at and info.expires_at <= now):
            return "expired"
        return "valid"

    def _token_error(self, token: str | None) -> _Reply | None:
        state = self._token_state(token)
        if state == "valid":
            return None
        if state == "missing":
            return self._error(self.auth_status, 190, "An access token is required to request this resource.")
        if state == "invalid":
            return self._error(self.auth_status, 190, "Invalid OAuth access token - Cannot parse access token")
        return self._error(self.auth_status, 190, self._expired_message(token), subcode=463)

    def _expired_message(self, token: str) -> str:
        with self._lock:
            info = self._tokens[token]
        when = info.expired_at if info.expired_at is not None else info.expires_at
        return (
            f"Error validating access token: Session has expired on {_http_date(when)}. "
            f"The current time is {_http_date(self._now())}."
        )

    # ----------------------------------------------------------------- endpoints
    def _handle(self, method: str, path: str, params: dict, headers: dict, rec: RecordedRequest) -> _Reply:
        m = _EVENTS_PATH.fullmatch(path)
        if m:
            rec.version, rec.dataset_id = m.group(1), m.group(2)
            if method != "POST":
                return self._unsupported(method, m.group(2))
            return self._events(rec, params, headers)
        # The token endpoints take GET (Meta's documented form) or POST with the same
        # parameters as form fields (keeps tokens out of URLs).
        if method in ("GET", "POST") and _EXCHANGE_PATH.fullmatch(path):
            return self._with_fault("token", params, 0, lambda: self._exchange(params))
        if method in ("GET", "POST") and _DEBUG_PATH.fullmatch(path):
            return self._with_fault("token", params, 0, lambda: self._debug_token(params))
        return self._error(400, 2500, f"Unknown path components: {path}")

    def _unsupported(self, method: str, object_id: str) -> _Reply:
        return self._error(
            400,
            100,
            f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation. Please read the Graph API documentation at "
            "https://developers.facebook.com/docs/graph-api",
            subcode=33,
        )

    def _events(self, rec: RecordedRequest, params: dict, headers: dict) -> _Reply:
        data = params.get("data")
        if isinstance(data, str):
            with contextlib.suppress(ValueError):
                data = json.loads(data)
        if isinstance(data, list):
            rec.events = data  # recorded even when the request then fails
        return self._with_fault("events", params, len(rec.events or ()), lambda: self._post_events(rec, params, data))

    def _post_events(self, rec: RecordedRequest, params: dict, data: Any) -> _Reply:
        if self.max_request_bytes is not None and rec.body_bytes > self.max_request_bytes:
            return _too_large()
        err = self._token_error(rec.token)
        if err:
            return err
        if self.app_secret is not None:
            proof = params.get("appsecret_proof")
            if not proof and self.require_proof:
                return self._error(400, 100, "API calls from the server require an appsecret_proof argument")
            if proof and not hmac.compare_digest(
                str(proof).encode(), appsecret_proof(self.app_secret, rec.token).encode()
            ):
                return self._error(400, 100, "Invalid appsecret_proof provided in the API argument")
        if rec.dataset_id not in self.dataset_ids:
            return self._unsupported("POST", rec.dataset_id)

        if data is None:
            return self._error(400, 100, "(#100) The parameter data is required")
        if not isinstance(data, list):
            return self._error(400, 100, "(#100) param data must be an array.")
        if not data:
            return self._error(400, 100, "(#100) param data must be a non-empty array.")
        if len(data) > self.max_events:
            return self._error(
                400,
                100,
                "Invalid parameter",
                subcode=SUB_TOO_MANY,
                title="Too Many Events",
                user_msg=f"A request can contain at most {self.max_events} events; this one has {len(data)}.",
            )

        now = self._now()
        with self._lock:
            rejected = (set(self._reject_event_ids), set(self._reject_order_ids))
        for i, event in enumerate(data):
            problem = _validate_event(event, now, self.clock_skew, *rejected)
            if problem:
                field, subcode, title, reason = problem
                where = f"data[{i}]" + "".join(f"[{f}]" for f in field)
                msg = f"{where}: {reason}" if self.index_in_errors else reason
                return self._error(400, 100, "Invalid parameter", subcode=subcode, title=title, user_msg=msg)

        trace = self._trace_id()
        with self._lock:
            # re-check under the lock: a concurrent request may have just expired the token
            if self._tokens[rec.token].expired_at is not None:
                expired = True
            else:
                expired = False
                self._accepted.extend((rec.dataset_id, copy.deepcopy(ev)) for ev in data)
                if self._expire_countdown is not None:
                    self._expire_countdown -= 1
                    if self._expire_countdown <= 0:
                        self._expire_all_locked()
        if expired:
            return self._token_error(rec.token)
        return _Reply(
            200, {"events_received": len(data), "messages": [], "fbtrace_id": trace}, {"x-fb-trace-id": trace}
        )

    def _fault_reply(self, kind: str, opts: dict, n_events: int, params: dict) -> _Reply:
        opts = dict(opts)
        if kind == "drop":
            return _Reply(0, None, drop=True)
        headers = dict(opts.pop("headers", {}) or {})
        if kind == "redirect":
            headers["Location"] = opts.pop("to", "https://elsewhere.example/")
            status = opts.pop("status", 307)
            return _Reply(status, {"moved": headers["Location"]}, headers)
        if kind == "too_large" and not opts.pop("json", False):
            return _too_large()
        if kind == "echo":
            request = json.dumps(params, sort_keys=True)
            secrets_sent = " ".join(
                str(params[name])
                for name in ("access_token", "appsecret_proof", "client_secret", "fb_exchange_token", "input_token")
                if name in params
            )
            opts.setdefault("code", 100)
            opts.setdefault("message", f"(#100) Invalid request {request}")
            opts.setdefault("user_msg", f"You sent {secrets_sent}")
            opts.setdefault("title", secrets_sent[:40])
            reply = self._fault_reply("error", opts, n_events, params)
            reply.body["error"]["fbtrace_id"] = secrets_sent
            reply.headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_request" "{secrets_sent}"'
            return reply
        if kind == "miscount":
            trace = self._trace_id()
            return _Reply(
                200,
                {"events_received": opts.get("received", max(n_events - 1, 0)), "messages": [], "fbtrace_id": trace},
                headers,
            )
        spec = dict(_FAULT_KINDS[kind])
        if kind == "throttle":
            code = opts.get("code", spec["code"])
            spec["message"] = _THROTTLE_MESSAGES.get(
                code, f"(#{code}) There have been too many calls from this ad-account. Wait a bit and try again."
            )
            if code in (80000, 80003, 80004, 80014):
                spec["subcode"] = 2446079
            if opts.get("retry_after") is not None:
                headers["Retry-After"] = str(opts.pop("retry_after"))
            minutes = opts.pop("regain_minutes", None)
            if minutes is not None:
                headers["X-Business-Use-Case-Usage"] = json.dumps(
                    {
                        "1234567890": [
                            {
                                "type": "ads_management",
                                "call_count": 100,
                                "total_cputime": 30,
                                "total_time": 30,
                                "estimated_time_to_regain_access": minutes,
                            }
                        ]
                    }
                )
        elif kind == "server_error":
            if opts.get("code", 2) == 1:
                spec["message"] = "An unknown error occurred"
            if not opts.pop("body", True):
                status = opts.get("status", spec["status"])
                return _Reply(status, None, headers, raw=f"<html><body><h1>{status} Server Error</h1></body></html>")
        elif kind == "tos":
            url = TOS_URL.format(act=opts.pop("act", "1234567890"))
            spec["message"] = (
                f"(#200) Terms of service has not been accepted. Please agree to the Custom Audience terms at {url}"
            )
            spec["user_msg"] = (
                "You need to accept the Custom Audience Terms before you can "
                f"upload customer information. Please agree to them at {url}"
            )
        spec.update(opts)
        spec.pop("retry_after", None)
        return self._error(spec.pop("status"), spec.pop("code"), spec.pop("message"), headers=headers, **spec)

    def _exchange(self, params: dict) -> _Reply:
        for name in ("client_id", "client_secret", "fb_exchange_token"):
            if not params.get(name):
                return self._error(400, 101 if name == "client_id" else 100, f"Missing {name} parameter.")
        if params.get("grant_type") != "fb_exchange_token":
            return self._error(400, 100, "Unsupported grant_type")
        if params["client_id"] != self.app_id:
            return self._error(400, 101, "Error validating application. Invalid application ID.")
        if self.app_secret is None or not hmac.compare_digest(
            str(params["client_secret"]).encode(), self.app_secret.encode()
        ):
            return self._error(400, 1, "Error validating client secret.")
        err = self._token_error(params["fb_exchange_token"])
        if err:
            return err
        new = "EAA" + secrets.token_urlsafe(48).replace("-", "x").replace("_", "Z")
        now = int(self._now())
        with self._lock:
            self._tokens[new] = _Token(expires_at=now + LONG_LIVED_SECONDS, issued_at=now)
            self._issued.append(new)
        return _Reply(200, {"access_token": new, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS})

    def _debug_token(self, params: dict) -> _Reply:
        caller = params.get("access_token")
        app_token = f"{self.app_id}|{self.app_secret}" if self.app_secret else None
        if not (app_token and caller == app_token):
            err = self._token_error(caller)
            if err:
                return err
        token = params.get("input_token")
        if not token:
            return self._error(400, 100, "(#100) The parameter input_token is required")
        state = self._token_state(token)
        if state != "valid" and state != "expired":
            return _Reply(
                200,
                {
                    "data": {
                        "error": {"code": 190, "message": "Invalid OAuth access token."},
                        "is_valid": False,
                        "scopes": [],
                    }
                },
            )
        with self._lock:
            info = dataclasses.replace(self._tokens[token])
        data: dict[str, Any] = {
            "app_id": self.app_id,
            "type": info.type,
            "application": "Fake Meta App",
            "data_access_expires_at": info.issued_at + 90 * 86400,
            "expires_at": info.expires_at,
            "is_valid": state == "valid",
            "issued_at": info.issued_at,
            "scopes": list(self.scopes),
            "granular_scopes": [{"scope": s} for s in self.scopes],
            "user_id": "10000000001",
        }
        if state == "expired":
            if info.expired_at is not None:
                data["expires_at"] = int(info.expired_at)
            data["error"] = {"code": 190, "message": self._expired_message(token), "subcode": 463}
        return _Reply(200, {"data": data})


_FAULT_KINDS: dict[str, dict] = {
    "throttle": {"status": 400, "code": 4, "transient": True},
    "server_error": {
        "status": 500,
        "code": 2,
        "transient": True,
        "message": "An unexpected error has occurred. Please retry your request later.",
    },
    "drop": {},
    "tos": {"status": 403, "code": 200, "subcode": 1870034, "title": "Custom Audience Terms Not Accepted"},
    "policy": {
        "status": 400,
        "code": 368,
        "title": "Action Blocked",
        "message": "The action attempted has been deemed abusive or is otherwise disallowed",
        "user_msg": "You're temporarily blocked from this action for policy reasons.",
    },
    "miscount": {},
    "error": {"status": 400, "message": "An error occurred"},
    "redirect": {},
    "too_large": {"status": 413, "code": 1, "message": "Request Entity Too Large"},
    "echo": {"status": 400, "code": 100},
}
# Faults done to an answer that was processed as usual (see FakeMeta._with_fault).
_ANSWER_FAULTS = ("pass", "cut", "dribble")


def _too_large() -> _Reply:
    return _Reply(
        413, None, raw="<html><head><title>413 Request Entity Too Large</title></head><body>Too large</body></html>"
    )


_THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80004: "(#80004) There have been too many calls to this ad-account. Wait a bit and try "
    "again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
}


def _validate_event(ev: Any, now: float, skew: int, reject_ids: set, reject_orders: set):
    """None if valid, else (field path tuple, subcode, user title, reason)."""
    bad = "Invalid Parameter"
    if not isinstance(ev, dict):
        return (), SUB_GENERIC, bad, "Each event must be a JSON object."
    name = ev.get("event_name")
    if not isinstance(name, str) or not name.strip():
        return ("event_name",), SUB_GENERIC, bad, "The parameter event_name is required."
    t = ev.get("event_time")
    if type(t) is not int:
        return (
            ("event_time",),
            SUB_GENERIC,
            bad,
            "The parameter event_time is required and must be an integer Unix timestamp.",
        )
    source = ev.get("action_source")
    if source not in ACTION_SOURCES:
        return (
            ("action_source",),
            SUB_GENERIC,
            bad,
            f"The parameter action_source must be one of {sorted(ACTION_SOURCES)}.",
        )
    if t > now + skew:
        return (
            ("event_time",),
            SUB_FUTURE,
            "Event Timestamp In Future",
            "The timestamp for this event is in the future. Enter a timestamp that has already occurred.",
        )
    max_days = 62 if source == "physical_store" else 7
    if t < now - max_days * 86400:
        return (
            ("event_time",),
            SUB_TOO_OLD,
            "Event Timestamp Too Old",
            "The timestamp for this event is too far in the past. Events need to be sent "
            f"from your server within {max_days} days of when they occurred.",
        )
    eid = ev.get("event_id")
    if eid is not None and not isinstance(eid, str):
        return ("event_id",), SUB_GENERIC, bad, "The parameter event_id must be a string."
    ud = ev.get("user_data")
    if not isinstance(ud, dict):
        return ("user_data",), SUB_GENERIC, bad, "The parameter user_data is required."
    for key in HASHED_KEYS:
        if key in ud and not _is_hashed(ud[key]):
            return (
                ("user_data", key),
                SUB_GENERIC,
                "Invalid Customer Information",
                f"The value of {key} must be a SHA-256 hash (64 lowercase hex digits) or a non-empty list of them.",
            )
    for key in UNHASHED_KEYS:
        if key in ud and (not isinstance(ud[key], str) or _HEX64.fullmatch(ud[key])):
            return (
                ("user_data", key),
                SUB_GENERIC,
                "Invalid Customer Information",
                f"The value of {key} must be a plain, unhashed string.",
            )
    if not (ud.get("em") or ud.get("ph")):
        return (
            ("user_data",),
            SUB_NO_CUSTOMER,
            "Insufficient Customer Information",
            "The user_data of this event needs at least an email (em) or a phone (ph).",
        )
    if source == "website":
        for path, ok in (
            (("user_data", "client_user_agent"), ud.get("client_user_agent")),
            (("event_id",), eid),
            (("event_source_url",), ev.get("event_source_url")),
        ):
            if not ok:
                return (path, SUB_GENERIC, bad, f"The parameter {path[-1]} is required for website events.")
    cd = ev.get("custom_data")
    if cd is not None:
        if not isinstance(cd, dict):
            return ("custom_data",), SUB_GENERIC, bad, "custom_data must be an object."
        if "value" in cd:
            v = cd["value"]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return (("custom_data", "value"), SUB_GENERIC, bad, "The parameter value must be a number.")
            cur = cd.get("currency")
            if not isinstance(cur, str) or not _CURRENCY.fullmatch(cur):
                return (
                    ("custom_data", "currency"),
                    SUB_GENERIC,
                    "Invalid Currency Code",
                    "A valid ISO 4217 currency code is required with value.",
                )
        contents = cd.get("contents")
        if contents is not None:
            if not isinstance(contents, list):
                return (("custom_data", "contents"), SUB_GENERIC, bad, "contents must be an array.")
            for j, item in enumerate(contents):
                ok = (
                    isinstance(item, dict)
                    and item.get("id") not in (None, "")
                    and isinstance(item.get("id"), (str, int))
                    and type(item.get("quantity")) is int
                )
                if not ok:
                    return (
                        ("custom_data", "contents", str(j)),
                        SUB_GENERIC,
                        bad,
                        "Each item of contents needs an id and an integer quantity.",
                    )
        order = cd.get("order_id")
        if order is not None and str(order) in reject_orders:
            return (("custom_data", "order_id"), SUB_GENERIC, bad, f"The event with order_id {order!r} is invalid.")
    if eid is not None and eid in reject_ids:
        return ("event_id",), SUB_GENERIC, bad, f"The event with event_id {eid!r} is invalid."
    return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMeta  # set on a per-server subclass
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own

    def version_string(self):
        return "FakeMeta/1.0"

    def setup(self):
        super().setup()
        with self.fake._lock:
            self.fake._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.fake._lock:
                self.fake._conns.discard(self.connection)

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        with self.fake._lock:
            self.fake._answering.add(self.connection)
        try:
            self._answer(method)
        finally:
            with self.fake._lock:
                self.fake._answering.discard(self.connection)

    def _answer(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = RecordedRequest(
            method=method,
            path=split.path,
            query=query,
            request_line=self.requestline,
            headers=dict(headers),
            content_type=headers.get("content-type", ""),
            fields={},
            received_at=time.time(),
        )
        if "authorization" in rec.headers:
            scheme = rec.headers["authorization"].split(" ", 1)[0]
            rec.headers["authorization"] = f"{scheme} {REDACTED}"
        with fake._lock:
            fake._requests.append(rec)
        try:
            query_params = {k: v[-1] for k, v in query.items()}
            try:
                body = self._read_body(headers)
                rec.body_bytes = len(body)
                body_params = _parse_body(rec.content_type, body)
            except _BadRequest as exc:
                self.close_connection = True  # the body may be unread
                reply = fake._error(400, 100, f"(#100) {exc.message}")
            else:
                params = {**query_params, **body_params}
                rec.fields = {
                    k: (REDACTED if k in ("access_token", "fb_exchange_token") else v) for k, v in params.items()
                }
                rec.token, rec.token_source = _find_token(body_params, query_params, headers)
                reply = fake._handle(method, split.path, params, headers, rec)
        except Exception as exc:  # a bug in the fake: record it, answer 500
            with fake._lock:
                fake._errors.append(exc)
            reply = _Reply(
                500,
                {
                    "error": {
                        "message": f"fake_meta internal error: {exc!r}",
                        "type": "FakeMetaError",
                        "code": 1,
                        "is_transient": False,
                    }
                },
            )
        if fake.delay:
            fake._stopping.wait(fake.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        rec.status, rec.response = reply.status, reply.body
        if isinstance(reply.body, dict):
            err = reply.body.get("error")
            rec.fbtrace_id = (err or reply.body).get("fbtrace_id")
        self._send(reply)

    def _read_body(self, headers: dict) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise _BadRequest("Request body too large") from None
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise _BadRequest("Request body too large") from None
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        if reply.raw is not None:
            payload, ctype = reply.raw.encode("utf-8"), "text/html; charset=utf-8"
        else:
            payload = json.dumps(reply.body, separators=(",", ":")).encode("utf-8")
            ctype = "application/json; charset=UTF-8"
        if reply.cut == "gzip":
            payload = b"this is not gzip: " + payload
        self.send_response(reply.status)
        self.send_header("Content-Type", ctype)
        if reply.cut == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        if reply.cut == "gzip":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("facebook-api-version", API_VERSION)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if reply.cut in ("length", "chunked") or reply.dribble is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        if reply.dribble is not None:
            self._dribble(payload, reply.dribble)
            return
        self.end_headers()
        if reply.cut == "length":
            self.wfile.write(payload[: len(payload) // 2])
        elif reply.cut == "chunked":
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload[: len(payload) // 2])
        else:
            self.wfile.write(payload)
            return
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dribble(self, payload: bytes, interval: float) -> None:
        """The answer one byte at a time, until it is sent, the client leaves or the fake stops."""
        self._headers_buffer.append(b"\r\n")
        answer = b"".join(self._headers_buffer) + payload
        self._headers_buffer = []
        for index in range(len(answer)):
            try:
                self.wfile.write(answer[index : index + 1])
                self.wfile.flush()
            except OSError:
                return
            if self.fake._stopping.wait(interval):
                return


def _find_token(body: dict, query: dict, headers: dict) -> tuple[str | None, str | None]:
    if isinstance(body.get("access_token"), str) and body["access_token"]:
        return body["access_token"], "body"
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip(), "header"
    if query.get("access_token"):
        return query["access_token"], "query"
    return None, None


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    ctype = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadRequest("The request body is not valid UTF-8") from None
    if ctype == "application/json":
        try:
            obj = json.loads(text)
        except ValueError:
            raise _BadRequest("The request body is not valid JSON") from None
        if not isinstance(obj, dict):
            raise _BadRequest("The JSON request body must be an object") from None
        return obj
    if ctype == "multipart/form-data":
        m = re.search(r'boundary="?([^";]+)"?', content_type)
        if not m:
            raise _BadRequest("multipart/form-data without a boundary") from None
        return _parse_multipart(body, m.group(1).encode("latin-1"))
    if ctype in ("application/x-www-form-urlencoded", ""):
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    raise _BadRequest(f"Unsupported Content-Type {ctype}") from None


def _parse_multipart(body: bytes, boundary: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    chunks = body.split(b"--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise _BadRequest("Malformed multipart body") from None
        if content.endswith(b"\r\n"):
            content = content[:-2]
        m = re.search(rb'name="([^"]*)"', head)
        if not m:
            raise _BadRequest("multipart part without a name") from None
        try:
            fields[m.group(1).decode("utf-8")] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadRequest("A multipart field is not valid UTF-8") from None
    return fields
