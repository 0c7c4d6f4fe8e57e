"""The SQL macro meta_normalize_phones against Python's normalize_phone, on ~300k numbers.

dbt loads the phone seeds and compiles the macro (in a thread, while Python normalizes the
corpus: the two take about as long); DuckDB then runs the compiled SQL on the corpus. Every
disagreement must be listed in tests/fixtures/phone_disagreements.csv, exactly: a new one or
a fixed one both fail until the fixture is updated (input, country, python, sql, why).
"""

from __future__ import annotations

import csv
import json
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import phonenumbers
import psycopg2
import pytest
from dbt_helpers import REPO_ROOT, prepare_project, run_dbt_in_one_process, write_profile
from phone_corpus import corpus
from postgres_server import connect_args
from reference_normalize import normalize_phone

SEEDS_DIR = REPO_ROOT / "seeds" / "reference"
FIXTURE = Path(__file__).parent / "fixtures" / "phone_disagreements.csv"
FIXTURE_COLUMNS = ("input", "country", "python", "sql", "why")
MIN_AGREEMENT = 0.999
# The PostgreSQL test's share of the corpus: every 5th row (the whole took 58 s there).
POSTGRES_SLICE = 5
# Rows only the row-count test needs: NULL phones and countries, and duplicates of them.
NULL_ROWS = [(None, None), (None, "us"), (None, "us"), ("(206) 555-0134", None), ("(206) 555-0134", None)]


