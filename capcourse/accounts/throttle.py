"""Throttling failed sign-ins, per account and per address.

Only failures count, so people who type their password right are never slowed
down, and a success clears the account's count. Guessing stops at the first
limit reached: a few tries a minute for one account (guessing one person's
password), more for one address (trying many accounts). The counts live in
``CAPCOURSE_RATELIMIT_STORAGE_URI`` (the ``limits`` library, which
Flask-Limiter is built on): ``memory://`` counts per process; several web
processes share counts through ``redis://`` or ``memcached://``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

EXTENSION = "capcourse.sign_in_throttle"


@dataclass
class SignInThrottle:
    """Limits on failed sign-ins, and where their counts are kept."""

    limiter: MovingWindowRateLimiter
    per_account: list[RateLimitItem]
    per_address: list[RateLimitItem]

    def _keys(self, email: str, address: str) -> list[tuple[RateLimitItem, str]]:
        account = f"sign-in:account:{email.strip().lower()}"
        return [(item, account) for item in self.per_account] + [
            (item, f"sign-in:address:{address}") for item in self.per_address
        ]

    def wait(self, email: str, address: str) -> int:
        """Seconds until a sign-in for ``email`` from ``address`` may be tried again; 0 when it may now."""
        longest = 0.0
        for item, key in self._keys(email, address):
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                longest = max(longest, reset - time.time())
        return max(1, math.ceil(longest)) if longest > 0 else 0

    def failed(self, email: str, address: str) -> None:
        for item, key in self._keys(email, address):
            self.limiter.hit(item, key)

    def succeeded(self, email: str) -> None:
        # The owner got in: their earlier typos no longer count against them.
        for item in self.per_account:
            self.limiter.clear(item, f"sign-in:account:{email.strip().lower()}")


def init_app(app: Flask) -> None:
    """Build the throttle from the settings (a malformed limit stops the app at start)."""
    storage = storage_from_string(app.config["CAPCOURSE_RATELIMIT_STORAGE_URI"])
    app.extensions[EXTENSION] = SignInThrottle(
        MovingWindowRateLimiter(storage),
        parse_many(app.config["CAPCOURSE_SIGN_IN_LIMIT_ACCOUNT"]),
        parse_many(app.config["CAPCOURSE_SIGN_IN_LIMIT_ADDRESS"]),
    )


def sign_in_throttle() -> SignInThrottle:
    """The current app's throttle."""
    throttle: SignInThrottle = current_app.extensions[EXTENSION]
    return throttle
