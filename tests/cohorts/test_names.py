"""Learners' names as each programme knows them: a name given in one programme never shows in another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.models import Learner
from capcourse.records.services import CompletionInput, record_completion
from tests import factories
from tests.factories import bearer
from tests.pages import sign_in

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")


def _programme(session: Session, title: str) -> dict[str, Any]:
    """A programme with a mapped activity that Ada and Ben (so named by the LMS) passed, and its lead."""
    programme = factories.programme(session, title)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, activity, [item_id("frontline-lcf-pathway-1", "MC.2.a")], Depth.ASSESSED)
    for who in ("ada", "ben"):
        record_completion(
            session,
            CompletionInput(
                agent=xapi.agent_from_email(f"{who}@example.org", who.title()),
                activity_ref=f"http://capcourse.test/activities/{activity.id}",
                outcome="passed",
                occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
                idempotency_key=f"{title}:{who}",
                source="api",
            ),
            "http://capcourse.test",
            (),
        )
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    session.commit()
    return {"programme": programme, "lead": lead, "key": bearer(factories.api_key(session, Role.LEAD, lead)[1])}


def _cohort(client: FlaskClient, world: dict[str, Any], learners: list[dict[str, str]]) -> str:
    created = client.post(
        f"/api/v1/programmes/{world['programme'].id}/cohorts", json={"name": "Intake"}, headers=world["key"]
    )
    assert created.status_code == 201, created.json
    added = client.post(
        f"/api/v1/cohorts/{created.json['id']}/learners", json={"learners": learners}, headers=world["key"]
    )
    assert added.status_code == 200, added.json
    return str(created.json["id"])


def _everywhere(client: FlaskClient, world: dict[str, Any], cohort_id: str, ada_id: int) -> list[str]:
    """Every text in which the programme names Ada: API, pages, exports."""
    programme, key = world["programme"], world["key"]
    framework = {"framework": str(FRONTLINE)}
    members = client.get(f"/api/v1/cohorts/{cohort_id}/learners", headers=key).json
    rows = client.get(f"/api/v1/programmes/{programme.id}/cohort", query_string=framework, headers=key).json["rows"]
    evidence = client.get(
        f"/api/v1/programmes/{programme.id}/learners/{ada_id}/evidence", query_string=framework, headers=key
    ).json
    heat_csv = client.get(
        f"/api/v1/programmes/{programme.id}/cohort/export.csv", query_string=framework, headers=key
    ).get_data(as_text=True)
    achieved_csv = client.get(
        f"/api/v1/programmes/{programme.id}/cohort/export.csv",
        query_string={**framework, "table": "attainments"},
        headers=key,
    ).get_data(as_text=True)
    # The same client signs in as each lead in turn (the session keeps its CSRF token).
    browser = client
    sign_in(browser, world["lead"].email)
    cohort_page = browser.get(f"/cohorts/{cohort_id}").get_data(as_text=True)
    heat_page = browser.get(f"/programmes/{programme.id}/cohort", query_string=framework).get_data(as_text=True)
    learner_page = browser.get(f"/programmes/{programme.id}/learners/{ada_id}").get_data(as_text=True)
    return [
        str([(m["name"], m["agent"].get("name")) for m in members if m["learner_id"] == ada_id]),
        str([r["name"] for r in rows if r["learner_id"] == ada_id]),
        str(evidence["name"]),
        heat_csv,
        achieved_csv,
        cohort_page,
        heat_page,
        learner_page,
    ]


def test_each_programme_shows_its_own_name_for_a_shared_learner(client: FlaskClient, session: Session) -> None:
    ours, theirs = _programme(session, "Ours"), _programme(session, "Theirs")
    ada_key = xapi.agent_key(xapi.agent_from_email("ada@example.org"))
    ada_id = session.scalar(select(Learner.id).where(Learner.agent_key == ada_key))
    assert ada_id is not None
    ours_cohort = _cohort(client, ours, [{"email": "ada@example.org", "name": "Ada Lovelace"}])
    # The other programme's lead adds the same person under another name.
    theirs_cohort = _cohort(client, theirs, [{"email": "ADA@example.org", "name": "A. King"}])

    for text in _everywhere(client, ours, ours_cohort, ada_id):
        assert "Ada Lovelace" in text and "A. King" not in text, text[:300]
    for text in _everywhere(client, theirs, theirs_cohort, ada_id):
        assert "A. King" in text and "Ada Lovelace" not in text, text[:300]
    # The learner's own records keep the LMS's name: nobody's cohort rewrote it.
    assert session.get(Learner, ada_id).name == "Ada"  # type: ignore[union-attr]

    # A programme renames its own learner by adding them again; the other still shows its name.
    again = client.post(
        f"/api/v1/cohorts/{theirs_cohort}/learners",
        json={"learners": [{"email": "ada@example.org", "name": "Ada King"}]},
        headers=theirs["key"],
    )
    assert [lr["name"] for lr in again.json["already"]] == ["Ada King"]
    ours_members = client.get(f"/api/v1/cohorts/{ours_cohort}/learners", headers=ours["key"]).json
    assert [m["name"] for m in ours_members] == ["Ada Lovelace"]


def test_a_programme_that_named_nobody_shows_the_records_name(client: FlaskClient, session: Session) -> None:
    """Naming a learner in one programme does not name them in another, even one that had no name for them."""
    ours, theirs = _programme(session, "Ours"), _programme(session, "Theirs")
    new = {"email": "new.person@example.org", "name": "Named Elsewhere"}
    _cohort(client, theirs, [new])
    ours_cohort = _cohort(client, ours, [{"email": new["email"]}, {"email": "ben@example.org"}])
    members = client.get(f"/api/v1/cohorts/{ours_cohort}/learners", headers=ours["key"]).json
    # Ben keeps the name his records carry; the new person has none here (and no name in the agent).
    assert sorted((m["name"] or "", m["agent"].get("name", "")) for m in members) == [("", ""), ("Ben", "Ben")]
