"""The limits of this machine, each run in its own process by the bench.

    python -m bench.limits scan --database F --relation main.meta_offline_events --out R.json
    python -m bench.limits http --database F --relation ... --url U --events N --concurrency 4 --out R.json

`scan`: read a model with DuckDB into Python tuples, 10,000 rows per `fetchmany` (reading
alone), as stored (`--order plain`), in the line order (`--order ordered`: `order by order_id,
product_id`), or, from meta_capi_events, the columns of the sendable events the exporter reads
(`--order payloads`), with `--memory-limit` (the bench passes the exporter's default).

`http`: post pre-built request bodies of 1,000 events to the sink at the given concurrency (the
HTTP path alone): one pooled `requests.Session`, a thread pool, `events_received` checked. The
bodies are built before the clock starts from the first sendable payloads of meta_capi_events
(`--relation`; the very bytes the exporter posts) or, from a line model, events shaped like
them, and reused round-robin.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import groupby

import duckdb
import requests
from requests.adapters import HTTPAdapter

CHUNK_ROWS = 10_000
TOKEN = "EAAbench-token-0123456789"


def scan(database: str, relation: str, order: str, memory_limit: str | None) -> dict:
    con = duckdb.connect(database, read_only=True)
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    # The exporter's session settings (exporter/state.py:connect), so the limit is comparable.
    con.execute("set threads = 1")
    con.execute("set preserve_insertion_order = false")
    if order == "ordered":
        query = f"select * from {relation} order by order_id, product_id"
    elif order == "payloads":
        query = (
            f"select event_id, order_id, payload, payload_hash, line_count from {relation} where reject_reason is null"
        )
    else:
        query = f"select * from {relation}"
    started = time.perf_counter()
    result = con.execute(query)
    rows = 0
    while chunk := result.fetchmany(CHUNK_ROWS):
        rows += len(chunk)
    seconds = time.perf_counter() - started
    con.close()
    return {"rows": rows, "seconds": seconds}


def _sha(value) -> str:
    return hashlib.sha256(str(value).strip().lower().encode()).hexdigest()


def sample_event_jsons(database: str, relation: str, count: int) -> list[str]:
    """`count` events shaped like the exporter's, from the model's first orders."""
    con = duckdb.connect(database, read_only=True)
    columns = {row[0] for row in con.execute(f"describe select * from {relation}").fetchall()}
    if "payload" in columns:  # the event model: its payloads are what the exporter posts
        payloads = con.execute(
            f"select payload from {relation} where reject_reason is null order by order_id limit {count}"
        ).fetchall()
        con.close()
        return [payload for (payload,) in payloads]
    rows = con.execute(
        f"select * from {relation} where order_id in "
        f"(select distinct order_id from {relation} order by order_id limit {count}) order by order_id, product_id"
    )
    names = [column[0] for column in rows.description]
    lines = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    con.close()
    keys = {"em": "email", "ph": "phone", "fn": "given_name", "ln": "surname", "db": "birthdate", "ge": "gender",
            "ct": "city", "st": "state", "zp": "postal", "country": "country", "external_id": "external_id"}  # fmt: skip
    events = []
    for order_id, group in groupby(lines, key=lambda line: line["order_id"]):
        group = list(group)
        first = group[0]
        user_data = {key: _sha(first[column]) for key, column in keys.items() if first.get(column) is not None}
        event = {
            "action_source": "physical_store",
            "custom_data": {
                "content_type": "product",
                "contents": [
                    {"id": line["product_id"], "item_price": float(line["price"]), "quantity": line["quantity"]}
                    for line in group
                ],
                "currency": first["currency"],
                "num_items": sum(line["quantity"] for line in group),
                "order_id": order_id,
                "value": round(sum(float(line["price"]) * line["quantity"] for line in group), 2),
            },
            "event_id": order_id,
            "event_name": "Purchase",
            "event_time": int(first["timestamp"].timestamp()),
            "user_data": user_data,
        }
        events.append(json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
    return events


def http(database: str, relation: str, url: str, events: int, concurrency: int, batch_size: int = 1000) -> dict:
    sample = sample_event_jsons(database, relation, min(events, 16 * batch_size))
    if not sample:
        return {"events": 0, "requests": 0, "seconds": 0.0}
    token_field = f',"access_token":"{TOKEN}"}}'
    bodies = [
        ('{"data":[' + ",".join(sample[i : i + batch_size]) + "]" + token_field).encode()
        for i in range(0, len(sample), batch_size)
    ]
    sizes = [len(sample[i : i + batch_size]) for i in range(0, len(sample), batch_size)]
    plan, remaining, index = [], events, 0
    while remaining > 0:
        size = sizes[index % len(bodies)]
        if size > remaining:  # the last request: cut a body down to what is left
            body = ('{"data":[' + ",".join(sample[:remaining]) + "]" + token_field).encode()
            plan.append((body, remaining))
            break
        plan.append((bodies[index % len(bodies)], size))
        remaining -= size
        index += 1

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, max_retries=0)
    session.mount("http://", adapter)
    headers = {"Content-Type": "application/json"}

    def post(body: bytes, expected: int) -> None:
        answer = session.post(url, data=body, headers=headers, timeout=60).json()
        if answer.get("events_received") != expected:
            raise RuntimeError(f"sink acknowledged {answer} for {expected} events")

    started = time.perf_counter()
    in_flight = set()
    with ThreadPoolExecutor(concurrency) as pool:
        for body, expected in plan:
            while len(in_flight) >= concurrency:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
            in_flight.add(pool.submit(post, body, expected))
        for future in in_flight:
            future.result()
    seconds = time.perf_counter() - started
    return {
        "events": events,
        "requests": len(plan),
        "seconds": seconds,
        "bytes_per_event": sum(len(body) for body, _ in plan) / events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.limits")
    parser.add_argument("what", choices=["scan", "http"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--relation", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--order", choices=["plain", "ordered", "payloads"], default="plain")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit for the scan")
    parser.add_argument("--url")
    parser.add_argument("--events", type=int)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    if args.what == "scan":
        result = scan(args.database, args.relation, args.order, args.memory_limit)
    else:
        result = http(args.database, args.relation, args.url, args.events, args.concurrency)
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
