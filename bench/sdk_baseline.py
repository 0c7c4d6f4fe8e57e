"""The baseline: the export a user would write with Meta's official SDK, `facebook_business`.

    python -m bench.sdk_baseline --database F --relation main.meta_offline_events \
        --url http://127.0.0.1:PORT --dataset-id 1234567890 [--lines N] --out R.json

Reads the model with DuckDB (`fetchmany`, in order of order_id), groups the lines of an order,
builds `UserData` / `Content` / `CustomData` / `Event` objects from
`facebook_business.adobjects.serverside` and lets the SDK normalize and hash them
(`Event.normalize()`), then posts batches of 1,000 events with `requests` from a thread pool at
the exporter's concurrency, checking `events_received`.

`EventRequest.normalize()` is `[json.dumps(event.normalize()) for event in events]`: the SDK
raises on the first value it cannot normalize (a country name, a phone it cannot read, `US$`),
which would lose the whole batch. So, like any user would, the baseline runs that same call per
event, and when it raises, keeps only the fields the SDK accepts (each checked with
`Normalize.normalize_field`) and skips events left without an email or phone or with a bad
currency. The body is the same JSON shape the exporter posts: `{"data":[...],"access_token":...}`.

With `--lines`, only the first N lines (in order_id order) are exported: the SDK is slow, and the
bench scales its rate, saying so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC
from itertools import groupby

import duckdb
import requests
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.content import Content
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.gender import Gender
from facebook_business.adobjects.serverside.normalize import Normalize
from facebook_business.adobjects.serverside.user_data import UserData
from requests.adapters import HTTPAdapter

TOKEN = "EAAbench-token-0123456789"
COLUMNS = (
    "external_id", "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal",
    "country", "order_id", "quantity", "product_id", "timestamp", "price", "currency",
)  # fmt: skip
GENDERS = {"f": Gender.FEMALE, "female": Gender.FEMALE, "m": Gender.MALE, "male": Gender.MALE}
# UserData keyword -> (the SDK's field name for Normalize, model column)
USER_FIELDS = {
    "email": ("em", "email"),
    "phone": ("ph", "phone"),
    "first_name": ("fn", "given_name"),
    "last_name": ("ln", "surname"),
    "city": ("ct", "city"),
    "state": ("st", "state"),
    "zip_code": ("zp", "postal"),
    "country_code": ("country", "country"),
}


def _sdk_accepts(field: str, value: str) -> bool:
    try:
        Normalize.normalize_field(field, value)
        return True
    except (TypeError, ValueError):
        return False


def build_event(order_id: str, lines: list[dict], strict: bool) -> Event | None:
    first = lines[0]
    user_fields = {keyword: first[column] for keyword, (_, column) in USER_FIELDS.items() if first[column]}
    if not strict:
        user_fields = {k: v for k, v in user_fields.items() if _sdk_accepts(USER_FIELDS[k][0], v)}
        if "email" not in user_fields and "phone" not in user_fields:
            return None
    birthdate = first["birthdate"]
    gender = GENDERS.get((first["gender"] or "").strip().lower())
    user_data = UserData(
        **user_fields,
        date_of_birth=birthdate.strftime("%Y%m%d") if birthdate else None,
        gender=gender,
        external_id=first["external_id"],
    )
    contents = [
        Content(product_id=line["product_id"], quantity=line["quantity"], item_price=line["price"]) for line in lines
    ]
    custom_data = CustomData(
        contents=contents,
        currency=first["currency"],
        value=round(sum(line["price"] * line["quantity"] for line in lines), 2),
        order_id=order_id,
        num_items=sum(line["quantity"] for line in lines),
        content_type="product",
    )
    return Event(
        event_name="Purchase",
        event_time=int(first["timestamp"].replace(tzinfo=UTC).timestamp()),
        action_source=ActionSource.PHYSICAL_STORE,
        event_id=order_id,
        user_data=user_data,
        custom_data=custom_data,
    )


def normalized(order_id: str, lines: list[dict]) -> str | None:
    """`json.dumps(event.normalize())` as EventRequest.normalize() does, or None for an unusable order."""
    try:
        return json.dumps(build_event(order_id, lines, strict=True).normalize())
    except (TypeError, ValueError):
        pass
    event = build_event(order_id, lines, strict=True)
    if event is None:
        return None
    try:
        return json.dumps(event.normalize())
    except (TypeError, ValueError):  # e.g. currency US$
        return None


def orders(database: str, relation: str, limit: int | None):
    con = duckdb.connect(database, read_only=True)
    columns = ", ".join(f'"{column}"' for column in COLUMNS)
    query = f"select {columns} from {relation} order by order_id, product_id"
    if limit:
        query += f" limit {limit}"
    result = con.execute(query)

    def rows():
        while chunk := result.fetchmany(10_000):
            yield from chunk

    for order_id, group in groupby(
        (dict(zip(COLUMNS, row, strict=True)) for row in rows()), key=lambda line: line["order_id"]
    ):
        yield order_id, list(group)
    con.close()


def run(database, relation, url, dataset_id, limit, concurrency, batch_size=1000) -> dict:
    started = time.perf_counter()
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, max_retries=0))
    endpoint = f"{url}/v26.0/{dataset_id}/events"
    token_field = f',"access_token":"{TOKEN}"}}'

    def post(batch: list[str]) -> int:
        body = ('{"data":[' + ",".join(batch) + "]" + token_field).encode()
        answer = session.post(endpoint, data=body, headers={"Content-Type": "application/json"}, timeout=60).json()
        if answer.get("events_received") != len(batch):
            raise RuntimeError(f"sink acknowledged {answer} for {len(batch)} events")
        return len(batch)

    lines_read = events_built = events_skipped = events_sent = requests_sent = 0
    batch: list[str] = []
    in_flight: set = set()
    with ThreadPoolExecutor(concurrency) as pool:

        def submit(batch):
            nonlocal in_flight
            while len(in_flight) >= concurrency:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
            in_flight.add(pool.submit(post, batch))

        for order_id, lines in orders(database, relation, limit):
            lines_read += len(lines)
            text = normalized(order_id, lines)
            if text is None:
                events_skipped += 1
                continue
            events_built += 1
            batch.append(text)
            if len(batch) == batch_size:
                submit(batch)
                events_sent += len(batch)
                requests_sent += 1
                batch = []
        if batch:
            submit(batch)
            events_sent += len(batch)
            requests_sent += 1
        for future in in_flight:
            future.result()
    return {
        "lines": lines_read,
        "events": events_sent,
        "events_skipped": events_skipped,
        "requests": requests_sent,
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--relation", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--dataset-id", default="1234567890")
    parser.add_argument("--lines", type=int, help="export only the first N lines (in order_id order)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = run(args.database, args.relation, args.url, args.dataset_id, args.lines, args.concurrency)
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
