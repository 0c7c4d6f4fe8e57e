"""Typed configuration of an export run; the CLI builds it from flags and environment variables.

Defaults live here, and every value is checked here, before anything is read or sent: a bad
value is a ConfigError (exit 2) whose message names the flag and says what it takes.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_PROGRESS_INTERVAL = 10.0  # seconds: a scheduled run logs where it is this often
# Meta supports each Conversions API version for at least two years; v26.0 was released 2026-07-29.
DEFAULT_API_VERSION = "v26.0"
DEFAULT_MODEL = "meta_offline_events"
DEFAULT_DBT_TARGET_PATH = "target"
MAX_BATCH_SIZE = 1000  # Meta rejects requests with more events
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64  # threads and connections; more only queues at Meta's rate limits
DEFAULT_TIMEOUT_SECONDS = 60.0
# At 10M lines 128MB ran out of memory, 256MB did not (measured).
DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"

# The forms DuckDB takes for memory_limit; anything else is refused before DuckDB sees it.
MEMORY_LIMIT = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
# ASCII only: str.isdigit() and \d also take "²" or "１２３", which then end up in a URL.
API_VERSION = re.compile(r"v[0-9]+\.[0-9]+")
NUMERIC_ID = re.compile(r"[0-9]+")
LOOPBACK_NAMES = ("localhost",)


class ConfigError(ValueError):
    """A configuration or usage mistake; the message says how to fix it (exit code 2)."""


def check_numeric_id(value: str, what: str) -> None:
    """Dataset and app ids are ASCII digits: they become part of a URL."""
    if not NUMERIC_ID.fullmatch(value):
        raise ConfigError(f"{what} must be ASCII digits (the numeric id from Meta), not {value!r}.")


def check_api_version(version: str) -> None:
    if not API_VERSION.fullmatch(version):
        raise ConfigError(f"--api-version looks like v26.0 (ASCII digits), not {version!r}.")


def check_graph_url(url: str) -> None:
    """https, or plain http to this machine only: the token must never cross a network in clear text."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises on a port that is not a number
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"--graph-url must be an https URL like {DEFAULT_GRAPH_URL}, not {url!r}.")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigError(
            f"--graph-url takes a scheme, a host and optionally a port and path, without credentials, "
            f"query or fragment: not {url!r}."
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"--graph-url must use https: {url!r} would send the access token in clear text "
            "(plain http is allowed only to this machine: localhost, 127.0.0.0/8, ::1)."
        )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_number(value: float, flag: str, minimum: float, *, above: bool = False) -> None:
    """A finite number >= minimum (> minimum with above=True)."""
    ok = isinstance(value, int | float) and math.isfinite(value) and (value > minimum if above else value >= minimum)
    if not ok:
        bound = f"more than {minimum:g}" if above else f"at least {minimum:g}"
        raise ConfigError(f"{flag} must be a number of {bound}, not {value!r}.")


def _check_count(value: int, flag: str, minimum: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ConfigError(f"{flag} must be between {minimum} and {maximum}, not {value!r}.")


def _check_output_path(path: Path | None, flag: str) -> None:
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"{flag} names a file to write, and {path} is a folder.")


@dataclass(frozen=True)
class RetryPolicy:
    """Which waits to make between tries of one request (see delivery.py for which errors retry)."""

    max_tries: int = 8
    first_wait: float = 1.0
    max_wait: float = 60.0
    budget_seconds: float = 900.0  # a transient error after this long into the run ends the run

    def __post_init__(self) -> None:
        _check_count(self.max_tries, "--max-tries", 1, 1000)
        _check_number(self.first_wait, "--first-retry-wait", 0)
        _check_number(self.max_wait, "the longest wait between retries", 0)
        _check_number(self.budget_seconds, "--retry-budget", 0)


