"""Persistence of imported SCORM packages and the items that became modules and activities."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.catalogue.models import Activity, Course, Module
from capcourse.extensions import db
from capcourse.timestamps import utcnow


class ContentPackage(db.Model):  # type: ignore[name-defined,misc]
    """A SCORM package imported into a course; its files are kept under the package folder.

    One row per package identity: importing a package with the same manifest
    identifier again makes a new ``revision`` of this row, updating its modules
    and activities in place.
    """

    __tablename__ = "content_packages"
    __table_args__ = (UniqueConstraint("programme_id", "identifier"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    #: The manifest's identifier.
    identifier: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500))
    #: 1.2, 2004 3rd Edition … (:class:`scorm.ScormVersion` values).
    scorm_version: Mapped[str] = mapped_column(String(40))
    #: 1 for the first import, one more for each re-import.
    revision: Mapped[int] = mapped_column(Integer)
    #: Where the files of the current revision are, relative to the package folder.
    storage_path: Mapped[str] = mapped_column(String(300))
    file_count: Mapped[int] = mapped_column(Integer)
    unpacked_bytes: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 of the uploaded zip, so an unchanged re-upload can be told apart.
    sha256: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: What the last import did (as the API answered it), for the package's page.
    last_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    course: Mapped[Course] = relationship()
    items: Mapped[list[PackageItem]] = relationship(
        back_populates="package", cascade="all, delete-orphan", passive_deletes=True, order_by="PackageItem.position"
    )


class PackageItem(db.Model):  # type: ignore[name-defined,misc]
    """An item (or the organization) of a package and the module or activity it became."""

    __tablename__ = "package_items"
    __table_args__ = (UniqueConstraint("package_id", "item_identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_packages.id", ondelete="CASCADE"), index=True)
    item_identifier: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    #: The launch page's path in the package (activities only).
    launch_path: Mapped[str | None] = mapped_column(String(1000))
    #: The item's launch parameters, appended to the launch page's URL as SCORM says.
    parameters: Mapped[str | None] = mapped_column(String(1000))
    #: ``sco`` or ``asset``.
    scorm_type: Mapped[str | None] = mapped_column(String(10))
    #: The mastery score, 0–1, that decides passed or failed in the run-time data.
    passing_score: Mapped[float | None] = mapped_column(Float)
    #: Package paths of the files the item's resource and its dependencies need.
    files: Mapped[list[str]] = mapped_column(JSON, default=list)

    package: Mapped[ContentPackage] = relationship(back_populates="items")
    module: Mapped[Module | None] = relationship()
    activity: Mapped[Activity | None] = relationship()
