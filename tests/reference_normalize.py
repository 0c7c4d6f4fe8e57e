"""Normalize and hash customer information (``user_data``) for Meta's Conversions API.

Each value is normalized as Meta documents for ``user_data`` (customer information parameters), then
hashed with SHA-256 (hex, lowercase):

- ``em``: trimmed, lowercased, must look like ``local@domain.tld``.
- ``ph``: parsed with ``phonenumbers`` in the row's country (else a default region) and
  accepted only when valid; its E.164 form without the ``+`` (country calling code, then
  the national number with any significant leading zero, e.g. Italy's ``390212345639``).
- ``fn``/``ln``: NFC, lowercased, letters of any script and digits only.
- ``db``: ``YYYYMMDD``.  ``ge``: ``f`` or ``m``.  ``ct``: lowercased letters only.
- ``st``: US 2-letter code (full names mapped); elsewhere lowercased letters and digits.
- ``zp``: lowercased, no spaces or dashes; US keeps its first 5 digits.
- ``country``: ISO 3166-1 alpha-2, lowercased, from a code, alpha-3 or name, in English
  or any language pycountry translates country names into (names meaning two countries
  in different languages are left out).
- ``external_id``: trimmed only.

A value that already is a 64-hex-digit SHA-256 is passed through (lowercased, since Meta
expects lowercase hex) and never re-normalized. Unusable values normalize to ``None`` and
their key is omitted, never sent empty.

Every per-value normalizer, and the hashing of each key in ``hashed_user_data``, is
memoized (bounded ``lru_cache``): exports repeat the same customer on many lines and
phone parsing costs tens of microseconds. Lookup tables are built once at import.
Nothing here logs: the inputs are PII.
"""

from __future__ import annotations

import datetime
import gettext
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import phonenumbers
import pycountry

__all__ = [
    "DEFAULT_REGION",
    "DROP_REASONS",
    "HashedUserData",
    "hash_user_data",
    "MATCH_KEYS",
    "hashed_user_data",
    "is_sha256",
    "normalize_birthdate",
    "normalize_city",
    "normalize_country",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_name",
    "normalize_phone",
    "normalize_postal",
    "normalize_state",
    "sha256_hex",
]

DEFAULT_REGION = "US"

# Per-value caches: big enough to hold the customers of a large batch, bounded because an
# entry costs about 300 bytes (2**16 entries: about 20 MB when full).
_CACHE_SIZE = 2**16
_ROW_CACHE_SIZE = 2**14  # per key, for hashed_user_data: values shared by many customers
# Emails, phones and ids are one per customer, and whole customers are cached by the caller
# (events.py): a large cache of them would only hold memory.
_UNIQUE_ROW_CACHE_SIZE = 2**8
_SMALL_CACHE_SIZE = 2**12  # for low-cardinality columns: gender, state, country

_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
# local@domain.tld: one '@', no whitespace, dot-separated non-empty domain labels and a
# top-level label of at least two characters.
_EMAIL_RE = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]{2,}")
_US_ZIP_RE = re.compile(r"(\d{5})(?:\d{4})?")
# Without a known country, a ZIP+4 ("94105-1234", "94105 1234", "941051234") is taken as
# US: no other country's postal codes have that shape.
_LIKELY_US_ZIP_RE = re.compile(r"(\d{5})[-\s]?\d{4}")
_POSTAL_DROP_RE = re.compile(r"[\W_]+")
_GENDERS = {"f": "f", "female": "f", "m": "m", "male": "m"}


# --- text helpers -----------------------------------------------------------------


def _text(value: object) -> str | None:
    """The trimmed string form of ``value``, or None when missing or blank."""
    if value is None:
        return None
    text = (value if isinstance(value, str) else str(value)).strip()
    return text or None


def _keep(text: str, categories: tuple[str, ...]) -> str:
    """Lowercase ``text`` (NFC) and keep only characters whose Unicode category starts
    with one of ``categories``.

    Combining marks (``M``) are kept with letters: after NFC, Latin accents are already
    composed into their letter, but Indic and other scripts write vowels as marks, and
    dropping them would mangle the name.
    """
    lowered = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())
    return "".join(ch for ch in lowered if unicodedata.category(ch).startswith(categories))


