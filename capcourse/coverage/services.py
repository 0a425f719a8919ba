"""Computing coverage: one service, so pages, API and exports show the same numbers.

Mappings are counted in the database (grouped by item and depth); the
framework tree, a few hundred items, is rolled up in Python.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload

from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.frameworks.areas import link_rows as area_link_rows
from capcourse.frameworks.crosswalks import COUNTED
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.frameworks.services import item_tree
from capcourse.mapping.models import Depth, Mapping

DEPTHS = [d.value for d in Depth]  # shallow to deep


def deepest(counts: dict[str, int]) -> str | None:
    for depth in reversed(DEPTHS):
        if counts.get(depth):
            return depth
    return None


@dataclass
class ItemCoverage:
    item: Item
    level: int
    ancestors: list[uuid.UUID]
    #: Mappings to the item itself, by depth.
    direct: dict[str, int] = field(default_factory=dict)
    #: Mappings to the item or any descendant, by depth.
    rolled: dict[str, int] = field(default_factory=dict)
    is_leaf: bool = True

    @property
    def covered(self) -> bool:
        return sum(self.rolled.values()) > 0

    @property
    def assessed(self) -> bool:
        return self.rolled.get(Depth.ASSESSED, 0) > 0

    @property
    def deepest(self) -> str | None:
        return deepest(self.rolled)

    @property
    def total(self) -> int:
        return sum(self.rolled.values())


@dataclass
class LevelSummary:
    level: int
    item_types: list[str]
    total: int
    covered: int
    assessed: int

    @property
    def percent_covered(self) -> float:
        return round(100 * self.covered / self.total, 1) if self.total else 0.0

    @property
    def percent_assessed(self) -> float:
        return round(100 * self.assessed / self.total, 1) if self.total else 0.0


@dataclass
class MatrixCell:
    items: int = 0
    covered: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def deepest(self) -> str | None:
        return deepest(self.counts)

    @property
    def mappings(self) -> int:
        return sum(self.counts.values())


@dataclass
class Matrix:
    """Top-level items (e.g. capabilities) × linked areas (e.g. curriculum areas)."""

    rows: list[Item]
    columns: list[Item]
    cells: dict[tuple[uuid.UUID, uuid.UUID], MatrixCell]


@dataclass
class StageSummary:
    stage: str
    total: int
    covered: int
    counts: dict[str, int]


@dataclass
class ImpliedLink:
    """Coverage of an item implied by mappings to an item of another framework, through an association.

    Always shown apart from direct coverage, with the association's type and provenance.
    """

    via: Item
    association_type: str
    provenance: str
    #: ``outgoing`` when the association starts at the covered item.
    direction: str
    counts: dict[str, int]
    #: Other associations joining the same two items (``exactMatchOf`` beside ``replacedBy``): shown, never
    #: counted again.
    also: list[str] = field(default_factory=list)

    @property
    def deepest(self) -> str | None:
        return deepest(self.counts)


@dataclass
class CoverageReport:
    programme: Programme
    framework: Framework
    items: list[ItemCoverage]
    levels: list[LevelSummary]
    matrix: Matrix | None
    stages: list[StageSummary]
    #: item id → coverage implied through crosswalk associations (never added to ``items``' counts).
    implied: dict[uuid.UUID, list[ImpliedLink]] = field(default_factory=dict)
    #: The provenances of the associations ``implied`` went through (published and confirmed unless asked).
    implied_provenances: frozenset[str] = COUNTED

    @property
    def implied_only(self) -> list[ItemCoverage]:
        """Gaps that mappings to another framework would cover through a crosswalk."""
        return [c for c in self.items if not c.covered and c.item.id in self.implied]

    @property
    def gaps(self) -> list[ItemCoverage]:
        """Items with no mapping, themselves or below: the leaves where nothing is taught."""
        return [c for c in self.items if not c.covered and c.is_leaf]

    @property
    def taught_not_assessed(self) -> list[ItemCoverage]:
        return [c for c in self.items if c.covered and not c.assessed and c.is_leaf]

    def item(self, item_id: uuid.UUID) -> ItemCoverage:
        return next(c for c in self.items if c.item.id == item_id)


def direct_counts(session: Session, programme: Programme, framework: Framework) -> dict[uuid.UUID, dict[str, int]]:
    """Mappings of the programme to the framework's items, counted by item and depth in SQL."""
    rows = session.execute(
        select(Mapping.item_id, Mapping.depth, func.count())
        .join(Item, Item.id == Mapping.item_id)
        .where(Mapping.programme_id == programme.id, Item.framework_id == framework.id)
        .group_by(Mapping.item_id, Mapping.depth)
    )
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for item_id, depth, count in rows:
        counts[item_id][depth] = count
    return counts


