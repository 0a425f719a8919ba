"""What learners have evidenced: per learner, per cohort, per item, aggregated in the database.

A learner has evidence for an item when they succeeded in an activity mapped to
it, or in any activity of a module mapped to it. Completions are never loaded
into Python: counts come back grouped by learner and top-level item.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from capcourse.catalogue.models import Activity, Module, Programme
from capcourse.coverage.services import CoverageReport
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Mapping
from capcourse.records.models import Completion, Learner


@dataclass(frozen=True)
class EvidenceFilter:
    course_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def _completion_conditions(programme: Programme, filters: EvidenceFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Completion.programme_id == programme.id, Completion.success.is_(True)]
    if filters.since:
        conditions.append(Completion.occurred_at >= filters.since)
    if filters.until:
        conditions.append(Completion.occurred_at <= filters.until)
    if filters.course_id:
        conditions.append(Module.course_id == filters.course_id)
    return conditions


def evidence_rows(programme: Programme, framework_id: uuid.UUID, filters: EvidenceFilter) -> Select:  # type: ignore[type-arg]
    """(learner_id, item_id, completion_id, occurred_at) for every piece of evidence, as a select to nest.

    Two joins, through activity mappings and through module mappings, glued
    with UNION ALL: one join with an OR would defeat the indexes.
    """

    def path(on_mapping: ColumnElement[bool]) -> Select:  # type: ignore[type-arg]
        return (
            select(
                Completion.learner_id.label("learner_id"),
                Mapping.item_id.label("item_id"),
                Completion.id.label("completion_id"),
                Completion.occurred_at.label("occurred_at"),
            )
            .join(Activity, Activity.id == Completion.activity_id)
            .join(Module, Module.id == Activity.module_id)
            .join(Mapping, and_(Mapping.programme_id == programme.id, on_mapping))
            .join(Item, Item.id == Mapping.item_id)
            .where(Item.framework_id == framework_id, *_completion_conditions(programme, filters))
        )

    both = union_all(path(Mapping.activity_id == Completion.activity_id), path(Mapping.module_id == Activity.module_id))
    return select(both.subquery())


@dataclass
class CohortRow:
    learner: Learner
    #: top-level item id → items evidenced under it (itself included).
    evidenced: dict[uuid.UUID, int] = field(default_factory=dict)


@dataclass
class CohortReport:
    columns: list[Item]
    #: top-level item id → how many items sit under it (itself included).
    column_sizes: dict[uuid.UUID, int]
    rows: list[CohortRow]
    learner_total: int
    #: item id → learners with evidence for it.
    item_learners: dict[uuid.UUID, int]

    def rate(self, item_id: uuid.UUID) -> float:
        return round(100 * self.item_learners.get(item_id, 0) / self.learner_total, 1) if self.learner_total else 0.0


def _top_of(report: CoverageReport) -> dict[uuid.UUID, uuid.UUID]:
    return {c.item.id: (c.ancestors[0] if c.ancestors else c.item.id) for c in report.items}


def cohort(
    session: Session,
    report: CoverageReport,
    filters: EvidenceFilter = EvidenceFilter(),
    offset: int = 0,
    limit: int = 100,
) -> CohortReport:
    """The cohort heat map (learners × top-level items) for one page of learners, and per-item rates."""
    programme, framework = report.programme, report.framework
    top_of = _top_of(report)
    evidence = evidence_rows(programme, framework.id, filters).subquery()
    learners_with_any = (
        select(Completion.learner_id)
        .join(Activity, Activity.id == Completion.activity_id)
        .join(Module, Module.id == Activity.module_id)
        .where(*_completion_conditions(programme, filters))
        .distinct()
        .subquery()
    )
    learner_total = int(session.scalar(select(func.count()).select_from(learners_with_any)) or 0)
    page = list(
        session.scalars(
            select(Learner)
            .where(Learner.id.in_(select(learners_with_any.c.learner_id)))
            .order_by(Learner.name, Learner.id)
            .offset(offset)
            .limit(limit)
        )
    )
    rows = [CohortRow(learner) for learner in page]
    by_learner = {row.learner.id: row for row in rows}
    if page:
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
    return CohortReport(columns, dict(sizes), rows, learner_total, item_learners)


@dataclass
class LearnerEvidence:
    item: Item
    activity_title: str
    occurred_at: datetime
    outcome: str
    score_scaled: float | None


def learner_evidence(
    session: Session, report: CoverageReport, learner: Learner, filters: EvidenceFilter = EvidenceFilter()
) -> tuple[list[LearnerEvidence], list[Item]]:
    """A learner's evidence per item (activity, when, result), and the items still open."""
    programme, framework = report.programme, report.framework
    rows = session.execute(
        select(Item, Activity.title, Completion.occurred_at, Completion.outcome, Completion.score_scaled)
        .select_from(Completion)
        .join(Activity, Activity.id == Completion.activity_id)
        .join(Module, Module.id == Activity.module_id)
        .join(
            Mapping,
            and_(
                Mapping.programme_id == programme.id,
                or_(Mapping.activity_id == Completion.activity_id, Mapping.module_id == Activity.module_id),
            ),
        )
        .join(Item, Item.id == Mapping.item_id)
        .where(
            Item.framework_id == framework.id,
            Completion.learner_id == learner.id,
            *_completion_conditions(programme, filters),
        )
        .order_by(Item.code, Completion.occurred_at)
    )
    found = [LearnerEvidence(item, title, when, outcome, score) for item, title, when, outcome, score in rows]
    evidenced = {e.item.id for e in found}
    open_items = [c.item for c in report.items if c.is_leaf and c.item.id not in evidenced]
    return found, open_items
