"""Persistence of cohorts, their learners, and the names programmes know learners by."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.catalogue.models import Programme
from capcourse.extensions import db
from capcourse.records.models import Learner
from capcourse.timestamps import utcnow


class Cohort(db.Model):  # type: ignore[name-defined,misc]
    """A named group of a programme's learners ("Autumn 2026 intake")."""

    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("programme_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    programme: Mapped[Programme] = relationship()


class CohortMember(db.Model):  # type: ignore[name-defined,misc]
    """A learner in a cohort (a learner may be in several)."""

    __tablename__ = "cohort_members"

    cohort_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    learner: Mapped[Learner] = relationship()


class ProgrammeLearner(db.Model):  # type: ignore[name-defined,misc]
    """The name a programme knows a learner by.

    Learners are shared by every programme (one row per xAPI agent), so a name
    given in one programme's cohort must not rename the learner another
    programme sees: each programme keeps its own. Where a programme has none,
    pages show the name the learner's own records carry (``Learner.name``).
    """

    __tablename__ = "programme_learners"

    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(300))
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