@dataclass(frozen=True)
class RejectionThreshold:
    """`--max-rejected`: a row count (`25`) or a share of rows read (`2%`)."""

    count: int | None = None
    percent: float | None = None

    def __post_init__(self) -> None:
        if (self.count is None) == (self.percent is None):
            raise ConfigError("--max-rejected is either a row count or a share.")
        if self.count is not None:
            _check_count(self.count, "--max-rejected", 0, 10**18)
        if self.percent is not None and not 0 <= self.percent <= 100:
            raise ConfigError(f"--max-rejected takes a share between 0% and 100%, not {self.percent:g}%.")

    @classmethod
    def parse(cls, text: str) -> RejectionThreshold:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*", text)
        if not match or (not match[2] and "." in match[1]):
            raise ConfigError(f"--max-rejected takes a row count like 25 or a share like 2%, not {text!r}")
        return cls(percent=float(match[1])) if match[2] else cls(count=int(match[1]))

    def exceeded(self, rejected: int, read: int) -> bool:
        if self.count is not None:
            return rejected > self.count
        return read > 0 and 100.0 * rejected / read > (self.percent or 0.0)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True)
class DbtLocation:
    """Where dbt's project, profile and target are: dbt's own flags and environment variables."""

    project_dir: Path = Path(".")
    profiles_dir: Path | None = None  # None: as dbt looks, the working directory, then ~/.dbt
    profile: str | None = None  # None: the `profile:` of dbt_project.yml
    target: str | None = None  # None: the profile's default target


@dataclass(frozen=True)
class ExportConfig:
    dataset_id: str
    access_token: str | None = field(default=None, repr=False)  # secret: never printed
    app_secret: str | None = field(default=None, repr=False)  # secret: never printed
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    test_event_code: str | None = None
    database: Path | None = None  # None: the DuckDB file of the dbt profile and target (dbt_profile.py)
    dbt: DbtLocation = DbtLocation()
    model: str = DEFAULT_MODEL
    dbt_target_path: Path = Path(DEFAULT_DBT_TARGET_PATH)
    allow_unsuccessful_model: bool = False
    dry_run: bool = False
    dry_run_output: Path | None = None
    resend: bool = False
    batch_size: int = MAX_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # the deadline of one request: connect, upload, answer
    retry: RetryPolicy = RetryPolicy()
    max_rejected: RejectionThreshold | None = None
    report_json: Path | None = None
    duckdb_memory_limit: str | None = DEFAULT_DUCKDB_MEMORY_LIMIT  # None: DuckDB's own default
    progress: bool = False  # progress on stderr: a bar on a terminal, else a log line per interval
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL  # seconds between progress log lines

    def __post_init__(self) -> None:
        if not self.dataset_id:
            raise ConfigError(
                "No dataset id: set META_DATASET_ID or pass --dataset-id (Events Manager > Data sources)."
            )
        check_numeric_id(self.dataset_id, "The dataset id (META_DATASET_ID / --dataset-id)")
        if not self.dry_run and not self.access_token:
            raise ConfigError(
                "No access token: export META_ACCESS_TOKEN (a system-user token with access to the dataset), "
                "or use --dry-run to build and validate events without sending them."
            )
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE} (Meta's limit per request).")
        _check_count(self.concurrency, "--concurrency", 1, MAX_CONCURRENCY)
        _check_number(self.timeout_seconds, "--timeout", 0, above=True)
        _check_number(self.progress_interval, "--progress-every", 0, above=True)  # 0 would log every batch
        if self.duckdb_memory_limit is not None and not MEMORY_LIMIT.fullmatch(self.duckdb_memory_limit):
            raise ConfigError(
                "--duckdb-memory-limit takes a size like 256MB, 1.5GB or 512MiB (KB, MB, GB, TB, KiB, MiB, GiB, "
                f"TiB), not {self.duckdb_memory_limit!r}."
            )
        check_api_version(self.api_version)
        check_graph_url(self.graph_url)
        _check_output_path(self.report_json, "--report-json")
        _check_output_path(self.dry_run_output, "--dry-run-output")
