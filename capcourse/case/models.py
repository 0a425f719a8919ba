"""Persistence of the CASE definitions that imported packages carry.

Shipped frameworks have their item types, licence and association groupings
derived from their own rows (:mod:`capcourse.case.export`); an imported package
brings its own CFDefinitions and CFRubrics, which are kept here verbatim so the
framework re-exports as it came and the provider API can serve each by its
identifier.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class DefinitionKind(enum.StrEnum):
    """The CASE classes kept here, named as the package's lists name them."""

    ITEM_TYPE = "CFItemTypes"
    CONCEPT = "CFConcepts"
    SUBJECT = "CFSubjects"
    LICENSE = "CFLicenses"
    ASSOCIATION_GROUPING = "CFAssociationGroupings"
    RUBRIC = "CFRubrics"
    #: Associations that start at a document or at an item capcourse does not hold, kept verbatim.
    ASSOCIATION = "CFAssociations"


class CaseDefinition(db.Model):  # type: ignore[name-defined,misc]
    """One CFItemType, CFConcept, CFSubject, CFLicense, CFAssociationGrouping, CFRubric (or kept CFAssociation) of an imported package.

    Identifiers are unique within a framework only: two packages of one
    publisher often share their item types.
    """

    __tablename__ = "case_definitions"
    __table_args__ = (UniqueConstraint("framework_id", "kind", "identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    identifier: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    #: Order in the package, so a re-export lists them as they came.
    position: Mapped[int] = mapped_column(Integer)
    #: The CASE object as the package had it (nulls dropped).
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_change: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
