"""Suggested equivalents on the crosswalk editor (:mod:`capcourse.frameworks.crosswalk_pages`).

The editor sits in the frameworks layer, below this one, so this domain registers
what it offers there: the likely equivalents of an item in the other framework
(:func:`capcourse.suggest.services.equivalents`), and the recording of a person's
acceptance or rejection (:func:`capcourse.suggest.services.decide_equivalent`),
which later rankings learn from. Accepting also makes a confirmed link; that is
the editor's part.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal
from capcourse.frameworks.crosswalk_pages import Equivalent, SuggestionHooks
from capcourse.suggest import services
from capcourse.suggest.models import Decision


def equivalents(session: Session, item_id: uuid.UUID, framework_id: uuid.UUID, limit: int) -> list[Equivalent]:
    """The likely equivalents of ``item_id`` among the items of ``framework_id``, best first."""
    return [
        Equivalent(s.item, s.rank, s.score, s.why, list(s.linked))
        for s in services.equivalents(session, item_id, framework_id, limit)
    ]


def decide(session: Session, principal: Principal, item_id: uuid.UUID, other_id: uuid.UUID, decision: str) -> None:
    """Record that a person accepted (``confirmed``) or rejected ``other_id`` as an equivalent of ``item_id``."""
    services.decide_equivalent(session, principal, item_id, other_id, Decision(decision))


HOOKS = SuggestionHooks(equivalents=equivalents, decide=decide)
