"""An analyst's configuration never breaks the daily `dbt build`.

Every documented var gets a value other than its default, once on the command line (`--vars`) and
once in dbt_project.yml, and `dbt build` (seeds, unit tests, models, data tests) on the sample data
must exit 0 with the model holding exactly the rows the rules give for those values. The project's
own unit tests run in both builds: each one pins what its expectation depends on, so none may fail
because of what the user configured. A static check says the same of every unit test, with the
vars and macros each model reads found in its SQL.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from dbt_helpers import (
    REFERENCE_SEEDS,
    REPO_ROOT,
    create_source_tables,
    expected_model_rows,
    model_rows,
    prepare_project,
    project_vars,
    run_dbt,
    run_results,
    sample_rows,
    set_project_vars,
)

AS_OF = datetime(2026, 11, 23, 12, 0, 0)  # naive = UTC
DOCUMENTED_VARS = {
    "source_schema",
    "as_of",
    "lookback_days",
    "action_source",
    "event_name",
    "default_currency",
    "purchase_channels",
    "purchase_brands",
    "source_timezone",
    "default_phone_region",
}
# Not one default among them. The source schema holds the sample data loaded by hand, as a user's
# own tables would be; Asia/Kolkata (UTC+05:30, no daylight saving) moves every order 5.5 h.
NON_DEFAULT_VARS = {
    "source_schema": "pos",
    "as_of": "2026-11-23T13:00:00+01:00",  # 12:00 UTC
    "lookback_days": 30,
    "action_source": "phone_call",
    "event_name": "Lead",
    "default_currency": "eur",
    "purchase_channels": ["STORE", " call_center"],
    "purchase_brands": ["northwind", "Fabrikam"],
    "source_timezone": "Asia/Kolkata",
    "default_phone_region": "DE",
}
# The same configuration as a user would write it in dbt_project.yml (a list var may be a string).
NON_DEFAULT_PROJECT_VARS = {**NON_DEFAULT_VARS, "purchase_channels": "store, Call_Center"}
# Warnings the sample data raises on purpose (a duplicated customer, a 'US$' currency).
EXPECTED_WARNINGS = {"meta_offline_events_currency_has_three_letters", "unique_stg_amperity__customer_360_amperity_id"}


def test_every_documented_var_is_in_the_project_file_and_changed_here():
    assert set(project_vars()) == DOCUMENTED_VARS == set(NON_DEFAULT_VARS)
    defaults = project_vars()
    for name, value in NON_DEFAULT_VARS.items():
        assert value != defaults[name], name


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """`dbt build` with the non-default vars given on the command line, and set in dbt_project.yml."""
    root = tmp_path_factory.mktemp("dbt_vars")
    cli_project = prepare_project(root / "cli" / "project", AS_OF)
    file_project = prepare_project(root / "file" / "project", AS_OF)
    set_project_vars(file_project, **NON_DEFAULT_PROJECT_VARS)

    def build(project: Path, cli_vars: dict | None):
        db_path, target = project.parent / "warehouse.duckdb", project.parent / "target"
        create_source_tables(db_path, "pos", project / "seeds")
        result = run_dbt(["build"], project, db_path, target, vars=cli_vars, check=False)
        return db_path, target, result

    with ThreadPoolExecutor(max_workers=2) as pool:
        cli = pool.submit(build, cli_project, NON_DEFAULT_VARS)
        in_file = pool.submit(build, file_project, None)
        return {"cli": cli.result(), "file": in_file.result()}


@pytest.mark.parametrize("where", ["cli", "file"])
def test_build_with_every_var_changed_exits_0_and_runs_every_unit_test(builds, where):
    db_path, target, result = builds[where]
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    statuses = run_results(target)
    unit_tests = {unique_id: status for unique_id, status in statuses.items() if unique_id.startswith("unit_test.")}
    assert len(unit_tests) >= 25 and set(unit_tests.values()) == {"pass"}
    warned = {unique_id.split(".")[2] for unique_id, status in statuses.items() if status == "warn"}
    assert warned <= EXPECTED_WARNINGS  # in particular, every filter value matches some line
    assert set(statuses.values()) <= {"success", "pass", "warn"}
    # Sources elsewhere: no sample seeds (the reference seeds the rules need still load).
    assert not any(uid.startswith("seed.") and uid.split(".")[2] not in REFERENCE_SEEDS for uid in statuses)


@pytest.mark.parametrize("where", ["cli", "file"])
def test_build_with_every_var_changed_applies_every_value(builds, where):
    db_path, _, result = builds[where]
    assert result.returncode == 0
    lines, customers = sample_rows(db_path.parent / "project" / "seeds")
    expected = expected_model_rows(
        lines,
        customers,
        as_of=AS_OF,
        lookback_days=30,
        channels=["store", "call_center"],
        brands=["northwind", "fabrikam"],
        source_timezone="Asia/Kolkata",
        default_currency="EUR",
    )
    assert model_rows(db_path) == expected
    with duckdb.connect(str(db_path), read_only=True) as con:
        summary = con.execute(
            "select distinct lower(purchase_channel), lower(purchase_brand), action_source, event_name, "
            "window_as_of, window_lookback_days from main.meta_offline_events order by all"
        ).fetchall()
        no_currency = con.execute(
            "select distinct currency from main.meta_offline_events where order_id = 'ORD-NULL-CURRENCY'"
        ).fetchall()
    # Only the chosen channels and brands, and each of them (the model is not empty by accident).
    assert {row[0] for row in summary} == {"store", "call_center"}
    assert {row[1] for row in summary} == {"northwind", "fabrikam"}
    assert {row[2:] for row in summary} == {("phone_call", "Lead", AS_OF, 30)}
    assert no_currency == [("EUR",)]


# -- every unit test pins what its expectation depends on -----------------------------------------
# Where the sources live does not change what a unit test expects: its inputs are given.
VARS_NO_UNIT_TEST_DEPENDS_ON = {"source_schema"}
# Macros that read the warehouse: a unit test must never call them.
WAREHOUSE_MACROS = {"meta_first_send_completed", "meta_source_columns"}


def _macro_bodies() -> dict[str, str]:
    bodies = {}
    for path in sorted((REPO_ROOT / "macros").glob("*.sql")) + sorted((REPO_ROOT / "data-tests").rglob("*.sql")):
        for match in re.finditer(r"{%-?\s*macro\s+(\w+)\s*\((.*?){%-?\s*endmacro", path.read_text(), re.S):
            bodies[match.group(1)] = match.group(2)
    return bodies


def _reads(sql: str, bodies: dict[str, str]) -> tuple[set[str], set[str]]:
    """(vars, project macros) that SQL reads, directly or through the macros it calls.

    A var is read by `var('name')`, or by name through a macro argument such as
    `meta_matches_list_var('purchase_channel', 'purchase_channels')`: any quoted var name counts.
    """
    seen_macros, variables, pending = set(), set(), [sql]
    while pending:
        text = pending.pop()
        variables |= set(re.findall(r"['\"](\w+)['\"]", text)) & DOCUMENTED_VARS
        for name in re.findall(r"\b(\w+)\s*\(", text):
            if name in bodies and name not in seen_macros:
                seen_macros.add(name)
                pending.append(bodies[name])
    return variables, seen_macros


def _unit_tests() -> list[tuple[Path, dict]]:
    found = []
    for path in sorted((REPO_ROOT / "models").rglob("*.yml")):
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            found.append((path, unit_test))
    return found


def test_every_unit_test_pins_the_vars_and_macros_its_model_reads():
    bodies = _macro_bodies()
    models = {path.stem: path.read_text() for path in (REPO_ROOT / "models").rglob("*.sql")}
    unit_tests = _unit_tests()
    assert len(unit_tests) >= 25
    problems = []
    for path, unit_test in unit_tests:
        variables, macros = _reads(models[unit_test["model"]], bodies)
        overrides = unit_test.get("overrides") or {}
        unpinned_vars = variables - VARS_NO_UNIT_TEST_DEPENDS_ON - set(overrides.get("vars") or {})
        unpinned_macros = (macros & WAREHOUSE_MACROS) - set(overrides.get("macros") or {})
        if unpinned_vars or unpinned_macros:
            problems.append(f"{path.name}: {unit_test['name']} pins neither {sorted(unpinned_vars | unpinned_macros)}")
        for given in unit_test["given"]:
            # A dict fixture for a source takes its columns and types from the user's table.
            if given["input"].startswith("source(") and given.get("format") != "sql":
                problems.append(f"{path.name}: {unit_test['name']} gives {given['input']} as rows, not as typed SQL")
    assert problems == []


def test_the_static_check_finds_what_the_models_read():
    bodies = _macro_bodies()
    read = {path.stem: _reads(path.read_text(), bodies) for path in (REPO_ROOT / "models").rglob("*.sql")}
    assert read["int_item_lines_filtered_to_sendable"][0] == {
        "as_of",
        "lookback_days",
        "action_source",
        "purchase_channels",
        "purchase_brands",
    }
    assert "meta_first_send_completed" in read["int_item_lines_filtered_to_sendable"][1]
    assert read["stg_amperity__unified_itemized_transactions"][0] == {
        "source_schema",
        "source_timezone",
        "default_currency",
    }
    assert "meta_source_columns" in read["stg_amperity__customer_360"][1]
    assert read["meta_offline_events"][0] == {"action_source", "event_name"}
