"""Stream the model's rows from DuckDB, one order at a time, in order of order_id.

Rows come in chunks (`fetchmany`), so memory stays flat however large the table is; DuckDB sorts
out of core when given a memory limit. Each order arrives with the payload hash Meta last accepted
for it (from the send log), joined in SQL so no lookup table has to be held in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

import duckdb

from exporter.config import ConfigError
from exporter.dbt_artifacts import ModelRelation

REQUIRED_COLUMNS = ("external_id", "order_id", "quantity", "timestamp", "price", "currency")
CONTACT_COLUMNS = ("email", "phone")  # at least one of them
OPTIONAL_COLUMNS = (
    "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal", "country",
    "product_id", "action_source", "event_name", "event_id", "client_user_agent", "event_source_url", "value",
)  # fmt: skip
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class Order:
    order_id: str | None
    lines: list[dict]
    sent_payload_hash: str | None  # what Meta last accepted for this order, if anything


class ModelReader:
    def __init__(self, con: duckdb.DuckDBPyConnection, relation: ModelRelation) -> None:
        self._con = con.cursor()
        self.relation = relation
        self.columns = self._check_columns()

    def _check_columns(self) -> list[str]:
        try:
            described = self._con.execute(f"select * from {self.relation.sql()} limit 0").description
        except duckdb.CatalogException:
            raise ConfigError(
                f"The model {self.relation} is not in the DuckDB file: run `dbt run` first "
                "(and check that DBT_DUCKDB_PATH / --database name the same file for dbt and the exporter)."
            ) from None
        present = [column[0] for column in described]
        missing = [name for name in REQUIRED_COLUMNS if name not in present]
        if not any(name in present for name in CONTACT_COLUMNS):
            missing.append("email or phone")
        if missing:
            raise ConfigError(
                f"The model {self.relation} lacks required column(s): {', '.join(missing)}. "
                "Meta's offline events need external_id, order_id, quantity, email or phone, timestamp, price and currency."
            )
        return [name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in present]

    def count_rows(self) -> int:
        return self._con.execute(f"select count(*) from {self.relation.sql()}").fetchone()[0]

    def orders(self, sent_payloads_sql: str | None) -> Iterator[Order]:
        """Every order of the model with its lines as dicts, lines in a stable order."""
        select = ", ".join(f'model."{name}"' for name in self.columns)
        order_by = "model.order_id, model.product_id" if "product_id" in self.columns else "model.order_id"
        if sent_payloads_sql:
            query = (
                f"select {select}, sent.sent_payload_hash from {self.relation.sql()} as model "
                f"left join ({sent_payloads_sql}) as sent on sent.order_id = model.order_id "
                f"order by {order_by} nulls last"
            )
        else:
            query = f"select {select}, null as sent_payload_hash from {self.relation.sql()} as model order by {order_by} nulls last"
        names = [*self.columns, "sent_payload_hash"]
        result = self._con.execute(query)
        rows = _chunks(result)
        for order_id, group in groupby((dict(zip(names, row)) for row in rows), key=itemgetter("order_id")):
            lines = list(group)
            if order_id is None:
                # Lines without an order_id cannot be grouped; each is an order of its own (and rejected).
                for line in lines:
                    yield Order(None, [line], None)
                continue
            yield Order(order_id, lines, lines[0]["sent_payload_hash"])


def _chunks(result: duckdb.DuckDBPyConnection) -> Iterator[tuple]:
    while rows := result.fetchmany(CHUNK_ROWS):
        yield from rows
