"""Stream the model's rows from DuckDB, one order at a time, customer by customer.

The model is read in parts (LINES_PER_PART), split by customer. For each part two queries run
side by side, both sorted by external_id, and are merged here:
- the customers: each distinct customer once, so that each is normalized and hashed once
  (events.hashed_customers, in worker processes);
- the lines: only what an event needs from each line, no customer data, ordered by the order's
  customer, then order_id, then a total order of the order's lines.
Carrying the customer columns through the sort of every line cost more than everything else the
reader did (measured: 4.7 of 7.3 s at 1M lines).

Rows come in chunks (`fetchmany`) and each part is sorted on its own, so memory stays flat however
large the model is. The row rules of validation.py are evaluated by DuckDB in the same query,
set-wise, and each order arrives with its line count and the payload hash Meta last accepted for
it (from the send log), from a temp table of one row per order built once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from typing import NamedTuple

import duckdb

from exporter.config import ConfigError
from exporter.dbt_artifacts import ModelRelation
from exporter.validation import REQUIRED_VALUES, event_time_sql, missing_reason_sql, quoted, rule_reason_sql

CONTACT_COLUMNS = ("email", "phone")  # at least one of them
CUSTOMER_COLUMNS = (
    "external_id", "email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state", "postal", "country",
)  # fmt: skip
EVENT_COLUMNS = ("event_name", "action_source", "event_id", "event_source_url", "client_user_agent", "value")
# What each line tuple holds, in this order; a column the model lacks comes as None.
LINE_FIELDS = (
    "order_id", "product_id", "quantity", "price", "currency_code", "event_time", "missing_reason", "rule_reason",
    *EVENT_COLUMNS, "external_id", "customer_hash", "other_customer", "line_count", "one_customer", "sent_payload_hash",
)  # fmt: skip
LINE = {name: position for position, name in enumerate(LINE_FIELDS)}
MODEL_COLUMNS = (*REQUIRED_VALUES, *CUSTOMER_COLUMNS, *EVENT_COLUMNS, "product_id")
CHUNK_ROWS = 10_000
# The model is read in parts of about this many lines, each part's customers then its lines, each
# sorted on its own. A part's sort fits in DuckDB's default memory limit (256MB), so memory stays
# flat however large the model is, and the first events go out after one part is sorted, not the
# whole model. Each part costs a scan of the model, so parts are not smaller (measured at 10M
# lines: parts of 250k took 2.4 s more per part than they saved).
LINES_PER_PART = 500_000
ORDERS_TABLE = "meta_capi_export_orders"  # a temp table: one row per order of the model

Customer = tuple  # the values of CUSTOMER_COLUMNS


class Order(NamedTuple):
    order_id: str | None
    lines: list[tuple]  # LINE_FIELDS values
    customers: list  # each line's customer (as ModelReader.orders prepares it); None without an external_id
    sent_payload_hash: str | None  # what Meta last accepted for this order, if anything


class ModelReader:
    def __init__(self, con: duckdb.DuckDBPyConnection, relation: ModelRelation) -> None:
        self._con = con.cursor()
        self._customer_con = con.cursor()
        for cursor in (self._con, self._customer_con):
            # Naive timestamps and ISO strings without an offset are UTC, whatever the machine's zone.
            cursor.execute("set TimeZone = 'UTC'")
        self.relation = relation
        self.types = self._check_columns()

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
        return {name: present[name] for name in MODEL_COLUMNS if name in present}

    @cached_property
    def rows_in_model(self) -> int:
        return self._con.execute(f"select count(*) from {self.relation.sql()}").fetchone()[0]

    def _column(self, name: str) -> str:
        return quoted(name) if name in self.types else "null"

    def _customer_hash(self) -> str:
        return f"hash({', '.join(self._column(name) for name in CUSTOMER_COLUMNS)})"

    def parts(self) -> int:
        """How many parts the model is read in, each sorted on its own (see LINES_PER_PART)."""
        return max(1, -(-self.rows_in_model // LINES_PER_PART))

    def _part_of(self, external_id: str) -> str:
        # By customer, so that each customer is in one part only, and hashed once.
        return f"hash({external_id}) % {self.parts()}"

    def _create_orders_table(self, sent_payloads_sql: str | None) -> None:
        """One row per order, from the model's narrow columns only: its customer (lines are sorted
        by it, so each customer's orders come together), its part, its size, whether all its lines
        share a customer, and the payload hash Meta last accepted for it."""
        customer_hash = self._customer_hash()
        orders = (
            'select "order_id" as export_order_id, min("external_id") as export_customer, count(*) as export_line_count, '
            'min("external_id") = max("external_id") and count("external_id") = count(*) '
            f"and min({customer_hash}) = max({customer_hash}) as export_one_customer "
            f'from {self.relation.sql()} group by "order_id"'
        )
        sent = (
            f"left join ({sent_payloads_sql}) as sent on sent.order_id = orders.export_order_id"
            if sent_payloads_sql
            else ""
        )
        self._con.execute(
            f"create or replace temp table {ORDERS_TABLE} as select orders.*, "
            f"{self._part_of('orders.export_customer')} as export_part, "
            f"{'sent.sent_payload_hash' if sent else 'null'} as export_sent_payload_hash from ({orders}) as orders {sent}"
        )

    def lines_query(self, now_seconds: int, part: int) -> str:
        """One row per line of one part (LINE_FIELDS), ordered by the order's customer, then by order."""
        customer = ", ".join(f"{name} := {self._column(name)}" for name in CUSTOMER_COLUMNS)
        sort_columns = ("product_id", "timestamp", "quantity", "price", "currency")
        line_order = ", ".join(quoted(name) for name in sort_columns if name in self.types)
        return (
            f"select {self._column('order_id')}, {self._column('product_id')}, "
            f'"quantity", "price", upper(trim(cast("currency" as varchar))), '
            f"{event_time_sql('timestamp', self.types['timestamp'])}, "
            f"{missing_reason_sql(self.types)}, {rule_reason_sql(self.types, now_seconds)}, "
            f"{', '.join(self._column(name) for name in EVENT_COLUMNS)}, "
            f'"external_id", {self._customer_hash()}, '
            # A line whose customer is not the order's (rare) brings its customer data along.
            f'case when "external_id" <> export_customer then struct_pack({customer}) end, '
            "export_line_count, export_one_customer, export_sent_payload_hash "
            f'from {self.relation.sql()} join {ORDERS_TABLE} on export_order_id is not distinct from "order_id" '
            f"where export_part = {part} "
            # A total order of an order's lines, so the same data always gives the same event text.
            f"order by export_customer, export_order_id, {line_order} nulls last"
        )

    def customers_query(self, part: int) -> str:
        """Each distinct customer of one part once: external_id, customer_hash, then CUSTOMER_COLUMNS."""
        columns = ", ".join(self._column(name) for name in CUSTOMER_COLUMNS)
        in_part = self._part_of('"external_id"') + f" = {part}"
        return (
            f'select distinct "external_id" as sort_id, {self._customer_hash()} as customer_hash, {columns} '
            f'from {self.relation.sql()} where "external_id" is not null and {in_part} order by sort_id, customer_hash'
        )

    def customer_rows(self) -> Iterator[tuple]:
        """((part, external_id), customer_hash, customer) for each distinct customer, part by part, by external_id."""
        for part in range(self.parts()):
            for row in _rows(self._customer_con.execute(self.customers_query(part))):
                yield (part, row[0]), row[1], row[2:]

    def orders(
        self,
        now_seconds: int,
        sent_payloads_sql: str | None,
        customers: Iterator[tuple] | None = None,
        prepare: Callable[[Customer], object] = lambda customer: customer,
    ) -> Iterator[Order]:
        """Every order of the model, its lines in a stable order, each with its lines' customers.

        A line's customer is `prepare(customer)`. `customers` may bring them prepared ahead, as
        (key, customer_hash, prepared) rows in the order of customer_rows(); `prepare` is then
        only called for the few lines whose customer comes with the line.
        """
        if customers is None:
            customers = (
                (key, customer_hash, prepare(customer)) for key, customer_hash, customer in self.customer_rows()
            )
        merge = _CustomerMerge(self, customers, prepare)
        self._create_orders_table(sent_payloads_sql)
        for part in range(self.parts()):
            merge.part = part
            for lines in _orders_lines(self._con.execute(self.lines_query(now_seconds, part))):
                first = lines[0]
                if first[ORDER_ID] is None:
                    # Lines without an order_id cannot be grouped; each is an order of its own (and rejected).
                    for line in lines:
                        yield Order(None, [line], [merge.of(line)], None)
                elif first[ONE_CUSTOMER]:
                    yield Order(first[ORDER_ID], lines, [merge.of(first)] * len(lines), first[SENT_PAYLOAD_HASH])
                else:
                    yield Order(first[ORDER_ID], lines, [merge.of(line) for line in lines], first[SENT_PAYLOAD_HASH])
        self._con.execute(f"drop table if exists {ORDERS_TABLE}")

    def one_customer(self, external_id: object, customer_hash: int) -> Customer | None:
        """A customer looked up on its own: only when the sorted merge missed it (should not happen)."""
        return (
            self._con.cursor()
            .execute(
                f"select {', '.join(self._column(name) for name in CUSTOMER_COLUMNS)} from {self.relation.sql()} "
                f'where "external_id" = ? and {self._customer_hash()} = ? limit 1',
                [external_id, customer_hash],
            )
            .fetchone()
        )


