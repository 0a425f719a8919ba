"""What people decided about suggestions: each confirmation and rejection, with the text it was made for."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.timestamps import utcnow


class Kind(enum.StrEnum):
    """What was suggested."""

    #: A framework item for a module or an activity.
    MAPPING = "mapping"
    #: An item of another framework, equivalent to an item.
    EQUIVALENT = "equivalent"
    #: A curriculum area for an item (a Frontline effective attribute).
    AREA = "area"


class Decision(enum.StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class SubjectKind(enum.StrEnum):
    MODULE = "module"
    ACTIVITY = "activity"
    ITEM = "item"


class SuggestionDecision(db.Model):  # type: ignore[name-defined,misc]
    """A person confirmed or rejected ``item`` as a suggestion for ``subject``.

    The subject's text at the time is kept: later suggestions for subjects whose
    text resembles it are raised (confirmed) or lowered (rejected). The latest
    decision about a pair replaces an earlier one.
    """

    __tablename__ = "suggestion_decisions"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "item_id"),
        CheckConstraint("kind IN ('mapping', 'equivalent', 'area')", name="kind"),
        CheckConstraint("decision IN ('confirmed', 'rejected')", name="decision"),
        CheckConstraint("subject_kind IN ('module', 'activity', 'item')", name="subject_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    # No foreign key to the module or activity: a decision is history, and teaches after they are gone.
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    #: The programme of a module or activity (decisions about mappings are read within it).
    programme_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(20))
    subject_text: Mapped[str] = mapped_column(Text)
    #: Where the suggestion stood when the person decided (None when not offered, e.g. by CLI).
    rank: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    item: Mapped[Item] = relationship()