def _load_generator():
    import importlib.util

    path = SEEDS_DIR / "generate_phone_metadata.py"
    spec = importlib.util.spec_from_file_location("generate_phone_metadata", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compile_macro(tmp: Path, result: dict) -> None:
    """Seed the phone seeds and compile the macro over a relation `corpus` (a thread's work)."""
    try:
        project = prepare_project(tmp / "project", as_of=datetime(2026, 11, 23, 12))
        db_path, sql = tmp / "warehouse.duckdb", tmp / "phones.sql"
        run_dbt_in_one_process(_seed_and_compile(tmp / "target"), project, db_path, compiled_code_to=sql)
        result.update(db_path=db_path, sql=sql.read_text())
    except BaseException as error:  # re-raised in the test's thread
        result["error"] = error


def _seed_and_compile(target: Path, *engine: str) -> list[tuple[list[str], Path]]:
    """dbt commands (one process) that load the phone seeds, which the macro reads when compiled, and compile it."""
    inline = "{{ meta_normalize_phones('corpus', 'phone', 'country') }}"
    return [
        (["seed", *engine, "--select", "meta_phone_regions", "meta_phone_parsing"], target),
        (["compile", *engine, "--quiet", "--inline", inline], target),
    ]


def _python_results(rows: list[tuple[str | None, str | None]]) -> tuple[list[str | None], float]:
    """normalize_phone on each row (uncached, as a first sight of each number), and seconds."""
    normalize = normalize_phone.__wrapped__
    started = time.perf_counter()
    results = [normalize(phone.strip() if phone is not None else None, country) for phone, country in rows]
    return results, time.perf_counter() - started


def _sql_results(db_path: Path, sql: str, rows: list, tmp: Path) -> tuple[list[tuple[int, str | None]], float]:
    """(row_id, phone_e164) of the compiled macro over the rows, and the seconds it took."""
    lines = tmp / "corpus.jsonl"
    with lines.open("w", encoding="utf-8") as file:
        for row_id, (phone, country) in enumerate(rows):
            file.write(json.dumps({"row_id": row_id, "phone": phone, "country": country}) + "\n")
    with duckdb.connect(str(db_path), read_only=True) as con:
        con.execute(
            "create temp table corpus as select * from read_json(?, format = 'newline_delimited', "
            "columns = {'row_id': 'integer', 'phone': 'varchar', 'country': 'varchar'})",
            [str(lines)],
        )
        started = time.perf_counter()
        result = con.execute(f"select row_id, phone_e164 from ({sql})").fetchall()
        return result, time.perf_counter() - started


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """Both sides' results over the corpus plus NULL rows, with their timings."""
    tmp = tmp_path_factory.mktemp("phones")
    compiled: dict = {}
    worker = threading.Thread(target=_compile_macro, args=(tmp, compiled))
    worker.start()
    rows = corpus() + NULL_ROWS
    python, python_seconds = _python_results(rows)
    worker.join()
    if "error" in compiled:
        raise compiled["error"]
    sql, sql_seconds = _sql_results(compiled["db_path"], compiled["sql"], rows, tmp)
    return {"rows": rows, "python": python, "sql": sql, "python_seconds": python_seconds, "sql_seconds": sql_seconds}


def _postgres_results(env: dict[str, str], rows: list[tuple], tmp: Path) -> list[tuple[int, str | None]]:
    """(row_id, phone_e164) of the macro compiled for PostgreSQL, run there over (row_id, phone, country) rows."""
    project = prepare_project(tmp / "project", as_of=datetime(2026, 11, 23, 12))
    commands = _seed_and_compile(tmp / "target", "--target", "postgres")
    run_dbt_in_one_process(commands, project, tmp / "unused.duckdb", env=env, profiles_dir=write_profile(tmp / "profiles"),
                           compiled_code_to=tmp / "phones.sql")  # fmt: skip
    sql = (tmp / "phones.sql").read_text()
    with psycopg2.connect(**connect_args(env)) as con, con.cursor() as cursor:
        cursor.execute("create temp table corpus (row_id integer, phone varchar, country varchar)")
        records = [{"row_id": row_id, "phone": phone, "country": country} for row_id, phone, country in rows]
        cursor.execute(
            "insert into corpus select * from json_to_recordset(%s::json) as r(row_id integer, phone text, country text)",
            [json.dumps(records)],
        )
        cursor.execute("set jit = off")  # as the models do (meta_session_settings)
        cursor.execute(f"select row_id, phone_e164 from ({sql}) as normalized")
        return cursor.fetchall()


@pytest.mark.postgres
def test_postgres_gives_the_same_numbers_as_duckdb(parity, postgres_database, tmp_path):
    """PostgreSQL's regexes pick among alternatives by their own rules (longest, not first):
    the macro's postgres__ spellings must still give DuckDB's result. On every POSTGRES_SLICE-th
    corpus row, for CI's time: each example number of a region and type comes as a block of
    ~190 rows (siblings, spellings, countries), so the slice holds ~38 of each."""
    rows = [(row_id, *row) for row_id, row in enumerate(parity["rows"]) if row_id % POSTGRES_SLICE == 0]
    duckdb_results = sorted(result for result in parity["sql"] if result[0] % POSTGRES_SLICE == 0)
    assert len(duckdb_results) == len(rows) > 45_000
    assert sorted(_postgres_results(postgres_database, rows, tmp_path)) == duckdb_results


def _fixture_rows() -> set[tuple[str, str, str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as file:
        return {(row["input"], row["country"], row["python"], row["sql"]) for row in csv.DictReader(file)}


def test_one_output_row_per_input_row(parity):
    """Duplicates, blanks and NULLs in: exactly one row each out, none lost, none doubled."""
    row_ids = [row_id for row_id, _ in parity["sql"]]
    assert len(row_ids) == len(parity["rows"])
    assert sorted(row_ids) == list(range(len(parity["rows"])))


def test_sql_agrees_with_python_on_the_corpus(parity):
    """>= 99.9% agreement, and the disagreements are exactly the fixture's."""
    sql = dict(parity["sql"])
    disagreements = {
        (phone, country or "", python or "", sql[row_id] or "")
        for row_id, ((phone, country), python) in enumerate(zip(parity["rows"], parity["python"], strict=True))
        if python != sql[row_id]
    }
    count = len(parity["rows"])
    agreement = 1 - sum(python != sql[row_id] for row_id, python in enumerate(parity["python"])) / count
    print(
        f"\n{count} numbers, agreement {agreement:.5%}; per number: "
        f"SQL {parity['sql_seconds'] / count * 1e6:.1f} us, phonenumbers {parity['python_seconds'] / count * 1e6:.1f} us"
    )
    assert agreement >= MIN_AGREEMENT
    assert disagreements == _fixture_rows()


def test_sql_results_are_e164_digits(parity):
    """Digits only, with the calling code: what Meta's ph key wants (no '+', no spaces)."""
    for _, phone in parity["sql"]:
        assert phone is None or (phone.isdigit() and phone.isascii() and not phone.startswith("0"))


def test_seeds_were_generated_with_the_installed_phonenumbers():
    with (SEEDS_DIR / "meta_phone_parsing.csv").open(newline="", encoding="utf-8") as file:
        rules = dict(csv.reader(file))
    assert rules["phonenumbers_version"] == phonenumbers.__version__, (
        "regenerate: python seeds/reference/generate_phone_metadata.py"
    )


def test_seeds_are_what_the_generator_writes(tmp_path):
    """The committed seeds are the generator's output (nobody edited them by hand), and small."""
    _load_generator().write(tmp_path)
    for name in ("meta_phone_regions.csv", "meta_phone_parsing.csv"):
        committed = (SEEDS_DIR / name).read_bytes()
        assert committed == (tmp_path / name).read_bytes(), name
        assert len(committed) < 1_000_000
