"""Persistence of mappings and of the audit trail of every change to them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.catalogue.models import Activity, Module
from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.timestamps import utcnow


class Depth(enum.StrEnum):
    """How far a module or activity takes an item: taught versus assessed matters to leads."""

    INTRODUCED = "introduced"
    DEVELOPED = "developed"
    ASSESSED = "assessed"


class MappingProvenance(enum.StrEnum):
    AUTHORED = "authored"
    IMPORTED = "imported"
    SUGGESTED_THEN_CONFIRMED = "suggested-then-confirmed"
    #: Made by moving the programme to another version of the framework (capcourse.versions).
    MOVED = "moved"


class Mapping(db.Model):  # type: ignore[name-defined,misc]
    """A module or an activity mapped to a framework item, at a depth."""

    __tablename__ = "mappings"
    __table_args__ = (
        CheckConstraint("(module_id IS NULL) <> (activity_id IS NULL)", name="one_target"),
        CheckConstraint("depth IN ('introduced', 'developed', 'assessed')", name="depth"),
        UniqueConstraint("module_id", "item_id"),
        UniqueConstraint("activity_id", "item_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: Denormalised from the module or activity, so access checks and coverage need no joins.
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="RESTRICT"), index=True)
    depth: Mapped[str] = mapped_column(String(20))
    provenance: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    item: Mapped[Item] = relationship()
    module: Mapped[Module | None] = relationship()
    activity: Mapped[Activity | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class MappingEvent(db.Model):  # type: ignore[name-defined,misc]
    """One change to a mapping: who, when, what. Kept after the mapping is removed."""

    __tablename__ = "mapping_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    # No foreign keys to the mapping or its target: history outlives them.
    mapping_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    module_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    target_title: Mapped[str] = mapped_column(String(300))
    item_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    item_label: Mapped[str] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(20))
    depth_before: Mapped[str | None] = mapped_column(String(20))
    depth_after: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
