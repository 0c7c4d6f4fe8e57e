"""Helpers of tests/test_text_normalizers_sql.py: dbt-compiled normalizer macros run by DuckDB, and
generated customers to hold them to tests/reference_normalize.py with.

    project = SqlNormalizers.build(tmp_path)        # project copy, one `dbt compile`, seeds loaded
    sql = project.expressions["name"]               # meta_normalize_name(value), compiled
    rows = project.query(f"select {sql} from values_table")
"""

from __future__ import annotations

import datetime
import json
import random
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
from dbt_helpers import prepare_project, run_dbt
from event_models import load_reference_seeds
from postgres_sample import PostgresSample

AS_OF = datetime.datetime(2026, 11, 23, 12)
MARKER = "/*<<{}>>*/"

# name -> the Jinja expression compiled; `value` and `country_alpha2` are columns of the input.
EXPRESSIONS: Mapping[str, str] = {
    "trim": "{{ meta_trim('value') }}",
    "email": "{{ meta_normalize_email('value') }}",
    "name": "{{ meta_normalize_name('value') }}",
    "city": "{{ meta_normalize_city('value') }}",
    "birthdate": "{{ meta_normalize_birthdate('value') }}",
    "gender": "{{ meta_normalize_gender('value') }}",
    "external_id": "{{ meta_normalize_external_id('value') }}",
    "state": "{{ meta_normalize_state('value', 'country_alpha2') }}",
    "postal": "{{ meta_normalize_postal('value', 'country_alpha2') }}",
    "countries": "{{ meta_normalize_countries('values_table', 'value') }}",
    "sha256": "{{ meta_sha256('value') }}",
    "prehashed": "{{ meta_prehashed('value') }}",
    "lookup_key": "{{ meta__lookup_key('value') }}",
    "exact_lookup_key": "{{ meta__exact_lookup_key('value') }}",
    "python_lower": "{{ meta__python_lower('value') }}",
    # Every key of each generated customer (table `customers`), as a model would compute them.
    "customer_keys": """
        with with_country as (
            {{ meta_normalize_countries('customers', 'country') }}
        )
        select
            row_number,
            {{ meta_normalize_email('email') }} as email,
            {{ meta_prehashed('email') }} as email_prehashed,
            {{ meta_normalize_name('given_name') }} as fn,
            {{ meta_normalize_name('surname') }} as ln,
            {{ meta_prehashed('surname') }} as ln_prehashed,
            {{ meta_normalize_birthdate('birthdate') }} as db,
            {{ meta_normalize_birthdate('birthdate_text') }} as db_text,
            {{ meta_normalize_gender('gender') }} as ge,
            {{ meta_normalize_city('city') }} as ct,
            {{ meta_normalize_state('state', 'country_alpha2') }} as st,
            {{ meta_normalize_postal('postal', 'country_alpha2') }} as zp,
            country_alpha2 as country,
            {{ meta_prehashed('country') }} as country_prehashed,
            {{ meta_normalize_external_id('external_id') }} as external_id,
            {{ meta_sha256(meta_normalize_external_id('external_id')) }} as external_id_sha256
        from with_country
        order by row_number
    """,
}
# Every expression in one `dbt compile --inline`, each after its marker (see split_compiled).
INLINE = "\n".join(MARKER.format(name) + "\n" + jinja for name, jinja in EXPRESSIONS.items())


