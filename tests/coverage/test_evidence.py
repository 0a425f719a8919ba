"""Learner and cohort evidence from recorded completions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.coverage.evidence import EvidenceFilter, cohort, learner_evidence
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Framework
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


@pytest.fixture
def cohort_setup(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    other_course = factories.course(session, programme, "Leading change")
    module = factories.module(session, course)
    activity = factories.activity(session, module)
    later = factories.activity(session, factories.module(session, other_course, "Change"), "Change project")
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    lcf = lambda key: item_id("frontline-lcf-pathway-1", key)  # noqa: E731
    map_items(session, admin, activity, [lcf("MC.2.a")], Depth.ASSESSED)
    map_items(session, admin, module, [lcf("MC.2.b")], Depth.DEVELOPED)  # evidenced by any activity of the module
    map_items(session, admin, later, [lcf("EC.5.a")], Depth.ASSESSED)

    def complete(who: str, target: Any, outcome: str, day: int) -> None:
        record_completion(
            session,
            CompletionInput(
                agent=xapi.agent_from_email(f"{who}@example.org", who.title()),
                activity_ref=f"http://capcourse.test/activities/{target.id}",
                outcome=outcome,
                occurred_at=datetime(2026, 10, day, tzinfo=UTC),
                idempotency_key=f"{who}:{target.id}:{day}",
                source="api",
            ),
            "http://capcourse.test",
            (),
        )

    complete("ada", activity, "passed", 1)
    complete("ada", later, "passed", 20)
    complete("ben", activity, "failed", 2)
    complete("cy", activity, "passed", 3)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    session.commit()
    return {
        "programme": programme,
        "course": course,
        "lead": lead,
        "key": bearer(factories.api_key(session, Role.LEAD, lead)[1]),
    }


def learner(session: Session, who: str) -> Learner:
    return session.query(Learner).filter(Learner.name == who.title()).one()


def test_cohort_heat_map_and_rates(session: Session, cohort_setup: dict[str, Any]) -> None:
    report = coverage(session, cohort_setup["programme"], session.get(Framework, FRONTLINE))
    result = cohort(session, report)
    assert result.learner_total == 2  # ben only failed: no evidence, no row
    rows = {r.learner.name: r.evidenced for r in result.rows}
    mc, ec = item_id("frontline-lcf-pathway-1", "MC"), item_id("frontline-lcf-pathway-1", "EC")
    assert rows["Ada"] == {mc: 2, ec: 1}
    assert rows["Cy"] == {mc: 2}
    assert result.column_sizes[mc] == 1 + 7 + 10
    assert result.rate(item_id("frontline-lcf-pathway-1", "MC.2.a")) == 100.0
    assert result.rate(item_id("frontline-lcf-pathway-1", "EC.5.a")) == 50.0


def test_filters_by_course_and_date(session: Session, cohort_setup: dict[str, Any]) -> None:
    report = coverage(session, cohort_setup["programme"], session.get(Framework, FRONTLINE))
    by_course = cohort(session, report, EvidenceFilter(course_id=cohort_setup["course"].id))
    assert item_id("frontline-lcf-pathway-1", "EC.5.a") not in by_course.item_learners
    early = cohort(session, report, EvidenceFilter(until=datetime(2026, 10, 2, tzinfo=UTC)))
    assert early.learner_total == 1


def test_learner_evidence_and_open_items(session: Session, cohort_setup: dict[str, Any]) -> None:
    report = coverage(session, cohort_setup["programme"], session.get(Framework, FRONTLINE))
    found, open_items = learner_evidence(session, report, learner(session, "ada"))
    assert sorted((e.item.code, e.activity_title) for e in found) == [
        ("LCF.EC.5.a", "Change project"),
        ("LCF.MC.2.a", "Observed supervision session"),
        ("LCF.MC.2.b", "Observed supervision session"),
    ]
    assert len(open_items) == 36 - 3


def test_api_and_pages(client: FlaskClient, session: Session, cohort_setup: dict[str, Any]) -> None:
    programme = cohort_setup["programme"]
    body = client.get(
        f"/api/v1/programmes/{programme.id}/cohort",
        query_string={"framework": str(FRONTLINE)},
        headers=cohort_setup["key"],
    ).json
    assert body["learner_total"] == 2
    assert {r["name"] for r in body["rows"]} == {"Ada", "Cy"}
    ada = learner(session, "ada")
    evidence = client.get(
        f"/api/v1/programmes/{programme.id}/learners/{ada.id}/evidence",
        query_string={"framework": str(FRONTLINE)},
        headers=cohort_setup["key"],
    ).json
    assert len(evidence["evidence"]) == 3 and len(evidence["open_items"]) == 33
    stranger = client.get(
        f"/api/v1/programmes/{programme.id}/learners/999999/evidence",
        query_string={"framework": str(FRONTLINE)},
        headers=cohort_setup["key"],
    )
    assert stranger.status_code == 404
    bad = client.get(
        f"/api/v1/programmes/{programme.id}/cohort",
        query_string={"framework": str(FRONTLINE), "page_size": 0},
        headers=cohort_setup["key"],
    )
    assert bad.status_code == 422

    sign_in(client, cohort_setup["lead"].email)
    page = client.get(f"/programmes/{programme.id}/cohort", query_string={"framework": str(FRONTLINE)}).get_data(
        as_text=True
    )
    assert "2 learners with records" in page
    assert "2/18" in page  # Ada and Cy: two items under Maintaining Curiosity
    learner_page = client.get(
        f"/programmes/{programme.id}/learners/{ada.id}", query_string={"framework": str(FRONTLINE)}
    )
    assert "Change project" in learner_page.get_data(as_text=True)
