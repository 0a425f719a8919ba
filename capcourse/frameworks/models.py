"""Persistence of frameworks, items, associations and the icon legend."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class Provenance(enum.StrEnum):
    """Where an association (or a link of the icon legend) comes from."""

    #: The source document states it.
    PUBLISHED = "published"
    #: We concluded it from the source; a person should confirm it.
    INFERRED = "inferred"
    #: Software proposed it; nobody has confirmed it yet.
    SUGGESTED = "suggested"
    #: A person confirmed (or made) it.
    CONFIRMED = "confirmed"


class ManagedBy(enum.StrEnum):
    """What keeps an association up to date, so each owner only touches its own rows."""

    #: ``capcourse frameworks sync`` from the shipped data files.
    SEED = "seed"
    #: Derived from the icon legend; rebuilt when the legend changes.
    ICON_LEGEND = "icon-legend"
    #: A shipped crosswalk (``capcourse/data/crosswalks/``), loaded by ``capcourse frameworks sync``
    #: until a person edits the row (then ``None``: a person's rows are never overwritten).
    CROSSWALK = "crosswalk"


#: CASE 1.1 association types (``ext:`` types are allowed too).
ASSOCIATION_TYPES = (
    "isChildOf",
    "isPeerOf",
    "isPartOf",
    "exactMatchOf",
    "precedes",
    "isRelatedTo",
    "replacedBy",
    "exemplar",
    "hasSkillLevel",
    "isTranslationOf",
)


class Framework(db.Model):  # type: ignore[name-defined,misc]
    """A framework document (CASE CFDocument). Each version is its own document."""

    __tablename__ = "frameworks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    family: Mapped[str] = mapped_column(String(100), index=True)
    uri: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500))
    creator: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str | None] = mapped_column(String(300))
    version: Mapped[str | None] = mapped_column(String(100))
    adoption_status: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str | None] = mapped_column(String(20))
    licence: Mapped[str | None] = mapped_column(String(300))
    licence_uri: Mapped[str | None] = mapped_column(String(500))
    official_source_url: Mapped[str | None] = mapped_column(String(500))
    source_document: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    last_change: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When the framework was first imported from a CASE package; ``None`` for the
    #: shipped frameworks. ``capcourse frameworks sync`` never touches imported ones.
    imported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The file name or https URL of the package it was last imported from.
    imported_from: Mapped[str | None] = mapped_column(String(1000))
    #: CASE properties capcourse does not model, kept verbatim so a re-export loses
    #: nothing (see :mod:`capcourse.case.importing`).
    case_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    items: Mapped[list[Item]] = relationship(
        back_populates="framework", cascade="all, delete-orphan", passive_deletes=True, order_by="Item.position"
    )


class Item(db.Model):  # type: ignore[name-defined,misc]
    """An item of a framework (CASE CFItem): a capability, statement, indicator …"""

    __tablename__ = "framework_items"
    __table_args__ = (
        UniqueConstraint("framework_id", "key"),
        Index("ix_framework_items_framework_parent_position", "framework_id", "parent_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    uri: Mapped[str | None] = mapped_column(String(500))
    # code, stage, association_type and managed_by are not indexed alone: each is read beside a framework,
    # whose indexes find the rows, and each index is a B-tree more for every row a CASE import writes.
    code: Mapped[str | None] = mapped_column(String(100))
    item_type: Mapped[str] = mapped_column(String(100), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("framework_items.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    full_statement: Mapped[str] = mapped_column(Text)
    abbreviated_statement: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    #: Stage or level of progression (SSSC: emerging / established / accomplished).
    stage: Mapped[str | None] = mapped_column(String(50))
    #: The marker the source prints beside the item (Frontline's attribute icons).
    icon: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    last_change: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Identifier of the CASE ``isChildOf`` association that places an imported item
    #: in its tree (shipped items derive theirs from both ends).
    parent_association_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    #: CASE properties capcourse does not model, kept verbatim from an imported package.
    case_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    framework: Mapped[Framework] = relationship(back_populates="items")
    parent: Mapped[Item | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Item]] = relationship(back_populates="parent", order_by="Item.position", passive_deletes=True)


class Association(db.Model):  # type: ignore[name-defined,misc]
    """A typed link from an item to an item (of any framework) or to an external URI.

    The tree itself is :attr:`Item.parent_id`; ``isChildOf`` rows are only
    stored for extra parents (a CASE item may sit in several places).
    """

    __tablename__ = "framework_associations"
    __table_args__ = (
        CheckConstraint(
            "(destination_item_id IS NULL) <> (destination_uri IS NULL)",
            name="one_destination",
        ),
        CheckConstraint(
            "provenance IN ('published', 'inferred', 'suggested', 'confirmed')",
            name="provenance",
        ),
        CheckConstraint("strength IS NULL OR (strength >= 0 AND strength <= 1)", name="strength"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    #: The framework whose package carries the association.
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"), index=True)
    association_type: Mapped[str] = mapped_column(String(100))
    origin_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    destination_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("framework_items.id", ondelete="CASCADE"), index=True
    )
    destination_uri: Mapped[str | None] = mapped_column(String(500))
    sequence: Mapped[int | None] = mapped_column(Integer)
    provenance: Mapped[str] = mapped_column(String(20))
    #: The source's own hedge on the link, verbatim ("closely links to").
    qualifier: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    managed_by: Mapped[str | None] = mapped_column(String(20))
    last_change: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: CASE properties capcourse does not model, kept verbatim from an imported package.
    case_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: How closely the two ends correspond, 0 to 1 (a crosswalk's judgement; CASE has no property
    #: for it, so it travels in ``extensions.capcourse``). ``None``: not stated.
    strength: Mapped[float | None] = mapped_column(Float)
    #: Who made the association (a person's email, ``capcourse frameworks sync``, an import) and when;
    #: ``None`` for rows older than these columns.
    created_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Who last changed it (``last_change`` says when).
    updated_by: Mapped[str | None] = mapped_column(String(300))
    #: Who confirmed a suggested or inferred association, and when.
    reviewed_by: Mapped[str | None] = mapped_column(String(300))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    origin: Mapped[Item] = relationship(foreign_keys=[origin_item_id])
    destination: Mapped[Item | None] = relationship(foreign_keys=[destination_item_id])


class AssociationRemoval(db.Model):  # type: ignore[name-defined,misc]
    """A shipped crosswalk association a person deleted, so ``capcourse frameworks sync`` leaves it out.

    Keyed by the association's identifier, which shipped rows derive from their type and ends.
    """

    __tablename__ = "framework_association_removals"

    association_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    association_type: Mapped[str] = mapped_column(String(100))
    origin_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    destination_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_items.id", ondelete="CASCADE"), index=True
    )
    removed_by: Mapped[str] = mapped_column(String(300))
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class IconLegendEntry(db.Model):  # type: ignore[name-defined,misc]
    """One link of an icon legend: items marked ``icon`` relate to ``area``.

    The Frontline source lost its legend in conversion, so the shipped rows are
    ``inferred`` with a written rationale; an admin confirms or changes them.
    """

    __tablename__ = "framework_icon_legend"
    __table_args__ = (UniqueConstraint("framework_id", "icon", "area_item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"), index=True)
    icon: Mapped[str] = mapped_column(String(20))
    area_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"))
    provenance: Mapped[str] = mapped_column(String(20))
    rationale: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    area: Mapped[Item] = relationship()
