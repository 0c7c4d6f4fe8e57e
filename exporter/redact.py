"""Keep secrets out of everything printed, logged or stored: one registry, one scrub().

The access token, the app secret and appsecret_proof are registered once, where they are read.
Whatever a server answers (a message may echo the request), every log line (tracebacks with -v
included), the run report and the `meta_capi` tables go through scrub(). Besides each secret
itself, its URL- and JSON-encoded forms and any piece of it of FRAGMENT characters or more are
replaced, so a server that cuts or re-encodes an echoed token leaks no usable part of it.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"
FRAGMENT = 8  # the shortest piece of a secret that is redacted on its own
_MIN_SECRET = 4  # shorter values are not secrets worth the false positives (e.g. an app id "1")

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_fragments: frozenset[str] = frozenset()


def register(*values: str | None) -> None:
    """Treat these values as secrets from now on, in this process."""
    global _secrets, _fragments
    with _lock:
        secrets = set(_secrets)
        for value in values:
            if value and len(value) >= _MIN_SECRET:
                secrets.update({value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]})
        fragments = {secret[i : i + FRAGMENT] for secret in secrets for i in range(len(secret) - FRAGMENT + 1)}
        _secrets, _fragments = frozenset(secrets), frozenset(fragments)


def forget_all() -> None:
    """For tests: start again with no secrets."""
    global _secrets, _fragments
    with _lock:
        _secrets, _fragments = frozenset(), frozenset()


def scrub(text: str) -> str:
    """`text` with every registered secret, and every piece of one, replaced by <redacted>."""
    if not text or not _secrets:
        return text
    secrets, fragments = _secrets, _fragments
    hidden = [False] * len(text)
    for secret in secrets:  # whole secrets, also those shorter than FRAGMENT
        start = text.find(secret)
        while start != -1:
            hidden[start : start + len(secret)] = [True] * len(secret)
            start = text.find(secret, start + 1)
    for start in range(len(text) - FRAGMENT + 1):
        if text[start : start + FRAGMENT] in fragments:
            hidden[start : start + FRAGMENT] = [True] * FRAGMENT
    if not any(hidden):
        return text
    out, previous = [], False
    for char, is_hidden in zip(text, hidden, strict=True):
        if not is_hidden:
            out.append(char)
        elif not previous:
            out.append(REDACTED)
        previous = is_hidden
    return "".join(out)


def scrub_limited(text: str, limit: int) -> str:
    """scrub() of at most `limit` characters of `text`: for what a server says, which may be huge.

    The cut is made after scrubbing FRAGMENT characters more, so no piece of a secret that starts
    before the cut survives it.
    """
    if len(text) <= limit:
        return scrub(text)
    return scrub(text[: limit + FRAGMENT])[:limit] + "…"
