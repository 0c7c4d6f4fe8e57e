"""Generate the two source tables for the benchmark, set-wise in DuckDB SQL.

`range()` supplies the keys and `hash(key, salt)` the pseudo-random choices, so N lines take
seconds even at 10 million and the data depends only on N and `as_of` (no Python row loops,
no RNG state). Shapes follow what real Amperity tables hold:

- `customer_360`: N/5 customers in 8 countries (US 70%, GB, CA, DE, FR, AU, MX, BR); names with
  accents, apostrophes and hyphens; emails in several styles (some capitalized or padded, ~1%
  malformed, a few pre-hashed, ~12% missing); phones in national and international formats per
  country (~15% missing, ~2% junk); country as code, lower-case code, alpha-3 or name; US states
  as codes or names; ZIP and ZIP+4, UK/CA postcodes; birthdates, genders in several spellings.
- `unified_itemized_transactions`: exactly N lines in orders of 1-5 lines (3 on average), all
  timestamps inside the 6 days before `as_of` (so nothing falls out of the send window); ~1%
  cancellations and ~2% returns (negative quantities), ~0.5% zero quantities, ~1.5% of orders
  from customers missing in customer_360, currencies by country with a few NULL, lower-case
  or malformed (`US$`) values.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

# (code, alpha-3, name, currency, share in %, phone format family)
COUNTRIES = [
    ("US", "USA", "United States", "USD", 70),
    ("GB", "GBR", "United Kingdom", "GBP", 8),
    ("CA", "CAN", "Canada", "CAD", 5),
    ("DE", "DEU", "Germany", "EUR", 5),
    ("FR", "FRA", "France", "EUR", 4),
    ("AU", "AUS", "Australia", "AUD", 3),
    ("MX", "MEX", "Mexico", "MXN", 3),
    ("BR", "BRA", "Brazil", "BRL", 2),
]

# (city, state as customers write it, postal prefix) per country.
LOCATIONS = {
    "US": [
        ("San Francisco", "CA", "941"),
        ("Seattle", "Washington", "981"),
        ("New York", "NY", "100"),
        ("Chicago", "Illinois", "606"),
        ("Austin", "TX", "787"),
        ("Boston", "MA", "021"),
        ("Los Angeles", "California", "900"),
        ("St. Louis", "MO", "631"),
        ("Winston-Salem", "North Carolina", "271"),
        ("Miami", "fl", "331"),
        ("Portland", "OR", "972"),
        ("Denver", "Colorado", "802"),
        ("Coeur d'Alene", "ID", "838"),
        ("Salt Lake City", "Utah", "841"),
    ],
    "GB": [
        ("London", "England", "SW1A"),
        ("London", None, "EC1A"),
        ("Manchester", "England", "M1"),
        ("Edinburgh", "Scotland", "EH1"),
        ("Stoke-on-Trent", None, "ST4"),
        ("Cardiff", "Wales", "CF10"),
    ],
    "CA": [
        ("Toronto", "ON", "M5V"),
        ("Montréal", "Québec", "H2X"),
        ("Vancouver", "BC", "V6B"),
        ("Calgary", "Alberta", "T2P"),
    ],
    "DE": [
        ("München", "Bayern", "80"),
        ("Berlin", "Berlin", "10"),
        ("Köln", "NRW", "50"),
        ("Frankfurt am Main", "Hessen", "60"),
    ],
    "FR": [
        ("Paris", "Île-de-France", "75"),
        ("Lyon", "Auvergne-Rhône-Alpes", "69"),
        ("Saint-Étienne", None, "42"),
        ("Aix-en-Provence", "PACA", "13"),
    ],
    "AU": [("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "Queensland", "4000")],
    "MX": [("Ciudad de México", "CDMX", "06"), ("Guadalajara", "Jalisco", "44"), ("Monterrey", "NL", "64")],
    "BR": [("São Paulo", "SP", "01310"), ("Rio de Janeiro", "RJ", "20040"), ("Belo Horizonte", "MG", "30130")],
}

GIVEN_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "Zoë",
    "José",
    "François",
    "Anne-Marie",
    "Jürgen",
    "Søren",
    "Chloé",
    "Mohammed",
    "Aisha",
    "Hiroshi",
    "Mei",
    "Olga",
    "Siobhán",
    "Björn",
    "Renée",
    "Nguyen",
    "Priya",
    "Lucía",
    "Ève",
    "D'Arcy",
    "Emily",
    "Oliver",
    "Amelia",
    "Noah",
    "Sophia",
    "Liam",
    "Isabella",
    "Lucas",
    "Mia",
    "Ethan",
]
SURNAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Miller",
    "Davis",
    "Rodríguez",
    "Martínez",
    "O'Brien",
    "Smith-Jones",
    "Müller",
    "Nguyen",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Wang",
    "MacDonald",
    "van der Berg",
    "Silva",
    "Tanaka",
    "Schäfer",
    "Lefèvre",
    "Ó Súilleabháin",
    "St. John",
    "Kim",
    "Patel",
    "Hernández",
    "López",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
]
EMAIL_DOMAINS = {
    "US": ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "comcast.net"],
    "GB": ["gmail.com", "yahoo.co.uk", "btinternet.com", "hotmail.co.uk", "outlook.com"],
    "CA": ["gmail.com", "yahoo.ca", "rogers.com", "hotmail.com"],
    "DE": ["gmail.com", "gmx.de", "web.de", "t-online.de"],
    "FR": ["gmail.com", "orange.fr", "free.fr", "laposte.net"],
    "AU": ["gmail.com", "bigpond.com", "outlook.com"],
    "MX": ["gmail.com", "hotmail.com", "prodigy.net.mx"],
    "BR": ["gmail.com", "uol.com.br", "hotmail.com"],
}


def _lit(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _list(values) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _pick(values, roll: str) -> str:
    """SQL: one of `values`, chosen by the unsigned integer expression `roll`."""
    return f"{_list(values)}[1 + (({roll}) % {len(values)})::bigint]"


def _country_case(roll: str) -> str:
    """SQL: the country code for a roll in 0..99, by the shares in COUNTRIES."""
    parts, upper = [], 0
    for code, _, _, _, share in COUNTRIES:
        upper += share
        parts.append(f"when ({roll}) < {upper} then '{code}'")
    return "case " + " ".join(parts) + " end"


def _by_country(expressions: dict[str, str]) -> str:
    return "case cc " + " ".join(f"when '{code}' then {sql}" for code, sql in expressions.items()) + " end"


def _digits(roll: str, count: int) -> str:
    return f"lpad((({roll}) % {10**count})::varchar, {count}, '0')"


def customers_sql(schema: str, customers: int, clean: bool = False, first: int = 0, insert: bool = False) -> str:
    """SQL creating `schema`.customer_360 with customers `first` .. `first + customers - 1` (or,
    with `insert`, adding them to it). `clean`: every customer has a valid email and phone, a
    country code and a usable value in every other column (nothing malformed or unusable)."""
    countries_values = ", ".join(
        f"({_lit(code)}, {_lit(alpha3)}, {_lit(name)})" for code, alpha3, name, _, _ in COUNTRIES
    )
    location = {
        code: _pick([f"{c}|{s or ''}|{p}" for c, s, p in places], "r_loc") for code, places in LOCATIONS.items()
    }
    domain = {code: _pick(domains, "r_dom") for code, domains in EMAIL_DOMAINS.items()}
    # National significant numbers (what follows the country calling code), and the calling code.
    nsn = {
        "US": f"{_pick(['206', '212', '312', '415', '617', '713', '305', '404', '503', '702', '718', '818', '917', '480', '612'], 'r_ph1')}"
        f" || (200 + r_ph2 % 800 + case when r_ph2 % 800 in (355, 311, 211, 411, 511, 611, 711, 811, 911) then 1 else 0 end)::varchar"
        f" || {_digits('r_ph3', 4)}",
        "CA": f"{_pick(['416', '647', '604', '514', '403', '613'], 'r_ph1')} || (200 + r_ph2 % 700)::varchar || {_digits('r_ph3', 4)}",
        "GB": f"case when r_ph1 % 4 = 0 then '20' || {_pick(['7', '3', '8'], 'r_ph2')} || {_digits('r_ph3', 7)}"
        f" else '7' || {_pick(['4', '5', '7', '8', '9'], 'r_ph2')} || {_digits('r_ph3', 8)} end",
        "DE": f"{_pick(['151', '152', '157', '160', '170', '171', '176', '177'], 'r_ph1')} || {_digits('r_ph3', 8)}",
        "FR": f"{_pick(['6', '7'], 'r_ph1')} || {_digits('r_ph3', 8)}",
        "AU": f"'4' || {_digits('r_ph3', 8)}",
        "MX": f"{_pick(['55', '33', '81'], 'r_ph1')} || {_digits('r_ph3', 8)}",
        "BR": f"{_pick(['11', '21', '31'], 'r_ph1')} || '9' || {_digits('r_ph3', 8)}",
    }
    # Formats customers type: national with the trunk prefix, international, punctuated or not.
    us_formats = [
        "'(' || n[1:3] || ') ' || n[4:6] || '-' || n[7:]",
        "n[1:3] || '-' || n[4:6] || '-' || n[7:]",
        "n[1:3] || '.' || n[4:6] || '.' || n[7:]",
        "'+1 ' || n[1:3] || ' ' || n[4:6] || ' ' || n[7:]",
        "'1' || n",
        "n",
        "'+1 (' || n[1:3] || ') ' || n[4:6] || '-' || n[7:]",
        "'+1-' || n[1:3] || '-' || n[4:6] || '-' || n[7:]",
    ]
    intl_formats = {
        "GB": [
            "'0' || n[1:4] || ' ' || n[5:]",
            "'+44 ' || n[1:4] || ' ' || n[5:]",
            "'+44' || n",
            "'0044 ' || n",
            "'0' || n",
        ],
        "DE": [
            "'0' || n[1:3] || ' ' || n[4:]",
            "'+49 ' || n[1:3] || ' ' || n[4:]",
            "'+49 (0)' || n[1:3] || ' ' || n[4:]",
            "'0049' || n",
        ],
        "FR": [
            "'0' || n[1:1] || ' ' || n[2:3] || ' ' || n[4:5] || ' ' || n[6:7] || ' ' || n[8:9]",
            "'+33 ' || n[1:1] || ' ' || n[2:3] || ' ' || n[4:5] || ' ' || n[6:7] || ' ' || n[8:9]",
            "'0' || n",
            "'+33' || n",
        ],
        "AU": [
            "'0' || n[1:3] || ' ' || n[4:6] || ' ' || n[7:]",
            "'+61 ' || n[1:3] || ' ' || n[4:6] || ' ' || n[7:]",
            "'0' || n",
        ],
        "MX": [
            "'+52 ' || n[1:2] || ' ' || n[3:6] || ' ' || n[7:]",
            "n[1:2] || ' ' || n[3:6] || ' ' || n[7:]",
            "'+52' || n",
        ],
        "BR": [
            "'+55 ' || n[1:2] || ' ' || n[3:7] || '-' || n[8:]",
            "'(' || n[1:2] || ') ' || n[3:7] || '-' || n[8:]",
            "'+55' || n",
        ],
    }
    phone_formats = {"US": us_formats, "CA": us_formats, **intl_formats}

    def formats_case(formats: list[str]) -> str:
        return (
            "case r_phf % "
            + str(len(formats))
            + " "
            + " ".join(f"when {i} then {sql}" for i, sql in enumerate(formats))
            + " end"
        )

    phone_formatted = (
        "case cc "
        + " ".join(f"when '{code}' then {formats_case(formats)}" for code, formats in phone_formats.items())
        + " end"
    )
    postal = _by_country(
        {
            "US": "loc_postal || "
            + _digits("r_zip", 2)
            + " || case when r_zip % 5 = 0 then '-' || "
            + _digits("r_zip4", 4)
            + " else '' end",
            "GB": "loc_postal || ' ' || (1 + r_zip % 9)::varchar || chr(65 + (r_zip4 % 26)::int) || chr(65 + ((r_zip4 // 26) % 26)::int)",
            "CA": "loc_postal || ' ' || (r_zip % 10)::varchar || chr(65 + (r_zip4 % 26)::int) || ((r_zip4 // 26) % 10)::varchar",
            "DE": "loc_postal || " + _digits("r_zip", 3),
            "FR": "loc_postal || " + _digits("r_zip", 3),
            "AU": "loc_postal",
            "MX": "loc_postal || " + _digits("r_zip", 3),
            "BR": "loc_postal || '-' || " + _digits("r_zip", 3),
        }
    )
    statement = f"insert into {schema}.customer_360" if insert else f"create or replace table {schema}.customer_360 as"
    return f"""
{statement}
with
countries (cc, alpha3, country_name) as (values {countries_values}),
rolls as (
    select
        c,
        {_country_case("hash(c, 1) % 100")} as cc,
        hash(c, 2) as r_given, hash(c, 3) as r_sur, hash(c, 4) as r_loc, hash(c, 5) as r_dom,
        hash(c, 6) % 1000 as r_email, hash(c, 7) % 1000 as r_phone,
        hash(c, 8) as r_ph1, hash(c, 9) as r_ph2, hash(c, 10) as r_ph3, hash(c, 11) as r_phf,
        hash(c, 12) % 100 as r_country, hash(c, 13) as r_zip, hash(c, 14) as r_zip4,
        hash(c, 15) % 100 as r_bd, hash(c, 16) % 100 as r_gender, hash(c, 17) % 100 as r_loc_null,
        hash(c, 18) % 100 as r_name_case
    from range({first}, {first + customers}) as keys (c)
),
named as (
    select
        rolls.*,
        {_pick(GIVEN_NAMES, "r_given")} as given,
        {_pick(SURNAMES, "r_sur")} as sur,
        {_by_country(location)} as loc,
        {_by_country(domain)} as domain,
        {_by_country(nsn)} as n
    from rolls
),
located as (
    select
        named.*,
        split_part(loc, '|', 1) as loc_city,
        nullif(split_part(loc, '|', 2), '') as loc_state,
        split_part(loc, '|', 3) as loc_postal,
        regexp_replace(lower(strip_accents(given)), '[^a-z0-9]', '', 'g') as given_ascii,
        regexp_replace(lower(strip_accents(sur)), '[^a-z0-9]', '', 'g') as sur_ascii
    from named
),
final as (
    select
        md5('amperity-' || c::varchar) as id_hex,
        case
            when {clean} then given_ascii || '.' || sur_ascii || c::varchar || '@' || domain
            when r_email < 120 then null
            when r_email < 130 then given_ascii || '.' || sur_ascii || c::varchar || '@'
            when r_email < 133 then sha256(given_ascii || c::varchar || '@' || domain)
            else
                (case when r_email % 10 = 0 then '  ' else '' end)
                || (case when r_email % 7 = 0 then upper(given_ascii[1]) || given_ascii[2:] else given_ascii end)
                || (case r_email % 4 when 0 then '.' || sur_ascii when 1 then '_' || sur_ascii when 2 then sur_ascii[1] else '' end)
                || c::varchar || '@'
                || (case when r_email % 13 = 0 then upper(domain) else domain end)
                || (case when r_email % 10 = 0 then ' ' else '' end)
        end as email,
        case
            when {clean} then {phone_formatted}
            when r_phone < 150 then null
            when r_phone < 160 then {_pick(["12345", "n/a", "000-000-0000", "555-1212", "+1 999"], "r_phf")}
            else {phone_formatted}
        end as phone,
        case when r_name_case < 4 then upper(given) when r_name_case < 6 then ' ' || given || ' ' else given end as given_name,
        case when r_name_case between 50 and 52 then upper(sur) else sur end as surname,
        case when r_bd < 40 and not {clean} then null else date '1945-01-01' + (r_bd * 7919 + r_given % 20000)::int % 21000 end as birthdate,
        {_pick(["F", "M", "female", "Male", "f", "m", "F", "M", "FEMALE", "male"], "r_gender")} as gender_pick,
        r_gender,
        case when r_loc_null < 8 and not {clean} then null else loc_city end as city,
        case when r_loc_null < 10 and not {clean} then null else loc_state end as state,
        case when r_loc_null < 9 and not {clean} then null else {postal} end as postal,
        case
            when r_country < 80 or {clean} then cc
            when r_country < 86 then lower(cc)
            when r_country < 92 then countries.alpha3
            when r_country < 97 then countries.country_name
        end as country
    from located
    join countries using (cc)
)
select
    id_hex[1:8] || '-' || id_hex[9:12] || '-' || id_hex[13:16] || '-' || id_hex[17:20] || '-' || id_hex[21:32] as amperity_id,
    email,
    phone,
    given_name,
    surname,
    birthdate,
    case when r_gender < 75 or {clean} then gender_pick when r_gender < 80 then 'unknown' when r_gender < 83 then 'X' end as gender,
    city,
    state,
    postal,
    country
