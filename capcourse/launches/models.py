"""Persistence of launches: a learner's launch of an activity, and what its player last committed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.catalogue.models import Activity
from capcourse.extensions import db
from capcourse.records.models import Learner
from capcourse.timestamps import utcnow


class Launch(db.Model):  # type: ignore[name-defined,misc]
    """A learner's launch of one activity, started by an LMS for a browser player.

    The player authenticates its commits with the launch's token: shown once,
    when the launch is created; only its hash is kept.
    """

    __tablename__ = "launches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: SHA-256 of the token, hex.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), index=True)
    #: The xAPI registration of the attempt: goes into the context of the statements it produces.
    registration: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    #: Scaled 0–1; overrides the mastery score the player commits.
    passing_score: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_commit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    commits: Mapped[int] = mapped_column(Integer, default=0)
    #: The last commit's run-time data as :func:`scorm.parse_runtime` normalised it, for support.
    last_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    activity: Mapped[Activity] = relationship()
    learner: Mapped[Learner] = relationship()
