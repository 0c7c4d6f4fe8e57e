"""Exit codes, as the README and `--help` document them."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0  # every sendable event was accepted (rows rejected by validation are reported, not fatal)
    NOT_ALL_DELIVERED = 1  # Meta rejected some events, some could not be delivered, or --max-rejected was exceeded
    CONFIG = 2  # configuration, usage, authorization or environment error: the message says how to fix it
    # `token check`: the token should be renewed now; `token refresh`: Meta gave no new token.
    RENEW_TOKEN = 1