def _key(text: str) -> str:
    """A lookup key for names and codes, computed alike for the tables and the input:
    casefolded, accents (combining marks) dropped, letters and digits of any script only,
    a leading English "the" dropped ("The Bahamas", "U.S.A.", "España", "ΕΛΛΑΔΑ" ->
    "bahamas", "usa", "espana", "ελλαδα"). Data often loses accents, or writes Greek
    capitals without them; both still match."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = _LEADING_THE_RE.sub("", folded)
    return "".join(ch for ch in folded if ch.isalnum())  # marks are not alphanumeric


def _exact_key(text: str) -> str:
    """As _key, but combining marks kept (NFC): scripts that write vowels as marks
    (Devanagari, Tamil, Gujarati, ...) need them to tell names apart (Hindi "टोगो" Togo,
    "टोंगा" Tonga)."""
    composed = unicodedata.normalize("NFC", text.casefold())
    return "".join(ch for ch in composed if ch.isalnum() or unicodedata.category(ch).startswith("M"))


_LEADING_THE_RE = re.compile(r"^\s*the\s+")


# --- lookup tables (built once) -----------------------------------------------------


def _build_countries() -> dict[str, str]:
    """Codes and English names (ISO 3166-1 as pycountry has it) -> alpha-2, lowercase."""
    table: dict[str, str] = {}
    # Exact codes and names only: pycountry's fuzzy search is slow and matches loosely.
    # Later attributes never override earlier ones, so codes win over names.
    for attr in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
        for country in pycountry.countries:
            label = getattr(country, attr, None)
            if label:
                table.setdefault(_key(label), country.alpha_2.lower())
    # Common names absent from ISO 3166 that real address data uses.
    aliases = {
        "uk": "gb",
        "great britain": "gb",
        "britain": "gb",
        "england": "gb",
        "scotland": "gb",
        "wales": "gb",
        "northern ireland": "gb",
        "russia": "ru",
        "turkey": "tr",
    }
    for alias, code in aliases.items():
        table.setdefault(_key(alias), code)
    return table


class _TranslatedNames(NamedTuple):
    exact: dict[str, str]  # _exact_key(name) -> alpha-2
    folded: dict[str, str]  # _key(name) -> alpha-2


def _country_translations() -> Iterator[tuple[str, str]]:
    """(translated name, alpha-2) for every language pycountry ships a translation of
    ISO 3166-1 in (its gettext catalogs, domain iso3166-1), for each English name, common
    name and official name."""
    english = [
        (label, country.alpha_2.lower())
        for country in pycountry.countries
        for label in {country.name, getattr(country, "common_name", None), getattr(country, "official_name", None)}
        if label
    ]
    locales = Path(pycountry.LOCALES_DIR)
    for catalog in sorted(locales.glob(f"*/LC_MESSAGES/{_COUNTRY_DOMAIN}.mo")):
        # Opened directly rather than with gettext.translation(), which keeps every catalog
        # it loads for the life of the process.
        with catalog.open("rb") as file:
            translation = gettext.GNUTranslations(file)
        for label, code in english:
            translated = translation.gettext(label)
            if translated != label:
                yield translated, code


_COUNTRY_DOMAIN = "iso3166-1"


def _translated_names_table(translations: Iterable[tuple[str, str]], known: Mapping[str, str]) -> _TranslatedNames:
    """Lookup tables of translated country names, without the ambiguous ones.

    A name that means two countries in different languages (Kinyarwanda "Nigeri" is Niger,
    Albanian "Nigeri" is Nigeria) is left out: guessing would send a wrong country, and a
    phone parsed in the wrong region. Keys that the codes and English names (``known``)
    already hold keep their meaning.
    """
    exact: dict[str, set[str]] = {}
    folded: dict[str, set[str]] = {}
    for name, code in set(translations):
        exact.setdefault(_exact_key(name), set()).add(code)
        folded.setdefault(_key(name), set()).add(code)
    return _TranslatedNames(
        {key: codes.pop() for key, codes in exact.items() if len(codes) == 1 and key and key not in known},
        {key: codes.pop() for key, codes in folded.items() if len(codes) == 1 and key and key not in known},
    )


@cache
def _translated_names() -> _TranslatedNames:
    """Country names in every language pycountry translates them into, built on first need:
    reading ~150 catalogs takes ~0.4 s, which runs whose countries are codes or English
    names never pay (nor does importing this module)."""
    return _translated_names_table(_country_translations(), _COUNTRIES)


def _build_us_states() -> dict[str, str]:
    """Keys of US state codes, names and ISO codes ("ca", "california", "usca") -> "ca".

    Includes DC and the outlying areas (PR, GU, VI, ...), which have USPS codes too.
    """
    table: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code="US"):
        code = sub.code.split("-", 1)[1].lower()
        for label in (code, sub.name, sub.code):
            table[_key(label)] = code
    return table


# A two-letter code as address data writes one: "DE", "de", "U.K.", "u. s.".
_TWO_LETTER_CODE_RE = re.compile(r"[^\W\d_]\.?\s*[^\W\d_]\.?")
_COUNTRIES = _build_countries()
_US_STATES = _build_us_states()
_PHONE_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


# --- hashing ------------------------------------------------------------------------


def sha256_hex(value: str) -> str:
    """Hex lowercase SHA-256 of the UTF-8 encoded ``value``."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256(value: object) -> bool:
    """True when ``value`` is a string of exactly 64 hex digits (any case)."""
    return isinstance(value, str) and _SHA256_RE.fullmatch(value) is not None


