"""The reference normalizer (tests/reference_normalize.py) against Meta's rules (meta-capi.md,
"Customer information"): the SQL macros are checked against it."""

from __future__ import annotations

import datetime
import gettext
import hashlib
from collections.abc import Callable

import phonenumbers
import pycountry
import pytest
import reference_normalize as nz
from conftest import KNOWN_HASHES
from facebook_business.adobjects.serverside.normalize import Normalize
from reference_normalize import (
    DEFAULT_REGION,
    hashed_user_data,
    is_sha256,
    normalize_birthdate,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_postal,
    normalize_state,
    sha256_hex,
)

# Meta's published examples (meta-capi.md), full digests.
JOHN_EMAIL_HASH = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
META_PHONE_HASH = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"


def h(text: str) -> str:
    """Independent SHA-256 for expected values."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- hashing ------------------------------------------------------------------------


def test_meta_published_vectors() -> None:
    assert sha256_hex("john_smith@gmail.com") == JOHN_EMAIL_HASH
    assert sha256_hex("16505551212") == META_PHONE_HASH
    assert JOHN_EMAIL_HASH.startswith("62a14e44")
    assert META_PHONE_HASH.startswith("e323ec62")
    assert sha256_hex(normalize_email(" John_Smith@Gmail.com ")) == JOHN_EMAIL_HASH
    assert sha256_hex(normalize_phone("16505551212")) == META_PHONE_HASH
    assert sha256_hex(normalize_phone("+1 (650) 555-1212", "GB")) == META_PHONE_HASH


def test_sha256_hex_is_utf8_lowercase_hex() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_hex("") == empty
    assert sha256_hex("zoë") == h("zoë")
    assert sha256_hex("zoë") == hashlib.sha256(b"zo\xc3\xab").hexdigest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (JOHN_EMAIL_HASH, True),
        (JOHN_EMAIL_HASH.upper(), True),
        (JOHN_EMAIL_HASH[:63], False),
        (JOHN_EMAIL_HASH + "0", False),
        (" " + JOHN_EMAIL_HASH, False),
        ("g" * 64, False),
        ("d41d8cd98f00b204e9800998ecf8427e", False),  # MD5 is not SHA-256
        ("", False),
        (None, False),
        (12345, False),
    ],
)
def test_is_sha256(value: object, expected: bool) -> None:
    assert is_sha256(value) is expected


# --- em -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john_smith@gmail.com", "john_smith@gmail.com"),
        ("  John_Smith@Gmail.COM\t", "john_smith@gmail.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
        ("Zoë@exämple.de", "zoë@exämple.de"),
        ("john@localhost", None),
        ("john.gmail.com", None),
        ("john@@gmail.com", None),
        ("jo hn@gmail.com", None),
        ("@gmail.com", None),
        ("john@.com", None),
        ("john@gmail.", None),
        ("john@gmail.c", None),
        ("john@gmail..com", None),
        ("john@gmail,com", None),
        ("n/a", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_email(value: object, expected: str | None) -> None:
    assert normalize_email(value) == expected


# --- ph -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        # US, national formats with the row's country or the default region
        ("(206) 555-0134", "US", "12065550134"),
        ("206.555.0134", "US", "12065550134"),
        ("206-555-0134", None, "12065550134"),
        ("2065550134", "United States", "12065550134"),
        ("1-206-555-0134", "USA", "12065550134"),
        ("+1 206 555 0134", None, "12065550134"),
        ("206 555 0134 ext. 12", "US", "12065550134"),
        (2065550134, "US", "12065550134"),
        ("16505551212", None, "16505551212"),
        # '+' and '00' are international whatever the row's country says
        ("+1 206 555 0134", "GB", "12065550134"),
        ("+44 20 7946 0958", None, "442079460958"),
        ("+44 20 7946 0958", "US", "442079460958"),
        ("00 44 20 7946 0958", "US", "442079460958"),
        ("0044 20 7946 0958", None, "442079460958"),
        ("+49 30 12345678", "US", "493012345678"),
        # UK
        ("020 7946 0958", "GB", "442079460958"),
        ("020 7946 0958", "United Kingdom", "442079460958"),
        ("020 7946 0958", "UK", "442079460958"),
        ("07911 123456", "GB", "447911123456"),
        # Germany, France, India, Brazil, Japan
        ("030 12345678", "DE", "493012345678"),
        ("0151 23456789", "Germany", "4915123456789"),
        ("01 23 45 67 89", "FR", "33123456789"),
        ("06 12 34 56 78", "FRA", "33612345678"),
        ("+33 6 12 34 56 78", None, "33612345678"),
        ("098765 43210", "IN", "919876543210"),
        ("98765 43210", "India", "919876543210"),
        ("+91 98765 43210", None, "919876543210"),
        ("(11) 91234-5678", "BR", "5511912345678"),
        ("+55 11 91234-5678", None, "5511912345678"),
        ("03-1234-5678", "JP", "81312345678"),
        ("090-1234-5678", "Japan", "819012345678"),
        ("+81 90-1234-5678", None, "819012345678"),
        # already in Meta's format (country code, no '+'), invalid as a national number
        ("442079460958", "US", "442079460958"),
        ("16505551212", "GB", "16505551212"),
        # the row's country in its own language gives the region
        ("030 6459913", "Deutschland", "49306459913"),
        ("02 1234 5639", "Italia", "390212345639"),
        ("01 23 45 67 89", "France", "33123456789"),
        ("912 34 56 78", "España", "34912345678"),
        ("06 12 34 56 78", "Frankreich", "33612345678"),
        # unknown country name: default region
        ("(206) 555-0134", "Narnia", "12065550134"),
        # garbage, too short, too long, invalid
        ("555-0134", "US", None),  # no area code: possible but not valid
        ("12345", "US", None),
        ("+1 555", None, None),
        ("+44 20 7946", None, None),
        ("1234567890123456", "US", None),
        ("0000000000", "US", None),
        ("020 7946 0958", "US", None),  # a UK number on a US row without '+'
        ("abc", "US", None),
        ("n/a", None, None),
        ("", "US", None),
        ("   ", None, None),
        (None, "US", None),
    ],
)
def test_normalize_phone(value: object, country: str | None, expected: str | None) -> None:
    assert normalize_phone(value, country) == expected


def test_normalize_phone_default_region() -> None:
    assert DEFAULT_REGION == "US"
    assert normalize_phone("020 7946 0958", default_region="GB") == "442079460958"
    assert normalize_phone("020 7946 0958") is None
    # the row's country wins over the default region
    assert normalize_phone("(206) 555-0134", "US", default_region="GB") == "12065550134"


# SHA-256 of E.164 digits, computed once with `printf %s DIGITS | sha256sum`.
ITALY_0212345639_HASH = "f0d3a329e187c64a44931e4c7f5ec3e2981aa7caa9ad702d5f3a56e3f0e3486b"  # 390212345639


def test_italian_numbers_keep_their_leading_zero() -> None:
    # Italy's fixed lines keep the 0 of the area code after the country code (+39 02 ...);
    # phonenumbers marks it with italian_leading_zero rather than in national_number.
    assert normalize_phone("02 1234 5639", "IT") == "390212345639"
    assert normalize_phone("+39 02 1234 5639", None) == "390212345639"
    assert normalize_phone("0039 06 6982 1234", "US") == "390669821234"
    assert normalize_phone("390212345639", "US") == "390212345639"  # already Meta's format
    assert normalize_phone("333 123 4567", "IT") == "393331234567"  # mobiles have no leading zero
    assert sha256_hex(normalize_phone("02 1234 5639", "IT")) == ITALY_0212345639_HASH


def _example_numbers() -> list[tuple[str, str, str]]:
    """(national format, region, E.164 digits) of phonenumbers' example numbers, in every region
    that is also an ISO 3166 country (the row's country gives the region)."""
    kinds = (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.VOIP,
    )
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        if pycountry.countries.get(alpha_2=region) is None:
            continue  # XK, AC, TA: phone regions without an ISO 3166 code
        for kind in kinds:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                examples.append((national, region, e164.removeprefix("+")))
    return examples


def test_every_regions_example_numbers_give_phonenumbers_own_e164() -> None:
    examples = _example_numbers()
    assert len(examples) > 500
    wrong = [(n, r, e, normalize_phone(n, r)) for n, r, e in examples if normalize_phone(n, r) != e]
    assert wrong == []
    # The same numbers written internationally, with '+' and with '00'.
    for _, region, e164 in examples:
        assert normalize_phone("+" + e164, None) == e164
        assert normalize_phone("00" + e164, region) == e164


# --- fn / ln --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("John", "john"),
        ("  MARY  ", "mary"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Smith-Jones", "smithjones"),
        ("Zoë", "zoë"),
        ("Zoe\u0308", "zoë"),  # decomposed input comes out composed
        ("José María", "josémaría"),
        ("ÉMILE", "émile"),
        ("Jean-Luc", "jeanluc"),
        ("Mary Ann", "maryann"),
        ("St. John", "stjohn"),
        ("Müller", "müller"),
        ("Straße", "straße"),  # lowercase, not casefold ("strasse")
        ("Łukasz", "łukasz"),
        ("Nguyễn", "nguyễn"),
        ("Смирнова", "смирнова"),
        ("Παπαδόπουλος", "παπαδόπουλος"),
        ("山田", "山田"),
        ("たなか", "たなか"),
        ("김민준", "김민준"),
        ("محمد", "محمد"),
        ("प्रिया", "प्रिया"),  # Devanagari vowel signs and virama are kept
        ("John3", "john3"),
        ("Henry VIII", "henryviii"),
        ("J.R.R.", "jrr"),
        ("😀 Ann", "ann"),
        ("---", None),
        ("''", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_name(value: object, expected: str | None) -> None:
    assert normalize_name(value) == expected


# --- db -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(1990, 2, 3), "19900203"),
        (datetime.datetime(1985, 12, 31, 23, 59), "19851231"),
        ("1990-02-03", "19900203"),
        (" 1990-02-03 ", "19900203"),
        ("19900203", "19900203"),
        ("1990-02-03T00:00:00", "19900203"),
        ("1990-02-03 00:00:00", "19900203"),
        ("2000-02-29", "20000229"),
        ("1999-02-29", None),
        ("1990-13-01", None),
        ("03/02/1990", None),  # ambiguous day/month order: not guessed
        ("0001-01-01", None),  # placeholder
        (datetime.date(1, 1, 1), None),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_birthdate(value: object, expected: str | None) -> None:
    assert normalize_birthdate(value) == expected


# --- ge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("f", "f"),
        ("F", "f"),
        ("female", "f"),
        (" Female ", "f"),
        ("FEMALE", "f"),
        ("m", "m"),
        ("M", "m"),
        ("male", "m"),
        ("Male", "m"),
        ("MALE ", "m"),
        ("x", None),
        ("unknown", None),
        ("non-binary", None),
        ("fem", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_gender(value: object, expected: str | None) -> None:
    assert normalize_gender(value) == expected


# --- ct -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("San Francisco", "sanfrancisco"),
        ("  NEW YORK ", "newyork"),
        ("St. Louis", "stlouis"),
        ("Winston-Salem", "winstonsalem"),
        ("Coeur d'Alene", "coeurdalene"),
        ("São Paulo", "sãopaulo"),
        ("Zürich", "zürich"),
        ("Zu\u0308rich", "zürich"),
        ("München", "münchen"),
        ("東京", "東京"),
        ("Москва", "москва"),
        ("Paris 75001", "paris"),  # letters only: digits dropped
        ("12345", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_city(value: object, expected: str | None) -> None:
    assert normalize_city(value) == expected


# --- st -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("California", "US", "ca"),
        (" ca ", "US", "ca"),
        ("CA", "US", "ca"),
        ("CA", "United States", "ca"),
        ("new york", "usa", "ny"),
        ("NEW YORK", "US", "ny"),
        ("District of Columbia", "US", "dc"),
        ("Puerto Rico", "US", "pr"),
        ("US-TX", "US", "tx"),
        ("Texas", "US", "tx"),
        ("N.Y.", "US", "ny"),
        ("Calif", "US", None),  # US: not a state code or name
        ("Ontario", "US", None),
        ("ZZ", "US", None),
        # country unknown: US codes and names map, anything else is generic
        ("California", None, "ca"),
        ("West Virginia", None, "wv"),
        ("TX", None, "tx"),
        ("ON", None, "on"),
        ("Bavaria", None, "bavaria"),
        ("Île-de-France", "Narnia", "îledefrance"),
        # elsewhere: lowercase, no punctuation, special characters or spaces
        ("Ontario", "CA", "ontario"),
        ("ON", "Canada", "on"),
        ("Nordrhein-Westfalen", "DE", "nordrheinwestfalen"),
        ("Île-de-France", "FR", "îledefrance"),
        ("Greater London", "GB", "greaterlondon"),
        ("NSW", "AU", "nsw"),
        ("São Paulo", "BR", "sãopaulo"),
        ("東京都", "JP", "東京都"),
        ("California", "MX", "california"),  # not US: no mapping
        ("--", "DE", None),
        ("", "US", None),
        (None, None, None),
    ],
)
def test_normalize_state(value: object, country: str | None, expected: str | None) -> None:
    assert normalize_state(value, country) == expected


# --- zp -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("94105", "US", "94105"),
        ("94105-1234", "US", "94105"),
        (" 94105 1234 ", "US", "94105"),
        ("941051234", "US", "94105"),
        ("02134", "United States", "02134"),
        ("2134", "US", None),  # lost its leading zero: not guessed
        ("9410", "US", None),
        ("941051", "US", None),
        ("SW1A 1AA", "US", None),
        ("abcde", "US", None),
        # UK keeps its full postcode
        ("SW1A 1AA", "GB", "sw1a1aa"),
        ("sw1a1aa", "UK", "sw1a1aa"),
        ("EC1A 1BB", "United Kingdom", "ec1a1bb"),
        ("M1 1AE", "GB", "m11ae"),
        # elsewhere: lowercase, no spaces or dashes
        ("K1A 0B1", "CA", "k1a0b1"),
        ("10115", "DE", "10115"),
        ("75008", "France", "75008"),
        ("01310-100", "BR", "01310100"),
        ("100-0001", "JP", "1000001"),
        ("110001", "IN", "110001"),
        # country unknown: ZIP+4 is US, the rest generic
        ("94105-1234", None, "94105"),
        ("94105 1234", None, "94105"),
        ("94105", None, "94105"),
        ("SW1A 1AA", None, "sw1a1aa"),
        ("01310-100", None, "01310100"),
        ("", "US", None),
        ("-", None, None),
        (None, "US", None),
    ],
)
def test_normalize_postal(value: object, country: str | None, expected: str | None) -> None:
    assert normalize_postal(value, country) == expected


# --- country --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("us", "us"),
        ("US", "us"),
        (" Us ", "us"),
        ("USA", "us"),
        ("U.S.", "us"),
        ("U.S.A.", "us"),
        ("United States", "us"),
        ("united states", "us"),
        ("United States of America", "us"),
        ("GB", "gb"),
        ("GBR", "gb"),
        ("United Kingdom", "gb"),
        ("UK", "gb"),
        ("England", "gb"),
        ("DEU", "de"),
        ("Germany", "de"),
        ("france", "fr"),
        ("Netherlands", "nl"),
        ("The Netherlands", "nl"),
        ("Côte d'Ivoire", "ci"),
        ("Cote d'Ivoire", "ci"),
        ("South Korea", "kr"),
        ("Korea, Republic of", "kr"),
        ("Vietnam", "vn"),
        ("Viet Nam", "vn"),
        ("Russia", "ru"),
        ("Russian Federation", "ru"),
        ("Czechia", "cz"),
        ("Czech Republic", "cz"),
        ("Türkiye", "tr"),
        ("Turkey", "tr"),
        ("BRA", "br"),
        ("Japan", "jp"),
        ("IN", "in"),
        ("Narnia", None),
        ("XX", None),
        ("U", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_country(value: object, expected: str | None) -> None:
    assert normalize_country(value) == expected


def test_every_iso_country_maps_to_itself() -> None:
    import pycountry

    for country in pycountry.countries:
        code = country.alpha_2.lower()
        assert normalize_country(country.alpha_2) == code
        assert normalize_country(country.alpha_3) == code
        assert normalize_country(country.name) == code


# Written the way local address data writes them: in the customer's language, with or
# without accents, in any case.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Deutschland", "de"),
        ("DEUTSCHLAND", "de"),
        ("Bundesrepublik Deutschland", "de"),
        ("Allemagne", "de"),
        ("Italia", "it"),
        ("Repubblica Italiana", "it"),
        ("France", "fr"),
        ("Frankreich", "fr"),
        ("España", "es"),
        ("Espana", "es"),  # accents lost on the way
        ("ESPAÑA", "es"),
        ("Österreich", "at"),
        ("Osterreich", "at"),
        ("Schweiz", "ch"),
        ("Suisse", "ch"),
        ("Svizzera", "ch"),
        ("Nederland", "nl"),
        ("Polska", "pl"),
        ("Türkei", "tr"),
        ("Vereinigtes Königreich", "gb"),
        ("Royaume-Uni", "gb"),
        ("Estados Unidos", "us"),
        ("Stati Uniti", "us"),
        ("Brasil", "br"),
        ("México", "mx"),
        ("Ελλάδα", "gr"),
        ("ΕΛΛΑΔΑ", "gr"),  # Greek capitals are written without accents
        ("Российская Федерация", "ru"),
        ("日本", "jp"),
        ("中国", "cn"),
        ("대한민국", "kr"),
        # Devanagari writes vowels as marks: Togo and Tonga differ only in them.
        ("टोगो", "tg"),
        ("टोंगा", "to"),
        # One name, two countries in two languages: Kinyarwanda's Niger, Albanian's Nigeria.
        ("Nigeri", None),
        ("Niger", "ne"),
        ("Nigeria", "ng"),
    ],
)
def test_country_names_in_the_customers_language(value: str, expected: str | None) -> None:
    assert normalize_country(value) == expected


