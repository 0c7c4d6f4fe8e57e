"""Shared fixtures: a fake Meta API on 127.0.0.1 and a DuckDB file holding a line model and the
event models dbt builds from it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import fake_meta as fake_meta_module
import pytest
import run_folder
from event_models import EVENT_MODELS, build_event_models
from fake_meta import FakeMeta

from exporter import redact
from exporter.cli import main

# PostgreSQL fixtures (postgres_env, postgres_database, postgres_sample) for the tests marked `postgres`.
pytest_plugins = ("postgres_server", "postgres_sample")


def pytest_configure(config: pytest.Config) -> None:
    """The run's folder (run_folder.py), made before the pytest-xdist workers start: they inherit it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        os.environ[run_folder.VARIABLE] = tempfile.mkdtemp(prefix="meta-capi-tests-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(os.environ.pop(run_folder.VARIABLE), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """For pytest-xdist (scripts/test runs two workers more than cores, `--dist loadgroup`): the Spark tests
    share one Spark session and build, so they run in one worker, and so do those of the
    PostgreSQL build of postgres_sample.py; every other test runs in the worker of its module's
    other tests, as a module-scoped fixture (a dbt build, a corpus) is made again in each worker
    that runs one of them. The slow engines' tests are handed out first (scripts/test keeps this
    order), so that no worker is left alone with a long test at the end."""
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))
        elif "postgres_sample" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("postgres_sample"))
        elif not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(
        key=lambda item: 0 if item.get_closest_marker("spark") else 1 if item.get_closest_marker("postgres") else 2
    )


# SHA-256 of normalized values of customers from Germany, Italy, France and Spain, computed once with `printf %s VALUE | sha256sum`.
KNOWN_HASHES = {
    "49306459913": "b7751acd7197483b40d047a57db59b267f2e8b0376e93b726b617912c03d2ba8",
    "390212345639": "f0d3a329e187c64a44931e4c7f5ec3e2981aa7caa9ad702d5f3a56e3f0e3486b",
    "33123456789": "c473fbda80d42b39ba327f6a8b30fc64390255128a1b9d411179454bb58e5ec7",
    "34912345678": "09e1137c56694bc5239cc679499e2af06649d237dc24884b9db29ed6683910d9",
    "de": "959a45d44e6fcf58361ed004681556fe50129f2109e817dec098c00c9e5d2578",
    "it": "2ad8a7049d7c5511ac254f5f51fe70a046ebd884729056f0fe57f5160d467153",
    "fr": "67ad8f41a7bb0a18c45f3efd8f6a32bdcd832bcf8f3f2eb44006c03d53076e18",
    "es": "c0bc1e08f9743b2d50d5f1607503bf4e849af0e729fca896515bea955d70a33e",
}

TOKEN = "EAAtest-token-0123456789"
DATASET = "1234567890"
MODEL_ID = "model.offline_conversions.meta_offline_events"
MODEL_NAMES = ("meta_offline_events", *EVENT_MODELS)  # the line model, then the models built from it
DBT_INVOCATION = "00000000-0000-4000-8000-000000000001"  # the `dbt run` the `model` fixture stands for
MODEL_COLUMNS = (
    "external_id varchar, email varchar, phone varchar, given_name varchar, surname varchar, birthdate date, "
    "gender varchar, city varchar, state varchar, postal varchar, country varchar, order_id varchar, "
    "quantity integer, product_id varchar, timestamp timestamp, price double, currency varchar, "
    "action_source varchar, event_name varchar"
)


@pytest.fixture
def meta():
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET]) as server:
        yield server
        assert server.errors == []  # the fake itself must not have failed


def utc_now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def order_lines(count: int, first: int = 0, hours_ago: float = 5, customers: int = 50) -> list[dict]:
    """`count` orders of 1-3 lines each, from a small set of repeat customers."""
    when = utc_now_naive() - timedelta(hours=hours_ago)
    lines = []
    for number in range(first, first + count):
        customer = number % customers
        for line in range(1 + number % 3):
            lines.append(
                {
                    "external_id": f"amp-{customer:04d}",
                    "email": f"Customer.{customer}@Example.com",
                    "phone": f"+1 (206) 555-{customer:04d}",
                    "given_name": "Zoë",
                    "surname": "O'Brien",
                    "birthdate": None,
                    "gender": "female",
                    "city": "Seattle",
                    "state": "Washington",
                    "postal": "98101-1234",
                    "country": "US",
                    "order_id": f"ord-{number:06d}",
                    "quantity": 1 + line,
                    "product_id": f"sku-{line}",
                    "timestamp": when,
                    "price": 10.0 + line,
                    "currency": "USD",
                    "action_source": "physical_store",
                    "event_name": "Purchase",
                }
            )
    return lines


@dataclass
class ModelFile:
    """A DuckDB file with a `meta_offline_events` table, the event models built from it (as `dbt run`
    builds them, see event_models.py), and a dbt manifest that points at them."""

    database: Path
    target: Path

    def write(self, lines: list[dict], build: bool = True) -> None:
        con = duckdb.connect(str(self.database))
        con.execute(f"create or replace table main.meta_offline_events ({MODEL_COLUMNS})")
        if lines:
            names = list(lines[0])
            # One statement with a list per column: executemany inserts row by row, slowly.
            con.execute(
                f"insert into main.meta_offline_events ({', '.join(names)}) "
                f"select {', '.join('unnest(?)' for _ in names)}",
                [[line[name] for line in lines] for name in names],
            )
        con.close()
        if build:
            self.build_events()

    def build_events(self, as_of: datetime | None = None) -> None:
        """(Re)build the event models from the line table, as `dbt run` would at `as_of` (default now)."""
        build_event_models(self.database, as_of)
        self.record_build()

    def record_build(self) -> None:
        """Log the models' builds as dbt's on-run-end hook does (macros/record_model_builds.sql)."""
        with duckdb.connect(str(self.database)) as con:
            con.execute("create schema if not exists meta_capi")
            con.execute(
                "create table if not exists meta_capi.dbt_model_builds (invocation_id varchar not null, "
                "unique_id varchar not null, status varchar not null, recorded_at timestamp not null)"
            )
            con.executemany(
                "insert into meta_capi.dbt_model_builds values (?, ?, 'success', now())",
                [[DBT_INVOCATION, model_node_id(name)] for name in MODEL_NAMES],
            )

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.database))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def args(self, *extra: str) -> list[str]:
        return ["--database", str(self.database), "--dbt-target-path", str(self.target), *extra]


def model_node_id(name: str) -> str:
    return f"model.offline_conversions.{name}"


@pytest.fixture
def model(tmp_path) -> ModelFile:
    target = tmp_path / "target"
    target.mkdir()
    nodes = {
        model_node_id(name): {
            "resource_type": "model",
            "name": name,
            "database": "warehouse",  # DuckDB names the catalog after the file
            "schema": "main",
            "alias": name,
        }
        for name in MODEL_NAMES
    }
    # Each event model is built from the one before it, the first from the line model.
    parent_map = {model_node_id(child): [model_node_id(parent)] for parent, child in pairwise(MODEL_NAMES)}
    (target / "manifest.json").write_text(json.dumps({"nodes": nodes, "parent_map": parent_map}))
    # As `dbt run` leaves it: the latest invocation built the models.
    run_results = {
        "metadata": {"invocation_id": DBT_INVOCATION},
        "args": {"which": "run"},
        "results": [{"unique_id": node_id, "status": "success"} for node_id in nodes],
    }
    (target / "run_results.json").write_text(json.dumps(run_results))
    return ModelFile(tmp_path / "warehouse.duckdb", target)


@pytest.fixture
def scheduled_env(monkeypatch):
    """The environment of a scheduled run: a token and a dataset, nothing from the developer's shell."""
    for name in (
        "META_APP_SECRET",
        "META_TEST_EVENT_CODE",
        "DBT_DUCKDB_PATH",
        "DBT_TARGET_PATH",
        "META_API_VERSION",
        "META_GRAPH_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("META_DATASET_ID", DATASET)


@pytest.fixture
def export_env(monkeypatch, meta, scheduled_env):
    """A runner of main() in a scheduled run's environment, pointed at the fake Meta."""
    monkeypatch.setenv("META_GRAPH_URL", meta.url)

    def run(model: ModelFile, *extra: str) -> int:
        return main(model.args("--first-retry-wait", "0.01", *extra))

    return run


@pytest.fixture(autouse=True)
def forget_secrets():
    """Each test registers its own secrets (see exporter/redact.py); none carry over to the next."""
    yield
    redact.forget_all()


@pytest.fixture
def token_env(monkeypatch, meta):
    """The environment of `python -m exporter token ...` against the fake Meta, with this app secret."""

    def set_env(app_secret: str, graph_url: str | None = None) -> None:
        meta.app_secret = app_secret
        monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("META_APP_ID", meta.app_id)
        monkeypatch.setenv("META_APP_SECRET", app_secret)
        monkeypatch.setenv("META_GRAPH_URL", graph_url or meta.url)

    return set_env


@pytest.fixture
def request_bodies(monkeypatch) -> list[bytes]:
    """The raw bytes of every events request the fake Meta receives, in order."""
    bodies: list[bytes] = []
    read_body = fake_meta_module._Handler._read_body

    def recording(self, headers):
        body = read_body(self, headers)
        if self.path.split("?")[0].endswith("/events"):
            bodies.append(body)
        return body

    monkeypatch.setattr(fake_meta_module._Handler, "_read_body", recording)
    return bodies
