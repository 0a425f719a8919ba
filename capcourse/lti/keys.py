"""capcourse's own LTI signing keys: creation, rotation and the public key set (JWKS)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from jwcrypto.jwk import JWK
from pylti1p3.registration import Registration
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from capcourse.lti.models import LtiKey
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

#: RSA key size: 2048 bits is what LTI platforms expect and accept for RS256.
KEY_BITS = 2048
#: How long a retired key stays published: platforms cache a JWKS for hours, and
#: a deep-linking response signed just before a rotation is checked after it.
RETIRED_KEY_GRACE = timedelta(days=7)


def _new_key() -> LtiKey:
    pair = JWK.generate(kty="RSA", size=KEY_BITS)
    public_pem = pair.export_to_pem().decode()
    private_pem = pair.export_to_pem(private_key=True, password=None).decode()
    # The kid pylti1p3 puts in the JWT headers it signs: the key's thumbprint.
    kid = str(Registration.get_jwk(public_pem)["kid"])
    return LtiKey(kid=kid, private_pem=private_pem, public_pem=public_pem, created_at=utcnow())


def active_key(session: Session) -> LtiKey:
    """The key that signs now; created on first use."""
    key: LtiKey | None = session.scalar(
        select(LtiKey).where(LtiKey.retired_at.is_(None)).order_by(LtiKey.created_at.desc(), LtiKey.id.desc())
    )
    if key is None:
        key = _new_key()
        session.add(key)
        session.flush()
        logger.info("LTI signing key %s created", key.kid)
    return key


def rotate_keys(session: Session) -> LtiKey:
    """Start signing with a new key; the old ones stay published for :data:`RETIRED_KEY_GRACE`, then go."""
    now = utcnow()
    for key in session.scalars(select(LtiKey).where(LtiKey.retired_at.is_(None))):
        key.retired_at = now
    session.execute(delete(LtiKey).where(LtiKey.retired_at < now - RETIRED_KEY_GRACE))
    key = _new_key()
    session.add(key)
    session.flush()
    logger.info("LTI signing key rotated: %s now signs", key.kid)
    return key


def list_keys(session: Session) -> list[LtiKey]:
    """Every published key, newest first."""
    return list(session.scalars(select(LtiKey).order_by(LtiKey.created_at.desc(), LtiKey.id.desc())))


def public_jwks(session: Session) -> dict[str, Any]:
    """The JWKS platforms check capcourse's signatures with: the signing key and the retired ones in grace."""
    active_key(session)
    cutoff = utcnow() - RETIRED_KEY_GRACE
    keys = [k for k in list_keys(session) if k.retired_at is None or _aware(k.retired_at) >= cutoff]
    return {"keys": [dict(Registration.get_jwk(k.public_pem)) for k in keys]}


def _aware(moment: Any) -> Any:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
