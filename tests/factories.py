"""Factories for test data."""

from __future__ import annotations

from sqlalchemy.orm import Session

from capcourse.accounts.models import ApiKey, Role
from capcourse.accounts.services import create_api_key


def api_key(session: Session, role: Role = Role.ADMIN, name: str | None = None) -> tuple[ApiKey, str]:
    """A live API key and its plain text, for ``Authorization: Bearer``."""
    return create_api_key(session, name or f"test {role} key", role)


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}