def test_a_name_meaning_two_countries_is_left_out() -> None:
    # The real case behind "Nigeri" above, read from pycountry's own catalogs.
    def translate(language: str, english: str) -> str:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]).gettext(english)

    assert translate("rw", "Niger") == translate("sq", "Nigeria") == "Nigeri"
    # And the rule on made-up catalogs: ambiguous keys are dropped, as written and folded;
    # codes and English names keep their meaning; the exact form tells marks apart.
    names = nz._translated_names_table(
        [("Fooland", "aa"), ("Fooland", "bb"), ("Barrë", "cc"), ("Barre", "dd"), ("Baz", "ee"), ("Germany", "xx")],
        known={"germany": "de"},
    )
    assert names.exact == {"barrë": "cc", "barre": "dd", "baz": "ee"}
    assert names.folded == {"baz": "ee"}


def test_every_translated_name_means_its_own_country_or_nothing() -> None:
    translations = set(nz._country_translations())
    assert len({code for _, code in translations}) > 240
    assert len({name for name, _ in translations}) > 20_000
    wrong = [
        (name, code, normalize_country(name))
        for name, code in translations
        # Where a code or an English name holds the key, that meaning wins (Guarani writes
        # "Mexico" for Malaysia).
        if nz._key(name) not in nz._COUNTRIES and normalize_country(name) not in (code, None)
    ]
    assert wrong == []