def _flatten(session: Session, framework: Framework) -> list[ItemCoverage]:
    flat: list[ItemCoverage] = []

    def walk(nodes: Iterable, level: int, ancestors: list[uuid.UUID]) -> None:  # type: ignore[type-arg]
        for node in nodes:
            flat.append(ItemCoverage(node.item, level, ancestors, is_leaf=not node.children))
            walk(node.children, level + 1, [*ancestors, node.item.id])

    walk(item_tree(session, framework), 0, [])
    return flat


def _area_links(session: Session, framework: Framework) -> dict[uuid.UUID, list[Item]]:
    """Items of ``framework`` linked to curriculum areas: the curriculum-area links where the framework has
    any (:mod:`capcourse.frameworks.areas`), otherwise ``isRelatedTo`` associations to curriculum areas."""
    rows = area_link_rows(session, framework) or _associated_areas(session, framework)
    if not rows:
        return {}
    # A handful of areas, each linked from many items: load each once.
    areas = {a.id: a for a in session.scalars(select(Item).where(Item.id.in_({d for _, d in rows})))}
    links: dict[uuid.UUID, list[Item]] = defaultdict(list)
    for item_id, area_id in rows:
        links[item_id].append(areas[area_id])
    return links


def area_link_pairs(session: Session, framework: Framework) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(item id, area id) pairs the matrix and its drill-down use."""
    return area_link_rows(session, framework) or _associated_areas(session, framework)


def _associated_areas(session: Session, framework: Framework) -> list[tuple[uuid.UUID, uuid.UUID]]:
    area = aliased(Item)
    rows = session.execute(
        select(Association.origin_item_id, Association.destination_item_id)
        .join(area, area.id == Association.destination_item_id)
        .join(Item, Item.id == Association.origin_item_id)
        .where(
            Item.framework_id == framework.id,
            area.item_type == "Curriculum area",
            Association.association_type == "isRelatedTo",
        )
    ).all()
    return [(origin, destination) for origin, destination in rows if destination is not None]


def coverage(
    session: Session, programme: Programme, framework: Framework, implied_provenances: Collection[str] = COUNTED
) -> CoverageReport:
    """The programme's coverage of ``framework``: per item, per level, by area, by stage.

    :param implied_provenances: the associations coverage is implied through, by provenance: published
        and confirmed ones unless the caller asks for suggested or inferred ones too
        (:func:`capcourse.frameworks.crosswalks.coverage_provenances`).
    """
    items = _flatten(session, framework)
    direct = direct_counts(session, programme, framework)
    by_id = {c.item.id: c for c in items}
    for entry in items:
        entry.direct = dict(direct.get(entry.item.id, {}))
        for depth, count in entry.direct.items():
            for owner in (entry.item.id, *entry.ancestors):
                rolled = by_id[owner].rolled
                rolled[depth] = rolled.get(depth, 0) + count

    levels: dict[int, list[ItemCoverage]] = defaultdict(list)
    for entry in items:
        levels[entry.level].append(entry)
    summaries = [
        LevelSummary(
            level,
            sorted({e.item.item_type for e in entries}),
            len(entries),
            sum(e.covered for e in entries),
            sum(e.assessed for e in entries),
        )
        for level, entries in sorted(levels.items())
    ]

    links = _area_links(session, framework)
    matrix = None
    if links:
        columns = sorted({a.id: a for linked in links.values() for a in linked}.values(), key=lambda a: a.position)
        rows = [e.item for e in items if e.level == 0]
        cells: dict[tuple[uuid.UUID, uuid.UUID], MatrixCell] = defaultdict(MatrixCell)
        for entry in items:
            top = entry.ancestors[0] if entry.ancestors else entry.item.id
            for linked in links.get(entry.item.id, []):
                cell = cells[top, linked.id]
                cell.items += 1
                cell.covered += entry.covered
                for depth, count in entry.rolled.items():
                    cell.counts[depth] = cell.counts.get(depth, 0) + count
        matrix = Matrix(rows, columns, dict(cells))

    stages: dict[str, StageSummary] = {}
    for entry in items:
        if entry.item.stage:
            summary = stages.setdefault(entry.item.stage, StageSummary(entry.item.stage, 0, 0, {}))
            summary.total += 1
            summary.covered += entry.covered
            for depth, count in entry.rolled.items():
                summary.counts[depth] = summary.counts.get(depth, 0) + count
    return CoverageReport(
        programme,
        framework,
        items,
        summaries,
        matrix,
        list(stages.values()),
        implied_coverage(session, programme, framework, implied_provenances),
        frozenset(implied_provenances),
    )


def implied_coverage(
    session: Session, programme: Programme, framework: Framework, provenances: Collection[str] = COUNTED
) -> dict[uuid.UUID, list[ImpliedLink]]:
    """Per item of ``framework``, the mapped items of other frameworks linked to it (any association but
    isChildOf) by an association of one of ``provenances``.

    Links are read as plain rows, and only the items at their other end that the
    programme maps are loaded (with their frameworks, in the same query): most
    links (the icon legend's) imply nothing. Several associations joining the
    same two items (a KSS paragraph ``replacedBy`` and ``exactMatchOf`` its
    successor) are one implied link, named by the strongest type
    (:data:`LINK_STRENGTH`), the others listed in ``also``: the mappings count once.
    """
    origin, destination = aliased(Item), aliased(Item)
    links = session.execute(
        select(
            Association.association_type,
            Association.provenance,
            Association.origin_item_id,
            Association.destination_item_id,
            origin.framework_id == framework.id,
        )
        .join(origin, origin.id == Association.origin_item_id)
        .join(destination, destination.id == Association.destination_item_id)
        .where(
            Association.association_type != "isChildOf",
            Association.provenance.in_(sorted(provenances)),
            (origin.framework_id == framework.id) != (destination.framework_id == framework.id),
        )
    ).all()
    others = {destination_id if outgoing else origin_id for _, _, origin_id, destination_id, outgoing in links}
    if not others:
        return {}
    rows = session.execute(
        select(Mapping.item_id, Mapping.depth, func.count())
        .where(Mapping.programme_id == programme.id, Mapping.item_id.in_(others))
        .group_by(Mapping.item_id, Mapping.depth)
    )
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for item_id, depth, count in rows:
        counts[item_id][depth] = count
    if not counts:
        return {}
    mapped = {
        item.id: item
        for item in session.scalars(select(Item).where(Item.id.in_(list(counts))).options(joinedload(Item.framework)))
    }
    pairs: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[str, str, bool]]] = defaultdict(list)
    for association_type, provenance, origin_id, destination_id, outgoing in links:
        ours, theirs = (origin_id, destination_id) if outgoing else (destination_id, origin_id)
        assert ours is not None and theirs is not None  # both ends joined to items
        if theirs in counts:
            pairs[ours, theirs].append((association_type, provenance, outgoing))
    implied: dict[uuid.UUID, list[ImpliedLink]] = defaultdict(list)
    for (ours, theirs), joining in pairs.items():
        joining.sort(key=lambda link: (_strength(link[0]), link[0], link[1]))
        association_type, provenance, outgoing = joining[0]
        implied[ours].append(
            ImpliedLink(
                mapped[theirs],
                association_type,
                provenance,
                "outgoing" if outgoing else "incoming",
                counts[theirs],
                sorted({kind for kind, *_ in joining[1:]} - {association_type}),
            )
        )
    return dict(implied)


#: Association types in the order that names one implied link when several join the same two items: the
#: version links' order (:data:`capcourse.versions.services.VERSION_LINKS`), then the rest by name.
LINK_STRENGTH = ("replacedBy", "exactMatchOf", "isRelatedTo")


def _strength(association_type: str) -> int:
    return LINK_STRENGTH.index(association_type) if association_type in LINK_STRENGTH else len(LINK_STRENGTH)


@dataclass
class GapList:
    #: Leaves nothing maps to.
    gaps: list[Item]
    #: Leaves mapped, but never at depth ``assessed``.
    taught_not_assessed: list[Item]


def gap_list(session: Session, programme: Programme, framework: Framework) -> GapList:
    """The gaps and the taught-but-never-assessed items, straight from SQL (no coverage roll-up needed).

    A leaf is covered exactly when something maps to it, so both lists are
    two anti-joins; :attr:`CoverageReport.gaps` gives the same items.
    """
    child = aliased(Item)
    mapped = select(Mapping.id).where(Mapping.item_id == Item.id, Mapping.programme_id == programme.id)
    leaves = select(Item).where(
        Item.framework_id == framework.id, ~select(child.id).where(child.parent_id == Item.id).exists()
    )
    order = (Item.code, Item.position)
    gaps = session.scalars(leaves.where(~mapped.exists()).order_by(*order)).all()
    unassessed = session.scalars(
        leaves.where(mapped.exists(), ~mapped.where(Mapping.depth == Depth.ASSESSED).exists()).order_by(*order)
    ).all()
    return GapList(list(gaps), list(unassessed))


@dataclass
class MappedTarget:
    kind: str
    target_id: uuid.UUID
    title: str
    course_title: str
    depth: str
    item: Item


def mapped_targets(session: Session, programme: Programme, item_ids: Sequence[uuid.UUID]) -> list[MappedTarget]:
    """The modules and activities of the programme mapped to any of ``item_ids`` (a drill-down)."""
    module_rows = session.execute(
        select(Module, Course.title, Mapping.depth, Item)
        .join(Mapping, Mapping.module_id == Module.id)
        .join(Course, Course.id == Module.course_id)
        .join(Item, Item.id == Mapping.item_id)
        .where(Mapping.programme_id == programme.id, Mapping.item_id.in_(item_ids))
    )
    activity_rows = session.execute(
        select(Activity, Course.title, Mapping.depth, Item)
        .join(Mapping, Mapping.activity_id == Activity.id)
        .join(Module, Module.id == Activity.module_id)
        .join(Course, Course.id == Module.course_id)
        .join(Item, Item.id == Mapping.item_id)
        .where(Mapping.programme_id == programme.id, Mapping.item_id.in_(item_ids))
    )
    found = [MappedTarget("module", m.id, m.title, course, depth, item) for m, course, depth, item in module_rows]
    found += [MappedTarget("activity", a.id, a.title, course, depth, item) for a, course, depth, item in activity_rows]
    return sorted(found, key=lambda t: (t.course_title, t.title, t.item.code or ""))


def descendants(report: CoverageReport, item_id: uuid.UUID) -> list[uuid.UUID]:
    return [c.item.id for c in report.items if c.item.id == item_id or item_id in c.ancestors]
