"""A deterministic corpus of phone numbers as customer data holds them, to compare the SQL
macro meta_normalize_phones with Python's normalize_phone (tests/test_phones_sql.py).

Built from phonenumbers' own example numbers, so every region and number type is covered:

- each example number of every region (and non-geographic code) for every number type, and
  siblings of it with random last digits (valid or not, as the region's patterns decide);
- each written as E.164, INTERNATIONAL, NATIONAL and RFC3966, without '+', with '00' or the
  region's IDD prefix, with the punctuation people type (dots, dashes, brackets, spaces),
  extensions ("ext. 12", "x12", "#12", ";ext=12"), leading and trailing junk ("tel:",
  "Phone: ", " (mobile)"), full-width and Arabic-Indic digits, vanity letters;
- with the customer's country, without one, with a wrong one, and with one phonenumbers
  does not know;
- broken numbers (truncated, an extra digit, random digits) and junk strings.

``corpus()`` returns (phone, country) pairs, the phone trimmed as the caller trims it and the
country a lowercase ISO alpha-2 code (as normalize_country returns) or None. Same seed, same
corpus: a disagreement fixture can list rows of it exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType

DEFAULT_SEED = 20261123
SIBLINGS_PER_EXAMPLE = 5

NUMBER_TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
)
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EXTENSIONS = (" ext. 12", " x12", " #12", ";ext=12", " ext 345", ", 77", " доб. 5")
LEADING_JUNK = ("tel:", "Phone: ", "Tel. ", "(", "mobile ")
TRAILING_JUNK = (" (mobile)", ".", " !", " /x2", "*")
JUNK = (
    "n/a",
    "none",
    "-",
    "0",
    "00",
    "+",
    "++44",
    "123",
    "000-000-0000",
    "1-800-FLOWERS",
    "1 800 GOT JUNK",
    "call me",
    "+1 (555) 123-4567",
    "555-0134",
    "(206) 555-0134",
    "+44 (0) 20 7946 0958",
    "0044 20 7946 0958",
    "011 44 20 7946 0958",
    "+0 123 456 789",
    "+999 123 456 789",
    "tel:+1-650-253-0000;ext=123",
    "+1 650 253 0000 / +1 650 253 0001",
    "@@@@",
    "１２３",
    "+" + "9" * 30,
    "1" * 300,
)


def example_numbers() -> Iterator[tuple[str, phonenumbers.PhoneNumber]]:
    """(region, example number) for every region and type phonenumbers has an example of;
    region '001' for the non-geographic calling codes."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in NUMBER_TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                yield region, number
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            yield "001", number


def _sibling(number: phonenumbers.PhoneNumber, rng: random.Random) -> phonenumbers.PhoneNumber:
    """The number with its last 1-4 digits random: real-looking, valid or not."""
    national = phonenumbers.national_significant_number(number)
    keep = max(1, len(national) - rng.randint(1, 4))
    digits = national[:keep] + "".join(rng.choice("0123456789") for _ in national[keep:])
    return phonenumbers.parse(f"+{number.country_code}{digits}", None)


def _renderings(region: str, number: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    """The ways people write one number: the four formats and typed variants of them."""
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    rfc3966 = phonenumbers.format_number(number, PhoneNumberFormat.RFC3966)
    texts = [e164, international, national, rfc3966, e164[1:], "00" + e164[1:]]
    national_digits = "".join(char for char in national if char.isdigit())
    variants = [
        national_digits,
        national.replace(" ", "."),
        national.replace(" ", "-"),
        international.replace(" ", ""),
        international.replace(" ", "-"),
        "+" + international[1:].replace(" ", " (", 1).replace(" ", ") ", 1),
        national + rng.choice(EXTENSIONS),
        international + rng.choice(EXTENSIONS),
        rng.choice(LEADING_JUNK) + national,
        international + rng.choice(TRAILING_JUNK),
        national.translate(FULL_WIDTH),
        e164.translate(FULL_WIDTH),
        national.translate(ARABIC_INDIC),
        f"{national_digits[:3]} {national_digits[3:6]} {national_digits[6:]}".strip(),
    ]
    idd = _idd_prefix(region)
    if idd:
        variants.append(f"{idd} {international[1:]}")
    texts += rng.sample(variants, 4)
    return [text.strip() for text in texts]


def _idd_prefix(region: str) -> str | None:
    """A plain international prefix of the region (011 for the US), when it has one."""
    metadata = PhoneMetadata.metadata_for_region(region) if region != "001" else None
    if metadata is None:
        return None
    return metadata.preferred_international_prefix or (
        metadata.international_prefix if (metadata.international_prefix or "").isdigit() else None
    )


def _broken(number: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    """Invalid versions: truncated, one digit too many, random digits of the same length."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    digits = "".join(rng.choice("0123456789") for _ in range(len(e164) - 1))
    return [national[:-1], e164 + str(rng.randint(0, 9)), e164[:-2], "+" + digits, digits, national + "0"]


def _countries(region: str, countries: list[str], rng: random.Random) -> list[str | None]:
    """The customer's country (when it is an ISO code), none, a wrong one, an unknown one."""
    own = region.lower() if region.lower() in countries else None
    choices: list[str | None] = [own, None, rng.choice(countries)]
    if rng.random() < 0.1:
        choices.append("zz")
    return choices


def corpus(seed: int = DEFAULT_SEED) -> list[tuple[str, str | None]]:
    """(phone, country) pairs, about 230k, the same for the same seed."""
    import pycountry

    rng = random.Random(seed)
    countries = sorted(country.alpha_2.lower() for country in pycountry.countries)
    rows: list[tuple[str, str | None]] = []
    for region, example in example_numbers():
        numbers = [example] + [_sibling(example, rng) for _ in range(SIBLINGS_PER_EXAMPLE)]
        for number in numbers:
            for text in _renderings(region, number, rng):
                rows += [(text, country) for country in _countries(region, countries, rng)]
        for text in _broken(example, rng):
            rows += [(text, country) for country in _countries(region, countries, rng)[:2]]
    for text in JUNK:
        rows += [(text, None), (text, "us"), (text, "gb"), (text, rng.choice(countries))]
    # Duplicates and blanks, to check the macro keeps exactly one row per input row.
    rows += rows[:1000] + [("", None), ("", "us")]
    return rows


if __name__ == "__main__":
    rows = corpus()
    print(len(rows), len(set(rows)))