# --- per-key normalizers --------------------------------------------------------------


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_email(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    email = text.lower()
    return email if _EMAIL_RE.fullmatch(email) else None


@lru_cache(maxsize=_SMALL_CACHE_SIZE)
def normalize_country(value: object) -> str | None:
    """ISO alpha-2, lowercase, from an alpha-2/alpha-3 code, an English name, or a name in
    any language pycountry has translations for ("Deutschland", "España", "日本").

    Codes and English names come first; then a translated name as written (case aside),
    then without its accents ("Osterreich", "ΕΛΛΑΔΑ").
    """
    text = _text(value)
    if text is None:
        return None
    key = _key(text)
    if len(key) == 2 and key.isascii() and not _TWO_LETTER_CODE_RE.fullmatch(text):
        return None  # "N/A", "n-a": a placeholder for "no value", not Namibia's code
    code = _COUNTRIES.get(key)
    if code is None and key:
        names = _translated_names()
        code = names.exact.get(_exact_key(text)) or names.folded.get(key)
    return code


def _parse_phone(text: str, region: str | None) -> str | None:
    """E.164 digits (no '+') when ``text`` parses to a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # is_valid_number only, no is_possible_number fallback: "possible" accepts any
    # number of plausible length, e.g. a US 7-digit local number without its area
    # code, whose hash can never match. Meta's fictional 555 examples (650-555-1212,
    # 206-555-0134) are valid for phonenumbers, so nothing real is lost.
    if not phonenumbers.is_valid_number(number):
        return None
    # E.164 as phonenumbers writes it, minus the '+'. Not country_code + national_number:
    # that drops a significant leading zero (Italy's +39 02..., Benin, Congo, Gabon and
    # others), which phonenumbers keeps apart in italian_leading_zero.
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_phone(value: object, country: object = None, default_region: str = DEFAULT_REGION) -> str | None:
    """Digits with the country calling code and no '+', e.g. '12065550134'.

    ``country`` (code or name) gives the region for national numbers; when it is
    missing, unknown, or has no phone metadata, ``default_region`` is used.
    """
    text = _text(value)
    if text is None:
        return None
    # '00' is the international prefix almost everywhere; phonenumbers only treats it so
    # when the region dials 00 (not the US, which dials 011), so make it explicit.
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        return _parse_phone(text, None)
    alpha_2 = normalize_country(country)
    region = alpha_2.upper() if alpha_2 and alpha_2.upper() in _PHONE_REGIONS else None
    parsed = _parse_phone(text, region or default_region)
    if parsed is None:
        # A number already written Meta's way (country code, no '+', e.g.
        # '442079460958' on a US row) is invalid as a national number; only then try
        # it as international.
        digits = re.sub(r"[\s().\-]", "", text)
        if digits.isdigit() and not digits.startswith("0"):
            parsed = _parse_phone("+" + digits, None)
    return parsed


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_name(value: object) -> str | None:
    """fn / ln: letters of any script and digits, lowercase, NFC ("O'Brien" -> "obrien")."""
    text = _text(value)
    if text is None:
        return None
    return _keep(text, ("L", "M", "Nd")) or None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_birthdate(value: object) -> str | None:
    """'YYYYMMDD' from a date/datetime or an ISO string ('1990-02-28', '19900228',
    '1990-02-28T00:00:00'). Impossible dates and years before 1900 (placeholders such as
    0001-01-01) are dropped."""
    if isinstance(value, datetime.date):  # datetime is a date too
        date = value
    else:
        text = _text(value)
        if text is None:
            return None
        try:
            date = datetime.date.fromisoformat(text)
        except ValueError:
            try:
                date = datetime.datetime.fromisoformat(text).date()
            except ValueError:
                return None
    if date.year < 1900:
        return None
    return f"{date.year:04d}{date.month:02d}{date.day:02d}"


@lru_cache(maxsize=_SMALL_CACHE_SIZE)
def normalize_gender(value: object) -> str | None:
    text = _text(value)
    return _GENDERS.get(text.lower()) if text else None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_city(value: object) -> str | None:
    """Letters of any script only, lowercase ("San Francisco" -> "sanfrancisco")."""
    text = _text(value)
    if text is None:
        return None
    return _keep(text, ("L", "M")) or None


@lru_cache(maxsize=_SMALL_CACHE_SIZE)
def normalize_state(value: object, country: object = None) -> str | None:
    """US: the 2-letter code from a code or full name ("California", " ca " -> "ca"),
    else dropped. Elsewhere: lowercase letters and digits.

    Country unknown: a US state code or name maps to its code (it is very likely US, and
    a 2-letter code comes out the same either way); anything else follows the generic rule.
    """
    text = _text(value)
    if text is None:
        return None
    alpha_2 = normalize_country(country)
    if alpha_2 is None or alpha_2 == "us":
        code = _US_STATES.get(_key(text))
        if code is not None or alpha_2 == "us":
            return code
    return _keep(text, ("L", "M", "Nd")) or None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_postal(value: object, country: object = None) -> str | None:
    """Lowercase, no spaces or dashes (nor other punctuation). US: the first 5 digits of a
    5-digit ZIP or ZIP+4, anything else dropped. UK keeps the full postcode.

    Country unknown: a ZIP+4 is taken as US ("94105-1234" -> "94105"); anything else
    follows the generic rule.
    """
    text = _text(value)
    if text is None:
        return None
    alpha_2 = normalize_country(country)
    if alpha_2 == "us":
        match = _US_ZIP_RE.fullmatch(re.sub(r"[\s\-]", "", text))
        return match.group(1) if match else None
    if alpha_2 is None:
        match = _LIKELY_US_ZIP_RE.fullmatch(text)
        if match:
            return match.group(1)
    return _POSTAL_DROP_RE.sub("", text.lower()) or None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_external_id(value: object) -> str | None:
    """Trimmed only: IDs are case-sensitive (our rule, as the replaced destination does)."""
    return _text(value)


# --- a whole row ----------------------------------------------------------------------


def _prehashed(value: object) -> str | None:
    """The lowercase hash when ``value`` already is a SHA-256, else None."""
    if isinstance(value, str):
        text = value.strip()
        if is_sha256(text):
            return text.lower()
    return None


def _hasher(normalizer: Callable[..., str | None], cache_size: int = _ROW_CACHE_SIZE) -> Callable[..., str | None]:
    """A memoized ``(value, *context) -> hash or None`` for one key.

    One cache lookup per key and row when customers repeat, and one cache per key
    rather than two: it calls the normalizer's uncached body (``__wrapped__``), so rows
    do not fill the public normalizer caches as well.
    """
    normalize = getattr(normalizer, "__wrapped__", normalizer)

    @lru_cache(maxsize=cache_size)
    def hashed(value: object, *context: object) -> str | None:
        prehashed = _prehashed(value)
        if prehashed is not None:
            return prehashed
        normalized = normalize(value, *context)
        return sha256_hex(normalized) if normalized is not None else None

    return hashed


# Which context a key's normalizer takes after the value.
_NO_CONTEXT, _COUNTRY, _COUNTRY_AND_REGION = 0, 1, 2

# Why a value given for a key was unusable: one rule per key, as its normalizer applies it.
DROP_REASONS = {
    "em": "not_an_email",  # not local@domain.tld
    "ph": "not_a_valid_number",  # unparseable, or invalid in its region
    "fn": "no_letters",
    "ln": "no_letters",
    "db": "not_a_date",  # not an ISO date, impossible, or a placeholder before 1900
    "ge": "not_f_or_m",
    "ct": "no_letters",
    "st": "not_a_state",  # US: no state code or name; elsewhere: no letters or digits
    "zp": "not_a_postal_code",  # US: not a 5-digit ZIP or ZIP+4; elsewhere: no letters or digits
    "country": "not_recognized",  # no code or name of any language we know
    "external_id": "blank",  # never counted: a blank value is missing, not dropped
}

# Meta key -> (model column, memoized hasher, context), in the order Meta lists them.
_ROW_FIELDS: tuple[tuple[str, str, Callable[..., str | None], int], ...] = (
    ("em", "email", _hasher(normalize_email, _UNIQUE_ROW_CACHE_SIZE), _NO_CONTEXT),
    ("ph", "phone", _hasher(normalize_phone, _UNIQUE_ROW_CACHE_SIZE), _COUNTRY_AND_REGION),
    ("fn", "given_name", _hasher(normalize_name), _NO_CONTEXT),
    ("ln", "surname", _hasher(normalize_name), _NO_CONTEXT),
    ("db", "birthdate", _hasher(normalize_birthdate), _NO_CONTEXT),
    ("ge", "gender", _hasher(normalize_gender), _NO_CONTEXT),
    ("ct", "city", _hasher(normalize_city), _NO_CONTEXT),
    ("st", "state", _hasher(normalize_state), _COUNTRY),
    ("zp", "postal", _hasher(normalize_postal), _COUNTRY),
    ("country", "country", _hasher(normalize_country), _NO_CONTEXT),
    ("external_id", "external_id", _hasher(normalize_external_id, _UNIQUE_ROW_CACHE_SIZE), _NO_CONTEXT),
)


# Every user_data key the exporter can send (match keys), in the order Meta lists them.
MATCH_KEYS = tuple(meta_key for meta_key, *_ in _ROW_FIELDS)


class HashedUserData(NamedTuple):
    hashed: dict[str, str]  # Meta key -> SHA-256 hex, for each usable value
    dropped: tuple[tuple[str, str], ...]  # (Meta key, DROP_REASONS[key]) for each value given but unusable


def hash_user_data(row: Mapping[str, object], default_region: str = DEFAULT_REGION) -> HashedUserData:
    """Meta ``user_data`` keys -> SHA-256 hex for the model row's customer columns, and the
    keys whose value was given but unusable (so a silent loss of match keys can be counted).

    Keys whose value is missing (None or blank) or unusable are omitted. The row's
    ``country`` (code or name) gives the context for phone, state and postal; phones fall
    back to ``default_region``.
    """
    raw_country = row.get("country")
    country = None if _prehashed(raw_country) else normalize_country(raw_country)
    contexts: tuple[tuple[object, ...], ...] = ((), (country,), (country, default_region))
    hashed: dict[str, str] = {}
    dropped: tuple[tuple[str, str], ...] = ()
    for meta_key, column, hasher, context in _ROW_FIELDS:
        value = row.get(column)
        if value is None:
            continue
        digest = hasher(value, *contexts[context])
        if digest is not None:
            hashed[meta_key] = digest
        elif _text(value) is not None:
            dropped += ((meta_key, DROP_REASONS[meta_key]),)
    return HashedUserData(hashed, dropped)


def hashed_user_data(row: Mapping[str, object], default_region: str = DEFAULT_REGION) -> dict[str, str]:
    """Meta ``user_data`` keys -> SHA-256 hex for the model row's customer columns (as
    hash_user_data, without the dropped keys)."""
    return hash_user_data(row, default_region).hashed
