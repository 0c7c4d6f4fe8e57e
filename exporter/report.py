"""The run report: where every row went, as a readable summary (stderr) and as JSON (a file)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from exporter.events import MATCH_KEYS
from exporter.files import write_text

# Why lines were not sent: the reason codes of the dbt model meta_capi_rejected_lines (and
# of the exporter's own check of the events' age when it sends them), and of Meta's answers.
REASONS = {
    "missing_order_id": "order_id is empty",
    "missing_external_id": "external_id is empty",
    "missing_quantity": "quantity is empty",
    "missing_timestamp": "timestamp is empty",
    "missing_price": "price is empty",
    "missing_currency": "currency is empty",
    "missing_product_id": "product_id is empty",
    "no_usable_email_or_phone": "neither a valid email nor a valid phone number",
    "quantity_not_positive": "quantity is 0 or negative",
    "quantity_too_large": "quantity is above 1,000,000",
    "price_not_finite": "price is NaN or infinite",
    "price_negative": "price is negative",
    "price_too_large": "price is above 1,000,000,000,000",
    "value_not_finite": "value is NaN or infinite",
    "value_too_large": "the order's value (its value column, or the sum of price x quantity) is above 1,000,000,000,000",
    "invalid_currency": "currency is not an ISO 4217 code",
    "invalid_action_source": "action_source is not one of Meta's action sources",
    "invalid_event_name": "event_name is not one of the allowed event names",
    "invalid_timestamp": "timestamp is not a timestamp, a date, Unix seconds or an ISO 8601 string",
    "timestamp_in_future": "timestamp is in the future",
    "timestamp_too_old": "timestamp is older than Meta accepts (7 days; 62 for physical_store)",
    "website_missing_client_user_agent": "website events need client_user_agent",
    "website_missing_event_id": "website events need event_id",
    "website_missing_event_source_url": "website events need event_source_url",
    "order_customers_differ": "the order's lines belong to different customers (external_id or customer data differ)",
    "order_currencies_differ": "the order's lines have different currencies",
    "order_has_rejected_line": "another line of the same order was rejected",
}

# What a run can warn about without failing: code -> what to check.
WARNINGS = {
    "model_empty": (
        "the model is empty: nothing was read, so nothing was sent. Check the dbt run's filters and window "
        "(vars purchase_channels, purchase_brands, lookback_days, as_of) and that the sources hold purchases "
        "inside the window."
    ),
}

# The counts stored in meta_capi.runs, in this order.
RUN_COUNTS = (
    "rows_read", "rows_rejected", "events_built", "events_skipped", "events_sent", "events_accepted",
    "events_rejected_by_meta", "events_undelivered", "batches", "retries",
)  # fmt: skip


@dataclass
class RunReport:
    run_id: str
    dataset_id: str
    model: str
    dry_run: bool
    test_event_code: bool
    started_at: str = ""
    finished_at: str = ""
    duration_seconds: float = 0.0
    rows_in_model: int = 0
    rows_read: int = 0  # less than rows_in_model only when a run was stopped early
    rows_rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    # Values given but unusable, so left out of user_data: Meta key -> reason -> events sent,
    # e.g. {"country": {"not_recognized": 64}} (reasons: macro meta_match_keys).
    dropped_user_data: dict[str, dict[str, int]] = field(default_factory=dict)
    # Of the events sent (written, in a dry run): how many carry each match key. Meta matches
    # events to people by these keys, so a key that stops arriving is a drop in match rate.
    match_key_events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_KEYS, 0))
    events_built: int = 0  # one per order whose lines all passed validation
    events_skipped: int = 0  # already accepted by Meta with the same payload
    events_sent: int = 0  # posted (in a dry run: written to the payload file)
    events_accepted: int = 0
    events_rejected_by_meta: int = 0
    events_undelivered: int = 0
    batches: int = 0
    requests: int = 0
    retries: int = 0
    exit_code: int = 0
    completed: bool = False
    error: str | None = None
    payload_file: str | None = None

    def count_event_keys(self, match_keys: str, dropped: str | None, events: int = 1) -> None:
        """Count `events` sent that carry the same match keys ("em,ph,...") and have the same
        customer values that were given but unusable ("ph:not_a_valid_number,...")."""
        counts = self.match_key_events
        for key in match_keys.split(","):
            if key:
                counts[key] += events
        for pair in dropped.split(",") if dropped else ():
            key, reason = pair.split(":", 1)
            reasons = self.dropped_user_data.setdefault(key, {})
            reasons[reason] = reasons.get(reason, 0) + events

    def match_key_coverage(self) -> dict[str, float]:
        """Share of the events sent that carry each match key (0 to 1), rounded to 0.1%; empty
        when nothing was sent (no share to tell)."""
        sent = self.events_sent
        return {key: round(count / sent, 3) for key, count in self.match_key_events.items()} if sent else {}

    def state_columns(self) -> dict[str, object]:
        """What meta_capi.runs keeps of this report: the counts, and the nested figures as JSON."""
        return {
            **self.counts(),
            "dropped_user_data": json.dumps(self._sorted_dropped(), separators=(",", ":")),
            "match_key_events": json.dumps(self.match_key_events, separators=(",", ":")),
        }

    def _sorted_dropped(self) -> dict[str, dict[str, int]]:
        return {key: dict(sorted(reasons.items())) for key, reasons in sorted(self.dropped_user_data.items())}

    def warnings(self) -> list[str]:
        """WARNINGS codes that apply to this run. An empty model exits 0 (nothing failed), but a
        scheduled job that reads nothing day after day must not go unnoticed."""
        return ["model_empty"] if self.rows_in_model == 0 else []

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in RUN_COUNTS}

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "dropped_user_data": self._sorted_dropped(),
            "match_key_coverage": self.match_key_coverage(),
            "warnings": self.warnings(),
        }

    def write_json(self, path: Path) -> None:
        """Written whole by rename (a symlink at `path` is replaced, never followed)."""
        write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def summary(self) -> str:
        mode = "dry run" if self.dry_run else "test events" if self.test_event_code else "run"
        sent_label = "events written" if self.dry_run else "events sent"
        lines = [
            f"Meta offline events {mode} {self.run_id}: dataset {self.dataset_id}, model {self.model}",
            f"  rows read               {self.rows_read:>9}"
            + (f"  (of {self.rows_in_model}: stopped early)" if self.rows_read < self.rows_in_model else ""),
            *(f"  WARNING: {WARNINGS[code]}" for code in self.warnings()),
            f"  rows rejected           {self.rows_rejected:>9}",
            *(
                f"  {'':<24}{count:>9}  {reason}: {REASONS.get(reason, '')}"
                for reason, count in self.rejected_by_reason.most_common()
            ),
            *self._dropped_lines(),
            f"  events built            {self.events_built:>9}  (one per order)",
            f"  already sent, skipped   {self.events_skipped:>9}",
            f"  {sent_label:<24}{self.events_sent:>9}  in {self.batches} batches"
            + ("" if self.dry_run else f", {self.requests} requests, {self.retries} retries"),
        ]
        if not self.dry_run:
            lines += [
                f"  accepted by Meta        {self.events_accepted:>9}",
                f"  rejected by Meta        {self.events_rejected_by_meta:>9}",
                f"  not delivered           {self.events_undelivered:>9}",
            ]
        lines += self._coverage_lines()
        if self.payload_file:
            lines.append(f"  request bodies          {self.payload_file}")
        lines.append(f"  duration                {self.duration_seconds:>8.1f}s, exit code {self.exit_code}")
        return "\n".join(lines)

    def _coverage_lines(self) -> list[str]:
        """The share of events sent carrying each match key: what Meta can match people by."""
        if not self.events_sent:
            return []
        shares = [f"{key} {share:.0%}" for key, share in self.match_key_coverage().items()]
        return [
            "  match keys per event    " + "  ".join(shares[:6]),
            "  (share of events sent)  " + "  ".join(shares[6:]),
        ]

    def _dropped_lines(self) -> list[str]:
        """The "match keys dropped" lines: what customers lost from user_data, most first."""
        counts = [
            (count, key, reason) for key, reasons in self.dropped_user_data.items() for reason, count in reasons.items()
        ]
        if not counts:
            return []
        counts.sort(key=lambda item: (-item[0], item[1], item[2]))
        return [
            "  match keys dropped      (events sent whose customer's value was unusable, so left out)",
            *(f"  {'':<24}{count:>9}  {key}: {reason.replace('_', ' ')}" for count, key, reason in counts),
        ]
