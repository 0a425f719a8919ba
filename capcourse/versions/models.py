"""What moving a programme to another version of a framework leaves behind.

A move retires the programme's mappings to items of the older version and maps
the same modules and activities to the newer items. Learner evidence is never
rewritten: a retired mapping keeps counting the completions recorded before the
move (so the evidence for the older item stays as it was), and a mapping made by
the move counts the completions from the move on (earlier ones show in the newer
version through the associations, not as evidence of the newer text).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class VersionMove(db.Model):  # type: ignore[name-defined,misc]
    """A drift report applied: a programme's mappings moved from one framework version to another."""

    __tablename__ = "version_moves"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    # No foreign keys to the frameworks: the record outlives a framework's removal.
    from_framework_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    to_framework_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    from_label: Mapped[str] = mapped_column(String(600))
    to_label: Mapped[str] = mapped_column(String(600))
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    #: Counts: moved, created, deepened and already (mapped to the newer item before), kept, dropped.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class RetiredMapping(db.Model):  # type: ignore[name-defined,misc]
    """A mapping a move took off an older item: its evidence up to the move stays with that item."""

    __tablename__ = "retired_mappings"
    __table_args__ = (CheckConstraint("(module_id IS NULL) <> (activity_id IS NULL)", name="one_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    move_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("version_moves.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    #: The identifier the mapping had (its history in ``mapping_events`` uses it).
    mapping_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    depth: Mapped[str] = mapped_column(String(20))
    #: Completions before this moment are evidence through the retired mapping.
    retired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The items of the newer version it moved to (empty: dropped).
    moved_to: Mapped[list[str]] = mapped_column(JSON)


class MovedMapping(db.Model):  # type: ignore[name-defined,misc]
    """A mapping a move made: completions before ``counts_from`` are not evidence through it."""

    __tablename__ = "moved_mappings"

    # No foreign key: a mapping removed later leaves this row harmless (nothing joins to it).
    mapping_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    move_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("version_moves.id", ondelete="CASCADE"), index=True)
    counts_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
