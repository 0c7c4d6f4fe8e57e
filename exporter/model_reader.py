"""Stream the model's rows from DuckDB, one order at a time, in order of order_id.

Rows come in chunks (`fetchmany`), so memory stays flat however large the table is; DuckDB sorts
out of core under its memory limit. The row rules of validation.py are evaluated by DuckDB in the
same query, set-wise, and each order arrives with the payload hash Meta last accepted for it
(from the send log), joined in SQL so no lookup table has to be held in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

import duckdb

from exporter.config import ConfigError
from exporter.dbt_artifacts import ModelRelation
from exporter.validation import REQUIRED_VALUES, event_time_sql, missing_reason_sql, rule_reason_sql

CONTACT_COLUMNS = ("email", "phone")  # at least one of them
OPTIONAL_COLUMNS = (
    "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal", "country",
    "product_id", "action_source", "event_name", "event_id", "client_user_agent", "event_source_url", "value",
)  # fmt: skip
# Computed by the reading query for every line, next to the model's own columns.
COMPUTED_COLUMNS = ("missing_reason", "rule_reason", "event_time", "currency_code", "sent_payload_hash")
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class Order:
    order_id: str | None
    lines: list[tuple]  # values in the order of ModelReader.names; kept as tuples: cheap to pass to workers
    sent_payload_hash: str | None  # what Meta last accepted for this order, if anything


class ModelReader:
    def __init__(self, con: duckdb.DuckDBPyConnection, relation: ModelRelation) -> None:
        self._con = con.cursor()
        # Naive timestamps and ISO strings without an offset are UTC, whatever the machine's zone.
        self._con.execute("set TimeZone = 'UTC'")
        self.relation = relation
        self.types = self._check_columns()
        self.columns = list(self.types)
        self.names = [*self.columns, *COMPUTED_COLUMNS]

    def _check_columns(self) -> dict[str, str]:
        try:
            described = self._con.execute(f"describe select * from {self.relation.sql()}").fetchall()
        except duckdb.CatalogException:
            raise ConfigError(
                f"The model {self.relation} is not in the DuckDB file: run `dbt run` first "
                "(and check that DBT_DUCKDB_PATH / --database name the same file for dbt and the exporter)."
            ) from None
        present = {row[0]: str(row[1]) for row in described}
        missing = [name for name in REQUIRED_VALUES if name not in present]
        if not any(name in present for name in CONTACT_COLUMNS):
            missing.append("email or phone")
        if missing:
            raise ConfigError(
                f"The model {self.relation} lacks required column(s): {', '.join(missing)}. "
                "Meta's offline events need external_id, order_id, quantity, email or phone, timestamp, price and currency."
            )
        return {name: present[name] for name in (*REQUIRED_VALUES, *OPTIONAL_COLUMNS) if name in present}

    def count_rows(self) -> int:
        return self._con.execute(f"select count(*) from {self.relation.sql()}").fetchone()[0]

    def query(self, now_seconds: int, sent_payloads_sql: str | None) -> str:
        """One row per line: the model's columns, then COMPUTED_COLUMNS; ordered by order."""
        lines = (
            f"select {', '.join(_quoted(name) for name in self.columns)}, "
            f"{missing_reason_sql(self.types)} as missing_reason, "
            f"{rule_reason_sql(self.types, now_seconds)} as rule_reason, "
            f"{event_time_sql('timestamp', self.types['timestamp'])} as event_time, "
            f'upper(trim(cast("currency" as varchar))) as currency_code '
            f"from {self.relation.sql()}"
        )
        # A total order of an order's lines, so the same data always gives the same event text.
        order_by = ", ".join(f"lines.{_quoted(name)}" for name in ("order_id", "product_id", "timestamp", "quantity", "price", "currency") if name in self.types)
        if not sent_payloads_sql:
            return f"select lines.*, null as sent_payload_hash from ({lines}) as lines order by {order_by} nulls last"
        return (
            f"select lines.*, sent.sent_payload_hash from ({lines}) as lines "
            f"left join ({sent_payloads_sql}) as sent on sent.order_id = lines.order_id order by {order_by} nulls last"
        )

    def orders(self, now_seconds: int, sent_payloads_sql: str | None) -> Iterator[Order]:
        """Every order of the model, its lines in a stable order."""
        result = self._con.execute(self.query(now_seconds, sent_payloads_sql))
        order_id_at, sent_at = self.names.index("order_id"), self.names.index("sent_payload_hash")
        for order_id, group in groupby(_rows(result), key=itemgetter(order_id_at)):
            group = list(group)
            if order_id is None:
                # Lines without an order_id cannot be grouped; each is an order of its own (and rejected).
                for line in group:
                    yield Order(None, [line], None)
                continue
            yield Order(order_id, group, group[0][sent_at])


def _quoted(column: str) -> str:
    return f'"{column}"'


def _rows(result: duckdb.DuckDBPyConnection) -> Iterator[tuple]:
    while rows := result.fetchmany(CHUNK_ROWS):
        yield from rows
