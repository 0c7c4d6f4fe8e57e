"""The benchmark: `python -m bench [--lines N]`. See bench/README.md for how to read the output."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench.generate import generate, warm_day
from bench.measure import Measured, busy_cpu_seconds, run_measured
from bench.sink import SinkProcess, SinkStats

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SCHEMA = "bench_source"
SOURCE_TABLES = ("unified_itemized_transactions", "customer_360")
# What only makes sense on DuckDB (its own query, its scan, the subsets the SDK baseline, the
# latency run and the warm run read from the DuckDB file): left out with --engine spark.
DUCKDB_ONLY = ("hand", "scan", "http", "sdk", "latency", "warm")
MODEL = "main.meta_offline_events"
SUBSET_INVOCATION = "00000000-0000-4000-8000-00000000beef"  # the `dbt run` a subset stands for
EVENTS = "main.meta_capi_events"
EVENT_MODELS = ("meta_capi_events", "meta_capi_rejected_lines")
EVENTS_SELECTOR = "models/events"  # the event models, built after the line model
CUSTOMERS = "main.int_meta_capi_customers_hashed"
WARM_LOOKBACK_DAYS = 7
COLD = "events dbt + exporter"  # the row the targets compare: the events' dbt time is the exporter's
WARM = "warm: events dbt + exporter"
RSS_LIMIT_MB = 1024
DATASET_ID = "1234567890"
TOKEN = "EAAbench-token-0123456789"
LOOKBACK_DAYS = 62
MODEL_COLUMNS = (
    "external_id", "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal",
    "country", "order_id", "quantity", "product_id", "timestamp", "price", "currency", "action_source", "event_name",
)  # fmt: skip

# The model's rules in one statement, as someone would write them without dbt: trim text and
# treat blanks as NULL, one row per customer (the same tie-break as int_customers_deduplicated),
# the send window, no cancellations/returns, quantity > 0, email or phone present, unit price.
HAND_QUERY = """
create or replace table bench_hand.meta_offline_events as
with customers as (
    select
        nullif(trim(amperity_id, ' \t\n\r'), '') as amperity_id,
        nullif(trim(email, ' \t\n\r'), '') as email,
        nullif(trim(phone, ' \t\n\r'), '') as phone,
        nullif(trim(given_name, ' \t\n\r'), '') as given_name,
        nullif(trim(surname, ' \t\n\r'), '') as surname,
        try_cast(birthdate as date) as birthdate,
        nullif(trim(gender, ' \t\n\r'), '') as gender,
        nullif(trim(city, ' \t\n\r'), '') as city,
        nullif(trim(state, ' \t\n\r'), '') as state,
        nullif(trim(postal, ' \t\n\r'), '') as postal,
        nullif(trim(country, ' \t\n\r'), '') as country
    from {schema}.customer_360
),
one_per_customer as (
    select * from customers
    where amperity_id is not null
    qualify row_number() over (
        partition by amperity_id
        order by (email is null and phone is null), email is null, phone is null, email, phone, given_name,
            surname, birthdate, gender, city, state, postal, country
    ) = 1
)
select
    c.amperity_id as external_id, c.email, c.phone, c.given_name, c.surname, c.birthdate, c.gender, c.city,
    c.state, c.postal, c.country,
    nullif(trim(t.order_id, ' \t\n\r'), '') as order_id,
    t.item_quantity as quantity,
    nullif(trim(t.product_id, ' \t\n\r'), '') as product_id,
    t.order_datetime as "timestamp",
    cast(cast(t.item_revenue as decimal(18, 4)) as double) / t.item_quantity as price,
    coalesce(upper(nullif(trim(t.currency, ' \t\n\r'), '')), 'USD') as currency,
    'physical_store' as action_source,
    'Purchase' as event_name
from {schema}.unified_itemized_transactions as t
join one_per_customer as c on c.amperity_id = nullif(trim(t.amperity_id, ' \t\n\r'), '')
where t.order_datetime > timestamp '{as_of}' - to_days({lookback})
    and t.order_datetime <= timestamp '{as_of}'
    and not coalesce(t.is_cancellation, false)
    and not coalesce(t.is_return, false)
    and t.item_quantity > 0
    and (c.email is not null or c.phone is not null)
"""


def model_counts(con, schema: str) -> dict:
    """What the bench reports of the models built in `schema`; `con` is a DuckDB connection or
    the exporter's SparkWarehouse (bench/spark.py)."""
    rows, orders = con.execute(
        f"select count(*), count(distinct order_id) from {schema}.meta_offline_events"
    ).fetchone()
    events, sendable, customers = con.execute(
        f"select count(*), count(*) filter (where reject_reason is null), "
        f"(select count(*) from {schema}.int_meta_capi_customers_hashed) from {schema}.meta_capi_events"
    ).fetchone()
    dropped = con.execute(
        f"select count(*) filter (where dropped_user_data is not null) from {schema}.int_meta_capi_customers_hashed"
    ).fetchone()[0]
    return dict(model_rows=rows, model_orders=orders, events=events, sendable_events=sendable,
                hashed_customers=customers, customers_with_dropped_values=dropped)  # fmt: skip


class MeasurementFailed(RuntimeError):
    def __init__(self, name: str, result: Measured, log: Path, reason: str | None = None) -> None:
        if reason is None:
            text = log.read_text(errors="replace")
            errors = [line for line in text.splitlines() if "error" in line.lower()]
            reason = errors[0] if errors else text.strip().splitlines()[-1] if text.strip() else "no output"
            reason = f"exit {result.returncode}: {reason}"
        self.result = result
        self.reason = reason[:200]
        super().__init__(f"{name}: {self.reason} (log: {log})")


