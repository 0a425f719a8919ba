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


def test_attainment_per_learner_and_cohort(session: Session, cohort_setup: dict[str, Any]) -> None:
    from capcourse.coverage.attainment import attainment_rows, learner_attainment

    report = coverage(session, cohort_setup["programme"], session.get(Framework, FRONTLINE))
    ada = learner_attainment(session, report, learner(session, "ada"))
    assert [(a.item.code, a.attained_at.day, a.evidence) for a in ada.achieved] == [
        ("LCF.MC.2.a", 1, ["Observed supervision session"]),
        ("LCF.EC.5.a", 20, ["Change project"]),
    ]
    assert ada.pending == []
    cy = learner_attainment(session, report, learner(session, "cy"))
    assert [a.item.code for a in cy.achieved] == ["LCF.MC.2.a"]
    assert [(p.item.code, p.missing, p.done) for p in cy.pending] == [("LCF.EC.5.a", ["Change project"], [])]

    result = cohort(session, report)
    mc, ec = item_id("frontline-lcf-pathway-1", "MC"), item_id("frontline-lcf-pathway-1", "EC")
    achieved = {r.learner.name: r.achieved for r in result.rows}
    assert achieved == {"Ada": {mc: 1, ec: 1}, "Cy": {mc: 1}}
    assert result.achieved_rate(item_id("frontline-lcf-pathway-1", "MC.2.a")) == 100.0
    assert result.achieved_rate(item_id("frontline-lcf-pathway-1", "EC.5.a")) == 50.0
    # MC.2.b is only developed by a module: nobody can achieve it.
    assert item_id("frontline-lcf-pathway-1", "MC.2.b") not in result.achievable
    early = cohort(session, report, EvidenceFilter(until=datetime(2026, 10, 2, tzinfo=UTC)))
    assert early.item_achievers == {item_id("frontline-lcf-pathway-1", "MC.2.a"): 1}
    rows = attainment_rows(session, report)
    assert [(name, item.code) for _, name, item, _ in rows] == [
        ("Ada", "LCF.MC.2.a"),
        ("Ada", "LCF.EC.5.a"),
        ("Cy", "LCF.MC.2.a"),
    ]


def test_learners_sort_naturally(session: Session) -> None:
    from capcourse.naturalsort import natural_key

    names = ["Learner 10", "learner 2", "Learner 1", "Bea", None]
    assert sorted(names, key=natural_key) == [None, "Bea", "Learner 1", "learner 2", "Learner 10"]


def test_attainment_api_exports_and_pages(client: FlaskClient, session: Session, cohort_setup: dict[str, Any]) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    programme, key = cohort_setup["programme"], cohort_setup["key"]
    query = {"framework": str(FRONTLINE)}
    body = client.get(f"/api/v1/programmes/{programme.id}/cohort", query_string=query, headers=key).json
    rates = {r["code"]: r for r in body["item_rates"]}
    assert rates["LCF.EC.5.a"]["achieved_learners"] == 1 and rates["LCF.EC.5.a"]["achieved_percent"] == 50.0
    assert rates["LCF.MC.2.b"]["achieved_learners"] is None
    assert {r["name"]: sum(r["achieved"].values()) for r in body["rows"]} == {"Ada": 2, "Cy": 1}
    cy = learner(session, "cy")
    evidence = client.get(
        f"/api/v1/programmes/{programme.id}/learners/{cy.id}/evidence", query_string=query, headers=key
    ).json
    assert [a["code"] for a in evidence["achieved"]] == ["LCF.MC.2.a"]
    assert evidence["pending"][0]["missing"] == ["Change project"]

    table = client.get(
        f"/api/v1/programmes/{programme.id}/cohort/export.csv",
        query_string={**query, "table": "attainments"},
        headers=key,
    )
    assert table.status_code == 200 and table.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(table.get_data(as_text=True))))
    assert lines[0][:3] == ["Learner id", "Learner", "Code"] and len(lines) == 4
    book = client.get(f"/api/v1/programmes/{programme.id}/cohort/export.xlsx", query_string=query, headers=key)
    sheets = load_workbook(io.BytesIO(book.data)).sheetnames
    assert sheets == ["heatmap", "rates", "attainments"]
    learner_book = client.get(
        f"/api/v1/programmes/{programme.id}/learners/{cy.id}/export.xlsx", query_string=query, headers=key
    )
    assert load_workbook(io.BytesIO(learner_book.data)).sheetnames == ["achieved", "pending", "evidence", "open"]
    wrong = client.get(
        f"/api/v1/programmes/{programme.id}/cohort/export.csv",
        query_string={**query, "table": "nope"},
        headers=key,
    )
    assert wrong.status_code == 422

    sign_in(client, cohort_setup["lead"].email)
    page = client.get(f"/programmes/{programme.id}/learners/{cy.id}", query_string=query).get_data(as_text=True)
    assert "Achieved (1)" in page and "Pending (1)" in page and "Change project" in page
    heat = client.get(f"/programmes/{programme.id}/cohort", query_string={**query, "show": "achieved"})
    assert heat.status_code == 200 and "items achieved under the capability" in heat.get_data(as_text=True)
    assert client.get(f"/programmes/{programme.id}/cohort", query_string={**query, "show": "x"}).status_code == 422
    download = client.get(f"/programmes/{programme.id}/cohort/export.csv", query_string={**query, "table": "rates"})
    assert download.status_code == 200 and "Learners who achieved" in download.get_data(as_text=True)
    mine = client.get(
        f"/programmes/{programme.id}/learners/{cy.id}/export.csv", query_string={**query, "table": "pending"}
    )
    assert "Change project" in mine.get_data(as_text=True)
