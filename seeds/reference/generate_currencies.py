"""Write meta_currencies.csv: the currencies Meta takes (ISO 4217, as pycountry lists them) and
how many decimals their amounts have.

The decimals are CLDR's (through Babel), not ISO 4217's minor units: CLDR says how amounts are
written in practice (Hungarian forints and Colombian pesos without decimals, for example), and
an event's value and prices are rounded to them (README, "What it sends").

Regenerate after upgrading pycountry or Babel, and commit the result (a test compares the
committed file with what the installed libraries give):

    python seeds/reference/generate_currencies.py
"""

from __future__ import annotations

from pathlib import Path

import pycountry
from babel.numbers import get_currency_precision

OUTPUT = Path(__file__).with_name("meta_currencies.csv")


def currencies() -> list[tuple[str, int]]:
    return sorted((currency.alpha_3, get_currency_precision(currency.alpha_3)) for currency in pycountry.currencies)


def csv_text() -> str:
    lines = ["currency_code,minor_digits", *(f"{code},{digits}" for code, digits in currencies())]
    return "\n".join(lines) + "\n"


def main() -> None:
    OUTPUT.write_text(csv_text())


if __name__ == "__main__":
    main()
