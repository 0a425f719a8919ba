"""What learners have evidenced: per learner, per cohort, per item, aggregated in the database.

A learner has evidence for an item when they succeeded in an activity mapped to
it, or in any activity of a module mapped to it. Completions are never loaded
into Python: counts come back grouped by learner and top-level item.

Evidence recorded against another version of the framework (KSS 2015, seen in
the 2018 view) is *carried*: shown beside the framework's own, marked with the
version it was recorded against and the link it came through, never added to
the framework's own counts. Only the links coverage counts carry it (published
and confirmed, :data:`capcourse.frameworks.crosswalks.COUNTED`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import Session

from capcourse.catalogue.models import Activity, Module, Programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.cohorts.names import name_column
from capcourse.coverage.attainment import cohort_attainment
from capcourse.coverage.services import CoverageReport
from capcourse.errors import NotFoundError
from capcourse.frameworks.models import Framework, Item
from capcourse.naturalsort import natural_key
from capcourse.records.evidence import evidence_paths
from capcourse.records.models import Completion, Evidence, Learner
from capcourse.versions.services import link_kinds, successors, versions_of


@dataclass(frozen=True)
class EvidenceFilter:
    course_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Only the learners of this cohort, all of them (with evidence or not).
    cohort_id: uuid.UUID | None = None

    @property
    def needs_completions(self) -> bool:
        """Course and date filters need the completions; the rest is in the evidence aggregate."""
        return bool(self.course_id or self.since or self.until)


def _completion_conditions(filters: EvidenceFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.since:
        conditions.append(Completion.occurred_at >= filters.since)
    if filters.until:
        conditions.append(Completion.occurred_at <= filters.until)
    if filters.course_id:
        conditions.append(Module.course_id == filters.course_id)
    return conditions


@dataclass(frozen=True)
class CarriedLink:
    """An item of the report's framework and the item of another version whose evidence it shows."""

    item: Item
    via: Item
    via_framework: Framework
    association_type: str
    provenance: str
    #: Other links joining the same two items (``exactMatchOf`` beside ``replacedBy``): counted once.
    also: tuple[str, ...] = ()


def _version_links(
    session: Session, report: CoverageReport
) -> list[tuple[Framework, dict[uuid.UUID, list[tuple[Item, str, str, tuple[str, ...]]]]]]:
    """Per other version of the report's framework: its item id → (item of this version, type, provenance,
    other types), through the links the report counts."""
    found = []
    for other in versions_of(session, report.framework):
        links = successors(session, other, report.framework, report.implied_provenances)
        if not links:
            continue
        kinds = link_kinds(session, other, report.framework, report.implied_provenances)
        found.append(
            (
                other,
                {
                    via: [
                        (item, kind, provenance, tuple(sorted(kinds.get((via, item.id), set()) - {kind})))
                        for item, kind, provenance, *_ in counterparts
                    ]
                    for via, counterparts in links.items()
                },
            )
        )
    return found


@dataclass
class CarriedRate:
    """Learners with evidence for an item of another version, shown on the item it links to."""

    link: CarriedLink
    learners: int


@dataclass
class CohortRow:
    learner: Learner
    #: The name the programme knows the learner by (None: no name anywhere).
    name: str | None = None
    #: top-level item id → items evidenced under it (itself included).
    evidenced: dict[uuid.UUID, int] = field(default_factory=dict)
    #: top-level item id → items achieved under it (itself included).
    achieved: dict[uuid.UUID, int] = field(default_factory=dict)
    #: top-level item id → items under it with evidence only from another version (carried, never in ``evidenced``).
    carried: dict[uuid.UUID, int] = field(default_factory=dict)