# --- external_id ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  AMP-123abc  ", "AMP-123abc"),
        ("3f2c1a9e-7b4d-4e8f-9a6b-1c2d3e4f5a6b", "3f2c1a9e-7b4d-4e8f-9a6b-1c2d3e4f5a6b"),
        ("ABC", "ABC"),  # not lowercased
        (12345, "12345"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_normalize_external_id(value: object, expected: str | None) -> None:
    assert normalize_external_id(value) == expected


# --- hashed_user_data -------------------------------------------------------------------


def test_hashed_user_data_full_row() -> None:
    row = {
        "external_id": " AMP-1 ",
        "email": " John_Smith@Gmail.com ",
        "phone": "(650) 555-1212",
        "given_name": "Zoe\u0308",
        "surname": "O'Brien-Smith",
        "birthdate": datetime.date(1990, 2, 3),
        "gender": "Female",
        "city": "San Francisco",
        "state": "California",
        "postal": "94105-1234",
        "country": "United States",
    }
    assert hashed_user_data(row) == {
        "em": JOHN_EMAIL_HASH,
        "ph": META_PHONE_HASH,
        "fn": h("zoë"),
        "ln": h("obriensmith"),
        "db": h("19900203"),
        "ge": h("f"),
        "ct": h("sanfrancisco"),
        "st": h("ca"),
        "zp": h("94105"),
        "country": h("us"),
        "external_id": h("AMP-1"),
    }


def test_hashed_user_data_uses_row_country_for_phone_state_postal() -> None:
    row = {
        "phone": "020 7946 0958",
        "state": "Greater London",
        "postal": "SW1A 1AA",
        "country": "GBR",
    }
    assert hashed_user_data(row) == {
        "ph": h("442079460958"),
        "st": h("greaterlondon"),
        "zp": h("sw1a1aa"),
        "country": h("gb"),
    }


def test_hashed_user_data_without_country_uses_default_region() -> None:
    row = {"phone": "020 7946 0958", "state": "Texas", "postal": "73301-0001"}
    assert hashed_user_data(row) == {"st": h("tx"), "zp": h("73301")}
    assert hashed_user_data(row, default_region="GB") == {
        "ph": h("442079460958"),
        "st": h("tx"),
        "zp": h("73301"),
    }


def test_hashed_user_data_omits_missing_and_unusable_values() -> None:
    row = {
        "external_id": "  ",
        "email": "not-an-email",
        "phone": "555-0134",
        "given_name": "---",
        "surname": None,
        "birthdate": "unknown",
        "gender": "x",
        "city": "",
        "state": "Calif",
        "postal": "941",
        "country": "US",
    }
    assert hashed_user_data(row) == {"country": h("us")}
    assert hashed_user_data({}) == {}
    assert hashed_user_data({"email": None, "country": "Narnia"}) == {}


def test_hashed_user_data_passes_prehashed_values_through() -> None:
    hashed_name = h("john")
    row = {
        "email": JOHN_EMAIL_HASH,
        "phone": " " + META_PHONE_HASH.upper() + " ",  # lowercased, as Meta expects
        "given_name": hashed_name,
        "external_id": hashed_name,
        "country": h("us"),
        "postal": "94105-1234",
    }
    assert hashed_user_data(row) == {
        "em": JOHN_EMAIL_HASH,
        "ph": META_PHONE_HASH,
        "fn": hashed_name,
        "external_id": hashed_name,
        "country": h("us"),
        # a hashed country gives no context; ZIP+4 is still recognized as US
        "zp": h("94105"),
    }


def test_hashed_user_data_never_returns_empty_values() -> None:
    row = {"email": "a@b.co", "given_name": "'", "city": "123", "gender": ""}
    result = hashed_user_data(row)
    assert result == {"em": h("a@b.co")}
    assert all(len(value) == 64 for value in result.values())


# Customers as local data writes them: the country in its own language, the phone national.
@pytest.mark.parametrize(
    ("country", "phone", "region", "e164", "alpha_2"),
    [
        ("Deutschland", "030 6459913", "DE", "49306459913", "de"),
        ("Italia", "02 1234 5639", "IT", "390212345639", "it"),
        ("France", "01 23 45 67 89", "FR", "33123456789", "fr"),
        ("FR", "01.23.45.67.89", "FR", "33123456789", "fr"),
        ("España", "912 34 56 78", "ES", "34912345678", "es"),
    ],
)
def test_local_customers_hash_as_phonenumbers_writes_their_numbers(country, phone, region, e164, alpha_2) -> None:
    number = phonenumbers.parse(phone, region)
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+" + e164
    assert hashed_user_data({"phone": phone, "country": country}) == {
        "ph": KNOWN_HASHES[e164],
        "country": KNOWN_HASHES[alpha_2],
    }
    assert nz.hash_user_data({"phone": phone, "country": country}).dropped == ()


def test_values_given_but_unusable_are_reported_by_key_and_reason() -> None:
    row = {
        "external_id": "amp-1",
        "email": "jane.doe@nowhere",
        "phone": "030 6459913",
        "given_name": "---",
        "surname": "  ",  # blank: missing, not dropped
        "birthdate": "0001-01-01",
        "gender": "x",
        "city": "12345",
        "country": "Narnia",  # unknown: the phone is read as the default region's (US), and is invalid there
    }
    result = nz.hash_user_data(row)
    assert result.hashed == {"external_id": h("amp-1")}
    assert result.dropped == (
        ("em", "not_an_email"),
        ("ph", "not_a_valid_number"),
        ("fn", "no_letters"),
        ("db", "not_a_date"),
        ("ge", "not_f_or_m"),
        ("ct", "no_letters"),
        ("country", "not_recognized"),
    )
    us_row = {"email": "a@b.co", "state": "Calif", "postal": "941", "country": "US"}
    assert nz.hash_user_data(us_row).dropped == (("st", "not_a_state"), ("zp", "not_a_postal_code"))
    assert set(nz.DROP_REASONS) == {"em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id"}
    # Missing, blank and already hashed values are never counted as dropped.
    assert nz.hash_user_data({"email": None, "phone": "", "country": h("de"), "city": JOHN_EMAIL_HASH}).dropped == ()


# --- caching --------------------------------------------------------------------------


def test_normalizers_are_memoized_and_bounded() -> None:
    for function in (
        normalize_email,
        normalize_phone,
        normalize_name,
        normalize_birthdate,
        normalize_gender,
        normalize_city,
        normalize_state,
        normalize_postal,
        normalize_country,
        normalize_external_id,
    ):
        info = function.cache_info()  # type: ignore[attr-defined]
        assert info.maxsize is not None and 2**10 <= info.maxsize <= 2**18
    normalize_phone.cache_clear()  # type: ignore[attr-defined]
    normalize_phone("(206) 555-0134", "US")
    normalize_phone("(206) 555-0134", "US")
    assert normalize_phone.cache_info().hits == 1  # type: ignore[attr-defined]


def test_row_hashing_is_memoized_without_filling_public_caches() -> None:
    normalize_phone.cache_clear()  # type: ignore[attr-defined]
    row = {"phone": "(206) 555-0199", "country": "US"}
    first = hashed_user_data(row)
    assert hashed_user_data(row) == first == {"ph": h("12065550199"), "country": h("us")}
    assert normalize_phone.cache_info().currsize == 0  # type: ignore[attr-defined]


def test_lookup_tables_have_no_surprises() -> None:
    assert nz._US_STATES["california"] == "ca"
    assert len(set(nz._US_STATES.values())) == 57  # 50 states, DC and 6 outlying areas


# --- cross-check with Meta's SDK --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "ours"),
    [
        ("em", "john_smith@gmail.com", normalize_email),
        ("em", " John_Smith@Gmail.COM ", normalize_email),
        ("em", "first.last+tag@sub.example.co.uk", normalize_email),
        ("ge", "f", normalize_gender),
        ("ge", "M", normalize_gender),
        ("db", "19900203", normalize_birthdate),
        ("ct", "San Francisco", normalize_city),
        ("ct", "St. Louis", normalize_city),
        ("ct", "Winston-Salem", normalize_city),
        ("fn", "John", normalize_name),
        ("fn", "  MARY ", normalize_name),
        ("ln", "Zoë", normalize_name),
        ("ln", "Смирнова", normalize_name),
        ("zp", "94105-1234", normalize_postal),
        ("zp", "94105", normalize_postal),
        ("zp", "SW1A 1AA", normalize_postal),
        ("st", "CA", normalize_state),
        ("st", "ny", normalize_state),
        ("country", "US", normalize_country),
        ("country", "gb", normalize_country),
        ("ph", "16505551212", normalize_phone),
        ("ph", "+44 20 7946 0958", normalize_phone),
        ("ph", "+1 (206) 555-0134", normalize_phone),
        ("ph", "0044 20 7946 0958", normalize_phone),
    ],
)
def test_agrees_with_meta_sdk(field: str, value: str, ours: Callable[[str], str | None]) -> None:
    assert Normalize.normalize_field(field, value) == sha256_hex(ours(value))


