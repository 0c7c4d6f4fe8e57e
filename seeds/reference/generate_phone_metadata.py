"""Write the phone-number seeds the SQL macro ``meta_normalize_phones`` parses numbers with.

The exporter's Python normalizer parses phones with the ``phonenumbers`` library; the dbt
macro reproduces that parse in SQL. So that both read the same rules, the rules are not
typed into SQL by hand: this script copies them out of the installed ``phonenumbers``
(its per-region metadata and its parsing patterns) into two committed seeds:

- ``meta_phone_regions.csv``: one row per region and calling code (non-geographic entities
  such as +800 are region ``001``): calling code, rank among the regions sharing it (NANPA
  +1 has ~25), leading digits, international (IDD) prefix, national prefix for parsing and
  its transform rule, the general pattern and possible lengths, and
  ``valid_number_pattern``: the union of the number-type patterns ``is_valid_number``
  checks, each behind a two-digit tag of the lengths it allows (matched against
  ``lpad(length, 2, '0') || number``), so one full match checks pattern and length.
- ``meta_phone_parsing.csv``: name, value pairs: the location-independent patterns of
  ``phonenumberutil`` (viable number, extensions, trailing junk, second number, vanity
  letters), the Unicode decimal digits and letter keypad maps, limits, and
  ``phonenumbers_version``: the version this was generated with, so a mismatch with the
  installed library is visible (tests/test_phones_sql.py checks it).

Regenerate after upgrading ``phonenumbers`` (from the repository root):

    .venv/bin/python seeds/reference/generate_phone_metadata.py
    dbt seed --select meta_phone_regions meta_phone_parsing

Patterns are copied as ``phonenumbers`` writes them: they use only ``(?:...)``, ``[...]``,
``\\d``, ``{m,n}``, ``|``, ``?`` and capturing groups, which RE2, PostgreSQL's ARE and Java
all read. Python's Unicode classes that RE2 reads differently are spelled out here (``\\w``
becomes explicit ranges of letters and digits); digits other than ASCII are mapped to ASCII
by the macro before any pattern runs, so ``\\d`` only ever meets ASCII digits.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers import phonenumberutil as util

OUT_DIR = Path(__file__).resolve().parent
REGIONS_FILE = "meta_phone_regions.csv"
PARSING_FILE = "meta_phone_parsing.csv"
NON_GEO_REGION = util.REGION_CODE_FOR_NON_GEO_ENTITY  # "001"

# The number types is_valid_number accepts (phonenumberutil._number_type_helper).
NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

REGION_COLUMNS = (
    "metadata_id",
    "region_code",
    "country_calling_code",
    "region_rank",
    "regions_sharing_code",
    "is_main_region",
    "is_supported_region",
    "leading_digits",
    "international_prefix",
    "national_prefix_for_parsing",
    "national_prefix_transform_rule",
    "national_prefix_group_count",
    "general_pattern",
    "possible_lengths",
    "local_only_lengths",
    "min_length",
    "max_length",
    "valid_number_pattern",
)


def _lengths(values: tuple[int, ...]) -> str:
    """'7,10': possible lengths as the macro checks them (strpos in ',' || list || ',')."""
    return ",".join(str(value) for value in sorted(set(values)) if value > 0)


def _length_tag(lengths: tuple[int, ...]) -> str:
    """A pattern of the two-digit length tags, e.g. '(?:07|10)'."""
    return "(?:" + "|".join(f"{length:02d}" for length in sorted(set(lengths))) + ")"


def valid_number_pattern(metadata: PhoneMetadata) -> str | None:
    """The number types is_valid_number checks, as one pattern over '<2-digit length><number>'.

    A type matches when the number's length is one of the type's possible lengths (the
    general description's when the type lists none) and its pattern matches all of it.
    Types with the same lengths share one alternative, to keep the pattern short.
    """
    general = metadata.general_desc.possible_length
    by_lengths: dict[tuple[int, ...], list[str]] = {}
    for name in NUMBER_TYPES:
        desc = getattr(metadata, name)
        if desc is None or not desc.national_number_pattern:
            continue
        lengths = tuple(desc.possible_length) or tuple(general)
        if lengths == (-1,):
            continue  # the type does not exist in this region
        by_lengths.setdefault(lengths, []).append(desc.national_number_pattern)
    if not by_lengths:
        return None
    return "|".join(
        _length_tag(lengths) + "(?:" + "|".join(f"(?:{pattern})" for pattern in patterns) + ")"
        for lengths, patterns in by_lengths.items()
    )


def region_rows() -> Iterator[dict[str, object]]:
    """One row per (calling code, region), in phonenumbers' order of regions for the code."""
    supported = set(phonenumbers.SUPPORTED_REGIONS)
    for code in sorted(util.COUNTRY_CODE_TO_REGION_CODE):
        regions = util.COUNTRY_CODE_TO_REGION_CODE[code]
        for rank, region in enumerate(regions):
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            if metadata is None:
                raise SystemExit(f"no metadata for +{code} {region}")
            yield _region_row(metadata, code, region, rank, len(regions), region in supported)


def _region_row(metadata: PhoneMetadata, code: int, region: str, rank: int, sharing: int, supported: bool) -> dict:
    """The seed row of one region's metadata."""
    general = metadata.general_desc
    prefix = metadata.national_prefix_for_parsing or None
    lengths = [value for value in general.possible_length if value > 0]
    _check_prefixes(metadata, region)
    return {
        "metadata_id": region if region != NON_GEO_REGION else f"{NON_GEO_REGION}-{code}",
        "region_code": region,
        "country_calling_code": code,
        "region_rank": rank,
        "regions_sharing_code": sharing,
        "is_main_region": rank == 0,
        "is_supported_region": supported,
        "leading_digits": metadata.leading_digits or None,
        "international_prefix": metadata.international_prefix or None,
        "national_prefix_for_parsing": prefix,
        "national_prefix_transform_rule": metadata.national_prefix_transform_rule or None,
        "national_prefix_group_count": re.compile(prefix).groups if prefix else 0,
        "general_pattern": general.national_number_pattern,
        "possible_lengths": _lengths(general.possible_length),
        "local_only_lengths": _lengths(general.possible_length_local_only),
        "min_length": min(lengths),
        "max_length": max(lengths),
        "valid_number_pattern": valid_number_pattern(metadata),
    }


def _check_prefixes(metadata: PhoneMetadata, region: str) -> None:
    """Stop on metadata the macro's simplifications would misread.

    The macro treats an empty match of a prefix pattern as no match, and a transform rule's
    last group as taken part only when it captured something: true while no IDD prefix
    matches the empty string and no transform rule's last group can capture nothing.
    """
    if metadata.international_prefix and re.match(metadata.international_prefix, ""):
        raise SystemExit(f"{region}: the IDD prefix matches the empty string")
    rule, prefix = metadata.national_prefix_transform_rule, metadata.national_prefix_for_parsing
    if rule and prefix:
        last_group = re.compile(prefix).groups
        for probe in ("", "0", "00", "000"):
            match = re.match(prefix, probe)
            if match and match.group(last_group) == "":
                raise SystemExit(f"{region}: the transform rule's last group can capture nothing")


def word_character_ranges() -> str:
    """Python's Unicode ``\\w`` minus '_' (str.isalnum) as explicit ranges for a bracket
    expression: RE2 reads ``\\w`` as ASCII only. Surrogates are skipped (never in UTF-8)."""
    ranges: list[tuple[int, int]] = []
    start = None
    for point in range(sys.maxunicode + 2):
        alnum = point <= sys.maxunicode and not 0xD800 <= point <= 0xDFFF and chr(point).isalnum()
        if alnum and start is None:
            start = point
        elif not alnum and start is not None:
            ranges.append((start, point - 1))
            start = None
    return "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in ranges)


# Digits of the scripts phone numbers are most often typed in besides ASCII: full-width,
# Arabic-Indic, Extended Arabic-Indic (Persian, Urdu), Devanagari, Bengali, Thai.
COMMON_DIGIT_BLOCKS = (0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50)


def _common_digit(char: str) -> bool:
    return any(start <= ord(char) < start + 10 for start in COMMON_DIGIT_BLOCKS)


def _bracket(chars: str) -> str:
    """A bracket expression of exactly these characters, contiguous runs as ranges."""
    points = sorted({ord(char) for char in chars})
    runs: list[list[int]] = []
    for point in points:
        if runs and point == runs[-1][1] + 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return "[" + "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in runs) + "]"


