"""A programme mapped to KSS 2015, with learners' completions, for the drift report tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from tests import factories
from tests.records.test_evidence import complete

OLD, NEW = "dfe-kss-practice-supervisors-2015", "dfe-kss-practice-supervisors-2018"


def old(key: str) -> Any:
    return item_id(OLD, key)


def new(key: str) -> Any:
    return item_id(NEW, key)


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """A programme on KSS 2015: a module mapped to a paragraph the 2018 text split, activities to others."""
    programme = factories.programme(session)
    source = session.get(Framework, framework_id(OLD))
    target = session.get(Framework, framework_id(NEW))
    programme.frameworks.append(source)
    module = factories.module(session, factories.course(session, programme), "Emotionally intelligent supervision")
    observed = factories.activity(session, module, "Observed supervision")
    planning = factories.activity(session, module, "Workforce planning")
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, module, [old("7.2")], Depth.DEVELOPED)
    map_items(session, admin, observed, [old("7.3"), old("1.1")], Depth.ASSESSED)
    map_items(session, admin, planning, [old("8.2"), old("2.2")], Depth.INTRODUCED)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    before = datetime(2026, 3, 1, 10, tzinfo=UTC)
    complete(session, "ada", observed, "passed", before)
    complete(session, "ada", planning, "completed", before + timedelta(days=1))
    complete(session, "bo", observed, "passed", before + timedelta(days=2))
    return {
        "programme": programme,
        "source": source,
        "target": target,
        "module": module,
        "observed": observed,
        "planning": planning,
        "lead": principal_for_user(lead),
        "author": principal_for_user(author),
    }
