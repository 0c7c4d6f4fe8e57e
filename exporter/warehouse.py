"""Where the exporter reads and writes: the warehouse dbt built into, as one small interface.

Every difference between the engines the exporter supports lives here, and nowhere else: how to
connect, which errors they raise, their placeholders and quoting, bulk inserts, how to stream a
large result, and the lock that keeps two exporters from sending at once. state.py holds the
exporter's SQL, written once for all of them (see the rules below); migrations.py its tables.

- DuckDB: the file dbt built (`path:` of the target, or --database). DuckDB's own file lock lets
  one writer in, so a second exporter (or a dbt run) is refused on opening.
- PostgreSQL: psycopg2, which dbt-postgres installs, with the credentials of the target. A
  session-level advisory lock keeps a second exporter out of the same database.
- Spark: dbt-spark's `session` method, a SparkSession in this process configured with the
  target's `server_side_parameters` (the same warehouse folder and metastore as dbt's); a lock
  file in the warehouse folder keeps a second exporter out.

The SQL rules, so one text runs everywhere: values are parameters, written `?` (a list) or
`$name` (a dict), DuckDB's own markers, which the other engines get translated (no `?`, `$` or
`%` in the SQL text otherwise); no `group by all`, no `::` casts, every subquery in FROM has an
alias; where a function differs (arg_max), a method here writes it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter import redact
from exporter.config import ConfigError

# pg_try_advisory_lock's key: any fixed bigint that other programs are unlikely to use; these
# are the ASCII bytes of "MCAPIEXP".
POSTGRES_LOCK_KEY = 0x4D43415049455850
SPARK_LOCK_FILE = ".meta_capi_exporter.lock"


class DatabaseBusyError(ConfigError):
    """Another process (dbt, or a second exporter) holds the warehouse."""


class DatabaseError(ConfigError):
    """The warehouse cannot be opened, read or written (unreachable, damaged, no privilege, disk full)."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- where: what the dbt profile's target says (dbt_profile.py builds these) ---------------------