@dataclass(frozen=True)
class SqlNormalizers:
    project_dir: Path
    db_path: Path
    expressions: Mapping[str, str]  # name -> compiled SQL expression over `value` (and `country_alpha2`)

    @classmethod
    def build(cls, tmp_path: Path) -> SqlNormalizers:
        """A project copy, every expression compiled by dbt for DuckDB, and a DuckDB file in
        tmp_path holding the reference seeds (as `dbt seed` loads them, see event_models.py)."""
        project_dir = prepare_project(tmp_path / "project", AS_OF)
        db_path = tmp_path / "warehouse.duckdb"
        compiled = run_dbt(["compile", "--quiet", "--inline", INLINE], project_dir, db_path, tmp_path / "target")
        with duckdb.connect(str(db_path)) as con:
            load_reference_seeds(con)
        return cls(project_dir, db_path, split_compiled(compiled.stdout))

    @classmethod
    def on_postgres(cls, sample: PostgresSample, tmp_path: Path) -> SqlNormalizers:
        """Every expression compiled by dbt for the PostgreSQL database of `sample`, whose build
        loaded the reference seeds."""
        compiled = sample.dbt_postgres("compile", "--quiet", "--inline", INLINE, target=tmp_path / "target")
        return cls(sample.project, tmp_path / "unused.duckdb", split_compiled(compiled.stdout))

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db_path), read_only=True)


def split_compiled(compiled: str) -> dict[str, str]:
    """{name: SQL} from the compiled text of EXPRESSIONS (each after its marker)."""
    parts = re.split(r"/\*<<(\w+)>>\*/\n", compiled)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


# -- every code point ----------------------------------------------------------------------------

CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
CODE_POINTS_SQL = (
    "create temp table code_points as "
    "select cast(range as integer) as code_point, chr(cast(range as integer)) as ch "
    "from range(0, 1114112) where range not between 55296 and 57343"
)


# -- generated customers -------------------------------------------------------------------------

