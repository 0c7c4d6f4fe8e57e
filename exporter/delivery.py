"""Deliver one batch of events: retry what is temporary, isolate the events Meta rejects.

Meta rejects a whole request when one event in it is invalid (code 100). The offending event is
found from the index Meta's message gives (`data[N]`), or else by splitting the batch in halves,
so every other event of the batch is still delivered. A request too large (HTTP 413) is split in
halves the same way, down to a single event, which is then rejected as too large.

A request whose answer was lost (the connection dropped or the answer was cut after the request
was sent) may have been accepted: it is retried like a temporary error, with the same events and
so the same event_ids, which Meta deduplicates. If it stays unresolved, its events are reported
as not delivered, and the next run sends them again, again with the same event_ids.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from exporter.config import RetryPolicy
from exporter.events import Event
from exporter.meta_api import ErrorKind, MetaApiError, MetaClient

log = logging.getLogger(__name__)


class MetaRejection(NamedTuple):
    event: Event
    reason: str  # "rejected_by_meta" (Meta found it invalid) or "too_large_for_meta"
    message: str  # Meta's message, scrubbed of secrets


@dataclass
class BatchOutcome:
    accepted: list[tuple[list[Event], str | None]] = field(default_factory=list)  # (events, fbtrace_id)
    rejected: list[MetaRejection] = field(default_factory=list)
    undelivered: list[Event] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    fatal: MetaApiError | None = None


class Deliverer:
    """Thread-safe: several batches may be delivered at once; a fatal error stops them all."""

    def __init__(
        self,
        client: MetaClient,
        dataset_id: str,
        test_event_code: str | None,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._dataset_id = dataset_id
        self._test_event_code = test_event_code
        self._policy = policy
        self._clock = clock
        self._jitter = jitter
        self._deadline = clock() + policy.budget_seconds
        self.stopped = threading.Event()

    def deliver(self, events: list[Event]) -> BatchOutcome:
        outcome = BatchOutcome()
        self._deliver(events, outcome)
        return outcome

    def _deliver(self, events: list[Event], outcome: BatchOutcome) -> None:
        if outcome.fatal or self.stopped.is_set():
            outcome.undelivered.extend(events)
            return
        try:
            accepted = self._post_with_retries(events, outcome)
        except MetaApiError as error:
            if error.kind is ErrorKind.INVALID_EVENT:
                self._isolate(events, error, outcome)
            elif error.kind is ErrorKind.TOO_LARGE:
                self._split_too_large(events, error, outcome)
            else:
                if error.outcome_unknown:
                    log.error(
                        "No answer to a batch of %d events that was sent (%s): Meta may have accepted it; the next "
                        "run sends it again with the same event_ids, which Meta deduplicates",
                        len(events),
                        error,
                    )
                outcome.fatal = error
                outcome.undelivered.extend(events)
                self.stopped.set()
            return
        outcome.accepted.append((events, accepted.fbtrace_id))

    def _isolate(self, events: list[Event], error: MetaApiError, outcome: BatchOutcome) -> None:
        index = error.event_index()
        if len(events) == 1:
            outcome.rejected.append(MetaRejection(events[0], "rejected_by_meta", str(error)))
        elif index is not None and index < len(events):
            log.warning("Meta rejected event %s of a batch of %d; sending the others again", index, len(events))
            outcome.rejected.append(MetaRejection(events[index], "rejected_by_meta", str(error)))
            self._deliver(events[:index] + events[index + 1 :], outcome)
        else:
            log.warning("Meta rejected a batch of %d without naming the event; splitting it", len(events))
            self._deliver_halves(events, outcome)

    def _split_too_large(self, events: list[Event], error: MetaApiError, outcome: BatchOutcome) -> None:
        if len(events) == 1:
            message = f"the event alone is larger than Meta takes in one request ({error})"
            outcome.rejected.append(MetaRejection(events[0], "too_large_for_meta", message))
            return
        log.warning("A batch of %d events was too large for Meta (HTTP 413); splitting it", len(events))
        self._deliver_halves(events, outcome)

    def _deliver_halves(self, events: list[Event], outcome: BatchOutcome) -> None:
        half = len(events) // 2
        self._deliver(events[:half], outcome)
        self._deliver(events[half:], outcome)

    def _post_with_retries(self, events: list[Event], outcome: BatchOutcome):
        bodies = [event.payload for event in events]
        for attempt in range(1, self._policy.max_tries + 1):
            outcome.requests += 1
            started = self._clock()
            try:
                accepted = self._client.post_events(self._dataset_id, bodies, self._test_event_code)
            except MetaApiError as error:
                log.debug(
                    "batch of %d events: attempt %d, %s, fbtrace_id %s, %.2fs",
                    len(events), attempt, f"HTTP {error.http_status}" if error.http_status else "no answer",
                    error.fbtrace_id or "-", self._clock() - started,
                )  # fmt: skip
                if error.kind is not ErrorKind.TRANSIENT or attempt == self._policy.max_tries:
                    raise
                wait = self.wait_before_retry(attempt, error.retry_after)
                if self._clock() + wait > self._deadline:
                    log.error("Retry budget of %gs used up", self._policy.budget_seconds)
                    raise
                log.warning("%s; retry %d in %.1fs", error, attempt, wait)
                outcome.retries += 1
                if self.stopped.wait(wait):  # another batch hit an error that ends the run
                    raise
            else:
                log.debug(
                    "batch of %d events: attempt %d, HTTP 200, fbtrace_id %s, %.2fs",
                    len(events), attempt, accepted.fbtrace_id or "-", self._clock() - started,
                )  # fmt: skip
                return accepted
        raise AssertionError("unreachable: the last attempt returns or raises")

    def wait_before_retry(self, attempt: int, server_hint: float | None) -> float:
        """Exponential backoff with jitter, unless the server said how long to wait."""
        if server_hint is not None:
            return server_hint
        backoff = min(self._policy.max_wait, self._policy.first_wait * 2 ** (attempt - 1))
        return backoff * (0.5 + self._jitter() / 2)
