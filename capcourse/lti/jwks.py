"""The platforms' public keys (JWKS): fetched through the outbound guard, cached, refreshed on rotation.

A launch is checked against the key its token names (``kid``) in the
platform's key set. pylti1p3 would fetch the key set on every launch, with a
plain HTTP client; here it is fetched through :mod:`capcourse.outbound` (the key
set URL is typed in by an admin, or given by a platform during dynamic
registration, so it must not reach inside the network), with a deadline and a
size cap, and kept for as long as the platform's ``Cache-Control`` says (an
hour without one, a day at most). A token naming a key the cached set lacks
(the platform rotated its key) fetches the set again at once, but such
refreshes happen at most once a :data:`REFRESH_INTERVAL` per URL, so made-up
``kid`` values cannot make capcourse hammer the platform.

Each process keeps its own cache (in the application's extensions): a key set
is public and small, and each worker fetching it once an hour costs the
platform nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from flask import Flask, current_app
from pylti1p3.exception import LtiKeyException

from capcourse.outbound import Guard, OutboundRefusedError, guarded_client, parse_allow

logger = logging.getLogger(__name__)

#: Without a ``Cache-Control: max-age`` from the platform, a key set is kept this long (seconds).
DEFAULT_MAX_AGE = 3600.0
#: However long the platform says, a key set is fetched again after this long, and kept at least the shortest.
LONGEST_MAX_AGE, SHORTEST_MAX_AGE = 86400.0, 60.0
#: An unknown ``kid`` fetches the key set again at most this often per URL (seconds).
REFRESH_INTERVAL = 60.0
#: The whole fetch, redirects and reading included, and the biggest key set read (bytes).
DEADLINE, MAX_BYTES, MAX_REDIRECTS = 15.0, 256 * 1024, 3
#: The one message a failed fetch gives (the reason, which could tell an open port from a closed one, is logged).
UNREACHABLE = "capcourse could not fetch the platform's public keys (its key set URL); ask the LMS's administrator."

KeySet = dict[str, t.Any]


@dataclass
class _Entry:
    keys: KeySet
    expires_at: float
    #: When a token's unknown kid last made us fetch the set again.
    refreshed_at: float | None = None


class KeySetCache:
    """Key sets by URL, each kept until its expiry; thread-safe (a web worker's threads share it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key_set(self, url: str, fetch: Callable[[str], tuple[KeySet, float]], kid: str | None = None) -> KeySet:
        """The key set at ``url``: cached while fresh and holding ``kid``, else fetched (and kept).

        :param fetch: ``url -> (key set, seconds it may be kept)``.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(url)
        refreshed_at = None
        if entry is not None and now < entry.expires_at:
            if kid is None or _has_kid(entry.keys, kid):
                return entry.keys
            if entry.refreshed_at is not None and now - entry.refreshed_at < REFRESH_INTERVAL:
                return entry.keys  # refreshed a moment ago: the kid is made up, or not published yet
            logger.info("LTI key set %s lacks key %r: fetching it again (key rotation)", url, kid)
            refreshed_at = now
        keys, max_age = fetch(url)
        max_age = min(max(max_age, SHORTEST_MAX_AGE), LONGEST_MAX_AGE)
        with self._lock:
            self._entries[url] = _Entry(keys, now + max_age, refreshed_at)
        return keys

    def forget(self) -> None:
        """Drop every cached key set."""
        with self._lock:
            self._entries.clear()


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(isinstance(k, dict) and k.get("kid") == kid for k in keys.get("keys") or [])


def _max_age(cache_control: str) -> float:
    if re.search(r"\b(no-store|no-cache)\b", cache_control, re.IGNORECASE):
        return 0.0
    found = re.search(r"\bmax-age\s*=\s*(\d+)", cache_control, re.IGNORECASE)
    return float(found.group(1)) if found else DEFAULT_MAX_AGE


def fetch_key_set(url: str, guard: Guard, transport: httpx.BaseTransport | None = None) -> tuple[KeySet, float]:
    """GET a JWKS through the outbound guard: redirects checked hop by hop, a deadline, a size cap.

    :returns: the key set and how long it may be kept (seconds, from ``Cache-Control``).
    :raises LtiKeyException: :data:`UNREACHABLE` for any failure (the reason is logged).
    """
    ends = time.monotonic() + DEADLINE
    headers = {"Accept": "application/json", "User-Agent": "capcourse LTI tool"}
    try:
        with guarded_client(guard, httpx.Timeout(DEADLINE), headers, transport) as client:
            for _ in range(MAX_REDIRECTS + 1):
                left = ends - time.monotonic()
                if left <= 0:
                    raise httpx.TimeoutException("the fetch's deadline passed")
                with client.stream("GET", url, timeout=httpx.Timeout(left)) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    if response.status_code != 200:
                        raise ValueError(f"answered {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BYTES:
                            raise ValueError(f"key set bigger than {MAX_BYTES} bytes")
                        if time.monotonic() > ends:
                            raise httpx.TimeoutException("the fetch's deadline passed")
                    keys = json.loads(bytes(body))
                    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
                        raise ValueError("not a JWKS (no keys list)")
                    return keys, _max_age(response.headers.get("Cache-Control", ""))
            raise ValueError("too many redirects")
    except (httpx.HTTPError, OutboundRefusedError, ValueError) as error:
        logger.warning("LTI key set %s not fetched: %s", url, error)
        raise LtiKeyException(UNREACHABLE) from error


def app_cache(app: Flask) -> KeySetCache:
    """The application's key set cache."""
    cache = app.extensions.get("capcourse_lti_jwks")
    if cache is None:
        cache = app.extensions.setdefault("capcourse_lti_jwks", KeySetCache())
    return t.cast(KeySetCache, cache)


def platform_key_set(url: str, kid: str | None) -> KeySet:
    """The platform's key set for a launch naming ``kid``, from the current application's cache or fetched."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    guard = Guard(parse_allow(app.config.get("CAPCOURSE_OUTBOUND_ALLOW")))
    return app_cache(app).key_set(url, lambda u: fetch_key_set(u, guard), kid)