@pytest.mark.parametrize(
    ("field", "value", "sdk_normalized", "ours"),
    [
        # the documented rules win where the SDK deviates (meta-capi.md)
        ("fn", "O'Brien", "o'brien", "obrien"),
        ("ph", "(206) 555-0134", "2065550134", "12065550134"),
        ("ge", "Female", "female", "f"),
    ],
)
def test_documented_deviations_from_meta_sdk(field: str, value: str, sdk_normalized: str, ours: str) -> None:
    assert Normalize.normalize_field_skip_hashing(field, value) == sdk_normalized
    functions = {"fn": normalize_name, "ph": normalize_phone, "ge": normalize_gender}
    assert functions[field](value) == ours


def test_sdk_rejects_country_names_we_map() -> None:
    with pytest.raises(TypeError):
        Normalize.normalize_field("country", "United States")
    assert normalize_country("United States") == "us"


@pytest.mark.parametrize("placeholder", ["N/A", "n/a", "n-a", "N / A"])
def test_a_placeholder_for_no_country_is_not_namibia(placeholder):
    # Its letters are Namibia's code, but a slash or dash is how data writes "no value".
    assert normalize_country(placeholder) is None
    assert normalize_country("NA") == "na" and normalize_country("N.A.") == "na"  # written as a code
