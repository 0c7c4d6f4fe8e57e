"""`python -m exporter token check|refresh`: keep a long-lived access token from lapsing.

A scheduler runs `token check` daily; when it exits 1 (expires within --renew-days), it runs
`token refresh --output FILE`, which exchanges the current token for a new long-lived one
(about 60 days) and writes it to FILE (mode 600, written whole by rename: a symlink at FILE is
replaced, never followed), from where the scheduler's secret store picks it up. The token, the
app secret and anything Meta's answers repeat of them are never printed or logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from exporter import redact
from exporter.config import (
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_URL,
    ConfigError,
    check_api_version,
    check_graph_url,
    check_numeric_id,
)
from exporter.files import write_text
from exporter.meta_api import RATE_LIMIT_CODES, ErrorKind, MetaApiError, MetaClient
from exporter.status import ExitStatus
from exporter.terminal import Parser, setup_logging

log = logging.getLogger(__name__)

# What an access token looks like; anything else in Meta's answer is not written to the file.
TOKEN_TEXT = re.compile(r"[A-Za-z0-9._|~+/=-]{10,4096}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m exporter token",
        description="Check when META_ACCESS_TOKEN expires, or exchange it for a long-lived token. "
        "Needs META_ACCESS_TOKEN, META_APP_ID and META_APP_SECRET.",
    )
    parser.add_argument("--graph-url", default=os.environ.get("META_GRAPH_URL", DEFAULT_GRAPH_URL))
    parser.add_argument("--api-version", default=os.environ.get("META_API_VERSION", DEFAULT_API_VERSION))
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="report when the token expires; exit 1 if it should be renewed")
    check.add_argument(
        "--renew-days",
        type=float,
        default=7.0,
        help="exit 1 when the token expires within this many days (default: %(default)s)",
    )
    refresh = commands.add_parser("refresh", help="exchange the token for a long-lived one and write it to a file")
    refresh.add_argument(
        "--output", type=Path, required=True, help="file to write the new token to (created with mode 600)"
    )
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    setup_logging(args.verbose, args.quiet)
    token, app_id, app_secret = (
        os.environ.get(name) for name in ("META_ACCESS_TOKEN", "META_APP_ID", "META_APP_SECRET")
    )
    redact.register(token, app_secret)
    missing = [
        name
        for name, value in (("META_ACCESS_TOKEN", token), ("META_APP_ID", app_id), ("META_APP_SECRET", app_secret))
        if not value
    ]
    if missing:
        log.error(
            "Set %s: token commands need the token and the app it belongs to (App Dashboard > Settings > Basic).",
            ", ".join(missing),
        )
        return ExitStatus.CONFIG
    try:
        check_numeric_id(app_id, "META_APP_ID")
        check_api_version(args.api_version)
        check_graph_url(args.graph_url)
        if args.command == "check" and not 0 <= args.renew_days <= 3650:  # also refuses nan
            raise ConfigError(f"--renew-days takes a number of days between 0 and 3650, not {args.renew_days}.")
        if args.command == "refresh" and args.output.is_dir():
            raise ConfigError(f"--output names a file to write, and {args.output} is a folder.")
    except ConfigError as error:
        log.error("%s", error)
        return ExitStatus.CONFIG
    client = MetaClient(args.graph_url, args.api_version, token, app_secret)
    try:
        if args.command == "check":
            return check(client, app_id, app_secret, args.renew_days)
        return refresh(client, app_id, app_secret, args.output)
    except MetaApiError as error:
        if credentials_refused(error):
            log.error(
                "Meta refused the token or the app credentials (%s): check META_APP_ID and META_APP_SECRET "
                "(App Dashboard > Settings > Basic), or issue a new token and export it as META_ACCESS_TOKEN.",
                error,
            )
            return ExitStatus.CONFIG
        if error.kind is ErrorKind.REDIRECT:
            log.error("Meta was not reached: %s.", error)
            return ExitStatus.CONFIG
        log.error("Meta answered with an error: %s. Try again later.", error)
        return ExitStatus.RENEW_TOKEN
    except OSError as error:
        log.error("Cannot write the new token to %s: %s.", args.output, error.strerror or error)
        return ExitStatus.CONFIG
    finally:
        client.close()


def credentials_refused(error: MetaApiError) -> bool:
    """Meta refused the token, the app id or the app secret: a setting to fix (exit 2), not a
    temporary error to wait out. A wrong app secret is HTTP 400 with code 1 ("Error validating
    client secret"), the code Meta otherwise uses for temporary errors."""
    if error.kind is ErrorKind.AUTH:
        return True
    status = error.http_status
    client_error = status is not None and 400 <= status < 500 and status not in (408, 429)
    return client_error and not error.is_transient and error.code not in RATE_LIMIT_CODES


def check(client: MetaClient, app_id: str, app_secret: str, renew_days: float) -> int:
    info = client.debug_token(app_id, app_secret)
    if info.get("is_valid") is not True:
        log.error("The token is not valid (anymore): issue a new one and export it as META_ACCESS_TOKEN.")
        return ExitStatus.CONFIG
    expires_at = info.get("expires_at") or 0
    if type(expires_at) is not int or not 0 <= expires_at < 2**40:
        raise MetaApiError("Meta's answer about the token gave no usable expiry", http_status=200)
    if expires_at == 0:  # system-user tokens do not expire
        print("token is valid and does not expire")
        return ExitStatus.OK
    expiry = datetime.fromtimestamp(expires_at, UTC)
    days_left = (expiry - datetime.now(UTC)).total_seconds() / 86400
    print(f"token is valid until {expiry:%Y-%m-%d %H:%M} UTC ({days_left:.1f} days)")
    if days_left < renew_days:
        print(f"renew it now: python -m exporter token refresh --output FILE (it expires within {renew_days:g} days)")
        return ExitStatus.RENEW_TOKEN
    return ExitStatus.OK


def refresh(client: MetaClient, app_id: str, app_secret: str, output: Path) -> int:
    answer = client.exchange_token(app_id, app_secret)
    new_token = answer.get("access_token")
    if not isinstance(new_token, str) or not TOKEN_TEXT.fullmatch(new_token):
        log.error("Meta's answer held no access token")
        return ExitStatus.RENEW_TOKEN
    redact.register(new_token)
    write_text(output, new_token + "\n", private=True)
    expires_in = answer.get("expires_in")
    days = expires_in / 86400 if type(expires_in) is int and 0 < expires_in < 2**40 else 0
    print(f"wrote a new long-lived token to {output}" + (f" (valid for {days:.0f} days)" if days else ""))
    print('point META_ACCESS_TOKEN at it, e.g. export META_ACCESS_TOKEN="$(cat ' + str(output) + ')"')
    return ExitStatus.OK
