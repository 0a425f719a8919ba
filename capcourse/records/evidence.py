"""Keeping :class:`~capcourse.records.models.Evidence` current.

A learner has evidence for an item when they completed or passed an activity mapped to
it, or any activity of a module mapped to it, and that completion was not voided (a completion whose success is
unknown is evidence; a failure is not: :meth:`Completion.is_evidence`). Recording a completion adds to
the rows of the items its activity and module are mapped to (an upsert, so two
requests recording for the same learner at once both count); mapping or
unmapping recomputes the rows of that item from the completions, in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Uuid,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from capcourse.catalogue.models import Activity, Module
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Mapping
from capcourse.prepared import PreparedInsert
from capcourse.records.models import Completion, Evidence

#: More paths to evidence, registered by higher layers: each is called like
#: :func:`evidence_paths` and returns a select of the same four columns
#: (``capcourse.versions``: a mapping moved to another version of its framework
#: keeps the evidence recorded before the move).
EXTRA_PATHS: list[Callable[[uuid.UUID, Sequence[ColumnElement[bool]], uuid.UUID | None], Select]] = []  # type: ignore[type-arg]
#: Conditions on :class:`Mapping` and :class:`Completion` every mapping path must meet, registered by higher
#: layers (``capcourse.versions``: a moved mapping counts completions from the move on).
MAPPING_CONDITIONS: list[Callable[[], ColumnElement[bool]]] = []


def evidence_paths(
    programme_id: uuid.UUID,
    conditions: Sequence[ColumnElement[bool]] = (),
    framework_id: uuid.UUID | None = None,
) -> CompoundSelect:  # type: ignore[type-arg]
    """(learner_id, item_id, completion_id, occurred_at) through activity mappings and through module mappings.

    Two joins glued with UNION ALL (one join with an OR would defeat the
    indexes); a completion reaching an item both ways appears twice, so
    counts are of distinct completions.

    :param conditions: more conditions on the completion, its activity or its :class:`Module`.
    :param framework_id: only items of this framework.
    """

    def path(on_mapping: ColumnElement[bool]) -> Select:  # type: ignore[type-arg]
        query = (
            select(
                Completion.learner_id.label("learner_id"),
                Mapping.item_id.label("item_id"),
                Completion.id.label("completion_id"),
                Completion.occurred_at.label("occurred_at"),
            )
            .join(Activity, Activity.id == Completion.activity_id)
            .join(Module, Module.id == Activity.module_id)
            .join(Mapping, and_(Mapping.programme_id == programme_id, on_mapping))
            .where(
                Completion.programme_id == programme_id,
                Completion.is_evidence(),
                *conditions,
                *(condition() for condition in MAPPING_CONDITIONS),
            )
        )
        if framework_id is not None:
            query = query.join(Item, Item.id == Mapping.item_id).where(Item.framework_id == framework_id)
        return query

    return union_all(
        path(Mapping.activity_id == Completion.activity_id),
        path(Mapping.module_id == Activity.module_id),
        *(extra(programme_id, conditions, framework_id) for extra in EXTRA_PATHS),
    )


def refresh_items(session: Session, programme_id: uuid.UUID, item_ids: Iterable[uuid.UUID] | None = None) -> None:
    """Recompute evidence rows from the completions: of ``item_ids``, or of every item when ``None``.

    Called after a mapping changed; :func:`rebuild` uses it for a whole programme.
    """
    ids = None if item_ids is None else list(set(item_ids))
    if ids == []:
        return
    session.flush()
    stale = delete(Evidence).where(Evidence.programme_id == programme_id)
    rows = evidence_paths(programme_id).subquery()
    grouped = select(
        literal(programme_id, Uuid()),
        rows.c.item_id,
        rows.c.learner_id,
        func.count(func.distinct(rows.c.completion_id)),
        func.min(rows.c.occurred_at),
        func.max(rows.c.occurred_at),
    ).group_by(rows.c.item_id, rows.c.learner_id)
    if ids is not None:
        stale = stale.where(Evidence.item_id.in_(ids))
        grouped = grouped.where(rows.c.item_id.in_(ids))
    session.execute(stale)
    session.execute(
        insert(Evidence).from_select(
            ["programme_id", "item_id", "learner_id", "completions", "first_at", "last_at"], grouped
        )
    )


def rebuild(session: Session, programme_id: uuid.UUID) -> int:
    """Recompute every evidence row of a programme (after a bulk load that bypassed the services).

    :returns: how many evidence rows the programme has.
    """
    refresh_items(session, programme_id, None)
    return int(session.scalar(select(func.count()).where(Evidence.programme_id == programme_id)) or 0)


def add_completions(session: Session, rows: Iterable[tuple[uuid.UUID, int, uuid.UUID, datetime]]) -> None:
    """Count completions that are evidence (not failed) as evidence: one upsert for a whole batch.

    :param rows: (programme, learner, item, when) for each completion not failed
        and each item it is evidence for; repeated keys are summed first.
    """
    totals: dict[tuple[uuid.UUID, int, uuid.UUID], list[Any]] = {}
    for programme_id, learner_id, item_id, when in rows:
        total = totals.get((programme_id, learner_id, item_id))
        if total is None:
            totals[programme_id, learner_id, item_id] = [1, when, when]
        else:
            total[0] += 1
            total[1] = min(total[1], when)
            total[2] = max(total[2], when)
    if not totals:
        return
    values = [
        {
            "programme_id": p,
            "learner_id": learner,
            "item_id": item,
            "completions": n,
            "first_at": first,
            "last_at": last,
        }
        for (p, learner, item), (n, first, last) in totals.items()
    ]
    # One statement for the batch, run on the driver as multi-row VALUES pages.
    _UPSERT.run(session, values)


def _build_upsert(upsert: Any) -> Any:
    """The evidence upsert on ``upsert`` (an ``INSERT`` with ``ON CONFLICT`` of one dialect)."""
    if isinstance(upsert, postgresql.Insert):
        earliest, latest = "least", "greatest"
    else:
        # SQLite's min() and max() with two arguments are the scalar functions.
        earliest, latest = "min", "max"
    excluded = upsert.excluded
    table = Evidence.__table__.c
    return upsert.on_conflict_do_update(
        index_elements=["programme_id", "item_id", "learner_id"],
        set_={
            "completions": table.completions + excluded.completions,
            "first_at": getattr(func, earliest)(table.first_at, excluded.first_at),
            "last_at": getattr(func, latest)(table.last_at, excluded.last_at),
        },
    )


#: Built and compiled once per dialect (building it per batch cost more than running it).
_UPSERT = PreparedInsert(Evidence.__table__, _build_upsert, deferred=True)
