"""An event as the exporter sends it: read from the dbt model `meta_capi_events`, which decides
every rule and every byte of its JSON (models/events/). The exporter only delivers it."""

from __future__ import annotations

from typing import NamedTuple

# Meta's user_data keys the model can send (match keys), in the order Meta lists them; the
# model has one boolean column `has_<key>` for each.
MATCH_KEYS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")


class Event(NamedTuple):
    """One sendable row of meta_capi_events; the field names are the column names the reader selects."""

    event_id: str
    order_id: str
    send_order: int  # the model's order to send in: oldest first, then by order_id
    payload: str  # the event's JSON exactly as posted
    payload_hash: str  # SHA-256 of payload: what the send log compares on the next run
    line_count: int  # the order's item lines, for the run's row counts
    match_keys: str  # the match keys the event carries, comma-separated (coverage figures)
    dropped_user_data: str | None  # "key:reason" of each customer value that was given but unusable
