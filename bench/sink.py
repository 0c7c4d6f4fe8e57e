"""A local stand-in for Meta's `/{dataset}/events` endpoint that answers every post with success.

Run as its own process tree (`python -m bench.sink`), so it never competes for the GIL of the
process being measured: a parent that forks `--procs` workers sharing one listening socket on
127.0.0.1, each serving its keep-alive connections in threads. It prints the port on stdout and
exits when its stdin closes (the bench ended or died), taking its workers with it.

Every post to `.../events` is answered as Meta does on success:
`{"events_received": N, "messages": [], "fbtrace_id": "..."}`, N being the number of events in
`data`. Counting them must be cheap (a JSON parse of a 1 MB body costs ~15 ms, which on a small
machine would steal CPU from the process being measured), so N is the number of
`"event_name":` keys in the body (every event has exactly one; inside a JSON string the quotes
would be escaped, so string values cannot fake one). Every 50th request per worker, and any body
without that key (form-encoded bodies), is counted exactly by parsing it, and a disagreement is
recorded in the stats, which the bench checks. A post without `access_token` gets Meta's code 190.

Control endpoints (used by the bench between measurements):
    GET  /__bench/stats            totals: requests, events, bytes, cpu_seconds, mismatches, errors
    POST /__bench/delay?seconds=S  add S seconds before every answer (Meta's latency: ~0.3)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

STATS = ("requests", "events", "bytes", "cpu_seconds", "mismatches", "errors")
VERIFY_EVERY = 50
EVENT_KEY = b'"event_name":'


def exact_count(body: bytes, content_type: str) -> int | None:
    """The number of events in `data`, by parsing the body (JSON or form-encoded)."""
    try:
        if "json" in content_type:
            params = json.loads(body)
        else:
            params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        data = params.get("data")
        if isinstance(data, str):
            data = json.loads(data)
        return len(data) if isinstance(data, list) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


class _Worker:
    def __init__(self, listener: socket.socket, slot: int, stats, delay, parent: int) -> None:
        self.listener = listener
        self.base = slot * len(STATS)
        self.stats = stats
        self.delay = delay
        self.parent = parent
        self.lock = threading.Lock()
        self.served = 0

    def add(self, requests=0, events=0, nbytes=0, mismatches=0, errors=0) -> None:
        with self.lock:
            base, stats = self.base, self.stats
            stats[base] += requests
            stats[base + 1] += events
            stats[base + 2] += nbytes
            stats[base + 3] = time.process_time()
            stats[base + 4] += mismatches
            stats[base + 5] += errors

    def serve_forever(self) -> None:
        self.listener.settimeout(1.0)
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                if os.getppid() != self.parent:
                    return  # the sink's parent is gone
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        stream = conn.makefile("rb", buffering=1 << 16)
        try:
            while self.handle_one(conn, stream):
                pass
        except (OSError, ValueError):
            pass
        finally:
            stream.close()
            conn.close()

    def handle_one(self, conn: socket.socket, stream) -> bool:
        request_line = stream.readline(65537)
        if not request_line:
            return False
        method, target, _version = request_line.decode("latin-1").split()
        length, chunked, content_type, close = 0, False, "", False
        while True:
            line = stream.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "content-type":
                content_type = value.lower()
            elif name == "connection" and value.lower() == "close":
                close = True
        body = _read_chunked(stream) if chunked else stream.read(length) if length else b""
        path, _, query = target.partition("?")
        if path == "/__bench/stats":
            self.respond(conn, 200, json.dumps(self.totals()).encode())
        elif path == "/__bench/delay":
            self.delay.value = float(urllib.parse.parse_qs(query)["seconds"][0])
            self.respond(conn, 200, b"{}")
        elif method == "POST" and path.endswith("/events"):
            self.answer_events(conn, body, content_type)
        else:
            self.respond(conn, 404, b'{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}')
        return not close

    def answer_events(self, conn: socket.socket, body: bytes, content_type: str) -> None:
        self.served += 1
        if b"access_token" not in body:
            self.add(requests=1, nbytes=len(body), errors=1)
            self.respond(
                conn,
                400,
                b'{"error":{"message":"An active access token must be used","type":"OAuthException","code":190}}',
            )
            return
        count = body.count(EVENT_KEY)
        mismatches = 0
        if count == 0 or self.served % VERIFY_EVERY == 0:
            exact = exact_count(body, content_type)
            if exact is None:
                self.add(requests=1, nbytes=len(body), errors=1)
                self.respond(
                    conn,
                    400,
                    b'{"error":{"message":"(#100) param data must be an array.","type":"OAuthException","code":100}}',
                )
                return
            if count and exact != count:
                mismatches = 1
            count = exact
        delay = self.delay.value
        if delay > 0:
            time.sleep(delay)
        self.add(requests=1, events=count, nbytes=len(body), mismatches=mismatches)
        answer = b'{"events_received":%d,"messages":[],"fbtrace_id":"AbenchSink%06d"}' % (count, self.served)
        self.respond(conn, 200, answer)

    def respond(self, conn: socket.socket, status: int, body: bytes) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body)

    def totals(self) -> dict:
        width = len(STATS)
        slots = len(self.stats) // width
        return {name: sum(self.stats[slot * width + i] for slot in range(slots)) for i, name in enumerate(STATS)}


def _read_chunked(stream) -> bytes:
    parts = []
    while True:
        size = int(stream.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()


def _worker_main(listener, slot, stats, delay, parent) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Worker(listener, slot, stats, delay, parent).serve_forever()


def serve(procs: int, delay_seconds: float) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    context = multiprocessing.get_context("fork")  # this process has no other threads yet
    stats = context.Array("d", procs * len(STATS), lock=False)
    delay = context.Value("d", delay_seconds, lock=False)
    workers = [
        context.Process(target=_worker_main, args=(listener, slot, stats, delay, os.getpid()), daemon=True)
        for slot in range(procs)
    ]
    for worker in workers:
        worker.start()
    print(listener.getsockname()[1], flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # returns at EOF: the bench closed our stdin, or died
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(5)


@dataclass
class SinkStats:
    requests: int
    events: int
    bytes: int
    cpu_seconds: float
    mismatches: int
    errors: int

    def __sub__(self, other: SinkStats) -> SinkStats:
        return SinkStats(*(getattr(self, name) - getattr(other, name) for name in STATS))


class SinkProcess:
    """Starts the sink in its own processes; a context manager that stops it on exit."""

    def __init__(self, procs: int = 2, delay_seconds: float = 0.0) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--procs", str(procs), "--delay", str(delay_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError("the sink did not start")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> SinkStats:
        with urllib.request.urlopen(f"{self.url}/__bench/stats", timeout=10) as response:
            totals = json.load(response)
        return SinkStats(*(int(totals[name]) if name != "cpu_seconds" else totals[name] for name in STATS))

    def set_delay(self, seconds: float) -> None:
        request = urllib.request.Request(f"{self.url}/__bench/delay?seconds={seconds}", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer")
    args = parser.parse_args(argv)
    serve(args.procs, args.delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
