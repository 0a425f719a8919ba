"""Cohort pages and ``capcourse cohorts``: a lead builds a cohort by hand and from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.identifiers import framework_id
from tests import factories
from tests.pages import post_form, sign_in

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    factories.course(session, programme)
    lead, author = factories.user(session, Role.LEAD), factories.user(session, Role.AUTHOR)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    return {"programme": programme, "lead": lead, "author": author}


def test_a_lead_creates_a_cohort_adds_and_removes_learners(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    programme = world["programme"]
    sign_in(client, world["lead"].email)
    listing = f"/programmes/{programme.id}/cohorts"
    assert "No cohorts yet" in client.get(listing).get_data(as_text=True)
    created = post_form(client, listing, {"name": "Autumn 2026 intake"}, listing)
    assert created.status_code == 303
    cohort = session.scalar(select(Cohort).where(Cohort.programme_id == programme.id))
    page = f"/cohorts/{cohort.id}"

    refused = post_form(client, f"{page}/learners", {"learners": "ada@example.org\nnot-an-email\n"}, page)
    assert refused.status_code == 422
    assert "line 2" in refused.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(CohortMember)) == 0

    added = post_form(
        client, f"{page}/learners", {"learners": "email,name\nada@example.org, Ada Learner\nben@example.org\n"}, page
    )
    assert added.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "2 learners" in html and "Ada Learner" in html and "ben@example.org" in html

    heat_map = client.get(
        f"/programmes/{programme.id}/cohort", query_string={"framework": str(FRONTLINE), "cohort": str(cohort.id)}
    ).get_data(as_text=True)
    assert "2 learners in the cohort" in heat_map and "Ada Learner" in heat_map

    ada = session.scalar(select(CohortMember).where(CohortMember.cohort_id == cohort.id).limit(1))
    removed = post_form(client, f"{page}/learners/{ada.learner_id}/remove", {}, page)
    assert removed.status_code == 303
    assert "1 learner<" in client.get(page).get_data(as_text=True)

    duplicate = post_form(client, listing, {"name": "Autumn 2026 intake"}, listing)
    assert duplicate.status_code == 409 and "already has a cohort" in duplicate.get_data(as_text=True)


def test_authors_see_cohorts_but_do_not_manage_them(client: FlaskClient, world: dict[str, Any]) -> None:
    listing = f"/programmes/{world['programme'].id}/cohorts"
    sign_in(client, world["author"].email)
    html = client.get(listing).get_data(as_text=True)
    assert "New cohort" not in html
    assert post_form(client, listing, {"name": "Sneaky"}, listing).status_code == 403


def test_cohort_page_filters(client: FlaskClient, world: dict[str, Any]) -> None:
    sign_in(client, world["lead"].email)
    url = f"/programmes/{world['programme'].id}/cohort"
    by_date = client.get(url, query_string={"framework": str(FRONTLINE), "since": "2026-10-01", "until": "2026-10-31"})
    html = by_date.get_data(as_text=True)
    assert by_date.status_code == 200 and 'value="2026-10-01"' in html and 'value="2026-10-31"' in html
    backwards = client.get(
        url, query_string={"framework": str(FRONTLINE), "since": "2026-11-01", "until": "2026-10-01"}
    )
    assert backwards.status_code == 422
    assert client.get(url, query_string={"since": "yesterday"}).status_code == 422


def test_cli_creates_a_cohort_and_adds_a_file_of_learners(
    runner: FlaskCliRunner, session: Session, world: dict[str, Any], tmp_path: Path
) -> None:
    created = runner.invoke(args=["cohorts", "create", str(world["programme"].id), "Spring 2027 intake"])
    assert created.exit_code == 0, created.output
    cohort_id = created.output.split("\t")[0]
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffemail,name\nada@example.org,Ada\nben@example.org,Ben\n", encoding="utf-8")
    added = runner.invoke(args=["cohorts", "add-learners", cohort_id, str(roster)])
    assert added.exit_code == 0, added.output
    assert "Added 2 learner(s)" in added.output
    again = runner.invoke(args=["cohorts", "add-learners", cohort_id, str(roster)])
    assert "Added 0 learner(s)" in again.output and "2 were in it already" in again.output
    listed = runner.invoke(args=["cohorts", "list", str(world["programme"].id)])
    assert f"{cohort_id}\t2\tSpring 2027 intake" in listed.output

    roster.write_text("ada@example.org\nada at example\n", encoding="utf-8")
    bad = runner.invoke(args=["cohorts", "add-learners", cohort_id, str(roster)])
    assert bad.exit_code != 0 and "line 2" in bad.output
    assert session.scalar(select(func.count()).select_from(CohortMember)) == 2
