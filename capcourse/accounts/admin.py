"""Admin tasks the services of this package do not cover yet: changing a person's role."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role, User
from capcourse.accounts.services import end_sessions
from capcourse.errors import ConflictError, InvalidInputError

logger = logging.getLogger(__name__)

#: The roles a person (not a machine client) may hold.
PERSON_ROLES = (Role.ADMIN, Role.LEAD, Role.AUTHOR)


def set_role(session: Session, user: User, role: str) -> User:
    """Give ``user`` another role; their sessions end, so the new rights apply from their next sign-in.

    :raises InvalidInputError: not a role a person holds.
    :raises ConflictError: the last active admin would be left with no admin.
    """
    if role not in PERSON_ROLES:
        raise InvalidInputError(
            f"{role!r} is not a role for a person: admin, lead or author.", {"role": ["admin, lead or author"]}
        )
    if role == user.role:
        return user
    if user.role == Role.ADMIN and user.is_active:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.disabled_at.is_(None))
        )
        if (admins or 0) <= 1:
            raise ConflictError(f"{user.email} is the last active admin; make another admin first.")
    user.role = role
    end_sessions(session, user)
    logger.info("User %s is now %s", user.id, role)
    return user