@dataclass
class CohortReport:
    columns: list[Item]
    #: top-level item id → how many items sit under it (itself included).
    column_sizes: dict[uuid.UUID, int]
    rows: list[CohortRow]
    learner_total: int
    #: item id → learners with evidence for it.
    item_learners: dict[uuid.UUID, int]
    #: item id → learners who achieved it.
    item_achievers: dict[uuid.UUID, int] = field(default_factory=dict)
    #: Items some activity assesses (the only ones that can be achieved).
    achievable: set[uuid.UUID] = field(default_factory=set)
    #: Evidence recorded against other versions of the framework, per pair of linked items (not in the rates).
    carried: list[CarriedRate] = field(default_factory=list)

    def rate(self, item_id: uuid.UUID) -> float:
        return round(100 * self.item_learners.get(item_id, 0) / self.learner_total, 1) if self.learner_total else 0.0

    def achieved_rate(self, item_id: uuid.UUID) -> float:
        count = self.item_achievers.get(item_id, 0)
        return round(100 * count / self.learner_total, 1) if self.learner_total else 0.0


def _top_of(report: CoverageReport) -> dict[uuid.UUID, uuid.UUID]:
    return {c.item.id: (c.ancestors[0] if c.ancestors else c.item.id) for c in report.items}


def _population(programme: Programme, filters: EvidenceFilter) -> Select:  # type: ignore[type-arg]
    """The learner ids the cohort view shows: a cohort's members, or everyone with evidence in the programme."""
    if filters.cohort_id:
        return select(CohortMember.learner_id.label("learner_id")).where(CohortMember.cohort_id == filters.cohort_id)
    if not filters.needs_completions:
        # Answered from the index on (programme_id, success, learner_id) alone.
        return (
            select(Completion.learner_id.label("learner_id"))
            .where(Completion.programme_id == programme.id, Completion.is_evidence())
            .distinct()
        )
    return (
        select(Completion.learner_id.label("learner_id"))
        .join(Activity, Activity.id == Completion.activity_id)
        .join(Module, Module.id == Activity.module_id)
        .where(
            Completion.programme_id == programme.id,
            Completion.is_evidence(),
            *_completion_conditions(filters),
        )
        .distinct()
    )


def _evidence(programme: Programme, framework_id: uuid.UUID, filters: EvidenceFilter) -> Subquery:
    """(learner_id, item_id) pairs with evidence, possibly repeated, restricted to the filters."""
    if filters.needs_completions:
        rows = evidence_paths(programme.id, _completion_conditions(filters), framework_id).subquery()
        query = select(rows.c.learner_id, rows.c.item_id)
        learner_column: Any = rows.c.learner_id
    else:
        query = (
            select(Evidence.learner_id.label("learner_id"), Evidence.item_id.label("item_id"))
            .join(Item, Item.id == Evidence.item_id)
            .where(Evidence.programme_id == programme.id, Item.framework_id == framework_id)
        )
        learner_column = Evidence.learner_id
    if filters.cohort_id:
        query = query.where(
            learner_column.in_(select(CohortMember.learner_id).where(CohortMember.cohort_id == filters.cohort_id))
        )
    return query.subquery()


