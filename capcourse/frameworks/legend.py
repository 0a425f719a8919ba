"""The icon legend: which curriculum area each source icon stands for.

The legend rows are data a person can change; the ``isRelatedTo`` associations
from marked items to their areas are derived from it and rebuilt whenever it
changes, so the rest of capcourse (coverage, CASE export) sees ordinary
associations whose provenance is the legend row's.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.errors import InvalidInputError, NotFoundError
from capcourse.frameworks.areas import suggest_links
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item, ManagedBy, Provenance
from capcourse.identifiers import association_id
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

LEGEND_ASSOCIATION_TYPE = "isRelatedTo"


@dataclass(frozen=True)
class Change:
    """Counts of rows a rebuild created, updated and deleted."""

    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def __add__(self, other: Change) -> Change:
        return Change(self.created + other.created, self.updated + other.updated, self.deleted + other.deleted)


def rebuild_legend_associations(session: Session, framework: Framework, now: datetime) -> Change:
    """Make the derived item → area associations of ``framework`` match its legend.

    :returns: what changed; nothing when the associations were already right.
    """
    entries = session.scalars(select(IconLegendEntry).where(IconLegendEntry.framework_id == framework.id)).all()
    by_icon: dict[str, list[IconLegendEntry]] = defaultdict(list)
    for entry in entries:
        by_icon[entry.icon].append(entry)

    marked = session.execute(
        select(Item.id, func.coalesce(Item.icon, "")).where(Item.framework_id == framework.id, Item.icon.is_not(None))
    ).all()
    wanted: dict[uuid.UUID, dict[str, object]] = {}
    for item_id, icon in marked:
        for entry in by_icon.get(icon, []):
            identifier = association_id(LEGEND_ASSOCIATION_TYPE, item_id, entry.area_item_id)
            wanted[identifier] = {
                "origin_item_id": item_id,
                "destination_item_id": entry.area_item_id,
                "provenance": entry.provenance,
                "notes": f"Linked through the icon {icon} and the icon legend ({entry.provenance}).",
            }

    existing = {
        a.id: a
        for a in session.scalars(
            select(Association).where(
                Association.framework_id == framework.id, Association.managed_by == ManagedBy.ICON_LEGEND
            )
        )
    }
    created = updated = deleted = 0
    for identifier, values in wanted.items():
        association = existing.pop(identifier, None)
        if association is None:
            session.add(
                Association(
                    id=identifier,
                    framework_id=framework.id,
                    association_type=LEGEND_ASSOCIATION_TYPE,
                    managed_by=ManagedBy.ICON_LEGEND,
                    last_change=now,
                    **values,
                )
            )
            created += 1
        elif any(getattr(association, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(association, k, v)
            association.last_change = now
            updated += 1
    for association in existing.values():
        session.delete(association)
        deleted += 1
    session.flush()
    return Change(created, updated, deleted)


def legend_entries(session: Session, framework: Framework) -> Sequence[IconLegendEntry]:
    """The legend rows of ``framework``, by icon then area order."""
    return session.scalars(
        select(IconLegendEntry)
        .join(Item, Item.id == IconLegendEntry.area_item_id)
        .where(IconLegendEntry.framework_id == framework.id)
        .order_by(IconLegendEntry.icon, Item.position)
    ).all()


def set_icon_areas(
    session: Session,
    framework: Framework,
    icon: str,
    area_ids: Sequence[uuid.UUID],
    rationale: str,
    actor: str,
    now: datetime | None = None,
) -> Sequence[IconLegendEntry]:
    """Set which areas ``icon`` stands for; a person's decision, so ``confirmed``.

    :param area_ids: items of an areas framework the legend already uses.
    :param actor: who decided, kept on the rows for the audit.
    :raises NotFoundError: the framework has no item marked ``icon``.
    :raises InvalidInputError: an area is unknown, or no area was given.
    """
    now = now or utcnow()
    icons = set(
        session.scalars(
            select(func.coalesce(Item.icon, "")).where(Item.framework_id == framework.id, Item.icon.is_not(None))
        )
    )
    if icon not in icons:
        raise NotFoundError(
            f"No item of {framework.title!r} is marked with the icon {icon!r}.",
            {"icon": [f"Known icons: {' '.join(sorted(icons))}"]},
        )
    if not area_ids:
        raise InvalidInputError("Give at least one area.", {"areas": ["Must name at least one area."]})
    area_frameworks = set(
        session.scalars(
            select(Item.framework_id)
            .join(IconLegendEntry, IconLegendEntry.area_item_id == Item.id)
            .where(IconLegendEntry.framework_id == framework.id)
        )
    )
    areas = session.scalars(select(Item).where(Item.id.in_(area_ids), Item.framework_id.in_(area_frameworks))).all()
    unknown = sorted(str(a) for a in set(area_ids) - {a.id for a in areas})
    if unknown:
        raise InvalidInputError(
            "Some areas are not curriculum areas this legend can use.",
            {"areas": [f"Unknown area: {a}" for a in unknown]},
        )
    for entry in session.scalars(
        select(IconLegendEntry).where(IconLegendEntry.framework_id == framework.id, IconLegendEntry.icon == icon)
    ):
        session.delete(entry)
    session.flush()
    for area in areas:
        session.add(
            IconLegendEntry(
                framework_id=framework.id,
                icon=icon,
                area_item_id=area.id,
                provenance=Provenance.CONFIRMED,
                rationale=rationale,
                updated_by=actor,
                updated_at=now,
            )
        )
    session.flush()
    change = rebuild_legend_associations(session, framework, now)
    if change.changed:
        framework.last_change = now
    # The legend is a starting suggestion for the curriculum-area links, not their truth: the items marked
    # with the icon get a ``suggested`` link to each area where they have none (nor one a person removed).
    marked = session.scalars(select(Item.id).where(Item.framework_id == framework.id, Item.icon == icon)).all()
    suggest_links(
        session, framework, marked, [a.id for a in areas], f"Suggested by the icon legend ({icon}): {rationale}"
    )
    logger.info("Icon %s of %s now links to %d area(s), set by %s", icon, framework.key, len(areas), actor)
    return [e for e in legend_entries(session, framework) if e.icon == icon]


def icon_counts(session: Session, framework: Framework) -> dict[str, int]:
    """How many items of ``framework`` carry each icon."""
    rows = session.execute(
        select(func.coalesce(Item.icon, ""), func.count())
        .where(Item.framework_id == framework.id, Item.icon.is_not(None))
        .group_by(Item.icon)
    )
    return {icon: count for icon, count in rows}