@dataclass(frozen=True)
class DuckDBTarget:
    path: Path
    memory_limit: str | None = None  # --duckdb-memory-limit

    def describe(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    user: str
    dbname: str
    password: str | None = field(default=None, repr=False)  # secret: never printed
    sslmode: str | None = None
    connect_timeout: int | None = 10
    role: str | None = None  # dbt-postgres's `role:`, set on connecting as dbt does
    # Where it was configured, for messages: "dbt target 'postgres' of profile 'offline_conversions'".
    origin: str = field(default="", compare=False)

    def describe(self) -> str:
        return f"PostgreSQL database {self.dbname} at {self.host}:{self.port} (user {self.user})"


@dataclass(frozen=True)
class SparkTarget:
    # The target's server_side_parameters, as (name, value) pairs: spark.sql.warehouse.dir,
    # spark.hadoop.javax.jdo.option.ConnectionURL (the metastore) and the like.
    server_side_parameters: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        folder = self.warehouse_dir()
        return f"Spark warehouse {folder}" if folder else "the Spark session's warehouse"

    def warehouse_dir(self) -> Path | None:
        value = dict(self.server_side_parameters).get("spark.sql.warehouse.dir")
        if not value:
            return None
        return Path(value.removeprefix("file://").removeprefix("file:"))


WarehouseTarget = DuckDBTarget | PostgresTarget | SparkTarget


def connect(target: WarehouseTarget, read_only: bool = False) -> Warehouse:
    """Open the warehouse; raise a one-line ConfigError saying what to do when that fails."""
    if isinstance(target, DuckDBTarget):
        return DuckDBWarehouse.open(target, read_only)
    if isinstance(target, PostgresTarget):
        return PostgresWarehouse.open(target, read_only)
    return SparkWarehouse.open(target)


def database_errors() -> tuple[type[BaseException], ...]:
    """The error classes of every engine loaded in this process (one not loaded raised nothing)."""
    import duckdb

    errors: list[type[BaseException]] = [duckdb.Error]
    if "psycopg2" in sys.modules:
        errors.append(sys.modules["psycopg2"].Error)
    if "pyspark" in sys.modules:
        errors.extend(_spark_errors())
    return tuple(errors)


# --- the interface ------------------------------------------------------------------------------


class Warehouse:
    """One session on the warehouse; used from one thread (another thread takes session())."""

    engine = "?"  # "DuckDB", "PostgreSQL", "Spark": for messages
    transactional = True  # begin/commit/rollback are real (not on Spark)
    # Whether it sorts millions of rows of long texts (the payloads) within its memory limit:
    # PostgreSQL and Spark spill them; DuckDB 2.0 did not (see DuckDBWarehouse).
    sorts_long_rows = True
    holder = "?"  # what holds the data, for messages: "the DuckDB file"
    errors: tuple[type[BaseException], ...] = ()

    def __init__(self, target: WarehouseTarget) -> None:
        self.target = target

    def describe(self) -> str:
        return self.target.describe()

    # Statements. execute() returns an object with fetchone/fetchall/fetchmany/description.
    def execute(self, sql: str, parameters: Sequence | Mapping | None = None) -> Any:
        raise NotImplementedError

    def session(self) -> Warehouse:
        """Another session on the same warehouse, for another thread (its own transactions)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def execute_script(self, sql: str) -> None:
        """Statements separated by `;`, without parameters (migrations.py's DDL)."""
        self.execute(sql)

    def begin(self) -> None:
        self.execute("begin transaction")

    def commit(self) -> None:
        self.execute("commit")

    def rollback(self) -> None:
        self.execute("rollback")

    def insert_rows(
        self, table: str, columns: dict[str, str], rows: Sequence[Sequence], constants: Mapping | None = None
    ) -> None:
        """Insert `rows` in one statement. `columns` are the table's (name -> DuckDB type), in order;
        `constants` the value of some of them in every row; a row holds the others, in order."""
        raise NotImplementedError

    def stream(self, sql: str, parameters: Mapping | Sequence, chunk_rows: int) -> Iterator[tuple]:
        """The rows of a large query, `chunk_rows` at a time, never all in memory."""
        raise NotImplementedError

    def update_row(self, table: str, values: dict[str, object], key: str, key_value: object) -> None:
        """Set `values` (column -> value) in the rows of `table` whose `key` is `key_value`."""
        columns = ", ".join(f"{name} = ?" for name in values)
        self.execute(f"update {table} set {columns} where {key} = ?", [*values.values(), key_value])

    def lock(self) -> None:
        """Keep a second exporter from sending into this warehouse until this session closes."""

    def checkpoint(self) -> None:
        """Write what is committed into the warehouse's own storage now rather than on closing
        (DuckDB: its write-ahead log into the file); a no-op where there is no such step."""

    # SQL that differs between engines.
    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def relation(self, schema: str, identifier: str) -> str:
        return f"{self.quote(schema)}.{self.quote(identifier)}"

    def arg_max(self, value: str, order: str) -> str:
        return f"arg_max({value}, {order})"

    # The catalog.
    def catalog(self) -> str | None:
        """The database dbt's manifest names as `database` (None where there is none: Spark)."""
        return self.execute("select current_database()").fetchone()[0]

    def schema_exists(self, schema: str) -> bool:
        sql = "select count(*) from information_schema.schemata where schema_name = ? and catalog_name = current_database()"
        return self.execute(sql, [schema]).fetchone()[0] > 0

    def columns(self, schema: str) -> dict[str, dict[str, str]]:
        """{table: {column: type, named as DuckDB names it}} of the tables in `schema`."""
        rows = self.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_catalog = current_database()",
            [schema],
        ).fetchall()
        present: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            present.setdefault(table, {})[column] = self.type_name(data_type)
        return present

    def type_name(self, data_type: str) -> str:
        return data_type

    def column_names(self, relation: str) -> set[str]:
        """The columns of a table or view (raises what is_missing_table() recognizes when absent)."""
        cursor = self.execute(f"select * from {relation} where 1 = 0")
        return {column[0] for column in cursor.description}

    # Errors.
    def is_missing_table(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def is_storage_error(self, exc: BaseException) -> bool:
        """The storage failed (disk full, I/O), not the statement: reported as database_error()."""
        return False

    def privilege_problem(self, exc: BaseException) -> bool:
        return False

    def busy_error(self) -> DatabaseBusyError:
        return DatabaseBusyError(
            f"Another exporter is sending from {self.describe()}: wait for it to finish, then run the exporter again."
        )

    def database_error(self, exc: BaseException) -> DatabaseError:
        """What to tell the user about an error reading or writing the warehouse: one line."""
        if self.privilege_problem(exc):
            return DatabaseError(self.privilege_hint(exc))
        return DatabaseError(
            f"Cannot use the {self.describe()}: {first_line(exc)}. Check that dbt built it with the same profile and "
            "target (`dbt build`), and that the exporter's login may read and write it."
        )

    def privilege_hint(self, exc: BaseException) -> str:
        return f"The exporter lacks a privilege in the {self.describe()} ({first_line(exc)})."


# --- DuckDB ---------------------------------------------------------------------------------------


class DuckDBWarehouse(Warehouse):
    engine = "DuckDB"
    holder = "the DuckDB file"
    # 3.3M events (10M lines) sorted with their payload, hash and ids ran out of 256MB, and of
    # 320MB with one more text column; their send_order alone sorted in 8 s (measured).
    sorts_long_rows = False

    def __init__(self, target: DuckDBTarget, con) -> None:
        import duckdb

        super().__init__(target)
        self.con = con
        self.errors = (duckdb.Error,)

    @classmethod
    def open(cls, target: DuckDBTarget, read_only: bool) -> DuckDBWarehouse:
        import duckdb

        try:
            if read_only:  # `history` and `rejected`: a writer holding the file is refused alike
                con = duckdb.connect(str(target.path), read_only=True)
            else:
                con = duckdb.connect(str(target.path), config=cls._settings(target.memory_limit))
        except duckdb.Error as exc:
            raise cls(target, None).open_error(exc) from None
        return cls(target, con)

    @staticmethod
    def _settings(memory_limit: str | None) -> dict[str, str | int | bool]:
        settings: dict[str, str | int | bool] = {
            # Every read has its own ORDER BY; not keeping insertion order lets DuckDB stream with less memory.
            "preserve_insertion_order": False,
            # The export is bound by Python, not DuckDB, and the other core hashes customers. One DuckDB
            # thread also keeps its memory low: with two, sorting 10M lines ran out of 256MB (measured).
            "threads": 1,
        }
        if memory_limit:
            settings["memory_limit"] = memory_limit  # a setting, never pasted into SQL
        return settings

    def open_error(self, exc: BaseException) -> DatabaseError | DatabaseBusyError:
        if "lock" in str(exc).lower():
            return DatabaseBusyError(
                f"{self.target.path} is in use by another process (a dbt run or another exporter). DuckDB allows one "
                "writer at a time: wait for it to finish, then run the exporter again."
            )
        return self.database_error(exc)

    def database_error(self, exc: BaseException) -> DatabaseError:
        return DatabaseError(
            f"Cannot use the DuckDB file {self.target.path}: {first_line(exc)}. Check that it is the complete file dbt "
            "built (rebuild it with `dbt run` if it is damaged), that it is readable and writable, and that the disk "
            "has free space."
        )

    def execute(self, sql, parameters=None):
        return self.con.execute(sql) if parameters is None else self.con.execute(sql, parameters)

    def session(self) -> DuckDBWarehouse:
        # A DuckDB cursor is a connection of its own to the same database: its own transactions.
        return DuckDBWarehouse(self.target, self.con.cursor())

    def close(self) -> None:
        self.con.close()

    def checkpoint(self) -> None:
        self.con.execute("checkpoint")

    def insert_rows(self, table, columns, rows, constants=None):
        if not rows:
            return
        constants = constants or {}
        # unnest() of one list per column inserts them all in one statement (executemany is row by
        # row); a constant is one parameter, not a list (5 ms less per 1,000 rows, measured).
        lists = iter([list(column) for column in zip(*rows, strict=True)])
        parameters = [constants[name] if name in constants else next(lists) for name in columns]
        selects = ", ".join("?" if name in constants else f"unnest(?::{kind}[])" for name, kind in columns.items())
        self.con.execute(f"insert into {table} ({', '.join(columns)}) select {selects}", parameters)

    def stream(self, sql, parameters, chunk_rows):
        cursor = self.con.cursor()
        try:
            cursor.execute(sql, parameters)
            while rows := cursor.fetchmany(chunk_rows):
                yield from rows
        finally:
            cursor.close()

    def is_missing_table(self, exc):
        import duckdb

        return isinstance(exc, duckdb.CatalogException)

    def is_storage_error(self, exc):
        import duckdb

        return isinstance(exc, duckdb.IOException)


# --- PostgreSQL -----------------------------------------------------------------------------------

# information_schema's names of the types the exporter's tables use, as DuckDB names them.
POSTGRES_TYPES = {
    "character varying": "VARCHAR",
    "timestamp without time zone": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "integer": "INTEGER",
}
_NAMED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def pyformat(sql: str, parameters: Sequence | Mapping | None) -> str:
    """DuckDB's markers (`?`, `$name`) as psycopg2's (`%s`, `%(name)s`); a literal % doubled."""
    if parameters is None:
        return sql
    sql = sql.replace("%", "%%")
    if isinstance(parameters, Mapping):
        return _NAMED.sub(r"%(\1)s", sql)
    return sql.replace("?", "%s")


class PostgresWarehouse(Warehouse):
    engine = "PostgreSQL"
    holder = "the PostgreSQL database"

    def __init__(self, target: PostgresTarget, con, read_only: bool = False) -> None:
        import psycopg2

        super().__init__(target)
        self.con = con
        self.read_only = read_only
        self.errors = (psycopg2.Error,)

    @classmethod
    def open(cls, target: PostgresTarget, read_only: bool = False) -> PostgresWarehouse:
        con = cls._connect(target, read_only)
        # Each statement commits on its own unless begin() opened a transaction, as in DuckDB.
        con.autocommit = True
        return cls(target, con, read_only)

    @staticmethod
    def _connect(target: PostgresTarget, read_only: bool):
        try:
            import psycopg2
        except ImportError:
            raise ConfigError(
                "The dbt target is PostgreSQL, but psycopg2 is not installed: pip install dbt-postgres."
            ) from None
        redact.register(target.password)  # a driver message that echoes it is scrubbed
        options = "-c default_transaction_read_only=on" if read_only else None
        try:
            con = psycopg2.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                dbname=target.dbname,
                sslmode=target.sslmode,
                connect_timeout=target.connect_timeout,
                options=options,
                application_name="meta_capi_exporter",
            )
            if target.role:
                role = '"' + target.role.replace('"', '""') + '"'  # an identifier: quoted, not a parameter
                with con.cursor() as cursor:
                    cursor.execute(f"set role {role}")
            return con
        except psycopg2.Error as exc:
            where = (
                f"{target.origin} is a postgres warehouse, and the exporter cannot connect to the"
                if target.origin
                else "Cannot connect to the"
            )
            raise ConfigError(
                f"{where} {target.describe()}: {redact.scrub(first_line(exc))}. Check that the server "
                "is running and reachable, and the dbt target's host, port, user, password and dbname (the libpq "
                "variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE in profiles.example.yml)."
            ) from None

    def execute(self, sql, parameters=None):
        cursor = self.con.cursor()
        cursor.execute(pyformat(sql, parameters), parameters)
        return cursor

    def session(self) -> PostgresWarehouse:
        # psycopg2 cursors of one connection share its transaction: another thread needs its own.
        return PostgresWarehouse.open(self.target, self.read_only)

    def close(self) -> None:
        self.con.close()

    def insert_rows(self, table, columns, rows, constants=None):
        from psycopg2.extras import execute_values

        if not rows:
            return
        cursor = self.con.cursor()
        # One statement whatever the number of rows (page_size), so it commits whole or not at all.
        rows = full_rows(columns, rows, constants)
        execute_values(cursor, f"insert into {table} ({', '.join(columns)}) values %s", rows, page_size=len(rows))

    def stream(self, sql, parameters, chunk_rows):
        # A named cursor is a server-side cursor: rows arrive chunk by chunk. It lives in a
        # transaction of its own connection, which the send log's commits must not end.
        con = self._connect(self.target, read_only=True)
        try:
            cursor = con.cursor(name="meta_capi_pending")
            cursor.itersize = chunk_rows
            cursor.execute(pyformat(sql, parameters), parameters)
            while rows := cursor.fetchmany(chunk_rows):
                yield from rows
        finally:
            con.close()

    def lock(self) -> None:
        # Held by this session until it closes (or the process dies): never left behind.
        if not self.execute("select pg_try_advisory_lock(?)", [POSTGRES_LOCK_KEY]).fetchone()[0]:
            raise self.busy_error()

    def type_name(self, data_type: str) -> str:
        return POSTGRES_TYPES.get(data_type, data_type)

    def arg_max(self, value: str, order: str) -> str:
        return f"(array_agg({value} order by {order} desc))[1]"

    def is_missing_table(self, exc):
        import psycopg2.errors

        return isinstance(exc, psycopg2.errors.UndefinedTable | psycopg2.errors.InvalidSchemaName)

    def is_storage_error(self, exc):
        import psycopg2

        # The server went away or ran out of disk: not a problem of the tables.
        return isinstance(exc, psycopg2.OperationalError) or getattr(exc, "pgcode", "") in ("53100", "53200")

    def privilege_problem(self, exc):
        return getattr(exc, "pgcode", None) == "42501"  # insufficient_privilege

    def privilege_hint(self, exc):
        user = self.target.user
        return (
            f"The PostgreSQL role {user} lacks a privilege in database {self.target.dbname} "
            f"({first_line(exc)}). The exporter reads dbt's schema and writes its state in schema meta_capi: "
            f"run it as the role dbt builds with, or GRANT {user} USAGE and SELECT on dbt's schema and either "
            f"CREATE on the database or ownership of schema meta_capi."
        )


# --- Spark ------------------------------------------------------------------------------------------

# DESCRIBE's names of the types the exporter's tables use, as DuckDB names them.
SPARK_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "int": "INTEGER",
}
_SPARK_TYPE_OF = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "BOOLEAN": "boolean", "BIGINT": "bigint",
                  "INTEGER": "int"}  # fmt: skip


