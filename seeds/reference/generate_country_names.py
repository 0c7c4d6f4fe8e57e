"""Generate the reference data of the text normalizers (macros/normalize/) from the Python oracle.

    .venv/bin/python seeds/reference/generate_country_names.py          # rewrite the files
    .venv/bin/python seeds/reference/generate_country_names.py --check  # exit 1 when one is stale

The dbt macros must give, byte for byte, what ``tests/reference_normalize.py`` gives. Its lookup tables
(pycountry's codes, English names, aliases, gettext translations, US subdivisions) and the
Unicode data of the Python that runs it (``unicodedata``, ``str.lower``/``casefold``/``isalnum``)
are frozen here:

- ``country_codes_and_names.csv``: ``_COUNTRIES`` (codes, English names, aliases) by ``_key``.
- ``country_translated_names_exact.csv`` / ``..._folded.csv``: ``_translated_names()`` by
  ``_exact_key`` / ``_key`` (names meaning two countries already left out).
- ``us_states.csv``: ``_US_STATES`` by ``_key``.
- ``unicode_key_folding.csv``: per code point, ``casefold`` and ``NFKD(casefold)`` where they
  change it: the per-character part of ``_exact_key`` and ``_key``, which SQL engines lack.
  Values are code points (decimal, space-separated) so no CSV reader trims or nulls them.
- ``macros/normalize/text_character_classes.sql``: the character classes of the rules
  (whitespace, letters, marks, digits, cased, case-ignorable) as code point ranges, so the
  SQL never depends on the Unicode version of the engine's regex library.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The reference normalizer the SQL is checked against (tests/reference_normalize.py): the seeds
# freeze its tables, so the two cannot drift apart.
sys.path.insert(0, str(HERE.parents[1] / "tests"))
import reference_normalize as normalize  # noqa: E402

CLASSES_MACRO = HERE.parents[1] / "macros" / "normalize" / "text_character_classes.sql"
UNICODE_VERSION = "14.0.0"  # Python 3.11's; the classes and the folding are of this version
CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
Row = tuple[object, ...]


def _csv(header: Row, rows: Iterable[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(sorted(rows))
    return out.getvalue()


def _code_points(text: str) -> str:
    return " ".join(str(ord(ch)) for ch in text)


def country_codes_and_names() -> str:
    return _csv(("lookup_key", "country_alpha2"), normalize._COUNTRIES.items())


def country_translated_names(kind: str) -> str:
    names = normalize._translated_names()
    return _csv(("lookup_key", "country_alpha2"), getattr(names, kind).items())


def us_states() -> str:
    return _csv(("lookup_key", "state_code"), normalize._US_STATES.items())


def unicode_key_folding() -> str:
    rows = []
    for cp in CODE_POINTS:
        ch = chr(cp)
        casefolded = ch.casefold()
        key_folded = unicodedata.normalize("NFKD", casefolded)
        if key_folded != ch or casefolded != ch:
            rows.append((cp, _code_points(casefolded), _code_points(key_folded)))
    return _csv(("code_point", "casefolded", "key_folded"), rows)


# -- character classes ---------------------------------------------------------------------------


def _ranges(predicate: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Maximal runs of code points (surrogates never match) for which ``predicate`` holds."""
    runs: list[tuple[int, int]] = []
    for cp in CODE_POINTS:
        if predicate(chr(cp)):
            if runs and runs[-1][1] == cp - 1:
                runs[-1] = (runs[-1][0], cp)
            else:
                runs.append((cp, cp))
    return runs


def _category_in(*prefixes: str) -> Callable[[str], bool]:
    return lambda ch: unicodedata.category(ch).startswith(prefixes)


def _final_sigma_preceder(ch: str) -> bool:
    """Cased and not case-ignorable: what str.lower() needs before a final sigma, found by
    asking str.lower() itself (Python does not expose the two properties)."""
    return (ch + "Σ").lower()[-1] == "ς" or ch == "Σ"


def _case_ignorable(ch: str) -> bool:
    return ("A" + ch + "Σ").lower()[-1] == "ς" and not _final_sigma_preceder(ch)


CLASSES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "whitespace": ("str.isspace(), str.strip() and the regex \\s", str.isspace),
    "letters_marks_digits": (
        "category L*, M* or Nd: fn, ln, st",
        lambda ch: _category_in("L", "M")(ch) or unicodedata.category(ch) == "Nd",
    ),
    "letters_marks": ("category L* or M*: ct", _category_in("L", "M")),
    "alphanumeric": ("str.isalnum(): _key, and zp outside the US (the regex [\\W_])", str.isalnum),
    "alphanumeric_or_mark": (
        "str.isalnum() or category M*: _exact_key",
        lambda ch: ch.isalnum() or _category_in("M")(ch),
    ),
    "decimal_digits": ("str.isdecimal(), the regex \\d: US ZIP codes", str.isdecimal),
    "word_letters": (
        "the regex [^\\W\\d_]: country codes written as two letters",
        lambda ch: ch.isalnum() and not ch.isdecimal() and ch != "_",
    ),
    "final_sigma_preceders": ("cased, not case-ignorable: before a final sigma", _final_sigma_preceder),
    "case_ignorable": ("case-ignorable: skipped around a final sigma", _case_ignorable),
}


def character_classes_macro() -> str:
    lines = [
        "{#-",
        "    GENERATED by seeds/reference/generate_country_names.py from Python "
        + f"{sys.version_info.major}.{sys.version_info.minor} (Unicode {unicodedata.unidata_version}): do not edit.",
        "    The character classes of tests/reference_normalize.py as inclusive code point ranges, so the",
        "    macros keep Python's classes whatever Unicode version the engine's regex library has",
        "    (DuckDB's RE2 knows Unicode 15: \\pL there holds letters Python 3.11 leaves unassigned).",
        "",
        "    The classes:",
        *(f"    - {name}: {why}" for name, (why, _) in CLASSES.items()),
        "-#}",
        "{#- One branch per class: a call builds the list it asks for alone. (A dictionary of every",
        "    class, built on each call, cost ~25 ms a call, 0.4-0.9 s of the customers model's compile.) -#}",
        "{% macro meta__character_class_ranges(name) -%}",
    ]
    for number, (name, (_, predicate)) in enumerate(CLASSES.items()):
        flat = ", ".join(f"[{low}, {high}]" for low, high in _ranges(predicate))
        lines.append(f"    {{%- {'if' if number == 0 else 'elif'} name == '{name}' -%}}")
        lines.append(f"        {{{{- return([{flat}]) -}}}}")
    lines += [
        "    {%- else -%}",
        "        {{ exceptions.raise_compiler_error('unknown character class: ' ~ name) }}",
        "    {%- endif -%}",
        "{%- endmacro %}",
        "",
    ]
    return "\n".join(lines)


def outputs() -> dict[Path, Callable[[], str]]:
    return {
        HERE / "country_codes_and_names.csv": country_codes_and_names,
        HERE / "country_translated_names_exact.csv": lambda: country_translated_names("exact"),
        HERE / "country_translated_names_folded.csv": lambda: country_translated_names("folded"),
        HERE / "us_states.csv": us_states,
        HERE / "unicode_key_folding.csv": unicode_key_folding,
        CLASSES_MACRO: character_classes_macro,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    if unicodedata.unidata_version != UNICODE_VERSION:
        print(f"warning: Unicode {unicodedata.unidata_version}, not {UNICODE_VERSION}", file=sys.stderr)
    stale = []
    for path, build in outputs().items():
        text = build()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(HERE.parents[1])))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
