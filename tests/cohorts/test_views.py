"""Cohorts through the API: who may do what, learners in and out, and the cohort filter of the evidence views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.services import CompletionInput, record_completion
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    map_items(
        session,
        principal_for_user(factories.user(session, Role.ADMIN)),
        activity,
        [item_id("frontline-lcf-pathway-1", "MC.2.a")],
        Depth.ASSESSED,
    )
    for who in ("ada", "ben"):
        record_completion(
            session,
            CompletionInput(
                agent=xapi.agent_from_email(f"{who}@example.org", who.title()),
                activity_ref=f"http://capcourse.test/activities/{activity.id}",
                outcome="passed",
                occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
                idempotency_key=f"{who}:1",
                source="api",
            ),
            "http://capcourse.test",
            (),
        )
    lead, author = factories.user(session, Role.LEAD), factories.user(session, Role.AUTHOR)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    session.commit()
    return {
        "programme": programme,
        "lead": bearer(factories.api_key(session, Role.LEAD, lead)[1]),
        "author": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "outsider": bearer(factories.api_key(session, Role.LEAD)[1]),
    }


def create(client: FlaskClient, world: dict[str, Any], name: str = "Autumn 2026 intake", who: str = "lead") -> Any:
    return client.post(
        f"/api/v1/programmes/{world['programme'].id}/cohorts",
        json={"name": name, "description": "Started in September."},
        headers=world[who],
    )


def test_a_lead_creates_a_cohort_and_adds_learners(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    created = create(client, world)
    assert created.status_code == 201, created.json
    cohort_id = created.json["id"]
    assert created.json["learners"] == 0

    learners = client.post(
        f"/api/v1/cohorts/{cohort_id}/learners",
        json={
            "learners": [
                {"email": "ADA@example.org"},  # the same person as the ada@ with records
                {"email": "new.learner@example.org", "name": "New Learner"},
                {"account_home_page": "https://lms.example.org", "account_name": "u123", "name": "LMS user"},
            ]
        },
        headers=world["lead"],
    )
    assert learners.status_code == 200, learners.json
    assert sorted(lr["name"] for lr in learners.json["added"]) == ["Ada", "LMS user", "New Learner"]
    again = client.post(
        f"/api/v1/cohorts/{cohort_id}/learners",
        json={"learners": [{"email": "ada@example.org"}]},
        headers=world["lead"],
    )
    assert again.json == {"added": [], "already": [again.json["already"][0]]}

    listed = client.get(f"/api/v1/programmes/{world['programme'].id}/cohorts", headers=world["author"])
    assert [(c["name"], c["learners"]) for c in listed.json] == [("Autumn 2026 intake", 3)]
    page = client.get(f"/api/v1/cohorts/{cohort_id}/learners", query_string={"page_size": 2}, headers=world["lead"])
    assert [lr["name"] for lr in page.json] == ["Ada", "LMS user"]
    assert '"total": 3' in page.headers["X-Pagination"]

    ada_id = next(lr["learner_id"] for lr in page.json if lr["name"] == "Ada")
    removed = client.delete(f"/api/v1/cohorts/{cohort_id}/learners/{ada_id}", headers=world["lead"])
    assert removed.status_code == 204
    assert client.delete(f"/api/v1/cohorts/{cohort_id}/learners/{ada_id}", headers=world["lead"]).status_code == 404
    assert client.get(f"/api/v1/cohorts/{cohort_id}", headers=world["lead"]).json["learners"] == 2


def test_the_cohort_filter_shows_every_member(client: FlaskClient, world: dict[str, Any]) -> None:
    cohort_id = create(client, world).json["id"]
    client.post(
        f"/api/v1/cohorts/{cohort_id}/learners",
        json={"learners": [{"email": "ada@example.org"}, {"email": "nobody.yet@example.org", "name": "Nobody Yet"}]},
        headers=world["lead"],
    )
    url = f"/api/v1/programmes/{world['programme'].id}/cohort"
    everyone = client.get(url, query_string={"framework": str(FRONTLINE)}, headers=world["lead"]).json
    assert everyone["learner_total"] == 2  # Ada and Ben, who have evidence
    only = client.get(url, query_string={"framework": str(FRONTLINE), "cohort": cohort_id}, headers=world["lead"]).json
    assert only["learner_total"] == 2  # Ada and Nobody Yet, evidence or not
    assert {r["name"]: sum(r["evidenced"].values()) for r in only["rows"]} == {"Ada": 1, "Nobody Yet": 0}
    rate = next(r for r in only["item_rates"] if r["code"] == "LCF.MC.2.a")
    assert (rate["learners"], rate["percent"]) == (1, 50.0)

    nobody = next(r["learner_id"] for r in only["rows"] if r["name"] == "Nobody Yet")
    evidence = client.get(
        f"/api/v1/programmes/{world['programme'].id}/learners/{nobody}/evidence",
        query_string={"framework": str(FRONTLINE)},
        headers=world["lead"],
    )
    assert evidence.status_code == 200 and evidence.json["evidence"] == []


def test_who_may_do_what(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    refused = create(client, world, who="author")
    assert refused.status_code == 403 and "leads" in refused.json["message"]
    assert create(client, world, who="outsider").status_code == 404
    cohort_id = create(client, world).json["id"]
    assert client.get(f"/api/v1/cohorts/{cohort_id}", headers=world["outsider"]).status_code == 404
    adding = client.post(
        f"/api/v1/cohorts/{cohort_id}/learners",
        json={"learners": [{"email": "x@example.org"}]},
        headers=world["author"],
    )
    assert adding.status_code == 403
    assert client.delete(f"/api/v1/cohorts/{cohort_id}", headers=world["author"]).status_code == 403
    assert client.delete(f"/api/v1/cohorts/{cohort_id}", headers=world["lead"]).status_code == 204
    assert session.scalar(select(func.count()).select_from(Cohort)) == 0


def test_bad_input_changes_nothing(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    cohort_id = create(client, world).json["id"]
    duplicate = create(client, world)
    assert duplicate.status_code == 409 and "already has a cohort" in duplicate.json["message"]
    assert create(client, world, name="").status_code == 422
    bad = client.post(
        f"/api/v1/cohorts/{cohort_id}/learners",
        json={"learners": [{"email": "fine@example.org"}, {"email": "not an email"}]},
        headers=world["lead"],
    )
    assert bad.status_code == 422
    assert bad.json["errors"]["json"]["learners"]["1"]["email"]
    assert session.scalar(select(func.count()).select_from(CohortMember)) == 0

    other = factories.programme(session, "Another programme")
    foreign = Cohort(programme_id=other.id, name="Theirs", created_by="test")
    session.add(foreign)
    session.commit()
    leak = client.get(
        f"/api/v1/programmes/{world['programme'].id}/cohort",
        query_string={"framework": str(FRONTLINE), "cohort": str(foreign.id)},
        headers=world["lead"],
    )
    assert leak.status_code == 404
    backwards = client.get(
        f"/api/v1/programmes/{world['programme'].id}/cohort",
        query_string={"framework": str(FRONTLINE), "since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"},
        headers=world["lead"],
    )
    assert backwards.status_code == 422 and backwards.json["errors"]["query"]["since"]
