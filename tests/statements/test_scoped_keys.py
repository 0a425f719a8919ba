"""Integration keys limited to programmes read only those programmes' statements and launches."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_key
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.catalogue.models import ExternalId
from capcourse.errors import InvalidInputError
from capcourse.launches.services import _may_reach
from tests import factories

pytestmark = pytest.mark.db

VERSION = {"X-Experience-API-Version": "1.0.3"}


def basic(plain: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"lms:{plain}".encode()).decode(), **VERSION}


def passed(iri: str) -> dict[str, Any]:
    return xapi.statement(
        xapi.agent_from_email("ada@example.org", "Ada"),
        xapi.PASSED,
        xapi.activity(iri, "Quiz"),
        str(uuid.uuid4()),
        datetime(2026, 11, 24, 10, tzinfo=UTC),
        xapi.result(success=True, completion=True),
    )


@pytest.fixture
def two(session: Session) -> dict[str, Any]:
    made: dict[str, Any] = {}
    for name in ("a", "b"):
        programme = factories.programme(session, f"Programme {name}")
        activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
        iri = f"https://lms.example.org/xapi/activities/{name}"
        session.add(
            ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms-activity-iri", value=iri)
        )
        made[name] = {"programme": programme, "iri": iri}
    session.commit()
    made["all"] = factories.api_key(session, Role.INTEGRATION)[1]
    key, plain = create_api_key(session, "LMS of a", Role.INTEGRATION, None, [made["a"]["programme"].id])
    session.commit()
    made["scoped"], made["scoped_key"] = plain, key
    return made


def test_a_scoped_key_reads_only_its_programmes_statements(
    client: FlaskClient, session: Session, two: dict[str, Any]
) -> None:
    sent = {name: passed(two[name]["iri"]) for name in ("a", "b")}
    response = client.post("/xapi/statements", json=list(sent.values()), headers=basic(two["all"]))
    assert response.status_code == 200, response.get_data(as_text=True)

    everything = client.get("/xapi/statements", headers=basic(two["all"])).get_json()["statements"]
    seen = client.get("/xapi/statements", headers=basic(two["scoped"])).get_json()["statements"]
    programme_a = f"http://capcourse.test/programmes/{two['a']['programme'].id}"
    assert len(everything) == 4  # two received, two completion statements emitted
    assert {s["id"] for s in seen} == {
        s["id"]
        for s in everything
        if s["object"]["id"] == two["a"]["iri"]
        or programme_a in [g["id"] for g in s.get("context", {}).get("contextActivities", {}).get("grouping", [])]
    }
    assert len(seen) == 2
    own = client.get(f"/xapi/statements?statementId={sent['a']['id']}", headers=basic(two["scoped"]))
    other = client.get(f"/xapi/statements?statementId={sent['b']['id']}", headers=basic(two["scoped"]))
    assert own.status_code == 200 and other.status_code == 404
    by_activity = client.get(
        "/xapi/statements", query_string={"activity": two["b"]["iri"]}, headers=basic(two["scoped"])
    )
    assert by_activity.get_json()["statements"] == []


def test_a_scoped_key_reaches_only_its_programmes_launches(session: Session, two: dict[str, Any]) -> None:
    principal = principal_for_key(two["scoped_key"])
    assert _may_reach(session, principal, two["a"]["programme"].id)
    assert not _may_reach(session, principal, two["b"]["programme"].id)


def test_scopes_are_checked(session: Session, two: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="No programme"):
        create_api_key(session, "x", Role.INTEGRATION, None, [uuid.uuid4()])
    with pytest.raises(InvalidInputError, match="Only integration"):
        create_api_key(session, "x", Role.ADMIN, None, [two["a"]["programme"].id])


def test_unscoped_is_an_explicit_choice_shown_in_the_list(runner: FlaskCliRunner, two: dict[str, Any]) -> None:
    refused = runner.invoke(args=["keys", "create", "--name", "LMS", "--role", "integration"])
    assert refused.exit_code != 0 and "--all-programmes" in refused.output
    programme = str(two["a"]["programme"].id)
    scoped = runner.invoke(
        args=["keys", "create", "--name", "LMS a", "--role", "integration", "--programme", programme]
    )
    assert scoped.exit_code == 0, scoped.output
    unscoped = runner.invoke(args=["keys", "create", "--name", "LMS all", "--role", "integration", "--all-programmes"])
    assert unscoped.exit_code == 0, unscoped.output
    listed = runner.invoke(args=["keys", "list"]).output
    assert f"LMS a\tprogrammes: {programme}" in listed
    assert "LMS all\tall programmes (unscoped)" in listed
    unknown = runner.invoke(
        args=["keys", "create", "--name", "x", "--role", "integration", "--programme", str(uuid.uuid4())]
    )
    assert unknown.exit_code != 0


def test_the_keys_page_asks_for_the_scope(client: FlaskClient, session: Session, two: dict[str, Any]) -> None:
    from tests.pages import post_form, sign_in

    admin = factories.user(session, Role.ADMIN)
    session.commit()
    sign_in(client, admin.email)
    neither = post_form(client, "/admin/keys", {"name": "LMS", "role": "integration", "email": ""}, "/admin/keys")
    assert neither.status_code == 422  # type: ignore[attr-defined]
    scoped = post_form(
        client,
        "/admin/keys",
        {"name": "LMS a", "role": "integration", "email": "", "programme": str(two["a"]["programme"].id)},
        "/admin/keys",
    )
    assert scoped.status_code == 200  # type: ignore[attr-defined]
    page = client.get("/admin/keys").get_data(as_text=True)
    assert "integration (Programme a)" in page
    assert "integration (all programmes, unscoped)" in page