GIVEN_NAMES = [
    "John",
    "Zoë",
    "José",
    "François",
    "Ægir",
    "Søren",
    "Łukasz",
    "İbrahim",
    "Işıl",
    "Ömer",
    "Straße",
    "ΟΔΥΣΣΕΑΣ",
    "Νίκος",
    "ΣΩΚΡΑΤΗΣ",
    "Ἀλέξανδρος",
    "Дмитрий",
    "ЁЛКА",
    "Ольга",
    "محمد",
    "فاطمة",
    "דוד",
    "שָׁלוֹם",
    "अमित",
    "प्रिया",
    "தமிழ்செல்வி",
    "ગુજરાતી",
    "สมชาย",
    "明",
    "さくら",
    "サクラ",
    "민준",
    "지우",
    "Nguyễn",
    "Thị",
    "Ngô",
    "Αλέξης",
    "Ǆemal",
    "Ǉiljana",
    "ǅ",
    "Mary-Jane",
    "D'Angelo",
    "Jean Luc",
    "K\u0301",
    "e\u0301lodie",
    "ＡＢＣ",
    "Ⅻ",
    "Anna2",
    "３",
    "٣",
    "😀",
    "O'Brien",
    "  ",
    "\u00a0Ana\u3000",
]
SURNAMES = [
    "Smith",
    "O'Brien",
    "Smith-Jones",
    "Müller",
    "MÜLLER",
    "Öztürk",
    "ÇELİK",
    "Nuñez",
    "Ðorđević",
    "Ørsted",
    "ΠΑΠΑΔΟΠΟΥΛΟΣ",
    "Παπαδόπουλος",
    "ΟΔΥΣΣΕΥΣ'",
    "ΑΣ.",
    "Σ",
    "Иванов",
    "Петрова",
    "الحسن",
    "כהן",
    "शर्मा",
    "ராஜா",
    "ವಿಜಯ್",
    "ᏣᎳᎩ",
    "王",
    "山田",
    "김",
    "van der Berg",
    "de la Cruz",
    "Mc Donald",
    "Ⅳ",
    "x\u200by",
]
CITIES = [
    "San Francisco",
    "SAN FRANCISCO",
    "New York City",
    "St. Louis",
    "Winston-Salem",
    "Köln",
    "München",
    "İstanbul",
    "İZMİR",
    "Αθήνα",
    "ΘΕΣΣΑΛΟΝΙΚΗ",
    "Москва",
    "Санкт-Петербург",
    "القاهرة",
    "תל אביב",
    "मुंबई",
    "சென்னை",
    "กรุงเทพมหานคร",
    "東京",
    "大阪市",
    "서울",
    "Hà Nội",
    "São Paulo",
    "Zürich",
    "L'Aquila",
    "Paris 15e",
    "Île-de-France",
    "ﬁrenze",
    "Ⓐthens",
    "12345",
    "",
]
US_STATES = [
    "CA",
    "ca",
    " ny ",
    "California",
    "NEW YORK",
    "new-york",
    "Texas",
    "District of Columbia",
    "PR",
    "US-WA",
    "Calif.",
    "Tex",
    "N.Y.",
    "Guam",
    "the virgin islands",
    "ZZ",
    "Ontario",
    "Bayern",
]
FOREIGN_STATES = [
    "Bayern",
    "Île-de-France",
    "Ontario",
    "ON",
    "東京都",
    "Québec",
    "Nordrhein-Westfalen",
    "Αττική",
    "Московская область",
    "महाराष्ट्र",
    "NSW",
    "Jalisco",
    "CA",
    "New York",
    "İstanbul",
    "--",
]
US_POSTALS = [
    "94105",
    "94105-1234",
    "94105 1234",
    "941051234",
    " 02134 ",
    "9410",
    "941051",
    "ABCDE",
    "٩٤١٠٥",
    "94105-12345",
    "94-105",
    "94105\u00a01234",
    "0213",
    "１２３４５",
]
FOREIGN_POSTALS = [
    "SW1A 1AA",
    "sw1a1aa",
    "K1A 0B1",
    "10115",
    "75008",
    "100-0001",
    "1010",
    "C1425",
    "D02 X285",
    "SE-114 55",
    "٩٤١٠٥",
    "94105-1234",
    "94105 1234",
    "--",
    "İ1",
    "ΣΑΣ 12",
]
COUNTRY_SAMPLES = [
    "US",
    "us",
    "USA",
    "usa",
    "U.S.",
    "U.S.A.",
    "u. s.",
    "United States",
    "united states of america",
    "The Bahamas",
    "the   Netherlands",
    "UK",
    "GB",
    "Great Britain",
    "England",
    "Deutschland",
    "DEUTSCHLAND",
    "España",
    "Espana",
    "ΕΛΛΑΔΑ",
    "Ελλάδα",
    "日本",
    "中国",
    "대한민국",
    "Россия",
    "Österreich",
    "Osterreich",
    "Türkiye",
    "TÜRKİYE",
    "Brasil",
    "México",
    "Mexico",
    "N/A",
    "n-a",
    "na",
    "NA",
    "--",
    "xx",
    "12",
    "Z1",
    "unknown",
    "Nigeria",
    "Nigeri",
    "टोगो",
    "टोंगा",
    "Côte d'Ivoire",
    "Cote d Ivoire",
    "the",
    "The ",
    "Ⓤⓢ",
    "ＵＳ",
    "D E",
    "D.E.",
    "İtalya",
    "İTALYA",
    "Sverige",
    "Suomi",
    "Κύπρος",
    "ΚΥΠΡΟΣ",
    "Éire",
    "Россия ",
]
DOMAINS = [
    "example.com",
    "gmail.com",
    "Mail.Example.CO.UK",
    "例え.テスト",
    "xn--80ak6aa92e.com",
    "ex.c",
    "ex",
    "ex..com",
]


def _variant(rng: random.Random, text: str) -> str:
    """The text as address data writes it: cased another way, padded, decomposed."""
    choice = rng.random()
    if choice < 0.15:
        text = text.upper()
    elif choice < 0.3:
        text = text.lower()
    elif choice < 0.4:
        text = unicodedata.normalize("NFD", text)
    if rng.random() < 0.15:
        pad = rng.choice([" ", "\t", "\u00a0", "\u3000", "\u2003", "\n", "\x1c", "\x85"])
        text = pad + text + pad
    return text


