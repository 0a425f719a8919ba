"""Persistence of API keys."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from capcourse.extensions import db
from capcourse.frameworks.models import utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    AUTHOR = "author"
    INTEGRATION = "integration"


class ApiKey(db.Model):  # type: ignore[name-defined,misc]
    """An API key. Only a hash is kept: the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    #: The key's first characters, so a person can tell keys apart in lists and logs.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
