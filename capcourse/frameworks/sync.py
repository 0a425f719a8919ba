"""``capcourse frameworks sync``: make the database match the shipped data files.

Idempotent: identifiers are derived from stable keys, every field is compared
before it is written, and ``last_change`` moves only when something changed, so
a second run writes nothing and reports so.

A framework imported from a CASE package is never touched, even when it has the
identifier of a shipped one (a package exported by another install): it holds
what its publisher sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.frameworks.areas import sync_seed_links
from capcourse.frameworks.crosswalks import sync_shipped_crosswalks
from capcourse.frameworks.legend import Change, rebuild_legend_associations
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item, ManagedBy, Provenance
from capcourse.frameworks.seed_data import SeedData, SeedFramework, SeedLegend
from capcourse.identifiers import association_id, framework_id, item_id
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)


@dataclass
class FrameworkSync:
    """What a sync did to one framework."""

    key: str
    title: str
    created: bool = False
    #: Imported from a CASE package: left as it is.
    skipped: bool = False
    fields_changed: bool = False
    items: Change = field(default_factory=Change)
    associations: Change = field(default_factory=Change)

    @property
    def changed(self) -> bool:
        return self.created or self.fields_changed or self.items.changed or self.associations.changed


@dataclass
class SyncReport:
    frameworks: list[FrameworkSync] = field(default_factory=list)
    legend_rows: Change = field(default_factory=Change)
    #: Curriculum-area links of the shipped starting set added, updated or dropped.
    area_links: int = 0
    #: Links of the shipped crosswalks (``capcourse/data/crosswalks/``) added, updated or dropped.
    crosswalk_links: int = 0

    @property
    def changed(self) -> bool:
        return (
            any(f.changed for f in self.frameworks)
            or self.legend_rows.changed
            or bool(self.area_links)
            or bool(self.crosswalk_links)
        )


def _aware(value: Any) -> Any:
    # SQLite hands back naive datetimes; they were written in UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _assign(target: Any, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; tell whether any did."""
    changed = False
    for name, value in values.items():
        if _aware(getattr(target, name)) != value:
            setattr(target, name, value)
            changed = True
    return changed


def _framework_values(seed: SeedFramework) -> dict[str, Any]:
    # last_change is the data's date, not the sync's: every install exports the same packages.
    values: dict[str, Any] = {
        name: seed.fields.get(name)
        for name in (
            "family",
            "title",
            "creator",
            "publisher",
            "version",
            "adoption_status",
            "language",
            "licence",
            "licence_uri",
            "official_source_url",
            "source_document",
            "description",
            "notes",
        )
    }
    values["key"] = seed.key
    return values


def _framework_last_change(session: Session, framework: Framework, seed: SeedFramework) -> datetime:
    """The data's date, or a person's later decision on the framework's icon legend.

    Derived from the data and the decisions only (never from when the sync ran),
    so installs with the same data and decisions export the same packages.
    """
    decided = session.scalar(
        select(func.max(IconLegendEntry.updated_at)).where(
            IconLegendEntry.framework_id == framework.id, IconLegendEntry.provenance == Provenance.CONFIRMED
        )
    )
    decided = _aware(decided)
    return max(seed.last_change, decided) if decided is not None else seed.last_change


def _sync_items(session: Session, framework: Framework, seed: SeedFramework, now: datetime) -> Change:
    existing = {item.key: item for item in session.scalars(select(Item).where(Item.framework_id == framework.id))}
    kept: dict[str, Item] = {}
    created = updated = 0
    language = seed.fields.get("language")
    for seed_item in seed.items:
        values = {
            "code": seed_item.code,
            "item_type": seed_item.item_type,
            "position": seed_item.position,
            "full_statement": seed_item.full_statement,
            "abbreviated_statement": seed_item.abbreviated_statement,
            "language": language,
            "stage": seed_item.stage,
            "icon": seed_item.icon,
            "notes": seed_item.notes,
            "last_change": seed.last_change,
        }
        parent = kept[seed_item.parent_key] if seed_item.parent_key else None
        item = existing.pop(seed_item.key, None)
        if item is None:
            item = Item(
                id=item_id(seed.key, seed_item.key),
                framework=framework,
                key=seed_item.key,
                parent=parent,
                **values,
            )
            session.add(item)
            created += 1
        else:
            changed = _assign(item, values)
            if item.parent is not parent:
                item.parent = parent
                changed = True
            if changed:
                updated += 1
        kept[seed_item.key] = item
    # Items dropped from the data file go; their children go with them.
    for item in existing.values():
        session.delete(item)
    session.flush()
    return Change(created, updated, len(existing))


def _destination(destination: str) -> tuple[uuid.UUID | None, str | None]:
    if "://" in destination:
        return None, destination
    framework_key, _, item_key = destination.partition(":")
    return item_id(framework_key, item_key), None


