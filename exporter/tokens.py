"""`python -m exporter token check|refresh`: keep a long-lived access token from lapsing.

A scheduler runs `token check` daily; when it exits 1 (expires within --renew-days), it runs
`token refresh --output FILE`, which exchanges the current token for a new long-lived one
(about 60 days) and writes it to FILE (mode 600), from where the scheduler's secret store
picks it up. The token itself is never printed or logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from exporter.config import DEFAULT_API_VERSION, DEFAULT_GRAPH_URL
from exporter.meta_api import ErrorKind, MetaApiError, MetaClient

log = logging.getLogger(__name__)

EXIT_OK, EXIT_RENEW, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exporter token",
        description="Check when META_ACCESS_TOKEN expires, or exchange it for a long-lived token. "
        "Needs META_ACCESS_TOKEN, META_APP_ID and META_APP_SECRET.",
    )
    parser.add_argument("--graph-url", default=os.environ.get("META_GRAPH_URL", DEFAULT_GRAPH_URL))
    parser.add_argument("--api-version", default=os.environ.get("META_API_VERSION", DEFAULT_API_VERSION))
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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    token, app_id, app_secret = (
        os.environ.get(name) for name in ("META_ACCESS_TOKEN", "META_APP_ID", "META_APP_SECRET")
    )
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
        return EXIT_CONFIG
    client = MetaClient(args.graph_url, args.api_version, token, app_secret)
    try:
        if args.command == "check":
            return check(client, app_id, app_secret, args.renew_days)
        return refresh(client, app_id, app_secret, args.output)
    except MetaApiError as error:
        if error.kind is ErrorKind.AUTH:
            log.error(
                "Meta refused the token or the app credentials (%s): issue a new token and export it as META_ACCESS_TOKEN.",
                error,
            )
            return EXIT_CONFIG
        log.error("Meta answered with an error: %s", error)
        return EXIT_RENEW
    finally:
        client.close()


def check(client: MetaClient, app_id: str, app_secret: str, renew_days: float) -> int:
    info = client.debug_token(app_id, app_secret)
    if not info.get("is_valid"):
        log.error("The token is not valid (anymore): issue a new one and export it as META_ACCESS_TOKEN.")
        return EXIT_CONFIG
    expires_at = int(info.get("expires_at") or 0)
    if expires_at == 0:  # system-user tokens do not expire
        print("token is valid and does not expire")
        return EXIT_OK
    expiry = datetime.fromtimestamp(expires_at, UTC)
    days_left = (expiry - datetime.now(UTC)).total_seconds() / 86400
    print(f"token is valid until {expiry:%Y-%m-%d %H:%M} UTC ({days_left:.1f} days)")
    if days_left < renew_days:
        print(f"renew it now: python -m exporter token refresh --output FILE (it expires within {renew_days:g} days)")
        return EXIT_RENEW
    return EXIT_OK


def refresh(client: MetaClient, app_id: str, app_secret: str, output: Path) -> int:
    answer = client.exchange_token(app_id, app_secret)
    new_token = answer.get("access_token")
    if not new_token:
        log.error("Meta's answer held no access token")
        return EXIT_RENEW
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(new_token + "\n")
    os.chmod(output, 0o600)
    days = int(answer.get("expires_in") or 0) / 86400
    print(f"wrote a new long-lived token to {output}" + (f" (valid for {days:.0f} days)" if days else ""))
    print('point META_ACCESS_TOKEN at it, e.g. export META_ACCESS_TOKEN="$(cat ' + str(output) + ')"')
    return EXIT_OK
