"""Activities created as a set (what a SCORM import of many does): the same rules as one at a time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue import services
from capcourse.catalogue.models import Activity, ExternalId
from capcourse.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from tests import factories

pytestmark = pytest.mark.db


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    return {"module": module, "author": principal_for_user(author)}


def many(*values: str) -> list[dict[str, Any]]:
    return [{"title": f"Lesson {v}", "external_ids": [{"system": "scorm-item", "value": v}]} for v in values]


def test_activities_are_added_in_order_at_the_end_with_their_external_ids(
    session: Session, world: dict[str, Any]
) -> None:
    first = services.create_activity(session, world["author"], world["module"], {"title": "Already there"})
    made = services.create_activities(session, world["author"], world["module"], many("a", "b", "c"))
    assert [(a.title, a.position) for a in made] == [("Lesson a", 1), ("Lesson b", 2), ("Lesson c", 3)]
    assert first.position == 0
    session.expire_all()
    rows = session.execute(select(ExternalId.value, ExternalId.activity_id).order_by(ExternalId.value)).all()
    assert rows == [("a", made[0].id), ("b", made[1].id), ("c", made[2].id)]
    assert all(a.version == 1 for a in made)
    assert services.create_activities(session, world["author"], world["module"], []) == []


def test_a_taken_or_repeated_external_id_refuses_them_all(session: Session, world: dict[str, Any]) -> None:
    services.create_activities(session, world["author"], world["module"], many("a"))
    before = session.scalar(select(func.count()).select_from(Activity))
    with pytest.raises(ConflictError, match="scorm-item: a already belongs"):
        services.create_activities(session, world["author"], world["module"], many("b", "a"))
    with pytest.raises(InvalidInputError) as repeated:
        services.create_activities(session, world["author"], world["module"], many("c", "c"))
    assert repeated.value.errors == {"external_ids": ["scorm-item: c"]}
    assert session.scalar(select(func.count()).select_from(Activity)) == before


def test_only_content_editors_create(session: Session, world: dict[str, Any]) -> None:
    outsider = principal_for_user(factories.user(session, Role.AUTHOR))
    with pytest.raises((ForbiddenError, NotFoundError)):
        services.create_activities(session, outsider, world["module"], many("x"))
