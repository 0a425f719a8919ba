"""Persistence of programmes, courses, modules, activities and their external identifiers.

Editable rows carry a ``version`` that SQLAlchemy increments on every update;
the API exposes it as the ETag, so a stale update is refused instead of
silently overwriting someone else's change.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.timestamps import utcnow


class Status(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


STATUS_CHECK = "status IN ('draft', 'published', 'retired')"

programme_frameworks = Table(
    "programme_frameworks",
    db.metadata,
    Column("programme_id", ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True),
    Column("framework_id", ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True),
)


class Programme(db.Model):  # type: ignore[name-defined,misc]
    """A set of courses judged against chosen frameworks ("Pathway 1, 2026 cohort")."""

    __tablename__ = "programmes"
    __table_args__ = (CheckConstraint(STATUS_CHECK, name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    frameworks: Mapped[list[Framework]] = relationship(secondary=programme_frameworks, order_by=Framework.title)
    courses: Mapped[list[Course]] = relationship(
        back_populates="programme", order_by="Course.position", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}


class ContentMixin:
    """What courses, modules and activities share: identity, text, status, place in their parent, times,
    and the version that SQLAlchemy increments on every update (the API's ETag)."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[CheckConstraint]:
        return (CheckConstraint(STATUS_CHECK, name="status"),)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Course(ContentMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "courses"

    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)

    programme: Mapped[Programme] = relationship(back_populates="courses")
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="Module.position", cascade="all, delete-orphan", passive_deletes=True
    )
    external_ids: Mapped[list[ExternalId]] = relationship(
        primaryjoin="ExternalId.course_id == Course.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Module(ContentMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "modules"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)

    course: Mapped[Course] = relationship(back_populates="modules")
    activities: Mapped[list[Activity]] = relationship(
        back_populates="module", order_by="Activity.position", cascade="all, delete-orphan", passive_deletes=True
    )
    external_ids: Mapped[list[ExternalId]] = relationship(
        primaryjoin="ExternalId.module_id == Module.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Activity(ContentMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "activities"

    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)

    module: Mapped[Module] = relationship(back_populates="activities")
    external_ids: Mapped[list[ExternalId]] = relationship(
        primaryjoin="ExternalId.activity_id == Activity.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ExternalId(db.Model):  # type: ignore[name-defined,misc]
    """An identifier another system uses for a course, module or activity.

    ``system`` says whose it is (``lms-activity-iri``, ``moodle-cm-url``,
    ``scorm-item`` …) so completion events can be matched to the activity later.
    """

    __tablename__ = "external_ids"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN course_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN module_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN activity_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
        UniqueConstraint("programme_id", "system", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Identifiers are unique within a programme: two programmes may reuse a SCORM item id.
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(1000), index=True)