from final
"""


def _customer_of_order(k: str, customers: int, clean: bool) -> str:
    """SQL: the customer index of order `k` (~1.5% missing from customer_360, unless clean)."""
    missing = f"hash({k}, 102) % 1000 < 15 and not {clean}"
    return f"case when {missing} then {customers} + hash({k}, 109) % 100000 else hash({k}, 103) % {customers} end"


def transactions_sql(
    schema: str,
    lines: int,
    customers: int,
    as_of: datetime,
    clean: bool = False,
    days: int = 6,
    first_order: int = 0,
    new_customers: tuple[int, int, int] | None = None,
) -> str:
    """SQL creating `schema`.unified_itemized_transactions with `lines` lines of orders numbered
    from `first_order`, in the `days` days before `as_of`. `clean`: only sales (no cancellations,
    returns or zero quantities), every customer in customer_360, valid currencies.

    `new_customers` = (first, cold_orders, per_mille): add the lines instead, each order placed
    by a customer of one of the `cold_orders` first orders, or (per_mille of them) by a new
    customer numbered from `first`."""
    orders = lines // 3 + 1000  # 3 lines per order on average; the cumulative sum cuts at exactly `lines`
    currency = "case " + " ".join(f"when cust_cc = '{code}' then '{cur}'" for code, _, _, cur, _ in COUNTRIES) + " end"
    window_seconds = days * 86400 - 120
    if new_customers:
        first, cold_orders, per_mille = new_customers
        existing = _customer_of_order(f"hash(k, 110) % {cold_orders}", customers, clean)
        customer = f"case when hash(k, 111) % 1000 < {per_mille} then {first} + k - {first_order} else {existing} end"
        statement = f"insert into {schema}.unified_itemized_transactions"
    else:
        customer = _customer_of_order("k", customers, clean)
        statement = f"create or replace table {schema}.unified_itemized_transactions as"
    return f"""
{statement}
with
orders as (
    select
        k,
        (1 + hash(k, 101) % 5)::bigint as size,
        {customer} as customer,
        hash(k, 104) % 400 as store,
        hash(k, 105) % {window_seconds} as seconds_back,
        hash(k, 106) % 100 as r_channel,
        hash(k, 107) % 10000 as r_currency,
        hash(k, 108) % 3 as r_brand
    from range({first_order}, {first_order + orders}) as keys (k)
),
placed as (
    select *, sum(size) over (order by k rows between unbounded preceding and current row) - size as first_line
    from orders
),
order_lines as (
    select *, first_line + line_in_order as line_no
    from (select *, unnest(range(size)) as line_in_order from placed where first_line < {lines})
    where first_line + line_in_order < {lines}
),
rolled as (
    select
        order_lines.*,
        {_country_case("hash(customer, 1) % 100")} as cust_cc,
        md5('amperity-' || customer::varchar) as id_hex,
        hash(line_no, 201) % 40000 as product,
        hash(line_no, 202) % 100 as r_qty,
        hash(line_no, 203) % 1000 as r_kind,
        (99 + hash(line_no, 204) % 25000)::bigint as unit_cents,
        hash(line_no, 205) % 100 as r_flags
    from order_lines
),
shaped as (
    select
        *,
        (case when r_qty < 78 then 1 when r_qty < 92 then 2 when r_qty < 97 then 3 else 4 + r_qty % 3 end)::integer as qty,
        case
            when {clean} then 'sale'
            when r_kind < 10 then 'cancellation' when r_kind < 30 then 'return' when r_kind < 35 then 'zero' else 'sale'
        end as kind
    from rolled
)
select
    id_hex[1:8] || '-' || id_hex[9:12] || '-' || id_hex[13:16] || '-' || id_hex[17:20] || '-' || id_hex[21:32] as amperity_id,
    'POS-' || lpad(store::varchar, 4, '0') || '-' || lpad(k::varchar, 10, '0') as order_id,
    timestamp '{as_of:%Y-%m-%d %H:%M:%S}' - to_seconds((60 + seconds_back)::bigint) as order_datetime,
    'SKU-' || lpad(product::varchar, 6, '0') as product_id,
    (case kind when 'sale' then qty when 'zero' then 0 else -qty end)::integer as item_quantity,
    (case kind when 'sale' then 1 when 'zero' then 0 else -1 end * qty * unit_cents / 100)::decimal(18, 2) as item_revenue,
    case
        when {clean} then {currency}
        when r_currency < 200 then null
        when r_currency < 220 then lower({currency})
        when r_currency < 222 then 'US$'
        else {currency}
    end as currency,
    case when r_channel < 92 then 'store' else 'store-kiosk' end as purchase_channel,
    ['Contoso', 'Fabrikam', 'Northwind'][1 + r_brand::bigint] as purchase_brand,
    'ST' || lpad(store::varchar, 4, '0') as store_id,
    case when kind = 'cancellation' then true when r_flags < 20 and not {clean} then null else false end as is_cancellation,
    case when kind = 'return' then true when r_flags < 20 and not {clean} then null else false end as is_return