def cohort(
    session: Session,
    report: CoverageReport,
    filters: EvidenceFilter = EvidenceFilter(),
    offset: int = 0,
    limit: int = 100,
) -> CohortReport:
    """The cohort heat map (learners × top-level items) for one page of learners, and per-item rates.

    Unless a course or date filter asks for the completions themselves, it
    reads the :class:`~capcourse.records.models.Evidence` aggregate, which is
    kept current as completions are recorded and mappings change.
    """
    programme, framework = report.programme, report.framework
    top_of = _top_of(report)
    evidence = _evidence(programme, framework.id, filters)
    population = _population(programme, filters).subquery()
    # Learners in natural order ("learner 2" before "learner 10"): the ids and names of
    # the population are sorted here (a few tens of thousands at most), then one page is loaded.
    # The names are the programme's own (learners are shared; each programme names its own).
    names = session.execute(
        select(Learner.id, name_column(programme.id).label("name"), Learner.agent_key).where(
            Learner.id.in_(select(population.c.learner_id))
        )
    ).all()
    learner_total = len(names)
    ordered = sorted(names, key=lambda row: (natural_key(row.name or row.agent_key), row.id))
    page_rows = ordered[offset : offset + limit]
    page_ids = [row.id for row in page_rows]
    loaded = {learner.id: learner for learner in session.scalars(select(Learner).where(Learner.id.in_(page_ids)))}
    rows = [CohortRow(loaded[row.id], row.name) for row in page_rows]
    by_learner = {row.learner.id: row for row in rows}
    if rows:
        # One page of learners: their distinct (learner, item) pairs are few. The
        # per-item counts for the whole cohort below stay in the database.
        pairs = session.execute(
            select(evidence.c.learner_id, evidence.c.item_id)
            .where(evidence.c.learner_id.in_(list(by_learner)))
            .distinct()
        )
        for learner_id, item_id in pairs:
            top = top_of.get(item_id)
            if top is not None:
                counts = by_learner[learner_id].evidenced
                counts[top] = counts.get(top, 0) + 1
    grouped = session.execute(
        select(evidence.c.item_id, func.count(func.distinct(evidence.c.learner_id))).group_by(evidence.c.item_id)
    )
    item_learners = {item_id: int(count) for item_id, count in grouped}
    sizes: dict[uuid.UUID, int] = defaultdict(int)
    for top in top_of.values():
        sizes[top] += 1
    columns = [c.item for c in report.items if c.level == 0]
    attained = cohort_attainment(session, report, page_ids, filters.cohort_id, filters.since, filters.until)
    for row in rows:
        row.achieved = attained.by_learner.get(row.learner.id, {})
    result = CohortReport(
        columns, dict(sizes), rows, learner_total, item_learners, attained.item_achievers, attained.achievable
    )
    _carry_to_cohort(session, report, filters, result, by_learner, top_of)
    return result


def _carry_to_cohort(
    session: Session,
    report: CoverageReport,
    filters: EvidenceFilter,
    result: CohortReport,
    by_learner: dict[int, CohortRow],
    top_of: dict[uuid.UUID, uuid.UUID],
) -> None:
    """Evidence of the other versions, with the same filters: learners per linked pair of items, and per learner
    of the page the items evidenced only that way, by top-level item."""
    if not by_learner:
        own: set[tuple[int, uuid.UUID]] = set()
    else:
        own_rows = _evidence(report.programme, report.framework.id, filters)
        own = {
            (learner_id, item_id)
            for learner_id, item_id in session.execute(
                select(own_rows.c.learner_id, own_rows.c.item_id)
                .where(own_rows.c.learner_id.in_(list(by_learner)))
                .distinct()
            )
        }
    carried_items: dict[int, set[uuid.UUID]] = defaultdict(set)
    for other, links in _version_links(session, report):
        rows = _evidence(report.programme, other.id, filters)
        counts: dict[uuid.UUID, int] = {
            item_id: int(learners)
            for item_id, learners in session.execute(
                select(rows.c.item_id, func.count(func.distinct(rows.c.learner_id)))
                .where(rows.c.item_id.in_(list(links)))
                .group_by(rows.c.item_id)
            )
        }
        if not counts:
            continue
        vias = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(list(counts))))}
        for via_id, learners in counts.items():
            for item, kind, provenance, also in links[via_id]:
                link = CarriedLink(item, vias[via_id], other, kind, provenance, also)
                result.carried.append(CarriedRate(link, learners))
        if by_learner:
            for learner_id, via_id in session.execute(
                select(rows.c.learner_id, rows.c.item_id)
                .where(rows.c.learner_id.in_(list(by_learner)), rows.c.item_id.in_(list(counts)))
                .distinct()
            ):
                carried_items[learner_id].update(
                    item.id for item, *_ in links[via_id] if (learner_id, item.id) not in own
                )
    for learner_id, items in carried_items.items():
        for item_id in items:
            top = top_of.get(item_id)
            if top is not None:
                counts_by_top = by_learner[learner_id].carried
                counts_by_top[top] = counts_by_top.get(top, 0) + 1
    result.carried.sort(key=lambda r: (natural_key(r.link.item.code or ""), natural_key(r.link.via.code or "")))


