"""The committed reference seeds (seeds/reference/) are what their generator scripts give with the
installed libraries: after upgrading pycountry, Babel or phonenumbers, regenerate and commit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from dbt_helpers import REPO_ROOT

REFERENCE = REPO_ROOT / "seeds" / "reference"


def load(script: Path):
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_currencies_seed_is_up_to_date():
    generator = load(REFERENCE / "generate_currencies.py")
    assert generator.OUTPUT.read_text() == generator.csv_text(), (
        "seeds/reference/meta_currencies.csv is stale: run python seeds/reference/generate_currencies.py"
    )


@pytest.mark.parametrize("code", ["USD", "JPY", "BHD", "CLF", "EUR"])
def test_the_currencies_seed_holds_the_decimals_amounts_are_rounded_to(code):
    from babel.numbers import get_currency_precision

    rows = dict(line.split(",") for line in (REFERENCE / "meta_currencies.csv").read_text().splitlines()[1:])
    assert int(rows[code]) == get_currency_precision(code)