ORDER_ID, EXTERNAL_ID, CUSTOMER_HASH, OTHER_CUSTOMER, LINE_COUNT, ONE_CUSTOMER, SENT_PAYLOAD_HASH = (
    LINE[name] for name in ("order_id", "external_id", "customer_hash", "other_customer", "line_count", "one_customer", "sent_payload_hash")
)  # fmt: skip


class _CustomerMerge:
    """Each line's (prepared) customer, from the customers read alongside the lines in external_id order."""

    def __init__(self, reader: ModelReader, customers: Iterator[tuple], prepare: Callable[[Customer], object]) -> None:
        self._reader = reader
        self._rows = customers
        self._prepare = prepare
        self._next = next(self._rows, None)
        self.part = 0  # the part the lines being merged come from
        self._key: tuple | None = None
        self._by_hash: dict[int, object] = {}

    def of(self, line: tuple) -> object:
        other_customer = line[OTHER_CUSTOMER]
        if other_customer is not None:
            return self._prepare(tuple(other_customer.values()))
        external_id = line[EXTERNAL_ID]
        if external_id is None:
            return None
        key = (self.part, external_id)
        if key != self._key:
            self._advance_to(key)
        customer = self._by_hash.get(line[CUSTOMER_HASH])
        if customer is None:
            customer = self._prepare(self._reader.one_customer(external_id, line[CUSTOMER_HASH]))
        return customer

    def _advance_to(self, key: tuple) -> None:
        self._key, self._by_hash = key, {}
        while self._next is not None and self._next[0] < key:
            self._next = next(self._rows, None)
        while self._next is not None and self._next[0] == key:
            self._by_hash[self._next[1]] = self._next[2]
            self._next = next(self._rows, None)


def _orders_lines(result: duckdb.DuckDBPyConnection) -> Iterator[list[tuple]]:
    """The lines of each order in turn, cut by each order's line_count (faster than comparing order_ids)."""
    rows: list[tuple] = []
    start = 0
    while True:
        if start < len(rows):
            end = start + rows[start][LINE_COUNT]
            if end <= len(rows):
                yield rows[start:end]
                start = end
                continue
        more = result.fetchmany(CHUNK_ROWS)
        if not more:
            if start < len(rows):
                raise RuntimeError("the model changed while it was read: an order has fewer lines than counted")
            return
        rows, start = rows[start:] + more, 0


def _rows(result: duckdb.DuckDBPyConnection) -> Iterator[tuple]:
    while rows := result.fetchmany(CHUNK_ROWS):
        yield from rows
