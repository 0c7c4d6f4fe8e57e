"""Generate the sample seeds relative to a moment, so the demo has data inside the window on any day.

Static CSVs go stale within a week (the send window is 7 days, 62 on a first send), so the two
seed files are generated, not committed (``seeds/*.csv`` is gitignored):

    python seeds/generate_sample_data.py                       # relative to now (UTC)
    python seeds/generate_sample_data.py --as-of 2026-11-23T12:00:00Z --out-dir seeds

writes ``unified_itemized_transactions.csv`` and ``customer_360.csv``. ``dbt seed`` (or
``dbt build``) loads them into schema ``amperity_sample``, the default of the ``amperity``
source. Run dbt with the same ``as_of`` (or soon after generating, with the default ``as_of`` =
now) and the deliberate edge cases land where their order ids say.

The output depends only on ``as_of`` and ``seed`` (a seeded RNG; the wall clock is read only
for the default ``as_of``). Timestamps are naive UTC (the default ``source_timezone``).

About 80 customers in several countries with the kinds of values real profiles hold (phone
numbers in national and international formats and a few unusable ones, accented and
apostrophe names, US states as codes and names, ZIP+4 and UK postcodes, country names and
codes, customers with no contact data or only one kind, a pre-hashed and a malformed email, a
duplicated customer_360 row) and about 150 orders of 1-5 lines. Random orders keep a day away
from the window edges; the deliberate cases have descriptive order ids (``ORD-...``):

    ORD-AT-AS-OF            exactly as_of                      in
    ORD-FUTURE              as_of + 1 h                        out (future)
    ORD-7D-INSIDE           as_of - 7 d + 1 h                  in
    ORD-7D-EXACT            as_of - 7 d                        62-day window only
    ORD-7D-OUTSIDE          as_of - 7 d - 1 h                  62-day window only
    ORD-62D-INSIDE          as_of - 62 d + 1 h                 62-day window only
    ORD-62D-EXACT           as_of - 62 d                       out
    ORD-62D-OUTSIDE         as_of - 62 d - 1 h                 out
    ORD-CANCELLED           sale line in, cancellation line (flag true, qty -1) out
    ORD-CANCEL-POSITIVE     cancellation flag true with qty 2: out
    ORD-RETURNED            sale line in, return line (flag true, qty -1) out
    ORD-RETURN-POSITIVE     return flag true with qty 1: out
    ORD-NULL-FLAGS          both flags NULL (unknown): in
    ORD-ZERO-QTY            qty 0: out;  ORD-NULL-QTY: qty NULL: out
    ORD-NEGATIVE-QTY        qty -1, flags false: out
    ORD-FREE-ITEM           revenue 0: in, price 0
    ORD-BAD-CURRENCY        currency 'US$': in (the exporter rejects it with a reason)
    ORD-NULL-CURRENCY       currency NULL: in, default currency
    ORD-LOWER-CURRENCY      currency 'eur': in, 'EUR'
    ORD-NO-CONTACT          customer without email or phone: out
    ORD-BLANK-CONTACT       customer whose email and phone are blank: out
    ORD-UNKNOWN-CUSTOMER    amperity_id missing from customer_360: out
    ORD-ONLY-EMAIL / ORD-ONLY-PHONE   in
    ORD-MALFORMED-EMAIL     email 'maria.garcia@' and no phone: in (the exporter rejects it)
    ORD-BAD-PHONE-ONLY      phone '12345' and no email: in (the exporter rejects it)
    ORD-HASHED-EMAIL        a pre-hashed email: in
    ORD-DUPLICATE-CUSTOMER  customer with two customer_360 rows: one model row per line
    ORD-MULTI-LINE          five lines, one online order in brand Fabrikam
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_SEED = 20261123

TRANSACTIONS_FILE = "unified_itemized_transactions.csv"
CUSTOMERS_FILE = "customer_360.csv"

TRANSACTION_COLUMNS = [
    "amperity_id",
    "order_id",
    "order_datetime",
    "product_id",
    "item_quantity",
    "item_revenue",
    "currency",
    "purchase_channel",
    "purchase_brand",
    "store_id",
    "is_cancellation",
    "is_return",
]
CUSTOMER_COLUMNS = [
    "amperity_id",
    "email",
    "phone",
    "given_name",
    "surname",
    "birthdate",
    "gender",
    "city",
    "state",
    "postal",
    "country",
]

# Per country: how the country is spelled, given names, surnames, (city, state spellings,
# postal codes), phone formats ({} = random digits), currency.
COUNTRIES = {
    "US": {
        "country": ["US", "US", "US", "USA", "United States", "us"],
        "given": ["James", "Mary", "Robert", "Patricia", "Aaliyah", "José", "Mei", "DeShawn", "Sarah", "Michael"],
        "surname": ["Smith", "Johnson", "O'Brien", "García", "Smith-Jones", "Nguyen", "Washington", "Kowalski"],
        "places": [
            ("San Francisco", ["CA", "California", "ca"], ["94105", "94105-1234", "94110"]),
            ("Seattle", ["WA", "Washington"], ["98101", "98101-3045"]),
            ("Boston", ["MA", "Massachusetts"], ["02139", "02116-4007"]),
            ("Austin", ["TX", "Texas", "tx"], ["78701"]),
            ("New York", ["NY", "New York"], ["10001", "10013-2911"]),
            ("Chicago", ["IL", "Illinois"], ["60601"]),
        ],
        "phones": [
            "(206) 555-01{:02d}",
            "415-555-01{:02d}",
            "+1 617 555 01{:02d}",
            "5125550{:03d}",
            "1-312-555-01{:02d}",
            "212.555.01{:02d}",
        ],
        "currency": "USD",
    },
    "GB": {
        "country": ["GB", "GB", "United Kingdom", "UK"],
        "given": ["Oliver", "Amelia", "Siobhán", "Niamh", "Harry"],
        "surname": ["Taylor", "O'Connor", "Evans", "Brown"],
        "places": [
            ("London", [None], ["SW1A 1AA", "EC1A 1BB", "W1A 0AX"]),
            ("Manchester", [None, "Greater Manchester"], ["M1 1AE"]),
        ],
        "phones": ["+44 20 7946 0{:03d}", "020 7946 0{:03d}", "+44 7911 123{:03d}"],
        "currency": "GBP",
    },
    "DE": {
        "country": ["DE", "Germany", "DEU"],
        "given": ["Jürgen", "Anna", "Lukas", "Lea"],
        "surname": ["Müller", "Schäfer", "Weiß", "Becker"],
        "places": [("Berlin", ["BE", "Berlin"], ["10115"]), ("München", ["BY", "Bayern"], ["80331"])],
        "phones": ["+49 30 9018{:03d}", "030 1234{:04d}"],
        "currency": "EUR",
    },
    "FR": {
        "country": ["FR", "France"],
        "given": ["François", "Zoë", "Hélène", "Loïc"],
        "surname": ["Lefèvre", "Dubois", "D'Artagnan", "Moreau"],
        "places": [("Paris", ["Île-de-France", None], ["75001"]), ("Lyon", [None], ["69001"])],
        "phones": ["+33 1 42 68 5{:03d}", "06 12 34 5{:01d} 78"],
        "currency": "EUR",
    },
    "CA": {
        "country": ["CA", "Canada"],
        "given": ["Émilie", "Liam", "Chloé"],
        "surname": ["Tremblay", "Gagnon", "MacDonald"],
        "places": [("Toronto", ["ON", "Ontario"], ["M5V 3L9"]), ("Montréal", ["QC", "Québec"], ["H2Y 1C6"])],
        "phones": ["+1 416 555 01{:02d}", "(514) 555-01{:02d}"],
        "currency": "CAD",
    },
    "BR": {
        "country": ["BR", "Brazil", "Brasil"],
        "given": ["João", "Conceição", "Luíza"],
        "surname": ["Silva", "Gonçalves", "Araújo"],
        "places": [("São Paulo", ["SP"], ["01310-100"]), ("Rio de Janeiro", ["RJ"], ["20040-020"])],
        "phones": ["+55 11 91234-5{:03d}", "(21) 98765-4{:03d}"],
        "currency": "BRL",
    },
    "JP": {
        "country": ["JP", "Japan"],
        "given": ["太郎", "Yuki", "花子"],
        "surname": ["山田", "Tanaka", "佐藤"],
        "places": [("Tokyo", ["Tokyo", "東京都"], ["100-0001"]), ("Osaka", ["Osaka"], ["530-0001"])],
        "phones": ["03-1234-5{:03d}", "+81 90 1234 5{:03d}"],
        "currency": "JPY",
    },
    "AU": {
        "country": ["AU", "Australia"],
        "given": ["Charlotte", "Jack"],
        "surname": ["Wilson", "O'Neill"],
        "places": [("Sydney", ["NSW", "New South Wales"], ["2000"])],
        "phones": ["+61 2 9876 5{:03d}", "0412 345 {:03d}"],
        "currency": "AUD",
    },
}
COUNTRY_WEIGHTS = {"US": 40, "GB": 10, "DE": 6, "FR": 6, "CA": 6, "BR": 4, "JP": 4, "AU": 3}

# (product_id, unit price in USD, brand)
PRODUCTS = [
    ("SKU-1001", 89.99, "Northwind"),
    ("SKU-1002", 24.50, "Northwind"),
    ("SKU-1003", 5.99, "Northwind"),
    ("SKU-2001", 129.00, "Contoso Outdoor"),
    ("SKU-2002", 45.00, "Contoso Outdoor"),
    ("SKU-2003", 12.75, "Contoso Outdoor"),
    ("SKU-3001", 249.99, "Fabrikam"),
    ("SKU-3002", 19.99, "Fabrikam"),
    ("SKU-3003", 3.49, "Fabrikam"),
]
FX = {"USD": 1.0, "GBP": 0.79, "EUR": 0.92, "CAD": 1.37, "BRL": 5.1, "JPY": 150.0, "AUD": 1.52}
# Channel spellings vary in real sources; the filter vars compare trimmed and case-insensitively.
CHANNELS = [("store", 55), ("Store", 5), ("online", 30), ("call_center", 10)]
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in ".-_"))


def _to_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


class _Builder:
    def __init__(self, as_of: datetime, seed: int) -> None:
        self.as_of = as_of
        self.rng = random.Random(seed)
        self.customers: list[dict] = []
        self.lines: list[dict] = []
        self.order_counter = 100000

    # -- customers -------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def random_customer(self, country_code: str | None = None) -> dict:
        rng = self.rng
        if country_code is None:
            country_code = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
        spec = COUNTRIES[country_code]
        given = rng.choice(spec["given"])
        surname = rng.choice(spec["surname"])
        city, states, postals = rng.choice(spec["places"])
        local = _ascii(f"{given}.{surname}").lower() or f"customer{rng.randint(1, 999)}"
        domain = rng.choice(["example.com", "example.org", "example.net", "mail.example.co.uk"])
        email = f"{local}{rng.randint(1, 99)}@{domain}"
        if rng.random() < 0.15:
            email = f"  {email.title()} "  # upper-case letters and padding: the exporter normalizes
        phone_format = rng.choice(spec["phones"])
        phone = phone_format.format(rng.randint(0, 9 if "{:01d}" in phone_format else 99))
        birthdate = None
        if rng.random() < 0.75:
            birthdate = (datetime(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))).date().isoformat()
        return {
            "amperity_id": self.new_id(),
            "email": email,
            "phone": phone,
            "given_name": given,
            "surname": surname,
            "birthdate": birthdate,
            "gender": rng.choice(["F", "M", "female", "Male", "f", "X", None]),
            "city": city,
            "state": rng.choice(states),
            "postal": rng.choice(postals),
            "country": rng.choice(spec["country"]),
            "_currency": spec["currency"],
        }

    def add_customer(self, country_code: str | None = None, **overrides) -> dict:
        customer = self.random_customer(country_code)
        customer.update(overrides)
        self.customers.append(customer)
        return customer

    # -- transactions ----------------------------------------------------------------------
    def next_order_id(self) -> str:
        self.order_counter += self.rng.randint(1, 7)
        return f"O-{self.order_counter}"

    def add_line(
        self,
        customer_id: str,
        order_id: str,
        at: datetime,
        product=None,
        quantity=1,
        revenue=None,
        currency="USD",
        channel="store",
        cancellation=False,
        returned=False,
        store_id: str | None = "ST-001",
    ) -> dict:
        product_id, unit_usd, brand = product or self.rng.choice(PRODUCTS)
        if revenue is None and quantity is not None:
            fx = FX.get((currency or "USD").strip().upper(), 1.0)
            unit = round(unit_usd * fx) if (currency or "").strip().upper() == "JPY" else round(unit_usd * fx, 2)
            revenue = round(unit * quantity, 2)
        line = {
            "amperity_id": customer_id,
            "order_id": order_id,
            "order_datetime": at.strftime("%Y-%m-%d %H:%M:%S"),
            "product_id": product_id,
            "item_quantity": quantity,
            "item_revenue": None if revenue is None else f"{revenue:.2f}",
            "currency": currency,
            "purchase_channel": channel,
            "purchase_brand": brand,
            "store_id": store_id if (channel or "").strip().lower() == "store" else None,
            "is_cancellation": cancellation,
            "is_return": returned,
        }
        self.lines.append(line)
        return line

    def random_offset(self) -> timedelta:
        # A day's margin around the 7- and 62-day edges: only the ORD-* cases sit on them.
        low, high = self.rng.choices([(0.1, 6.0), (8.0, 61.0), (63.0, 90.0)], weights=[40, 48, 12])[0]
        return timedelta(seconds=int(self.rng.uniform(low, high) * 86400))

    def random_order(self, customer: dict) -> None:
        rng = self.rng
        at = self.as_of - self.random_offset()
        order_id = self.next_order_id()
        channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        store_id = f"ST-{rng.randint(1, 24):03d}"
        currency = customer["_currency"]
        if rng.random() < 0.05:
            currency = rng.choice([None, currency.lower()])  # missing or lower-case codes
        products = rng.sample(PRODUCTS, rng.choices([1, 2, 3, 4, 5], weights=[35, 30, 18, 10, 7])[0])
        # A NULL flag means "unknown" (some sources leave it empty).
        flag = None if rng.random() < 0.1 else False
        sold = []
        for product in products:
            quantity = rng.choices([1, 2, 3], weights=[70, 22, 8])[0]
            sold.append(
                self.add_line(
                    customer["amperity_id"],
                    order_id,
                    at,
                    product,
                    quantity,
                    currency=currency,
                    channel=channel,
                    cancellation=flag,
                    returned=flag,
                    store_id=store_id,
                )
            )
        roll = rng.random()
        later = min(at + timedelta(hours=rng.randint(2, 96)), self.as_of - HOUR)
        if roll < 0.06:  # a return of one line, later, as a line of its own
            line = rng.choice(sold)
            self.add_line(
                customer["amperity_id"],
                order_id,
                later,
                _product(line["product_id"]),
                -1,
                revenue=-float(line["item_revenue"]) / line["item_quantity"],
                currency=currency,
                channel=channel,
                returned=True,
                store_id=store_id,
            )
        elif roll < 0.10:  # a cancellation of the whole order
            for line in sold:
                self.add_line(
                    customer["amperity_id"],
                    order_id,
                    later,
                    _product(line["product_id"]),
                    -line["item_quantity"],
                    revenue=-float(line["item_revenue"]),
                    currency=currency,
                    channel=channel,
                    cancellation=True,
                    store_id=store_id,
                )


def _product(product_id: str):
    return next(p for p in PRODUCTS if p[0] == product_id)


def build(as_of: datetime, seed: int = DEFAULT_SEED) -> tuple[list[dict], list[dict]]:
    """Return (customers, transaction lines) as lists of dicts, relative to ``as_of``."""
    as_of = _to_naive_utc(as_of)
    b = _Builder(as_of, seed)

    # Customers for the deliberate cases.
    edge = b.add_customer(
        "US",
        email="jamie.rivera@example.com",
        phone="(206) 555-0134",
        given_name="Jamie",
        surname="Rivera",
        state="WA",
        city="Seattle",
        postal="98101-3045",
    )
    no_contact = b.add_customer("US", email=None, phone=None)
    blank_contact = b.add_customer("GB", email="   ", phone="")
    only_email = b.add_customer("FR", phone=None)
    only_phone = b.add_customer("DE", email=None)
    malformed_email = b.add_customer("US", email="maria.garcia@", phone=None, given_name="María", surname="García")
    bad_phone_only = b.add_customer("US", email=None, phone="12345")
    hashed_email = b.add_customer("CA", email=hashlib.sha256(b"pre.hashed@example.com").hexdigest(), phone=None)
    duplicated = b.add_customer(
        "GB", email="siobhan.oconnor@example.co.uk", phone="+44 20 7946 0321", given_name="Siobhán", surname="O'Connor"
    )
    # The same amperity_id again (a merge gone wrong upstream): must not double its lines.
    b.customers.append({**duplicated, "email": "s.oconnor.old@example.org", "phone": None, "birthdate": None})

    # Everyone else: random customers; a few without any contact data.
    for _ in range(70):
        customer = b.add_customer()
        if b.rng.random() < 0.05:
            customer["email"] = None
            customer["phone"] = None
    for customer in b.customers[10:]:
        for _ in range(b.rng.choices([0, 1, 2, 3, 4], weights=[10, 40, 25, 15, 10])[0]):
            b.random_order(customer)

    edge_id = edge["amperity_id"]
    cases = [
        ("ORD-AT-AS-OF", as_of),
        ("ORD-FUTURE", as_of + HOUR),
        ("ORD-7D-INSIDE", as_of - 7 * DAY + HOUR),
        ("ORD-7D-EXACT", as_of - 7 * DAY),
        ("ORD-7D-OUTSIDE", as_of - 7 * DAY - HOUR),
        ("ORD-62D-INSIDE", as_of - 62 * DAY + HOUR),
        ("ORD-62D-EXACT", as_of - 62 * DAY),
        ("ORD-62D-OUTSIDE", as_of - 62 * DAY - HOUR),
    ]
    for order_id, at in cases:
        b.add_line(edge_id, order_id, at, PRODUCTS[0], 1)

    recent = as_of - 2 * DAY
    b.add_line(edge_id, "ORD-CANCELLED", recent, PRODUCTS[1], 1)
    b.add_line(edge_id, "ORD-CANCELLED", recent + HOUR, PRODUCTS[1], -1, cancellation=True)
    b.add_line(edge_id, "ORD-CANCEL-POSITIVE", recent, PRODUCTS[2], 2, cancellation=True)
    b.add_line(edge_id, "ORD-RETURNED", recent, PRODUCTS[3], 1)
    b.add_line(edge_id, "ORD-RETURNED", recent + DAY, PRODUCTS[3], -1, returned=True)
    b.add_line(edge_id, "ORD-RETURN-POSITIVE", recent, PRODUCTS[4], 1, returned=True)
    b.add_line(edge_id, "ORD-NULL-FLAGS", recent, PRODUCTS[5], 1, cancellation=None, returned=None)
    b.add_line(edge_id, "ORD-ZERO-QTY", recent, PRODUCTS[6], 0, revenue=0)
    b.add_line(edge_id, "ORD-NULL-QTY", recent, PRODUCTS[6], None, revenue=10)
    b.add_line(edge_id, "ORD-NEGATIVE-QTY", recent, PRODUCTS[6], -1)
    b.add_line(edge_id, "ORD-FREE-ITEM", recent, PRODUCTS[8], 1, revenue=0)
    b.add_line(edge_id, "ORD-BAD-CURRENCY", recent, PRODUCTS[7], 1, revenue=19.99, currency="US$")
    b.add_line(edge_id, "ORD-NULL-CURRENCY", recent, PRODUCTS[7], 2, revenue=39.98, currency=None)
    b.add_line(edge_id, "ORD-LOWER-CURRENCY", recent, PRODUCTS[7], 1, revenue=18.39, currency="eur")
    b.add_line(no_contact["amperity_id"], "ORD-NO-CONTACT", recent, PRODUCTS[0], 1)
    b.add_line(blank_contact["amperity_id"], "ORD-BLANK-CONTACT", recent, PRODUCTS[0], 1, currency="GBP")
    b.add_line(b.new_id(), "ORD-UNKNOWN-CUSTOMER", recent, PRODUCTS[0], 1)
    b.add_line(only_email["amperity_id"], "ORD-ONLY-EMAIL", recent, PRODUCTS[1], 1, currency="EUR")
    b.add_line(only_phone["amperity_id"], "ORD-ONLY-PHONE", recent, PRODUCTS[1], 1, currency="EUR")
    b.add_line(malformed_email["amperity_id"], "ORD-MALFORMED-EMAIL", recent, PRODUCTS[2], 1)
    b.add_line(bad_phone_only["amperity_id"], "ORD-BAD-PHONE-ONLY", recent, PRODUCTS[2], 1)
    b.add_line(hashed_email["amperity_id"], "ORD-HASHED-EMAIL", recent, PRODUCTS[2], 1, currency="CAD")
    b.add_line(duplicated["amperity_id"], "ORD-DUPLICATE-CUSTOMER", recent, PRODUCTS[3], 1, currency="GBP")
    for index, product in enumerate(PRODUCTS[4:9]):
        b.add_line(
            edge_id,
            "ORD-MULTI-LINE",
            recent - 3 * HOUR,
            (product[0], product[1], "Fabrikam"),
            index % 3 + 1,
            channel="online",
        )

    customers = [{key: c[key] for key in CUSTOMER_COLUMNS} for c in b.customers]
    lines = sorted(b.lines, key=lambda line: (line["order_datetime"], line["order_id"], line["product_id"]))
    return customers, lines


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row[column]) for column in columns])


SEEDS_DIR = Path(__file__).resolve().parent


def generate(
    as_of: datetime | None = None, out_dir: Path | str = SEEDS_DIR, seed: int = DEFAULT_SEED
) -> dict[str, int]:
    """Write both seed CSVs into ``out_dir`` relative to ``as_of`` (default: now, UTC).

    A naive ``as_of`` is UTC. Returns counts: customers (rows of customer_360), lines and orders.
    """
    as_of = _to_naive_utc(as_of or datetime.now(UTC))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    customers, lines = build(as_of, seed)
    _write(out_dir / CUSTOMERS_FILE, CUSTOMER_COLUMNS, customers)
    _write(out_dir / TRANSACTIONS_FILE, TRANSACTION_COLUMNS, lines)
    return {
        "customers": len(customers),
        "lines": len(lines),
        "orders": len({line["order_id"] for line in lines}),
    }


def _parse_as_of(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--as-of",
        type=_parse_as_of,
        default=None,
        help="the moment the data is relative to (ISO 8601; no offset = UTC; default: now)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory for the two CSV files (default: this script's directory)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    counts = generate(args.as_of, args.out_dir, args.seed)
    print(
        f"wrote {counts['customers']} customers and {counts['lines']} lines ({counts['orders']} orders) "
        f"to {args.out_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
