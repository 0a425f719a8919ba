"""Factories for test data.

Each factory commits, like data that exists before a request arrives: inside a
test that only releases a savepoint, and the whole test is rolled back after.
(A test's requests share its session, so uncommitted rows would vanish with the
rollback of a refused request.)"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import ApiKey, MembershipRole, ProgrammeMember, Role, User
from capcourse.accounts.services import PERSONAL_ROLES, create_api_key, create_user
from capcourse.catalogue.models import Activity, Course, Module, Programme

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def user(session: Session, role: Role = Role.AUTHOR, email: str | None = None, name: str | None = None) -> User:
    n = next(_counter)
    person = create_user(session, email or f"person{n}@example.org", name or f"Person {n}", role, PASSWORD)
    session.commit()
    return person


def api_key(
    session: Session, role: Role = Role.ADMIN, owner: User | None = None, name: str | None = None
) -> tuple[ApiKey, str]:
    """A live API key and its plain text, for ``Authorization: Bearer``."""
    if role in PERSONAL_ROLES and owner is None:
        owner = user(session, role)
    key = create_api_key(session, name or f"test {role} key", role, owner)
    session.commit()
    return key


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


def programme(session: Session, title: str = "Pathway 1, 2026 cohort", **fields: object) -> Programme:
    programme = Programme(id=uuid.uuid4(), title=title, **fields)
    session.add(programme)
    session.commit()
    return programme


def member(session: Session, programme: Programme, person: User, role: MembershipRole) -> ProgrammeMember:
    membership = ProgrammeMember(programme_id=programme.id, user_id=person.id, role=role)
    session.add(membership)
    session.commit()
    return membership


def course(session: Session, programme: Programme, title: str = "Leading supervision") -> Course:
    course = Course(programme=programme, title=title, position=len(programme.courses))
    session.add(course)
    session.commit()
    return course


def module(session: Session, course: Course, title: str = "Reflective supervision") -> Module:
    module = Module(course=course, title=title, position=len(course.modules))
    session.add(module)
    session.commit()
    return module


def activity(session: Session, module: Module, title: str = "Observed supervision session") -> Activity:
    activity = Activity(module=module, title=title, position=len(module.activities))
    session.add(activity)
    session.commit()
    return activity


def statements(count: int) -> list[dict[str, Any]]:
    """``completed`` statements as capcourse emits them, each by a new agent on a new activity (built, not stored)."""
    return [
        xapi.statement(
            xapi.agent_from_email(f"{uuid.uuid4().hex}@example.org"),
            xapi.COMPLETED,
            xapi.activity(f"https://capcourse.test/activities/{uuid.uuid4()}", "An activity"),
            xapi.statement_id("factory", str(uuid.uuid4())),
            datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        )
        for _ in range(count)
    ]
