"""Curriculum areas per item: each link with its provenance and rationale, edited by admins.

An item (a Frontline effective attribute) may belong to several curriculum
areas. Each link says where it comes from: ``inferred`` (shipped, reasoned from
the item's text or its icon), ``suggested`` (proposed, e.g. by a change to the
icon legend, not yet looked at) or ``confirmed`` (a person decided). A link a
person removes stays as a ``removed`` row, so a later ``frameworks sync`` does
not bring it back. The coverage matrix and the mapping screen read these links.
"""

from __future__ import annotations

import csv
import io
import logging
import tomllib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.extensions import db
from capcourse.frameworks.models import Framework, Item, Provenance
from capcourse.identifiers import framework_id, item_id
from capcourse.paths import DATA_DIR
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

AREA_TYPE = "Curriculum area"
LINK_PROVENANCES = (Provenance.INFERRED, Provenance.SUGGESTED, Provenance.CONFIRMED)
SEED_DIR = DATA_DIR / "area-links"
SYNC_ACTOR = "capcourse frameworks sync"


class AreaLink(db.Model):  # type: ignore[name-defined,misc]
    """An item belongs to a curriculum area (an item of an areas framework)."""

    __tablename__ = "area_links"
    __table_args__ = (UniqueConstraint("item_id", "area_item_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: The framework of the item (not of the area): the one whose matrix uses the link.
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    area_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    provenance: Mapped[str] = mapped_column(String(20))
    rationale: Mapped[str] = mapped_column(Text)
    #: A person removed it: kept so that the shipped set does not bring it back.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    item: Mapped[Item] = relationship(foreign_keys=[item_id])
    area: Mapped[Item] = relationship(foreign_keys=[area_item_id])


@dataclass(frozen=True)
class SeedLink:
    item_key: str
    area_key: str
    rationale: str


@dataclass(frozen=True)
class SeedLinks:
    framework_key: str
    areas_framework_key: str
    links: tuple[SeedLink, ...]


def load_seed_links(seed_dir: Path = SEED_DIR) -> list[SeedLinks]:
    """The shipped starting sets, one file per framework."""
    found = []
    for path in sorted(seed_dir.glob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        found.append(
            SeedLinks(
                document["framework"],
                document["areas_framework"],
                tuple(SeedLink(link["item"], link["area"], link["rationale"]) for link in document["links"]),
            )
        )
    return found


def sync_seed_links(session: Session, now: datetime | None = None, seed_dir: Path = SEED_DIR) -> int:
    """Bring the shipped links in: add missing ones, update the ones still as shipped, drop shipped ones no
    longer in the files. Links a person confirmed, changed or removed are left alone. Returns rows changed."""
    now = now or utcnow()
    changed = 0
    for seed in load_seed_links(seed_dir):
        framework = session.get(Framework, framework_id(seed.framework_key))
        if framework is None or framework.imported_at is not None:
            continue
        existing = {
            (link.item_id, link.area_item_id): link
            for link in session.scalars(select(AreaLink).where(AreaLink.framework_id == framework.id))
        }
        wanted = {
            (item_id(seed.framework_key, s.item_key), item_id(seed.areas_framework_key, s.area_key)): s
            for s in seed.links
        }
        known = set(session.scalars(select(Item.id).where(Item.id.in_({i for pair in wanted for i in pair}))))
        for pair, link_seed in wanted.items():
            if not set(pair) <= known:
                logger.warning("Area link %s → %s names an unknown item", link_seed.item_key, link_seed.area_key)
                continue
            current = existing.pop(pair, None)
            if current is None:
                session.add(
                    AreaLink(
                        framework_id=framework.id,
                        item_id=pair[0],
                        area_item_id=pair[1],
                        provenance=Provenance.INFERRED,
                        rationale=link_seed.rationale,
                        updated_by=SYNC_ACTOR,
                        updated_at=now,
                    )
                )
                changed += 1
            elif current.updated_by == SYNC_ACTOR and current.rationale != link_seed.rationale:
                current.rationale, current.updated_at = link_seed.rationale, now
                changed += 1
        for link in existing.values():
            if link.updated_by == SYNC_ACTOR:
                session.delete(link)
                changed += 1
    session.flush()
    return changed


def has_links(session: Session, framework: Framework) -> bool:
    return (
        session.scalar(select(AreaLink.id).where(AreaLink.framework_id == framework.id, ~AreaLink.removed).limit(1))
        is not None
    )


def link_rows(session: Session, framework: Framework) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(item id, area id) of the framework's links in force: read as plain rows for coverage."""
    return [
        (item, area)
        for item, area in session.execute(
            select(AreaLink.item_id, AreaLink.area_item_id).where(
                AreaLink.framework_id == framework.id, ~AreaLink.removed
            )
        )
    ]


def list_links(session: Session, framework: Framework, include_removed: bool = False) -> list[AreaLink]:
    """The framework's links, by item then area, with items and areas loaded."""
    query = (
        select(AreaLink)
        .where(AreaLink.framework_id == framework.id)
        .options(joinedload(AreaLink.item), joinedload(AreaLink.area))
    )
    if not include_removed:
        query = query.where(~AreaLink.removed)
    links = list(session.scalars(query))
    return sorted(links, key=lambda link: (link.item.position, link.area.position))


def area_choices(session: Session, framework: Framework) -> list[Item]:
    """The curriculum areas an item of ``framework`` may be linked to: every item typed as a curriculum area."""
    return list(session.scalars(select(Item).where(Item.item_type == AREA_TYPE).order_by(Item.position)))


def _check(session: Session, framework: Framework, item: uuid.UUID, area: uuid.UUID, provenance: str) -> None:
    if provenance not in LINK_PROVENANCES:
        raise InvalidInputError(
            f"provenance must be one of {', '.join(LINK_PROVENANCES)}, not {provenance!r}.",
            {"provenance": [f"Not one of {', '.join(LINK_PROVENANCES)}."]},
        )
    found = session.get(Item, item)
    if found is None or found.framework_id != framework.id:
        raise InvalidInputError(
            f"No item {item} in {framework.title!r}.", {"item_id": [f"Not an item of this framework: {item}"]}
        )
    target = session.get(Item, area)
    if target is None or target.item_type != AREA_TYPE:
        raise InvalidInputError(f"{area} is not a curriculum area.", {"area_id": [f"Not a curriculum area: {area}"]})


def set_link(
    session: Session,
    framework: Framework,
    item: uuid.UUID,
    area: uuid.UUID,
    rationale: str,
    actor: str,
    provenance: str = Provenance.CONFIRMED,
    now: datetime | None = None,
) -> AreaLink:
    """Add a link or change one (also bringing back a removed one); a person's decision, ``confirmed`` by default.

    :raises InvalidInputError: unknown item or area, bad provenance, empty rationale.
    """
    _check(session, framework, item, area, provenance)
    if not rationale.strip():
        raise InvalidInputError("Give a rationale: why the item belongs to the area.", {"rationale": ["Required."]})
    now = now or utcnow()
    link = session.scalar(select(AreaLink).where(AreaLink.item_id == item, AreaLink.area_item_id == area))
    if link is None:
        link = AreaLink(framework_id=framework.id, item_id=item, area_item_id=area)
        session.add(link)
    link.provenance, link.rationale, link.removed = provenance, rationale.strip(), False
    link.updated_by, link.updated_at = actor, now
    session.flush()
    logger.info("Area link %s → %s set (%s) by %s", item, area, provenance, actor)
    return link


def get_link(session: Session, framework: Framework, link_id: uuid.UUID) -> AreaLink:
    link = session.get(AreaLink, link_id)
    if link is None or link.framework_id != framework.id:
        raise NotFoundError(f"No curriculum-area link {link_id} in {framework.title!r}.")
    return link


def confirm_link(session: Session, link: AreaLink, actor: str, now: datetime | None = None) -> AreaLink:
    if link.removed:
        raise ConflictError("The link was removed; add it again instead.")
    link.provenance, link.updated_by, link.updated_at = Provenance.CONFIRMED, actor, now or utcnow()
    session.flush()
    return link


def remove_link(session: Session, link: AreaLink, actor: str, now: datetime | None = None) -> None:
    """Remove a link: kept as removed, so the shipped set does not bring it back."""
    link.removed, link.updated_by, link.updated_at = True, actor, now or utcnow()
    session.flush()
    logger.info("Area link %s → %s removed by %s", link.item_id, link.area_item_id, actor)


def suggest_links(
    session: Session, framework: Framework, item_ids: Iterable[uuid.UUID], area_ids: Sequence[uuid.UUID], why: str
) -> int:
    """Add ``suggested`` links (e.g. from the icon legend) where the pair has no link yet, removed or not."""
    added = 0
    for item in item_ids:
        for area in area_ids:
            exists = session.scalar(select(AreaLink.id).where(AreaLink.item_id == item, AreaLink.area_item_id == area))
            if exists is None:
                session.add(
                    AreaLink(
                        framework_id=framework.id,
                        item_id=item,
                        area_item_id=area,
                        provenance=Provenance.SUGGESTED,
                        rationale=why,
                        updated_by="icon legend",
                        updated_at=utcnow(),
                    )
                )
                added += 1
    session.flush()
    return added


CSV_COLUMNS = ("item", "area", "provenance", "rationale", "action")


@dataclass
class ImportResult:
    set: int = 0
    removed: int = 0


def import_csv(session: Session, framework: Framework, text: str, actor: str) -> ImportResult:
    """Apply a CSV of links: columns ``item`` and ``area`` (code, key or id), ``rationale``, optional
    ``provenance`` (default ``confirmed``) and ``action`` (``set``, the default, or ``remove``).

    All or nothing: the first bad row refuses the whole file, naming its line.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"item", "area"} - set(reader.fieldnames or ())
    if missing:
        raise InvalidInputError(
            f"The CSV needs the columns item, area and rationale; missing: {', '.join(sorted(missing))}.",
            {"file": [f"Columns: {', '.join(CSV_COLUMNS)}"]},
        )
    items = {i.code: i.id for i in session.scalars(select(Item).where(Item.framework_id == framework.id)) if i.code}
    areas: dict[str, uuid.UUID] = {}
    for choice in area_choices(session, framework):
        for name in (choice.code, choice.full_statement, str(choice.id)):
            if name:
                areas[name.casefold()] = choice.id
    result = ImportResult()
    for line, row in enumerate(reader, start=2):
        try:
            item = items.get(row["item"].strip()) or _as_uuid(row["item"])
            area = areas.get(row["area"].strip().casefold()) or _as_uuid(row["area"])
            action = (row.get("action") or "set").strip() or "set"
            if action == "remove":
                link = session.scalar(select(AreaLink).where(AreaLink.item_id == item, AreaLink.area_item_id == area))
                if link is not None and not link.removed:
                    remove_link(session, link, actor)
                    result.removed += 1
            elif action == "set":
                set_link(
                    session,
                    framework,
                    item,
                    area,
                    row.get("rationale") or "",
                    actor,
                    (row.get("provenance") or Provenance.CONFIRMED).strip(),
                )
                result.set += 1
            else:
                raise InvalidInputError(f"action must be set or remove, not {action!r}.")
        except InvalidInputError as error:
            raise InvalidInputError(f"Line {line}: {error.message}", {"file": [f"line {line}"]}) from error
    return result


def _as_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError) as error:
        raise InvalidInputError(f"{value!r} is neither a known code nor an identifier.") from error


def export_csv(session: Session, framework: Framework) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS[:4])
    for link in list_links(session, framework):
        writer.writerow(
            [link.item.code or link.item.id, link.area.code or link.area.id, link.provenance, link.rationale]
        )
    return buffer.getvalue()