def parsing_rows() -> Iterator[tuple[str, str]]:
    """(name, value) of the location-independent parsing rules of phonenumberutil."""
    digits = [chr(point) for point in range(sys.maxunicode + 1) if not 0xD800 <= point <= 0xDFFF]
    decimals = [char for char in digits if char.isdecimal() and not "0" <= char <= "9"]
    letters = "".join(util._ALPHA_MAPPINGS)
    yield "phonenumbers_version", phonenumbers.__version__
    # Mapped to ASCII before any pattern runs (and U+FF0B to '+', which parse treats alike).
    # translate() costs ~100 us a row with all ~650 digits, so the macro translates only
    # text that has any (the class), and with the common scripts' digits when it can.
    yield "non_ascii_digits", _bracket("".join(decimals) + "\uff0b")
    yield "rare_digits", _bracket("".join(char for char in decimals if not _common_digit(char)))
    yield "common_translate_from", "".join(char for char in decimals if _common_digit(char)) + "\uff0b"
    yield "common_translate_to", "".join(str(int(char)) for char in decimals if _common_digit(char)) + "+"
    yield "ascii_translate_from", "".join(decimals) + "\uff0b"
    yield "ascii_translate_to", "".join(str(int(char)) for char in decimals) + "+"
    yield "alpha_letters", letters + letters.lower()
    yield "alpha_digits", "".join(util._ALPHA_MAPPINGS.values()) * 2
    yield "valid_phone_number", util._VALID_PHONE_NUMBER
    yield "extension", util._EXTN_PATTERNS_FOR_PARSING
    yield "unwanted_end_chars", "[^#" + word_character_ranges() + "]+$"
    yield "second_number_start", util._SECOND_NUMBER_START
    yield "valid_alpha_phone", util._VALID_ALPHA_PHONE_PATTERN.pattern
    # Python's \s beyond ASCII (RE2's \s is ASCII only), for normalize_phone's retry rule;
    # U+0085 is left out: a C1 control that line-splitting readers take for a line break.
    yield "non_ascii_whitespace", "".join(char for char in digits if char.isspace() and ord(char) > 0x85)
    yield "max_input_length", str(util._MAX_INPUT_STRING_LENGTH)
    yield "min_nsn_length", str(util._MIN_LENGTH_FOR_NSN)
    yield "max_nsn_length", str(util._MAX_LENGTH_FOR_NSN)


def write(out_dir: Path = OUT_DIR) -> None:
    """Write both seeds into ``out_dir``."""
    with (out_dir / REGIONS_FILE).open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, REGION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in region_rows():
            writer.writerow({key: _cell(value) for key, value in row.items()})
    with (out_dir / PARSING_FILE).open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(("name", "value"))
        writer.writerows(parsing_rows())


def _cell(value: object) -> object:
    """CSV text: booleans as true/false (dbt's seed loader reads those), None as empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
