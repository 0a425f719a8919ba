"""What learners have achieved: the attainments recorded, and what each learner still needs.

An attainment is written by the records layer when a learner has succeeded in
every activity of the programme mapped to an item at depth ``assessed`` (it is
emitted once as an xAPI ``achieved`` statement). This module only reads them:
per learner (achieved items with date and evidence, pending items with the
activities still missing) and per cohort (achieved items per learner and
top-level item, learners per item).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from capcourse.catalogue.models import Activity
from capcourse.cohorts.models import CohortMember
from capcourse.cohorts.names import name_column
from capcourse.coverage.services import CoverageReport
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Depth, Mapping
from capcourse.naturalsort import natural_key
from capcourse.records.models import Attainment, Completion, Learner


@dataclass
class Achieved:
    item: Item
    attained_at: datetime
    #: Titles of the activities whose successful completions achieved it.
    evidence: list[str] = field(default_factory=list)


@dataclass
class Pending:
    """An item the learner can achieve (activities assess it) but has not yet."""

    item: Item
    #: Titles of the assessed activities the learner has not yet succeeded in.
    missing: list[str]
    #: Titles of the assessed activities already done.
    done: list[str]


@dataclass
class LearnerAttainment:
    achieved: list[Achieved]
    pending: list[Pending]


def _assessing_activities(session: Session, report: CoverageReport) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """item id → (activity id, title) of the programme's activities mapped to it at ``assessed``."""
    rows = session.execute(
        select(Mapping.item_id, Activity.id, Activity.title)
        .join(Activity, Activity.id == Mapping.activity_id)
        .join(Item, Item.id == Mapping.item_id)
        .where(
            Mapping.programme_id == report.programme.id,
            Mapping.depth == Depth.ASSESSED,
            Item.framework_id == report.framework.id,
        )
        .order_by(Activity.title)
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for item_id, activity_id, title in rows:
        found[item_id].append((activity_id, title))
    return found


def learner_attainment(session: Session, report: CoverageReport, learner: Learner) -> LearnerAttainment:
    """The items of the report's framework the learner achieved (when, through which activities), and the
    items still pending: assessed by activities of the programme, with the ones the learner has not passed."""
    items = {c.item.id: c.item for c in report.items}
    assessing = _assessing_activities(session, report)
    succeeded = set(
        session.scalars(
            select(Completion.activity_id)
            .where(
                Completion.learner_id == learner.id,
                Completion.programme_id == report.programme.id,
                Completion.counts(),
            )
            .distinct()
        )
    )
    attained = session.execute(
        select(Attainment.item_id, Attainment.attained_at)
        .where(
            Attainment.learner_id == learner.id,
            Attainment.programme_id == report.programme.id,
            Attainment.item_id.in_(list(items)),
        )
        .order_by(Attainment.attained_at)
    ).all()
    achieved_ids = {item_id for item_id, _ in attained}
    achieved = [
        Achieved(
            items[item_id],
            when,
            [title for activity_id, title in assessing.get(item_id, []) if activity_id in succeeded],
        )
        for item_id, when in attained
    ]
    order = {c.item.id: n for n, c in enumerate(report.items)}
    pending = [
        Pending(
            items[item_id],
            [title for activity_id, title in activities if activity_id not in succeeded],
            [title for activity_id, title in activities if activity_id in succeeded],
        )
        for item_id, activities in sorted(assessing.items(), key=lambda pair: order.get(pair[0], 0))
        if item_id in items and item_id not in achieved_ids
    ]
    return LearnerAttainment(achieved, pending)


def _attainments(
    report: CoverageReport,
    cohort_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> Select:  # type: ignore[type-arg]
    conditions: list[ColumnElement[bool]] = [
        Attainment.programme_id == report.programme.id,
        Item.framework_id == report.framework.id,
    ]
    if cohort_id:
        conditions.append(
            Attainment.learner_id.in_(select(CohortMember.learner_id).where(CohortMember.cohort_id == cohort_id))
        )
    if since:
        conditions.append(Attainment.attained_at >= since)
    if until:
        conditions.append(Attainment.attained_at <= until)
    return (
        select(Attainment.learner_id, Attainment.item_id, Attainment.attained_at)
        .join(Item, Item.id == Attainment.item_id)
        .where(*conditions)
    )


@dataclass
class CohortAttainment:
    #: learner id → top-level item id → items achieved under it.
    by_learner: dict[int, dict[uuid.UUID, int]]
    #: item id → learners who achieved it (whole cohort, not one page).
    item_achievers: dict[uuid.UUID, int]
    #: Items some activity assesses: the only ones a learner can achieve.
    achievable: set[uuid.UUID]


def cohort_attainment(
    session: Session,
    report: CoverageReport,
    learner_ids: list[int],
    cohort_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> CohortAttainment:
    """Achievements per learner of a page (by top-level item) and per item for the whole population."""
    top_of = {c.item.id: (c.ancestors[0] if c.ancestors else c.item.id) for c in report.items}
    query = _attainments(report, cohort_id, since, until).subquery()
    by_learner: dict[int, dict[uuid.UUID, int]] = defaultdict(dict)
    if learner_ids:
        for learner_id, item_id in session.execute(
            select(query.c.learner_id, query.c.item_id).where(query.c.learner_id.in_(learner_ids))
        ):
            top = top_of.get(item_id)
            if top is not None:
                by_learner[learner_id][top] = by_learner[learner_id].get(top, 0) + 1
    item_achievers = {
        item_id: int(count)
        for item_id, count in session.execute(
            select(query.c.item_id, func.count(func.distinct(query.c.learner_id))).group_by(query.c.item_id)
        )
    }
    return CohortAttainment(dict(by_learner), item_achievers, set(_assessing_activities(session, report)))


def attainment_rows(
    session: Session,
    report: CoverageReport,
    cohort_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[Learner, str | None, Item, datetime]]:
    """Every attainment of the population (learner, their name in the programme, item, when), learners in
    natural order: for exports."""
    query = _attainments(report, cohort_id, since, until).subquery()
    rows = session.execute(
        select(Learner, name_column(report.programme.id), Item, query.c.attained_at)
        .join(Learner, Learner.id == query.c.learner_id)
        .join(Item, Item.id == query.c.item_id)
    ).all()
    order = {c.item.id: n for n, c in enumerate(report.items)}
    return sorted(
        ((learner, name, item, when) for learner, name, item, when in rows),
        key=lambda row: (natural_key(row[1] or row[0].agent_key), row[0].id, order.get(row[2].id, 0)),
    )