def _spark_errors() -> list[type[BaseException]]:
    from pyspark.errors import PySparkException

    return [PySparkException]


def _quiet_pyspark_loggers() -> None:
    """pyspark 4 logs every failed statement with its Java stack trace; the exporter says what
    failed in one line itself (and the table it probes for may rightly be missing). py4j logs
    its connections at INFO, down to the interpreter's exit."""
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pyspark 3 does not log them
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


class _SparkResult:
    """A Spark query's rows with the part of DB-API's cursor the exporter uses."""

    def __init__(self, frame) -> None:
        self.frame = frame
        self.description = [(name, None, None, None, None, None, None) for name in frame.columns]
        self._rows: Iterator | None = None

    def _iterator(self) -> Iterator:
        if self._rows is None:
            self._rows = (tuple(row) for row in self.frame.toLocalIterator())
        return self._rows

    def fetchall(self) -> list[tuple]:
        return list(self._iterator())

    def fetchone(self) -> tuple | None:
        return next(self._iterator(), None)

    def fetchmany(self, size: int) -> list[tuple]:
        iterator = self._iterator()
        return [row for _, row in zip(range(size), iterator, strict=False)]


class SparkWarehouse(Warehouse):
    """dbt-spark's `session` method: a SparkSession in this process, configured as dbt's.

    Spark has no transactions: begin/commit/rollback do nothing, each statement stands on its
    own, and the write check before a run is skipped (it could not be undone). Its file tables
    (parquet, dbt-spark's default) take no UPDATE: see update_row. The metastore must be free:
    an embedded Derby one takes one process at a time, so run the exporter after dbt exits."""

    engine = "Spark"
    holder = "the Spark warehouse"
    transactional = False

    def __init__(self, target: SparkTarget, spark, lock_file=None) -> None:
        super().__init__(target)
        self.spark = spark
        self.lock_file = lock_file
        self.errors = tuple(_spark_errors())

    @classmethod
    def open(cls, target: SparkTarget) -> SparkWarehouse:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ConfigError(
                "The dbt target is Spark (method session), but pyspark is not installed: "
                "pip install 'dbt-spark[session]' (it brings pyspark), and Java 17."
            ) from None
        # The same session dbt-spark's `session` method builds: Hive support and the target's parameters.
        builder = SparkSession.builder.appName("meta_capi_exporter").enableHiveSupport()
        # The exporter prints its own one-line errors and progress: no progress bars on stderr.
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        for name, value in target.server_side_parameters:
            builder = builder.config(name, value)
        try:
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("OFF")  # each failed statement would log its stack trace
            _quiet_pyspark_loggers()
        except Exception as exc:  # no Java, a bad parameter: pyspark raises several kinds
            raise ConfigError(
                f"Cannot start Spark for {target.describe()}: {first_line(exc)}. Check Java 17 (JAVA_HOME) and the "
                "target's server_side_parameters."
            ) from None
        return cls(target, spark)

    def execute(self, sql, parameters=None):
        sql = _NAMED.sub(r":\1", sql) if isinstance(parameters, Mapping) else sql
        frame = self.spark.sql(sql, args=dict(parameters) if isinstance(parameters, Mapping) else parameters or None)
        return _SparkResult(frame)

    def session(self) -> SparkWarehouse:
        return SparkWarehouse(self.target, self.spark)  # one SparkSession per process; statements are independent

    def close(self) -> None:
        if self.lock_file is not None:
            self.lock_file.close()  # releases the flock
            self.lock_file = None

    def execute_script(self, sql: str) -> None:
        # One statement per call, and Spark's DDL: `string` for varchar; no primary keys, NOT
        # NULL or defaults on file tables (the exporter always writes every column).
        for statement in filter(None, (part.strip() for part in sql.split(";"))):
            statement = re.sub(r"\bvarchar\b", "string", statement)
            statement = re.sub(r"\s+(primary key|not null|default false)\b", "", statement)
            statement = re.sub(r"\badd column (.+)$", r"add columns (\1)", statement)
            self.spark.sql(statement)

    def begin(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def arg_max(self, value: str, order: str) -> str:
        return f"max_by({value}, {order})"

    def catalog(self) -> str | None:
        return None  # dbt-spark records no database, only schemas

    def schema_exists(self, schema: str) -> bool:
        return self.spark.catalog.databaseExists(schema)

    def columns(self, schema: str) -> dict[str, dict[str, str]]:
        if not self.schema_exists(schema):
            return {}
        present: dict[str, dict[str, str]] = {}
        for table in self.spark.catalog.listTables(schema):
            for column in self.spark.catalog.listColumns(f"{schema}.{table.name}"):
                present.setdefault(table.name, {})[column.name] = self.type_name(column.dataType)
        return present

    def type_name(self, data_type: str) -> str:
        return SPARK_TYPES.get(data_type, data_type)

    def insert_rows(self, table, columns, rows, constants=None):
        if not rows:
            return
        schema = ", ".join(f"{name} {_SPARK_TYPE_OF[kind]}" for name, kind in columns.items())
        frame = self.spark.createDataFrame(full_rows(columns, rows, constants), schema=schema)
        frame.write.insertInto(table)  # by position: `columns` are in the table's order

    def update_row(self, table, values, key, key_value):
        # Spark's file tables (parquet, dbt-spark's default) take no UPDATE, and a table cannot be
        # overwritten from itself: the rows (runs: one a day) are read, changed and written back.
        frame = self.spark.table(table)
        position = {name: index for index, name in enumerate(frame.columns)}
        rows = []
        for row in frame.collect():
            row = list(row)
            if row[position[key]] == key_value:
                for name, value in values.items():
                    row[position[name]] = value
            rows.append(tuple(row))
        self.spark.createDataFrame(rows, schema=frame.schema).write.insertInto(table, overwrite=True)

    def stream(self, sql, parameters, chunk_rows):
        # toLocalIterator brings one partition at a time to the driver, never the whole result.
        yield from self.execute(sql, parameters)._iterator()

    def lock(self) -> None:
        import fcntl

        folder = self.target.warehouse_dir()
        if folder is None:
            return  # a remote metastore: nothing local to lock (see README)
        folder.mkdir(parents=True, exist_ok=True)
        lock_file = (folder / SPARK_LOCK_FILE).open("a")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise self.busy_error() from None
        self.lock_file = lock_file

    def is_missing_table(self, exc):
        from pyspark.errors import AnalysisException

        text = str(exc)
        return isinstance(exc, AnalysisException) and ("NOT_FOUND" in text or "not found" in text)


def full_rows(columns: dict[str, str], rows: Sequence[Sequence], constants: Mapping | None) -> list[tuple]:
    """insert_rows' rows with the constants put in their columns."""
    if not constants:
        return [tuple(row) for row in rows]
    varying = [name for name in columns if name not in constants]
    return [tuple({**constants, **dict(zip(varying, row, strict=True))}[name] for name in columns) for row in rows]


def close_quietly(warehouse: Warehouse | None) -> None:
    """Close, whatever state the session is in (a damaged file may fail even to close)."""
    if warehouse is None:
        return
    with suppress(*database_errors()):
        warehouse.close()
