"""Persistence of users, programme memberships and API keys."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class Role(enum.StrEnum):
    """What an account may do. Programme access also needs a membership (see :mod:`.access`)."""

    #: Everything, on every programme.
    ADMIN = "admin"
    #: Creates programmes; reads everything of the programmes they lead.
    LEAD = "lead"
    #: Edits the courses and mappings of the programmes they are assigned to.
    AUTHOR = "author"
    #: A machine client such as an LMS; sends learning records.
    INTEGRATION = "integration"


class MembershipRole(enum.StrEnum):
    LEAD = "lead"
    AUTHOR = "author"


class User(db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in to the web interface."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    #: scrypt, through werkzeug.security; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Part of every session cookie's user id; raising it ends every session of
    #: the user at once (sign-out, password change, disable).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list[ProgrammeMember]] = relationship(back_populates="user", passive_deletes=True)

    # Flask-Login's user protocol.
    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie carries: the id and the session version, so a raised version voids old cookies."""
        return f"{self.id}.{self.session_version}"


class ProgrammeMember(db.Model):  # type: ignore[name-defined,misc]
    """A user's place on a programme: lead (reads all of it) or author (edits it)."""

    __tablename__ = "programme_members"
    __table_args__ = (UniqueConstraint("programme_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiKey(db.Model):  # type: ignore[name-defined,misc]
    """An API key. Only a hash is kept: the key itself is shown once, at creation.

    Lead and author keys belong to a user and reach that user's programmes;
    admin and integration keys stand alone.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The key's first characters, so a person can tell keys apart in lists and logs.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: An integration key's programmes (ids as text): it reads only their statements and launches.
    #: ``None``: every programme, which an admin chooses explicitly (``--all-programmes``).
    programme_ids: Mapped[list[str] | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship()