from shaped
"""


def generate(database: str, lines: int, as_of: datetime, schema: str = "bench_source", clean: bool = False) -> dict:
    """Create `schema`.customer_360 and `schema`.unified_itemized_transactions in `database`."""
    customers = max(1, lines // 5)
    con = duckdb.connect(database)
    try:
        con.execute(f"create schema if not exists {schema}")
        con.execute(customers_sql(schema, customers, clean))
        con.execute(transactions_sql(schema, lines, customers, as_of, clean))
        got_lines = con.execute(f"select count(*) from {schema}.unified_itemized_transactions").fetchone()[0]
        got_customers = con.execute(f"select count(*) from {schema}.customer_360").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    if got_lines != lines:
        raise RuntimeError(f"generated {got_lines} lines, expected {lines}")
    return {"lines": got_lines, "customers": got_customers}


# The second day (warm run): the contact data of this share of the customers changes, and this
# share of the new day's orders comes from new customers. With ~1.6 orders per customer over the
# first 6 days, that leaves ~90% of the window's distinct customers already hashed.
WARM_CHANGED_PER_MILLE = 50
WARM_NEW_CUSTOMER_PER_MILLE = 160


def warm_day(database: str, lines: int, as_of: datetime, schema: str = "bench_source", clean: bool = False) -> dict:
    """Turn the data of `generate(database, lines, ...)` into the next day's: a day of new orders
    (lines / 6 lines, in the day before `as_of`, the new run's), some from new customers, and
    new contact data (email) for WARM_CHANGED_PER_MILLE of the customers."""
    customers = max(1, lines // 5)
    cold_orders = lines // 3 + 1000
    day_lines = max(1, lines // 6)
    day_orders = day_lines // 3 + 1000
    first_new = customers + 200_000  # past the ids of the customers missing from customer_360
    con = duckdb.connect(database)
    try:
        con.execute(
            f"update {schema}.customer_360 set email = 'moved.' || left(md5(amperity_id), 12) || '@example.org' "
            f"where hash(amperity_id, 77) % 1000 < {WARM_CHANGED_PER_MILLE}"
        )
        con.execute(customers_sql(schema, day_orders, clean, first=first_new, insert=True))
        new_customers = (first_new, cold_orders, WARM_NEW_CUSTOMER_PER_MILLE)
        con.execute(
            transactions_sql(schema, day_lines, customers, as_of, clean, days=1, first_order=cold_orders,
                             new_customers=new_customers)
        )  # fmt: skip
        got_lines = con.execute(f"select count(*) from {schema}.unified_itemized_transactions").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return {"lines": got_lines, "day_lines": day_lines}