def _email(rng: random.Random, given: str, surname: str) -> str:
    local = rng.choice([given, f"{given}.{surname}", f"{given}_{rng.randint(1, 999)}", "john_smith", "İlker", "ΣΑΣ"])
    local = re.sub(r"\s", rng.choice(["", ".", " "]), local)
    email = f"{local}@{rng.choice(DOMAINS)}"
    roll = rng.random()
    if roll < 0.05:
        email = email.replace("@", "")
    elif roll < 0.1:
        email = email + "@x.com"
    return _variant(rng, email)


def _birthdate(rng: random.Random) -> datetime.date | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.08:
        return datetime.date(rng.choice([1, 1000, 1899]), 1, 1)
    return datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randint(0, 45_000))


def _birthdate_text(rng: random.Random, date: datetime.date | None) -> str | None:
    if date is None:
        return rng.choice([None, "", "unknown", "1990-02-30", "1990-13-01", "19900230", "0000-01-01"])
    year, week, day = date.isocalendar()
    forms = [
        date.isoformat(),
        date.strftime("%Y%m%d"),
        f"{date.isoformat()}T00:00:00",
        f"{date.isoformat()} 12:30",
        f"{date.isoformat()}T23:59:59.123456Z",
        f"{date.isoformat()}T08:15:00+05:30",
        f"{date.strftime('%Y%m%d')}T0815",
        f"{year:04d}-W{week:02d}-{day}",
        f"{year:04d}W{week:02d}{day}",
        f"{year:04d}-W{week:02d}",
        date.strftime("%m/%d/%Y"),
        date.strftime("%Y-%m-%d %H"),
        f" {date.isoformat()} ",
        f"{date.isoformat()}T25:00",
        f"{date.isoformat()}-05",
    ]
    return rng.choice(forms)


def _prehashed(rng: random.Random) -> str:
    digest = "".join(rng.choice("0123456789abcdef") for _ in range(64))
    roll = rng.random()
    if roll < 0.3:
        digest = digest.upper()
    elif roll < 0.4:
        digest = digest[:63]
    elif roll < 0.5:
        digest = digest[:63] + "g"
    return rng.choice(["", " ", "\u00a0"]) + digest + rng.choice(["", " ", "\n"])


def _country(rng: random.Random, translated: list[str]) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.08:
        return _prehashed(rng)
    if roll < 0.5:
        return _variant(rng, rng.choice(COUNTRY_SAMPLES))
    if roll < 0.9:
        return _variant(rng, rng.choice(translated))
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzÅÉİΣ.- ") for _ in range(rng.randint(1, 12)))


def customers(count: int, translated: list[str], seed: int = 20261123) -> Iterator[dict[str, object]]:
    """``count`` customers with every key but the phone, in many scripts, with junk mixed in."""
    rng = random.Random(seed)
    for number in range(count):
        given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
        country = _country(rng, translated)
        is_us = country is not None and country.strip().lower() in {"us", "usa", "united states"}
        birthdate = _birthdate(rng)
        yield {
            "external_id": rng.choice(["", " ", "\t"]) + f"AMP-{number:07d}" + rng.choice(["", " ", "\u3000"]),
            "email": _prehashed(rng) if rng.random() < 0.03 else _email(rng, given, surname),
            "given_name": _variant(rng, given),
            "surname": _prehashed(rng) if rng.random() < 0.02 else _variant(rng, surname),
            "birthdate": birthdate,
            "birthdate_text": _birthdate_text(rng, birthdate),
            "gender": rng.choice(
                ["f", "F", "female", "FEMALE", " m ", "Male", "x", "unknown", "", None, "ＦＥＭＡＬＥ"]
            ),
            "city": _variant(rng, rng.choice(CITIES)),
            "state": _variant(rng, rng.choice(US_STATES if is_us or rng.random() < 0.3 else FOREIGN_STATES)),
            "postal": _variant(rng, rng.choice(US_POSTALS if is_us or rng.random() < 0.3 else FOREIGN_POSTALS)),
            "country": country,
        }


def write_json_lines(rows: list[dict[str, object]], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as file:
        for row in rows:
            file.write(json.dumps(row, default=str, ensure_ascii=True) + "\n")
    return path
