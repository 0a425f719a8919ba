"""Evidence across a version move, registered with :mod:`capcourse.records.evidence`.

Two rules keep a learner's evidence as it was recorded:

- a retired mapping (the programme moved off its item) is still a path from the
  completions recorded *before* the move to the older item;
- a mapping the move made counts only the completions from the move on.

So the evidence for a 2015 item stays exactly as it was, and the 2018 item is
evidenced by what learners do after the move; what they did before shows in
2018 through the associations (:func:`capcourse.versions.services.carried_evidence`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, Select, and_, exists, select

from capcourse.catalogue.models import Activity, Module
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Mapping
from capcourse.records import evidence
from capcourse.records.models import Completion
from capcourse.versions.models import MovedMapping, RetiredMapping


def _retired_path(
    on_target: Callable[[], ColumnElement[bool]],
) -> Callable[[uuid.UUID, Sequence[ColumnElement[bool]], uuid.UUID | None], Select]:  # type: ignore[type-arg]
    def path(
        programme_id: uuid.UUID, conditions: Sequence[ColumnElement[bool]], framework_id: uuid.UUID | None
    ) -> Select:  # type: ignore[type-arg]
        query = (
            select(
                Completion.learner_id.label("learner_id"),
                RetiredMapping.item_id.label("item_id"),
                Completion.id.label("completion_id"),
                Completion.occurred_at.label("occurred_at"),
            )
            .join(Activity, Activity.id == Completion.activity_id)
            .join(Module, Module.id == Activity.module_id)
            .join(RetiredMapping, and_(RetiredMapping.programme_id == programme_id, on_target()))
            .where(
                Completion.programme_id == programme_id,
                Completion.is_evidence(),
                Completion.occurred_at < RetiredMapping.retired_at,
                *conditions,
            )
        )
        if framework_id is not None:
            query = query.join(Item, Item.id == RetiredMapping.item_id).where(Item.framework_id == framework_id)
        return query

    return path


retired_through_activity = _retired_path(lambda: RetiredMapping.activity_id == Completion.activity_id)
retired_through_module = _retired_path(lambda: RetiredMapping.module_id == Activity.module_id)


def counts_from_the_move() -> ColumnElement[bool]:
    """A mapping made by a move is no path from the completions before it."""
    return ~exists().where(MovedMapping.mapping_id == Mapping.id, Completion.occurred_at < MovedMapping.counts_from)


def register() -> None:
    """Add the rules to the evidence paths (once, however many apps are built)."""
    for hook in (retired_through_activity, retired_through_module):
        if hook not in evidence.EXTRA_PATHS:
            evidence.EXTRA_PATHS.append(hook)
    if counts_from_the_move not in evidence.MAPPING_CONDITIONS:
        evidence.MAPPING_CONDITIONS.append(counts_from_the_move)
