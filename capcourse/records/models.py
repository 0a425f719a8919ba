"""Persistence of learners, completions, records waiting for a mapping, statements and the outbox."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.catalogue.models import Activity
from capcourse.extensions import db
from capcourse.identifiers import uuid7
from capcourse.timestamps import utcnow


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    PASSED = "passed"
    FAILED = "failed"


class Learner(db.Model):  # type: ignore[name-defined,misc]
    """A person as LMSs identify them: one row per xAPI agent key."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: :func:`xapi.agent_key` of the agent: the same person whatever the case of their email.
    agent_key: Mapped[str] = mapped_column(String(600), unique=True)
    #: The normalised xAPI agent used as ``actor`` in emitted statements.
    agent: Mapped[dict[str, Any]] = mapped_column(JSON)
    name: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Completion(db.Model):  # type: ignore[name-defined,misc]
    """A learner completed, passed or failed an activity."""

    __tablename__ = "completions"
    # Who succeeded in a programme (and still counts), answered from the index alone (cohort sizes).
    __table_args__ = (
        Index("ix_completions_programme_success_learner", "programme_id", "success", "voided_at", "learner_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: Not indexed alone: ix_completions_programme_success_learner starts with it.
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    success: Mapped[bool | None] = mapped_column(Boolean)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    score_raw: Mapped[float | None] = mapped_column(Float)
    score_min: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float | None] = mapped_column(Float)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: api, xapi or scorm.
    source: Mapped[str] = mapped_column(String(20))
    #: The sender's key (or the received statement's id): a resend is recorded once.
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    #: The id of the statement capcourse emitted for it.
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    #: When the statement that produced it was voided or retracted: kept, but it counts nowhere any more.
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    learner: Mapped[Learner] = relationship()
    activity: Mapped[Activity] = relationship()

    @classmethod
    def counts(cls) -> Any:
        """The condition of a completion that counts towards an attainment: a known success, not voided."""
        return and_(cls.success.is_(True), cls.voided_at.is_(None))

    @classmethod
    def is_evidence(cls) -> Any:
        """The condition of a completion that is evidence: not voided and not failed.

        A completion whose success is unknown (completed, no verdict) shows the
        learner did the activity, so it is evidence for the items it is mapped
        to; only a known success (:meth:`counts`) finishes an attainment.
        """
        return and_(cls.success.is_not(False), cls.voided_at.is_(None))


class PendingRecord(db.Model):  # type: ignore[name-defined,misc]
    """A completion for an activity id nothing is mapped to yet, kept until an author maps it."""

    __tablename__ = "pending_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_ref: Mapped[str] = mapped_column(String(1000), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    #: The completion as received, normalised: learner, outcome, score, timestamp, source.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class Attainment(db.Model):  # type: ignore[name-defined,misc]
    """A learner's completions cover a framework item: emitted once as an ``achieved`` statement."""

    __tablename__ = "attainments"
    __table_args__ = (UniqueConstraint("learner_id", "item_id", "programme_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    attained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredStatement(db.Model):  # type: ignore[name-defined,misc]
    """A statement in capcourse's own store: received from an LMS or emitted by capcourse.

    Queried through ``GET /xapi/statements``, the embedded LRS.
    """

    __tablename__ = "statements"

    #: Increasing with every insert: the stable order ``more`` pages by.
    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: received or emitted.
    origin: Mapped[str] = mapped_column(String(20))
    verb_id: Mapped[str] = mapped_column(String(500), index=True)
    # origin, object and agent are not indexed here: every index is one more B-tree written per statement,
    # and the Statement resource finds agents and activities through lrs_statement_index.
    object_id: Mapped[str | None] = mapped_column(String(1000))
    agent_key: Mapped[str | None] = mapped_column(String(600))
    registration: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxEntry(db.Model):  # type: ignore[name-defined,misc]
    """One statement to deliver to one LRS destination; written with the completion."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("stored_pk", "destination"),
        # The delivery claim (pending, for a destination, due) and the counts by state and destination.
        Index("ix_outbox_claim", "state", "destination", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored_pk: Mapped[int] = mapped_column(ForeignKey("statements.pk", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    stored: Mapped[StoredStatement] = relationship()


class Evidence(db.Model):  # type: ignore[name-defined,misc]
    """A learner's evidence for a framework item in a programme, kept current as completions and mappings change.

    Derived data: :mod:`capcourse.records.evidence` writes it in the transaction
    that records a completion or changes a mapping, so the cohort views read a
    small aggregate instead of joining every completion.
    """

    __tablename__ = "evidence"

    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True, index=True)
    completions: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
