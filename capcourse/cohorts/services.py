"""Creating cohorts and managing who is in them.

Programme leads (and admins) manage cohorts; everyone on the programme may read
them. A learner is anyone an LMS identifies (email or LMS account): adding one
who has no records yet creates the learner, so the cohort view lists them with
nothing evidenced instead of leaving them out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import Principal, programme_for_read, require_programme_manager
from capcourse.catalogue.models import Programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.cohorts.names import name_column, set_names
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.records.models import Learner
from capcourse.records.services import learner_for

logger = logging.getLogger(__name__)

#: At most this many learners in one request or file line batch.
MAX_LEARNERS_PER_CALL = 5000


@dataclass(frozen=True)
class CohortSummary:
    cohort: Cohort
    learners: int


@dataclass(frozen=True)
class AddedLearners:
    added: list[Learner]
    #: Already in the cohort: nothing changed for them.
    already: list[Learner]


def list_cohorts(session: Session, principal: Principal, programme: Programme) -> list[CohortSummary]:
    """The programme's cohorts by name, with how many learners each has."""
    programme_for_read(session, principal, programme.id)
    counts = dict(
        session.execute(
            select(CohortMember.cohort_id, func.count())
            .join(Cohort, Cohort.id == CohortMember.cohort_id)
            .where(Cohort.programme_id == programme.id)
            .group_by(CohortMember.cohort_id)
        ).all()
    )
    cohorts = session.scalars(select(Cohort).where(Cohort.programme_id == programme.id).order_by(Cohort.name))
    return [CohortSummary(c, int(counts.get(c.id, 0))) for c in cohorts]


def cohort_summary(session: Session, cohort: Cohort) -> CohortSummary:
    count = session.scalar(select(func.count()).where(CohortMember.cohort_id == cohort.id))
    return CohortSummary(cohort, int(count or 0))


def cohort_for_read(session: Session, principal: Principal, cohort_id: uuid.UUID) -> Cohort:
    """:raises NotFoundError: no such cohort, or one of a programme ``principal`` may not read."""
    cohort = session.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFoundError(f"No cohort has the identifier {cohort_id}.")
    try:
        programme_for_read(session, principal, cohort.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No cohort has the identifier {cohort_id}.") from error
    return cohort


def cohort_in(session: Session, programme: Programme, cohort_id: uuid.UUID) -> Cohort:
    """The cohort, checked to belong to ``programme`` (a report filter must not reach another programme's).

    :raises NotFoundError: it does not.
    """
    cohort = session.get(Cohort, cohort_id)
    if cohort is None or cohort.programme_id != programme.id:
        raise NotFoundError(f"The programme has no cohort with the identifier {cohort_id}.")
    return cohort


def create_cohort(
    session: Session, principal: Principal, programme: Programme, name: str, description: str | None = None
) -> Cohort:
    """:raises ConflictError: the programme already has a cohort of that name."""
    require_programme_manager(session, principal, programme)
    name = name.strip()
    if not name:
        raise InvalidInputError("A cohort needs a name.", {"name": ["Required."]})
    taken = session.scalar(select(Cohort.id).where(Cohort.programme_id == programme.id, Cohort.name == name))
    if taken:
        raise ConflictError(f"{programme.title!r} already has a cohort called {name!r}.", {"name": ["Taken."]})
    cohort = Cohort(programme_id=programme.id, name=name, description=description, created_by=principal.name)
    session.add(cohort)
    session.flush()
    logger.info("%s created cohort %r in %r", principal.name, name, programme.title)
    return cohort


def delete_cohort(session: Session, principal: Principal, cohort: Cohort) -> None:
    """Remove a cohort; its learners and their records stay."""
    require_programme_manager(session, principal, cohort.programme)
    session.delete(cohort)
    session.flush()


def members_query(cohort: Cohort) -> Select[Learner, str | None]:
    """The cohort's learners, each with the name their programme knows them by (and in its order), to page."""
    name = name_column(cohort.programme_id)
    return (
        select(Learner, name.label("name"))
        .join(CohortMember, CohortMember.learner_id == Learner.id)
        .where(CohortMember.cohort_id == cohort.id)
        .order_by(name, Learner.id)
    )


def add_learners(
    session: Session, principal: Principal, cohort: Cohort, agents: Sequence[Mapping[str, Any]]
) -> AddedLearners:
    """Put the learners named by ``agents`` (xAPI agents: email or LMS account) in the cohort.

    All or nothing; learners already in it are reported, not refused, so a
    list can be sent again safely.
    """
    require_programme_manager(session, principal, cohort.programme)
    if len(agents) > MAX_LEARNERS_PER_CALL:
        raise InvalidInputError(f"Add at most {MAX_LEARNERS_PER_CALL} learners at a time.")
    learners: dict[str, Learner] = {}
    names: dict[str, str] = {}
    for index, agent in enumerate(agents):
        try:
            key = xapi.agent_key(agent)
        except ValueError as error:
            raise InvalidInputError(
                f"Learner {index + 1} is not identified: {error}", {"learners": {str(index): [str(error)]}}
            ) from error
        if key not in learners:
            # Learners are shared by every programme: the name given here is this
            # programme's (a lead of one programme must not rename, or name, the
            # learner another programme sees), so the shared row is found without it.
            learners[key] = learner_for(session, {k: v for k, v in agent.items() if k != "name"})
        if agent.get("name"):
            names[key] = str(agent["name"]).strip()
    session.flush()
    set_names(session, cohort.programme_id, {learners[k].id: name for k, name in names.items() if name}, principal.name)
    present = set(
        session.scalars(
            select(CohortMember.learner_id).where(
                CohortMember.cohort_id == cohort.id, CohortMember.learner_id.in_([lr.id for lr in learners.values()])
            )
        )
    )
    added = [lr for lr in learners.values() if lr.id not in present]
    for learner in added:
        session.add(CohortMember(cohort_id=cohort.id, learner_id=learner.id, added_by=principal.name))
    try:
        session.flush()
    except IntegrityError as error:  # another request added the same learner meanwhile
        raise ConflictError("The cohort changed while the learners were being added; send the list again.") from error
    logger.info("%s added %d learner(s) to cohort %r", principal.name, len(added), cohort.name)
    return AddedLearners(added, [lr for lr in learners.values() if lr.id in present])


def remove_learner(session: Session, principal: Principal, cohort: Cohort, learner_id: int) -> None:
    """Take a learner out of the cohort (their records stay).

    :raises NotFoundError: the learner is not in the cohort.
    """
    require_programme_manager(session, principal, cohort.programme)
    result = session.execute(
        delete(CohortMember).where(CohortMember.cohort_id == cohort.id, CohortMember.learner_id == learner_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"Learner {learner_id} is not in the cohort {cohort.name!r}.")
