"""Typed configuration of an export run; the CLI builds it from flags and environment variables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
# Meta supports each Conversions API version for at least two years; v26.0 was released 2026-07-29.
DEFAULT_API_VERSION = "v26.0"
DEFAULT_MODEL = "meta_offline_events"
MAX_BATCH_SIZE = 1000  # Meta rejects requests with more events


class ConfigError(ValueError):
    """A configuration or usage mistake; the message says how to fix it (exit code 2)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Which waits to make between tries of one request (see delivery.py for which errors retry)."""

    max_tries: int = 8
    first_wait: float = 1.0
    max_wait: float = 60.0
    budget_seconds: float = 900.0  # total time a run may spend waiting to retry


@dataclass(frozen=True)
class RejectionThreshold:
    """`--max-rejected`: a row count (`25`) or a share of rows read (`2%`)."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectionThreshold:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", text)
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
    dbt_target_path: Path = Path("target")
    allow_unsuccessful_model: bool = False
    dry_run: bool = False
    dry_run_output: Path | None = None
    resend: bool = False
    batch_size: int = MAX_BATCH_SIZE
    concurrency: int = 4
    timeout_seconds: float = 60.0
    retry: RetryPolicy = RetryPolicy()
    max_rejected: RejectionThreshold | None = None
    default_phone_region: str = "US"
    report_json: Path | None = None
    duckdb_memory_limit: str | None = None
    workers: int | None = None  # processes hashing customers; None: one per core for large models
    progress: bool = False

    def __post_init__(self) -> None:
        if not self.dataset_id:
            raise ConfigError(
                "No dataset id: set META_DATASET_ID or pass --dataset-id (Events Manager > Data sources)."
            )
        if not self.dataset_id.isdigit():
            raise ConfigError(f"The dataset id must be the numeric id from Events Manager, not {self.dataset_id!r}.")
        if not self.dry_run and not self.access_token:
            raise ConfigError(
                "No access token: export META_ACCESS_TOKEN (a system-user token with access to the dataset), "
                "or use --dry-run to build and validate events without sending them."
            )
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE} (Meta's limit per request).")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1.")
        if not re.fullmatch(r"v\d+\.\d+", self.api_version):
            raise ConfigError(f"--api-version looks like v26.0, not {self.api_version!r}.")
        if not re.match(r"https?://", self.graph_url):
            raise ConfigError(f"--graph-url must be an http(s) URL, not {self.graph_url!r}.")