@dataclass
class Row:
    """One line of the results table."""

    name: str
    count: int  # events, or rows for the steps that read or build rows
    unit: str  # "events" or "rows"
    wall_seconds: float
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)
    background_cores: float | None = None  # CPU used by other processes on the machine meanwhile
    processes: int | None = None  # most processes of the measured tree alive at once
    failed: bool = False

    @property
    def rate(self) -> float:
        return self.count / self.wall_seconds if self.wall_seconds else 0.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(args.data_dir).resolve()
        self.database = self.data / "bench.duckdb"
        self.latency_database = self.data / "latency.duckdb"
        self.baseline_database = self.data / "baseline.duckdb"
        self.target = self.data / "dbt-target"
        self.latency_target = self.data / "latency-target"
        self.warm_database = self.data / "warm.duckdb"
        self.warm_target = self.data / "warm-target"
        self.profiles = self.data / "profiles"
        self.spark = args.engine == "spark"
        self.spark_source = self.data / "spark-source"  # the source tables as parquet, for Spark
        # The `spark` target's SPARK_WAREHOUSE_DIR: its tables and Derby metastore.
        self.engine_env = {"SPARK_WAREHOUSE_DIR": str(self.data / "spark-warehouse")} if self.spark else {}
        self.logs = self.data / "logs"
        self.rows: list[Row] = []
        self.facts: dict = {}
        self.python = sys.executable
        self.sink: SinkProcess | None = None
        self.measurements: dict[str, Measured] = {}
        self.failures: list[str] = []

    # --- helpers ------------------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def measured(self, name: str, command: list[str], env: dict | None = None) -> Measured:
        log = self.logs / f"{name}.log"
        sink_before = self.sink.stats() if self.sink else None
        busy_before = busy_cpu_seconds()
        result = run_measured(command, log, env=env, cwd=ROOT)
        self.measurements[name] = result
        busy = busy_cpu_seconds() - busy_before
        ours = result.cpu_seconds + ((self.sink.stats() - sink_before).cpu_seconds if self.sink else 0.0)
        result.background_cores = max(0.0, busy - ours) / result.wall_seconds if result.wall_seconds else 0.0
        if result.returncode != 0:
            raise MeasurementFailed(name, result, log)
        return result

    def sink_delta(self, before: SinkStats) -> SinkStats:
        delta = self.sink.stats() - before
        if delta.mismatches or delta.errors:
            raise RuntimeError(f"the sink counted events inconsistently or answered errors: {delta}")
        return delta

    # --- steps --------------------------------------------------------------------------

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        for path in (self.database, self.latency_database, self.baseline_database, self.warm_database):
            for stale in (path, Path(f"{path}.wal")):
                stale.unlink(missing_ok=True)
        for folder in (self.target, self.latency_target, self.warm_target, self.logs, self.data / "results",
                       self.profiles, self.spark_source, self.data / "spark-warehouse"):  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)
        self.logs.mkdir()
        (self.data / "results").mkdir()
        self.as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        self.facts["as_of"] = self.as_of.isoformat(sep=" ")

    def generate(self) -> None:
        self.say(f"generating {self.args.lines:,} item lines into {self.database}")
        started = time.monotonic()
        counts = generate(str(self.database), self.args.lines, self.as_of, SOURCE_SCHEMA, clean=self.args.clean)
        seconds = time.monotonic() - started
        self.facts.update(source_lines=counts["lines"], source_customers=counts["customers"])
        self.facts["generate_seconds"] = round(seconds, 2)
        self.say(f"  {counts['lines']:,} lines, {counts['customers']:,} customers in {seconds:.1f}s")

    def dbt_command(self, database: Path, target: Path, as_of: str, lookback: int) -> list[str]:
        """The arguments every dbt command of the bench shares (before the selection)."""
        variables = json.dumps({"source_schema": SOURCE_SCHEMA, "as_of": as_of, "lookback_days": lookback})
        return [
            "--profiles-dir", str(self.profiles), "--project-dir", str(ROOT), "--target-path", str(target),
            "--log-path", str(self.logs / "dbt"), "--vars", variables, *(["--target", "spark"] if self.spark else []),
        ]  # fmt: skip

    def dbt_env(self, database: Path) -> dict:
        env = {**os.environ, "DBT_DUCKDB_PATH": str(database), **self.engine_env}
        env.pop("META_DATASET_ID", None)
        return env

    def dbt_run(self, name: str, label: str, selection: list[str], database: Path, target: Path, as_of: str,
                lookback: int) -> tuple[Measured, dict]:  # fmt: skip
        """A timed `dbt run` of `selection`: its row, and each model's execute time (run_results.json)."""
        dbt = str(Path(self.python).parent / "dbt")
        common = self.dbt_command(database, target, as_of, lookback)
        self.say(f"dbt run {' '.join(selection)}")
        result = self.measured(name, [dbt, "run", *selection, *common], env=self.dbt_env(database))
        run_results = json.loads((target / "run_results.json").read_text())
        # On Spark a model's compile counts too: meta_sql_in_steps writes its steps while rendering.
        phases = ("compile", "execute") if self.spark else ("execute",)
        models = {
            r["unique_id"].split(".")[-1]: round(sum(_seconds(t) for t in r["timing"] if t["name"] in phases), 3)
            for r in run_results["results"]
        }
        self.facts[f"{name}_model_seconds"] = models
        self.facts[f"{name}_models_elapsed_seconds"] = round(run_results["elapsed_time"], 3)
        slowest = sorted(models.items(), key=lambda item: -item[1])[:3]
        self.rows.append(
            Row(
                f"{label} (whole command)",
                0,
                "rows",
                result.wall_seconds,
                result.peak_rss_mb,
                result.cpu_seconds,
                f"models {run_results['elapsed_time']:.1f}s: " + ", ".join(f"{m} {t:.1f}s" for m, t in slowest),
                {"models_seconds": run_results["elapsed_time"], "model_seconds": models},
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )
        self.say(
            f"  {result.wall_seconds:.1f}s (models {run_results['elapsed_time']:.1f}s), peak RSS {result.peak_rss_mb:.0f} MB"
        )
        return result, models

    def dbt(self) -> None:
        self.profiles.mkdir()
        shutil.copy(ROOT / "profiles.example.yml", self.profiles / "profiles.yml")
        dbt = str(Path(self.python).parent / "dbt")
        common = self.dbt_command(self.database, self.target, self.facts["as_of"], LOOKBACK_DAYS)
        env = self.dbt_env(self.database)
        if self.spark:
            self.to_spark(env)
        # The reference seeds (currencies) are loaded once, not daily; the sample seeds are off
        # since source_schema names the bench's tables.
        self.say("dbt seed (the reference seeds; not timed)")
        self.measured("dbt-seed", [dbt, "seed", *common], env=env)
        # A scheduled `dbt run` finds its partial-parse cache from the previous day in target/.
        self.say("dbt parse (warms the partial-parse cache; not timed)")
        self.measured("dbt-parse", [dbt, "parse", *common], env=env)
        # The line model and the event models apart: the events' time counts as the exporter's.
        self.dbt_run("dbt-lines", "dbt run: line model", ["--exclude", EVENTS_SELECTOR], self.database, self.target,
                     self.facts["as_of"], LOOKBACK_DAYS)  # fmt: skip
        self.dbt_run("dbt-events", "dbt run: event models", ["--select", EVENTS_SELECTOR], self.database,
                     self.target, self.facts["as_of"], LOOKBACK_DAYS)  # fmt: skip
        if self.spark:  # in a process of its own, after dbt's: the metastore takes one at a time
            out = self.data / "results" / "spark-counts.json"
            self.measured("spark-counts", [self.python, "-m", "bench.spark", "counts", str(self.profiles), str(out)],
                          env=env)  # fmt: skip
            counts = json.loads(out.read_text())
        else:
            con = duckdb.connect(str(self.database), read_only=True)
            counts = model_counts(con, "main")
            con.close()
        self.facts.update(counts)
        line_row, events_row = self.rows[-2], self.rows[-1]
        line_row.count, events_row.count, events_row.unit = counts["model_rows"], counts["sendable_events"], "events"
        self.say(
            f"  {counts['model_rows']:,} model rows, {counts['model_orders']:,} orders, "
            f"{counts['sendable_events']:,} sendable events, {counts['hashed_customers']:,} customers"
        )

    def to_spark(self, env: dict) -> None:
        """The generated source tables as parquet files, registered as tables of the Spark
        warehouse in SOURCE_SCHEMA (var source_schema), where dbt reads them. Not timed."""
        self.say(f"copying the source tables to Spark ({self.spark_source}; not timed)")
        con = duckdb.connect(str(self.database), read_only=True)
        for table in SOURCE_TABLES:
            (self.spark_source / table).mkdir(parents=True)
            con.execute(
                f"copy {SOURCE_SCHEMA}.{table} to '{self.spark_source / table / 'data.parquet'}' (format parquet)"
            )
        con.close()
        self.measured("spark-load", [self.python, "-m", "bench.spark", "load", str(self.profiles), SOURCE_SCHEMA,
                                     str(self.spark_source)], env=env)  # fmt: skip

    def hand_query(self) -> None:
        con = duckdb.connect(str(self.database))
        try:
            con.execute("create schema if not exists bench_hand")
            sql = HAND_QUERY.format(schema=SOURCE_SCHEMA, as_of=self.facts["as_of"], lookback=LOOKBACK_DAYS)
            busy_before, cpu_before, started = busy_cpu_seconds(), time.process_time(), time.monotonic()
            con.execute(sql)
            seconds = time.monotonic() - started
            others = (busy_cpu_seconds() - busy_before) - (time.process_time() - cpu_before)
            rows = con.execute("select count(*) from bench_hand.meta_offline_events").fetchone()[0]
            columns = ", ".join(f'"{c}"' for c in MODEL_COLUMNS)
            differ = con.execute(
                f"select (select count(*) from (select {columns} from {MODEL} except all select {columns} from bench_hand.meta_offline_events)),"
                f"       (select count(*) from (select {columns} from bench_hand.meta_offline_events except all select {columns} from {MODEL}))"
            ).fetchone()
            con.execute("drop schema bench_hand cascade")
            con.execute("checkpoint")
        finally:
            con.close()
        same = differ == (0, 0)
        self.facts["hand_query_matches_model"] = same
        self.rows.append(
            Row(
                "hand-written DuckDB query",
                rows,
                "rows",
                seconds,
                None,
                None,
                "one create table as; same rows as the model" if same else f"DIFFERS from the model: {differ}",
                background_cores=max(0.0, others) / seconds,
            )
        )
        self.say(f"  hand-written query {seconds:.1f}s, same rows as the model: {same}")

    def make_subsets(self) -> None:
        rows, orders = self.make_subset(self.latency_database, self.latency_target, self.args.latency_lines)
        self.facts.update(latency_rows=rows, latency_orders=orders)
        rows, orders = self.make_subset(self.baseline_database, None, self.args.baseline_lines)
        self.facts.update(baseline_rows=rows, baseline_orders=orders)

    def make_subset(self, database: Path, target: Path | None, lines: int) -> tuple[int, int]:
        """A separate file holding the model's first `lines` lines (whole orders) and, with a
        `target`, their events and rejected lines and a manifest for them."""
        lines = min(lines, self.facts["model_rows"])
        con = duckdb.connect(str(database))
        try:
            con.execute(f"attach '{self.database}' as bench (read_only)")
            if lines >= self.facts["model_rows"]:
                cutoff = con.execute(f"select max(order_id) from bench.{MODEL}").fetchone()[0]
            else:
                cutoff = con.execute(
                    f"select order_id from bench.{MODEL} order by order_id, product_id limit 1 offset {lines - 1}"
                ).fetchone()[0]
            tables = ("meta_offline_events", *EVENT_MODELS) if target else ("meta_offline_events",)
            for table in tables:
                con.execute(
                    f"create table main.{table} as select * from bench.main.{table} where order_id <= ?", [cutoff]
                )
            rows, orders = con.execute(
                "select count(*), count(distinct order_id) from main.meta_offline_events"
            ).fetchone()
            con.execute("detach bench")
            if target:  # the build as dbt's on-run-end hook records it: the exporter checks it
                con.execute("create schema meta_capi")
                con.execute(
                    "create table meta_capi.dbt_model_builds (invocation_id varchar not null, unique_id varchar "
                    "not null, status varchar not null, recorded_at timestamp not null)"
                )
                for table in EVENT_MODELS:
                    con.execute(
                        "insert into meta_capi.dbt_model_builds values (?, ?, 'success', now())",
                        [SUBSET_INVOCATION, f"model.offline_conversions.{table}"],
                    )
        finally:
            con.close()
        if target:
            target.mkdir()
            ids = {table: f"model.offline_conversions.{table}" for table in tables}
            nodes = {
                ids[table]: {"resource_type": "model", "name": table, "schema": "main", "alias": table}
                for table in tables
            }
            parents = {ids[table]: [ids["meta_offline_events"]] for table in EVENT_MODELS}
            (target / "manifest.json").write_text(json.dumps({"nodes": nodes, "parent_map": parents}))
            # As a successful `dbt run` of the subset would leave it: the exporter checks it.
            results = {
                "metadata": {"invocation_id": SUBSET_INVOCATION},
                "args": {"which": "run"},
                "results": [{"unique_id": ids[table], "status": "success"} for table in EVENT_MODELS],
            }
            (target / "run_results.json").write_text(json.dumps(results))
        return rows, orders

    def scan(self) -> None:
        for kind, name, note in (
            ("payloads", "limit: DuckDB read of the payloads", "meta_capi_events' sendable rows, 10k per fetchmany"),
        ):
            limit = exporter_memory_limit()
            note += f"; DuckDB memory_limit {limit} as the exporter's default" if limit else ""
            self.say(f"limit: reading the model ({kind} scan)")
            out = self.data / "results" / f"scan-{kind}.json"
            memory = ["--memory-limit", limit] if limit else []
            result = self.measured(
                f"scan-{kind}",
                [
                    self.python,
                    "-m",
                    "bench.limits",
                    "scan",
                    "--order",
                    kind,
                    *memory,
                    "--database",
                    str(self.database),
                    "--relation",
                    EVENTS,
                    "--out",
                    str(out),
                ],
            )
            scanned = json.loads(out.read_text())
            self.rows.append(
                Row(
                    name,
                    scanned["rows"],
                    "rows",
                    scanned["seconds"],
                    result.peak_rss_mb,
                    None,
                    note + "; query and fetch loop only",
                    background_cores=result.background_cores,
                    processes=result.tree_max_processes,
                )
            )

    def http_limit(self) -> None:
        events = self.facts["sendable_events"]
        self.say(f"limit: posting {events:,} events in pre-built bodies to the sink")
        out = self.data / "results" / "http.json"
        before = self.sink.stats()
        result = self.measured("http-limit", [
            self.python, "-m", "bench.limits", "http", "--database", str(self.database), "--relation", EVENTS,
            "--url", f"{self.sink.url}/v26.0/{DATASET_ID}/events", "--events", str(events),
            "--concurrency", str(self.args.concurrency), "--out", str(out),
        ])  # fmt: skip
        delta = self.sink_delta(before)
        posted = json.loads(out.read_text())
        self.check_sink(delta, posted["events"], "http limit")
        self.rows.append(
            Row(
                "limit: HTTP path, pre-built bodies",
                posted["events"],
                "events",
                posted["seconds"],
                result.peak_rss_mb,
                None,
                f"{posted['requests']} requests; posting loop only",
                {
                    "bytes_per_event": round(delta.bytes / max(1, delta.events)),
                    "sink_cpu_seconds": round(delta.cpu_seconds, 2),
                },
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )

    def sdk_baseline(self) -> None:
        lines = self.facts["baseline_rows"]
        subset = lines < self.facts["model_rows"]
        self.say(f"SDK baseline on {lines:,} lines" + (" (a subset)" if subset else ""))
        out = self.data / "results" / "sdk.json"
        before = self.sink.stats()
        # A subset is read from its own file: sorting all the model's lines to export the first
        # few would charge the whole sort to a few events.
        database = self.baseline_database if subset else self.database
        result = self.measured("sdk-baseline", [
            self.python, "-m", "bench.sdk_baseline", "--database", str(database), "--relation", MODEL,
            "--url", self.sink.url, "--dataset-id", DATASET_ID, "--concurrency", str(self.args.concurrency),
            "--out", str(out),
        ])  # fmt: skip
        delta = self.sink_delta(before)
        sdk = json.loads(out.read_text())
        self.check_sink(delta, sdk["events"], "SDK baseline")
        note = f"{sdk['lines']:,} lines; {sdk['events_skipped']} orders unusable to the SDK"
        if subset:
            full = self.facts["model_orders"] / (sdk["events"] / result.wall_seconds)
            note = (
                f"SUBSET: the first {sdk['lines']:,} of {self.facts['model_rows']:,} lines, in their own file; "
                f"all would take ~{full:.0f}s at this rate"
            )
        self.rows.append(
            Row(
                "SDK baseline (facebook_business)",
                sdk["events"],
                "events",
                result.wall_seconds,
                result.peak_rss_mb,
                result.cpu_seconds,
                note,
                {"bytes_per_event": round(delta.bytes / max(1, delta.events)), "subset": subset, **sdk},
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )

    def exporter_command(self, database: Path, target: Path, report: Path, resend: bool = True) -> list[str]:
        # On Spark the exporter reads the `spark` target of the bench's profile, as dbt did.
        warehouse = (
            ["--target", "spark", "--profiles-dir", str(self.profiles)] if self.spark else ["--database", str(database)]
        )
        return [
            "-m", "exporter", "--graph-url", self.sink.url, "--dataset-id", DATASET_ID, *warehouse,
            "--dbt-target-path", str(target), *(["--resend"] if resend else []), "-q", "--report-json", str(report),
            "--concurrency", str(self.args.concurrency), *shlex.split(self.args.exporter_args),
        ]  # fmt: skip

    def exporter_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("META_") and k != "DBT_DUCKDB_PATH"}
        env["META_ACCESS_TOKEN"] = TOKEN
        env.update(self.engine_env)
        return env

    def run_exporter(
        self, name: str, database: Path, target: Path, resend: bool = True
    ) -> tuple[Measured, dict, SinkStats]:
        report_path = self.data / "results" / f"{name}.json"
        before = self.sink.stats()
        command = [self.python, *self.exporter_command(database, target, report_path, resend)]
        result = self.measured(name, command, env=self.exporter_env())
        delta = self.sink_delta(before)
        report = json.loads(report_path.read_text())
        self.check_sink(delta, report["events_accepted"], name)
        nothing_sent = report["rows_in_model"] and not report["events_sent"] and resend
        if report["rows_read"] < report["rows_in_model"] or nothing_sent:
            raise MeasurementFailed(
                name,
                result,
                self.logs / f"{name}.log",
                f"exit {result.returncode}, but read {report['rows_read']:,} of {report['rows_in_model']:,} "
                f"rows and sent {report['events_sent']:,} events (error: {report.get('error')})",
            )
        if report["events_sent"] != report["events_accepted"]:
            raise RuntimeError(f"{name}: sent {report['events_sent']} events, {report['events_accepted']} accepted")
        return result, report, delta

    def exporter(self) -> None:
        self.say("exporter end to end")
        result, report, delta = self.run_exporter("exporter", self.database, self.target)
        self.facts["exporter_report"] = {k: report[k] for k in (
            "rows_in_model", "rows_read", "rows_rejected", "events_built", "events_sent", "events_accepted",
            "batches", "requests", "retries", "duration_seconds", "rejected_by_reason", "exit_code")}  # fmt: skip
        self.rows.append(
            Row(
                "exporter (python -m exporter)",
                report["events_sent"],
                "events",
                result.wall_seconds,
                result.peak_rss_mb,
                result.cpu_seconds,
                f"{report['rows_read']:,} lines, {report['rows_rejected']:,} rejected; whole process, send log on",
                {
                    "exporter_duration_seconds": report["duration_seconds"],
                    "bytes_per_event": round(delta.bytes / max(1, delta.events)),
                    "sink_cpu_seconds": round(delta.cpu_seconds, 2),
                },
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )
        self.combined(COLD, "dbt run: event models (whole command)", "exporter (python -m exporter)")

    def combined(self, name: str, dbt_row: str, exporter_row: str) -> None:
        """The events' dbt time counts as the exporter's: one row with both, the parts shown."""
        by = {row.name: row for row in self.rows if not row.failed}
        dbt, exporter = by.get(dbt_row), by.get(exporter_row)
        if not dbt or not exporter:
            return
        self.rows.append(
            Row(
                name,
                exporter.count,
                "events",
                dbt.wall_seconds + exporter.wall_seconds,
                max(dbt.peak_rss_mb or 0, exporter.peak_rss_mb or 0),
                (dbt.cpu_seconds or 0) + (exporter.cpu_seconds or 0),
                f"dbt {dbt.wall_seconds:.1f}s (models {dbt.extra.get('models_seconds', 0):.1f}s) "
                f"+ exporter {exporter.wall_seconds:.1f}s; RSS the larger",
                {
                    "dbt_seconds": dbt.wall_seconds,
                    "dbt_models_seconds": dbt.extra.get("models_seconds"),
                    "exporter_seconds": exporter.wall_seconds,
                },  # fmt: skip
                background_cores=max(dbt.background_cores or 0, exporter.background_cores or 0),
            )
        )

    def warm(self) -> None:
        """The second day: a copy of the warehouse after the first send, a day of new orders,
        changed contact data, a 7-day window; dbt builds the events again and the exporter sends
        what Meta does not have yet (no --resend)."""
        for stale in (self.warm_database, Path(f"{self.warm_database}.wal")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(self.warm_target, ignore_errors=True)
        self.say("warm run: the second day, on a copy of the warehouse after the first send")
        shutil.copy(self.database, self.warm_database)
        shutil.copytree(self.target, self.warm_target)  # yesterday's partial-parse cache
        as_of = (datetime.fromisoformat(self.facts["as_of"]) + timedelta(days=1)).isoformat(sep=" ")
        counts = warm_day(str(self.warm_database), self.args.lines, datetime.fromisoformat(as_of), SOURCE_SCHEMA,
                          clean=self.args.clean)  # fmt: skip
        con = duckdb.connect(str(self.warm_database), read_only=True)
        known_before = con.execute(f"select count(*) from {CUSTOMERS}").fetchone()[0]
        con.close()
        self.dbt_run("dbt-warm-lines", "warm: dbt run: line model", ["--exclude", EVENTS_SELECTOR],
                     self.warm_database, self.warm_target, as_of, WARM_LOOKBACK_DAYS)  # fmt: skip
        self.dbt_run("dbt-warm-events", "warm: dbt run: event models", ["--select", EVENTS_SELECTOR],
                     self.warm_database, self.warm_target, as_of, WARM_LOOKBACK_DAYS)  # fmt: skip
        con = duckdb.connect(str(self.warm_database), read_only=True)
        (rows,) = con.execute(f"select count(*) from {MODEL}").fetchone()
        sendable, hashed_after = con.execute(
            f"select count(*) filter (where reject_reason is null), (select count(*) from {CUSTOMERS}) from {EVENTS}"
        ).fetchone()
        window_customers = con.execute(
            "select count(distinct customer_digest) from main.int_meta_capi_lines_checked"
        ).fetchone()[0]
        con.close()
        new = hashed_after - known_before
        known = 1 - new / window_customers if window_customers else 0.0
        self.facts["warm"] = {
            "as_of": as_of, "source_lines": counts["lines"], "new_day_lines": counts["day_lines"], "model_rows": rows,
            "sendable_events": sendable, "window_customers": window_customers, "customers_hashed_this_run": new,
            "known_customer_share": round(known, 4),
        }  # fmt: skip
        self.rows[-2].count = rows
        self.rows[-1].count, self.rows[-1].unit = sendable, "events"
        self.rows[-1].note += f"; {new:,} of {window_customers:,} window customers hashed ({known:.1%} known)"
        self.say(f"  {window_customers:,} distinct customers in the window, {known:.1%} already hashed")
        self.say("warm run: the exporter (only what Meta does not have: new and changed events)")
        result, report, _ = self.run_exporter("exporter-warm", self.warm_database, self.warm_target, resend=False)
        self.facts["warm"]["exporter_report"] = {k: report[k] for k in (
            "rows_in_model", "rows_read", "events_built", "events_skipped", "events_sent", "duration_seconds")}  # fmt: skip
        self.rows.append(
            Row(
                "warm: exporter (new and changed events)",
                report["events_sent"],
                "events",
                result.wall_seconds,
                result.peak_rss_mb,
                result.cpu_seconds,
                f"{report['events_built']:,} events in the window, {report['events_skipped']:,} already accepted",
                {"events_in_window": report["events_built"]},
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )
        self.combined(WARM, "warm: dbt run: event models (whole command)",
                      "warm: exporter (new and changed events)")  # fmt: skip

    def latency(self) -> None:
        delay = self.args.latency
        subset = self.facts["latency_rows"] < self.facts["model_rows"]
        self.say(f"exporter with {delay * 1000:.0f} ms per request on {self.facts['latency_rows']:,} lines")
        self.sink.set_delay(delay)
        try:
            result, report, _ = self.run_exporter("exporter-latency", self.latency_database, self.latency_target)
        finally:
            self.sink.set_delay(0)
        ideal = self.args.concurrency * 1000 / delay
        # What even a perfect client needs: its requests in waves of `concurrency`, each `delay` long.
        floor = math.ceil(report["batches"] / self.args.concurrency) * delay
        note = f"{report['batches']} requests, >= {floor:.1f}s for any client" + (
            f"; SUBSET: {self.facts['latency_rows']:,} of {self.facts['model_rows']:,} lines" if subset else ""
        )
        self.rows.append(
            Row(
                f"exporter, {delay * 1000:.0f} ms per request",
                report["events_sent"],
                "events",
                result.wall_seconds,
                result.peak_rss_mb,
                result.cpu_seconds,
                note,
                {"exporter_duration_seconds": report["duration_seconds"]},
                background_cores=result.background_cores,
                processes=result.tree_max_processes,
            )
        )
        self.facts["latency_ideal_events_per_second"] = ideal
        self.facts["latency_floor_seconds"] = floor

    def profile(self) -> None:
        self.say("profiling the exporter (sampling its main thread) on the latency subset, no delay")
        out = self.data / "results" / "profile.json"
        report = self.data / "results" / "exporter-profile-report.json"
        command = [
            self.python,
            "-m",
            "bench.profile",
            str(out),
            *self.exporter_command(self.latency_database, self.latency_target, report),
        ]
        result = self.measured("exporter-profile", command, env=self.exporter_env())
        profile = json.loads(out.read_text())
        self.facts["profile"] = {"wall_seconds": round(result.wall_seconds, 2), **profile}

    def check_sink(self, delta: SinkStats, expected: int, name: str) -> None:
        if delta.events != expected:
            raise RuntimeError(f"{name}: the sink counted {delta.events} events, the client reports {expected}")

    # --- output -------------------------------------------------------------------------

    def ratios(self) -> list[tuple[str, float | None, str, bool | None]]:
        by = {row.name: row for row in self.rows if not row.failed}
        cold, warm = by.get(COLD), by.get(WARM)
        sdk = by.get("SDK baseline (facebook_business)")
        http = by.get("limit: HTTP path, pre-built bodies")
        latency = next((row for row in self.rows if row.name.startswith("exporter, ") and not row.failed), None)
        dbt_lines = by.get("dbt run: line model (whole command)")
        hand = by.get("hand-written DuckDB query")
        out = []
        if cold and sdk:
            value = cold.rate / sdk.rate
            out.append(("events dbt + exporter / SDK baseline (events/s)", value, ">= 2.5x", value >= 2.5))
        if cold and http:
            value = cold.rate / http.rate
            out.append(("events dbt + exporter / HTTP-path limit (events/s)", value, ">= 40%", value >= 0.4))
        if latency:
            ideal = self.facts["latency_ideal_events_per_second"]
            value = latency.rate / ideal
            out.append((f"latency-bound exporter / ideal {ideal:,.0f} events/s", value, ">= 90%", value >= 0.9))
        if cold and warm:
            value = cold.wall_seconds / warm.wall_seconds
            out.append(("warm speed-up: cold / warm seconds (events dbt + exporter)", value, "report", None))
            window = warm.extra.get("events_in_window") or by["warm: exporter (new and changed events)"].extra.get(
                "events_in_window"
            )
            if window:
                value = (window / warm.wall_seconds) / (self.facts["sendable_events"] / cold.wall_seconds)
                out.append(("warm speed-up: events of the window per second", value, "report", None))
        for name in ("dbt run: line model (whole command)", "dbt run: event models (whole command)",
                     "exporter (python -m exporter)", "warm: dbt run: event models (whole command)"):  # fmt: skip
            row = by.get(name)
            if row and row.peak_rss_mb:
                label = name.replace(" (whole command)", "").replace(" (python -m exporter)", "")
                out.append((f"peak RSS, {label} (MB)", row.peak_rss_mb, "<= 1 GB, within 20% of 1M",
                            row.peak_rss_mb <= RSS_LIMIT_MB))  # fmt: skip
        if hand and dbt_lines:
            value = dbt_lines.extra["models_seconds"] / hand.wall_seconds
            out.append(("dbt line model (models only) / hand-written query", value, "<= 1.5x", value <= 1.5))
        return out

    def table(self) -> str:
        header = f"{'measurement':<40} {'events/rows':>12} {'wall s':>8} {'per s':>10} {'peak RSS MB':>11} {'bg load':>7}  note"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            rss = f"{row.peak_rss_mb:>11.0f}" if row.peak_rss_mb is not None else f"{'':>11}"
            load = f"{row.background_cores:>7.2f}" if row.background_cores is not None else f"{'':>7}"
            note = row.note + (
                f"; {row.processes} processes, RSS = their summed PSS" if (row.processes or 1) > 1 else ""
            )
            lines.append(
                f"{row.name:<40} {row.count:>12,} {row.wall_seconds:>8.2f} {row.rate:>10,.0f} {rss} {load}  {note}"
            )
        if "latency_ideal_events_per_second" in self.facts:
            ideal = self.facts["latency_ideal_events_per_second"]
            lines.append(
                f"{'ideal at that latency':<40} {'':>12} {'':>8} {ideal:>10,.0f} {'':>11} {'':>7}  "
                f"concurrency {self.args.concurrency} x 1000 events / {self.args.latency:g} s"
            )
        lines += ["", f"{'ratio':<56} {'measured':>10}  {'target':<36} met"]
        for name, value, target, met in self.ratios():
            shown = (
                f"{value:>9.0f} " if "RSS" in name else f"{value:>9.1%} " if "%" in target[:6] else f"{value:>9.2f}x"
            )
            verdict = "-" if met is None else "yes" if met else "NO"
            lines.append(f"{name:<56} {shown:>10}  {target:<36} {verdict}")
        return "\n".join(lines)

    def machine(self) -> dict:
        cpu = platform.processor() or ""
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        try:
            memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        except (ValueError, OSError):
            memory_gb = None
        machine = {
            "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_gb, 1) if memory_gb else None,
            "python": platform.python_version(), "duckdb": duckdb.__version__, "platform": platform.platform(),
        }  # fmt: skip
        if self.spark:
            import pyspark

            machine["spark"] = pyspark.__version__
        return machine

    def run(self) -> int:
        args = self.args
        started = time.monotonic()
        facts_path = self.data / "facts.json"
        if self.spark:
            left_out = [name for name in DUCKDB_ONLY if name not in args.skip]
            args.skip = [*args.skip, *left_out]
            left_out += ["profile"] if args.profile else []  # it samples the exporter on the DuckDB subset
            self.say(f"--engine spark: the DuckDB-only measurements are left out ({', '.join(left_out)})")
        reused = args.reuse and facts_path.exists() and self.database.exists()
        if reused:
            self.facts = json.loads(facts_path.read_text())
            held = (self.facts.get("source_lines"), self.facts.get("clean", False), self.facts.get("engine", "duckdb"))
            if held != (args.lines, args.clean, args.engine):
                raise RuntimeError(
                    f"--reuse: {self.data} holds {held[0]} lines (clean: {held[1]}, engine {held[2]}), "
                    f"not {args.lines} (clean: {args.clean}, engine {args.engine})"
                )
            self.rows = [Row(**row) for row in self.facts.pop("build_rows")]
            for folder in (self.logs, self.data / "results"):
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
            self.say(f"reusing the data and model built {self.facts['as_of']} (--reuse)")
            # The subsets follow this run's --latency-lines and --baseline-lines.
            for path in (self.latency_database, self.baseline_database):
                for stale in (path, Path(f"{path}.wal")):
                    stale.unlink(missing_ok=True)
            shutil.rmtree(self.latency_target, ignore_errors=True)
            if not self.spark:
                self.make_subsets()
        else:
            self.prepare()
            self.facts.update(clean=args.clean, engine=args.engine)
            self.generate()
            self.dbt()
            if "hand" not in args.skip:
                self.hand_query()
            if not self.spark:
                self.make_subsets()
            facts_path.write_text(
                json.dumps({**self.facts, "build_rows": [asdict(row) for row in self.rows]}, default=str)
            )
        with SinkProcess(procs=args.sink_procs) as self.sink:
            self.facts["sink"] = {"url": self.sink.url, "procs": args.sink_procs}
            # The warm run last: it starts from the warehouse the cold exporter run left.
            steps = {"scan": self.scan, "http": self.http_limit, "sdk": self.sdk_baseline,
                     "exporter": self.exporter, "latency": self.latency, "warm": self.warm}  # fmt: skip
            names = {"scan": "limit: DuckDB read of the payloads", "http": "limit: HTTP path, pre-built bodies",
                     "sdk": "SDK baseline (facebook_business)", "exporter": "exporter (python -m exporter)",
                     "latency": f"exporter, {args.latency * 1000:.0f} ms per request",
                     "warm": "warm run"}  # fmt: skip
            for name, step in steps.items():
                if name in args.skip or (name == "warm" and "exporter" in args.skip):
                    continue
                try:
                    step()
                except MeasurementFailed as failure:
                    self.say(f"  FAILED: {failure}")
                    self.failures.append(str(failure))
                    result = failure.result
                    self.rows.append(
                        Row(
                            names[name],
                            0,
                            "events",
                            result.wall_seconds,
                            result.peak_rss_mb,
                            result.cpu_seconds,
                            f"FAILED, {failure.reason}",
                            background_cores=result.background_cores,
                            processes=result.tree_max_processes,
                            failed=True,
                        )
                    )
            if args.profile and not self.spark:
                try:
                    self.profile()
                except MeasurementFailed as failure:
                    self.failures.append(str(failure))
        self.facts["total_seconds"] = round(time.monotonic() - started, 1)
        if self.spark:
            self.facts["skipped_on_spark"] = left_out
        machine = self.machine()
        print(
            f"\nBenchmark: {args.lines:,} item lines ({'clean' if args.clean else 'varied'} data), "
            f"concurrency {args.concurrency}, as_of {self.facts['as_of']} UTC, on {args.engine}"
        )
        print(
            f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; Python {machine['python']}, DuckDB {machine['duckdb']}"
            + (f", Spark {machine['spark']} (local mode)" if "spark" in machine else "")
        )
        if self.facts.get("skipped_on_spark"):
            print(f"Left out on Spark (DuckDB-only measurements): {', '.join(self.facts['skipped_on_spark'])}")
        print(
            f"Model: {self.facts['model_rows']:,} rows, {self.facts['model_orders']:,} orders, "
            f"{self.facts['sendable_events']:,} sendable events, {self.facts['hashed_customers']:,} customers hashed "
            f"(source generated in {self.facts['generate_seconds']}s); bench total {self.facts['total_seconds']}s\n"
        )
        print(self.table())
        if "warm" in self.facts:
            warm = self.facts["warm"]
            print(
                f"\nWarm run (as_of {warm['as_of']}, {WARM_LOOKBACK_DAYS}-day window): {warm['new_day_lines']:,} new lines, "
                f"{warm['model_rows']:,} model rows, {warm['sendable_events']:,} sendable events; "
                f"{warm['customers_hashed_this_run']:,} of {warm['window_customers']:,} distinct customers hashed "
                f"({warm['known_customer_share']:.1%} already known)"
            )
        busy = [row for row in self.rows if (row.background_cores or 0) > 0.3]
        if busy:
            print(
                f"\nWARNING: other processes kept up to {max(r.background_cores for r in busy):.1f} of "
                f"{os.cpu_count()} cores busy during: {', '.join(r.name for r in busy)} (column 'bg load'). "
                "Those figures are pessimistic; rerun on a quiet machine."
            )
        if "profile" in self.facts:
            print("\n" + profile_summary(self.facts["profile"]))
        if args.json:
            payload = {
                "lines": args.lines, "concurrency": args.concurrency, "machine": machine, "facts": self.facts,
                "rows": [{**asdict(row), "per_second": row.rate} for row in self.rows],
                "processes": {name: asdict(measured) for name, measured in self.measurements.items()},
                "ratios": [{"name": n, "value": v, "target": t, "met": m} for n, v, t, m in self.ratios()],
                "failures": self.failures,
            }  # fmt: skip
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
            print(f"\nresults written to {args.json}")
        if self.failures:
            print("\nFAILED measurements:\n  " + "\n  ".join(self.failures))
        return 1 if self.failures else 0


def exporter_memory_limit() -> str | None:
    """The exporter's default --duckdb-memory-limit, so the ordered scan reads under the same limit."""
    try:
        from exporter.cli import build_parser

        return build_parser().get_default("duckdb_memory_limit")
    except Exception:  # the exporter changed shape: scan without a limit
        return None


def profile_summary(profile: dict, top: int = 15) -> str:
    lines = [
        f"Where the exporter's main thread spends its time ({profile['samples']} samples, "
        f"run of {profile['wall_seconds']}s under the sampler):",
        "  self (innermost Python function, incl. C it calls):",
    ]
    for name, share in list(profile["self"].items())[:top]:
        lines.append(f"    {share:6.1%}  {name}")
    lines.append("  inclusive, exporter/ functions:")
    shown = [(n, s) for n, s in profile["inclusive"].items() if n.startswith("exporter/")][:top]
    for name, share in shown:
        lines.append(f"    {share:6.1%}  {name}")
    return "\n".join(lines)


def _seconds(timing: dict) -> float:
    start = datetime.fromisoformat(timing["started_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Generate N item lines, build the model with dbt, and measure the SDK baseline, the limits, "
        "the exporter and the latency-bound case against a local sink, in one run.",
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="item lines to generate (default: %(default)s)")
    parser.add_argument(
        "--baseline-lines",
        type=int,
        default=200_000,
        help="lines the SDK baseline exports: the model's first N, copied to their own file (it is slow; its rate is compared) (default: %(default)s)",
    )
    parser.add_argument(
        "--latency-lines",
        type=int,
        default=1_000_000,
        help="lines of the model the latency-bound run exports (default: %(default)s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.3,
        help="seconds the sink waits per request in the latency-bound run (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="requests in flight, for every client (the exporter's default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="where dbt builds the models and the exporter reads them: spark is the profile's `spark` target in local "
        "mode, its warehouse in DATA_DIR/spark-warehouse; the DuckDB-only measurements are left out "
        "(default: %(default)s)",
    )
    parser.add_argument("--sink-procs", type=int, default=2, help="sink worker processes (default: %(default)s)")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["hand", "scan", "http", "sdk", "exporter", "latency", "warm"],
        help="leave out a measurement (repeatable)",
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="clean data: every customer with a valid email, phone and country, every line a sale in a valid currency "
        "(no malformed or unusable values, nothing rejected)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the data, model and dbt figures of the last run in --data-dir (same --lines): measure the exporter again quickly",
    )
    parser.add_argument(
        "--exporter-args",
        default="",
        help='extra exporter flags for every exporter run, e.g. "--duckdb-memory-limit 1GB"',
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the exporter under a sampling profiler and show where its time goes",
    )
    parser.add_argument(
        "--data-dir",
        default=str(ROOT / "bench" / ".data"),
        help="where the DuckDB files, dbt target and logs go (default: bench/.data)",
    )
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    try:
        return Bench(args).run()
    except RuntimeError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
