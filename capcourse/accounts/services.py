"""Creating, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import ApiKey, Role
from capcourse.errors import InvalidInputError, NotFoundError, UnauthorizedError
from capcourse.frameworks.models import utcnow

logger = logging.getLogger(__name__)

KEY_PREFIX = "cc_"


def _digest(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to
    # brute-force, unlike a password.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once and never stored.

    :raises InvalidInputError: unknown role or empty name.
    """
    if role not in set(Role):
        raise InvalidInputError(f"Unknown role {role!r}.", {"role": [f"One of: {', '.join(Role)}"]})
    if not name.strip():
        raise InvalidInputError("A key needs a name.", {"name": ["Must not be empty."]})
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name.strip(), role=role, prefix=plain[:10], key_hash=_digest(plain))
    session.add(key)
    session.flush()
    logger.info("API key %s (%s) created for %r", key.prefix, role, key.name)
    return key, plain


def authenticate(session: Session, plain: str) -> ApiKey:
    """The live key matching ``plain``.

    :raises UnauthorizedError: unknown or revoked key.
    """
    key: ApiKey | None = session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(plain)))
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plain)):
        raise UnauthorizedError("The API key is not valid.")
    if key.revoked_at is not None:
        raise UnauthorizedError("The API key has been revoked.")
    key.last_used_at = utcnow()
    return key


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """:raises NotFoundError: no key starts with ``prefix``."""
    key: ApiKey | None = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFoundError(f"No API key has the prefix {prefix!r}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    return key
