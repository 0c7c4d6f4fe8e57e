"""HTTP for the Graph API: a deadline for every request, no redirects, answers of bounded size.

requests' timeout bounds each socket operation, not the request: a server that answers one byte
every few seconds keeps a request alive forever. Here a timer shuts the request's socket down at
the request's deadline, which ends whatever the request is doing (connecting, uploading, waiting
for or reading the answer) with an error, reported as a timeout.

Redirects are never followed: requests would send the body (the access token, or the app secret
of `token refresh`) again to whatever host a `Location` header names.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

import requests
import urllib3
from requests.adapters import HTTPAdapter

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # Meta answers in a few hundred bytes; a longer answer is cut here
MAX_CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes  # at most MAX_ANSWER_BYTES


class TransportError(Exception):
    """No complete answer. `sent`: the request had been sent whole, so the server may have acted on it."""

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class Transport:
    """POSTs over one pooled session, each within `timeout_seconds` from start to the last byte of the answer."""

    def __init__(self, timeout_seconds: float, pool_size: int = 4) -> None:
        self.timeout_seconds = timeout_seconds
        self._session = requests.Session()
        adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def post(self, url: str, data: bytes | dict, headers: Mapping[str, str] | None = None) -> Answer:
        watch = _Watch(self.timeout_seconds)
        _current.watch = watch
        watch.start()
        try:
            response = self._session.post(
                url,
                data=data,
                headers=dict(headers or {}),
                timeout=(min(MAX_CONNECT_SECONDS, self.timeout_seconds), self.timeout_seconds),
                allow_redirects=False,
                stream=True,
            )
            with response:
                body = _read(response)
            return Answer(response.status_code, response.headers, body)
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise _failure(exc, watch, self.timeout_seconds) from None
        finally:
            watch.stop()
            _current.watch = None


def _read(response: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            break
    return b"".join(chunks)[:MAX_ANSWER_BYTES]


def _failure(exc: Exception, watch: _Watch, timeout_seconds: float) -> TransportError:
    if watch.expired or _timed_out(exc):
        what = f"no complete answer within the request's deadline of {timeout_seconds:g}s"
    elif watch.sent:
        what = "the connection was lost while the answer was awaited or read"
    else:
        what = "the connection failed before the request was sent"
    return TransportError(f"{what} ({type(exc).__name__})", sent=watch.sent)


def _timed_out(error: BaseException) -> bool:
    """A timeout, also when wrapped: a body stuck on its way times out in the socket's send (its
    timeout is the deadline too), which urllib3 reports as ProtocolError('Connection aborted.',
    TimeoutError) and requests as a ConnectionError, sometimes before the deadline's timer."""
    if isinstance(error, requests.Timeout | TimeoutError):  # not urllib3's: NewConnectionError is one
        return True
    return any(_timed_out(arg) for arg in error.args if isinstance(arg, BaseException))


class _Watch:
    """One request's deadline: at it, the request's socket is shut down, whatever it is doing."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connection: urllib3.connection.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._done = False
        self.expired = False
        self.sent = False  # the request (headers and body) was written whole

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:  # an expiry running now finishes first; none comes after
            self._done = True
            self._connection = None

    def attach(self, connection: urllib3.connection.HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:  # expired while connecting: end it now
                _shut(connection)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)


def _shut(connection: urllib3.connection.HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with suppress(OSError):
            # The plain socket's shutdown, also under TLS: it wakes a blocked read or write in
            # the request's thread with an error, and leaves the TLS object to that thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()  # the _Watch of the request this thread is making


class _Watched:
    """A urllib3 connection that lets the current request's _Watch reach its socket."""

    def connect(self) -> None:
        super().connect()
        if (watch := getattr(_current, "watch", None)) is not None:
            watch.attach(self)

    def request(self, *args, **kwargs) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(self)
        super().request(*args, **kwargs)
        if watch is not None:
            watch.sent = True


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # an HTTP(S) proxy; SOCKS keeps its own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager
