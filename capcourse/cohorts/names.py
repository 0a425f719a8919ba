"""Learners' names as each programme knows them.

A learner is one row for every programme (the xAPI agent is the person), but
the name is the programme's: a lead who adds a learner to a cohort with a name
names them in that programme only. A programme that gave no name shows the one
the learner's own records carry (``Learner.name``, from the LMS's statements).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from capcourse.cohorts.models import ProgrammeLearner
from capcourse.records.models import Learner
from capcourse.timestamps import utcnow

#: How many learner ids go in one ``IN (…)`` (SQLite allows 32,766 parameters; PostgreSQL 65,535).
CHUNK = 5000


def name_column(programme_id: uuid.UUID) -> ColumnElement[str | None]:
    """SQL for a :class:`Learner` row's name in the programme (its own, else the records' name)."""
    own = (
        select(ProgrammeLearner.name)
        .where(ProgrammeLearner.programme_id == programme_id, ProgrammeLearner.learner_id == Learner.id)
        .correlate(Learner)
        .scalar_subquery()
    )
    return func.coalesce(own, Learner.name)


def names_in(session: Session, programme_id: uuid.UUID, learners: Iterable[Learner]) -> dict[int, str | None]:
    """Learner id → the name ``programme_id`` knows each of ``learners`` by (None: no name anywhere)."""
    names: dict[int, str | None] = {learner.id: learner.name for learner in learners}
    ids = list(names)
    for start in range(0, len(ids), CHUNK):
        for learner_id, name in session.execute(
            select(ProgrammeLearner.learner_id, ProgrammeLearner.name).where(
                ProgrammeLearner.programme_id == programme_id,
                ProgrammeLearner.learner_id.in_(ids[start : start + CHUNK]),
            )
        ):
            names[learner_id] = name
    return names


def name_in(session: Session, programme_id: uuid.UUID, learner: Learner) -> str | None:
    """The name ``programme_id`` knows ``learner`` by (None: no name anywhere)."""
    return names_in(session, programme_id, [learner])[learner.id]


def label_in(session: Session, programme_id: uuid.UUID, learner: Learner) -> str:
    """What a page calls the learner in the programme: their name there, else their agent's key."""
    return name_in(session, programme_id, learner) or learner.agent_key


def set_names(session: Session, programme_id: uuid.UUID, names: Mapping[int, str], by: str) -> None:
    """Name learners in one programme (nothing another programme shows changes)."""
    now = utcnow()
    for learner_id, name in names.items():
        row = session.get(ProgrammeLearner, (programme_id, learner_id))
        if row is None:
            session.add(ProgrammeLearner(programme_id=programme_id, learner_id=learner_id, name=name, updated_by=by))
        elif row.name != name:
            row.name, row.updated_by, row.updated_at = name, by, now