def _sync_associations(session: Session, framework: Framework, seed: SeedFramework, now: datetime) -> Change:
    existing = {
        a.id: a
        for a in session.scalars(
            select(Association).where(
                Association.framework_id == framework.id, Association.managed_by == ManagedBy.SEED
            )
        )
    }
    created = updated = 0
    for seed_association in seed.associations:
        origin = item_id(seed.key, seed_association.origin_key)
        destination_item, destination_uri = _destination(seed_association.destination)
        identifier = association_id(
            seed_association.association_type, origin, destination_item or destination_uri or ""
        )
        values = {
            "association_type": seed_association.association_type,
            "origin_item_id": origin,
            "destination_item_id": destination_item,
            "destination_uri": destination_uri,
            "sequence": seed_association.sequence,
            "provenance": seed_association.provenance,
            "qualifier": seed_association.qualifier,
            "notes": seed_association.notes,
            "last_change": seed.last_change,
        }
        association = existing.pop(identifier, None)
        if association is None:
            session.add(Association(id=identifier, framework_id=framework.id, managed_by=ManagedBy.SEED, **values))
            created += 1
        elif _assign(association, values):
            updated += 1
    for association in existing.values():
        session.delete(association)
    session.flush()
    return Change(created, updated, len(existing))


def _sync_legend_rows(session: Session, legend: SeedLegend, now: datetime) -> Change:
    """Ship the legend's inferred rows, never overriding a person's decision.

    An icon whose rows were confirmed by a person is left alone; an icon whose
    rows are still as shipped follows the data file.
    """
    framework = session.get(Framework, framework_id(legend.framework_key))
    assert framework is not None  # synced before the legends
    rows = session.scalars(select(IconLegendEntry).where(IconLegendEntry.framework_id == framework.id)).all()
    created = updated = deleted = 0
    for entry in legend.icons:
        current = [r for r in rows if r.icon == entry.icon]
        if any(r.provenance == Provenance.CONFIRMED for r in current):
            continue
        wanted = {item_id(legend.areas_framework_key, key) for key in entry.area_keys}
        for row in current:
            if row.area_item_id not in wanted:
                session.delete(row)
                deleted += 1
            elif _assign(row, {"provenance": entry.provenance, "rationale": entry.rationale}):
                row.updated_at = now
                updated += 1
        for area in wanted - {r.area_item_id for r in current}:
            session.add(
                IconLegendEntry(
                    framework_id=framework.id,
                    icon=entry.icon,
                    area_item_id=area,
                    provenance=entry.provenance,
                    rationale=entry.rationale,
                    updated_by="capcourse frameworks sync",
                    updated_at=now,
                )
            )
            created += 1
    session.flush()
    return Change(created, updated, deleted)


def sync_frameworks(session: Session, data: SeedData, now: datetime | None = None) -> SyncReport:
    """Create or update every shipped framework, its items, associations and legends.

    Only flushes; the caller commits (or rolls back, for a dry run).

    :param data: the loaded data files (:func:`~capcourse.frameworks.seed_data.load_seed_data`).
    :param now: the change time to record; defaults to the current time.
    """
    now = now or utcnow()
    report = SyncReport()
    results: dict[str, FrameworkSync] = {}
    frameworks: dict[str, Framework] = {}
    # Items of every framework first: associations may cross frameworks.
    for seed in data.frameworks:
        result = FrameworkSync(key=seed.key, title=seed.fields["title"])
        framework = session.get(Framework, framework_id(seed.key))
        if framework is not None and framework.imported_at is not None:
            result.skipped = True
            report.frameworks.append(result)
            continue
        if framework is None:
            framework = Framework(id=framework_id(seed.key), last_change=seed.last_change, **_framework_values(seed))
            session.add(framework)
            result.created = True
        else:
            result.fields_changed = _assign(framework, _framework_values(seed))
        session.flush()
        result.items = _sync_items(session, framework, seed, now)
        results[seed.key], frameworks[seed.key] = result, framework
        report.frameworks.append(result)
    for seed in data.frameworks:
        if seed.key in frameworks:
            results[seed.key].associations = _sync_associations(session, frameworks[seed.key], seed, now)

    legend_rows = Change()
    for legend in data.legends:
        if legend.framework_key not in frameworks:
            continue
        rows = _sync_legend_rows(session, legend, now)
        legend_rows += rows
        # The links the shipped legend derives date from the data too (a person's confirmation dates from then).
        seed_date = data.framework(legend.framework_key).last_change
        derived = rebuild_legend_associations(session, frameworks[legend.framework_key], seed_date)
        results[legend.framework_key].associations += derived
    report.legend_rows = legend_rows
    report.area_links = sync_seed_links(session, now)
    report.crosswalk_links = sync_shipped_crosswalks(session, now)

    for seed in data.frameworks:
        if seed.key in frameworks:
            # Bookkeeping, not a change to report: installs synced before the data carried dates converge.
            stamp = _framework_last_change(session, frameworks[seed.key], seed)
            if _aware(frameworks[seed.key].last_change) != stamp:
                frameworks[seed.key].last_change = stamp
    session.flush()
    logger.info("Framework sync: %s", "changes made" if report.changed else "nothing to change")
    return report