def learner_in_programme(session: Session, programme: Programme, learner_id: int) -> Learner:
    """A learner with records in the programme, or in one of its cohorts.

    :raises NotFoundError: neither (a learner of another programme stays unseen).
    """
    learner = session.get(Learner, learner_id)
    known = learner is not None and (
        session.scalar(
            select(Completion.id)
            .where(Completion.learner_id == learner_id, Completion.programme_id == programme.id)
            .limit(1)
        )
        or session.scalar(
            select(CohortMember.learner_id)
            .join(Cohort, Cohort.id == CohortMember.cohort_id)
            .where(CohortMember.learner_id == learner_id, Cohort.programme_id == programme.id)
            .limit(1)
        )
    )
    if learner is None or not known:
        raise NotFoundError(f"No learner {learner_id} has records in this programme.")
    return learner


@dataclass
class LearnerEvidence:
    item: Item
    activity_title: str
    occurred_at: datetime
    outcome: str
    score_scaled: float | None


def _completions_per_item(
    programme_id: uuid.UUID, conditions: Sequence[ColumnElement[bool]], framework_id: uuid.UUID
) -> Select[Item, str, datetime, str, float | None]:
    """(item, activity title, when, outcome, score) for each completion that is evidence for an item of the framework.

    Distinct pairs: a completion reaching an item through its activity and its module is one piece of evidence.
    """
    pairs = (
        select(*evidence_paths(programme_id, conditions, framework_id).subquery().c["item_id", "completion_id"])
        .distinct()
        .subquery()
    )
    return (
        select(Item, Activity.title, Completion.occurred_at, Completion.outcome, Completion.score_scaled)
        .select_from(pairs)
        .join(Completion, Completion.id == pairs.c.completion_id)
        .join(Activity, Activity.id == Completion.activity_id)
        .join(Item, Item.id == pairs.c.item_id)
    )


def learner_evidence(
    session: Session, report: CoverageReport, learner: Learner, filters: EvidenceFilter = EvidenceFilter()
) -> tuple[list[LearnerEvidence], list[Item]]:
    """A learner's evidence per item (activity, when, result), and the items still open."""
    programme, framework = report.programme, report.framework
    conditions = [Completion.learner_id == learner.id, *_completion_conditions(filters)]
    rows = session.execute(
        _completions_per_item(programme.id, conditions, framework.id).order_by(Item.code, Completion.occurred_at)
    )
    found = [LearnerEvidence(item, title, when, outcome, score) for item, title, when, outcome, score in rows]
    evidenced = {e.item.id for e in found}
    open_items = [c.item for c in report.items if c.is_leaf and c.item.id not in evidenced]
    return found, open_items


@dataclass
class CarriedEvidence:
    """A completion recorded as evidence of another version's item, shown on the item it links to."""

    link: CarriedLink
    activity_title: str
    occurred_at: datetime
    outcome: str
    score_scaled: float | None


def learner_carried(
    session: Session, report: CoverageReport, learner: Learner, filters: EvidenceFilter = EvidenceFilter()
) -> list[CarriedEvidence]:
    """A learner's evidence recorded against other versions of the report's framework, per item it links to.

    Read from the other version's items, as it was recorded, never copied; one row per completion and linked
    pair of items, however many links join the pair.
    """
    programme = report.programme
    conditions = [Completion.learner_id == learner.id, *_completion_conditions(filters)]
    found: list[CarriedEvidence] = []
    for other, links in _version_links(session, report):
        rows = session.execute(
            _completions_per_item(programme.id, conditions, other.id).where(Item.id.in_(list(links)))
        )
        for via, title, when, outcome, score in rows:
            for item, kind, provenance, also in links[via.id]:
                found.append(
                    CarriedEvidence(CarriedLink(item, via, other, kind, provenance, also), title, when, outcome, score)
                )
    found.sort(key=lambda e: (natural_key(e.link.item.code or ""), e.occurred_at, natural_key(e.link.via.code or "")))
    return found
