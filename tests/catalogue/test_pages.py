"""Programme, course, module and activity pages, with their forms."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import Course, Module
from capcourse.identifiers import framework_id
from tests import factories
from tests.pages import post_form, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
def authoring(client: FlaskClient, session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    programme.frameworks = []
    course = factories.course(session, programme)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    sign_in(client, author.email)
    return {"programme": programme, "course": course}


def test_a_lead_creates_a_programme_from_the_page(client: FlaskClient, session: Session) -> None:
    lead = factories.user(session, Role.LEAD)
    sign_in(client, lead.email)
    response = post_form(
        client,
        "/programmes",
        {"title": "Pathway 2", "framework_ids": [str(framework_id("sssc-leadership-capabilities"))]},
        "/programmes",
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pathway 2" in page
    assert "Leadership capabilities" in page
    assert "Add a person" in page


def test_adding_a_course_without_a_title_is_refused_readably(
    client: FlaskClient, session: Session, authoring: dict[str, Any]
) -> None:
    programme = authoring["programme"]
    before = session.scalar(select(func.count()).select_from(Course))
    response = post_form(client, f"/programmes/{programme.id}/courses", {"title": ""}, f"/programmes/{programme.id}")
    assert response.status_code == 422
    assert "Title: Length must be between 1 and 300." in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Course)) == before


def test_authors_add_modules_and_activities(client: FlaskClient, session: Session, authoring: dict[str, Any]) -> None:
    course = authoring["course"]
    response = post_form(
        client, f"/courses/{course.id}/modules", {"title": "Reflective supervision"}, f"/courses/{course.id}"
    )
    assert response.status_code == 303
    module = session.scalar(select(Module).where(Module.course_id == course.id))
    response = post_form(
        client, f"/modules/{module.id}/activities", {"title": "Observed session"}, f"/modules/{module.id}"
    )
    assert response.status_code == 303
    page = client.get(f"/modules/{module.id}").get_data(as_text=True)
    assert "Observed session" in page
    # No framework chosen: every framework is offered on the mapping screen.
    assert page.count('class="pane"') == 8


def test_authors_rename_and_publish_and_stale_forms_are_refused(
    client: FlaskClient, session: Session, authoring: dict[str, Any]
) -> None:
    course = authoring["course"]
    url = f"/courses/{course.id}"
    form = {"title": "Leading supervision (2026)", "description": "", "status": "published", "version": course.version}
    assert post_form(client, f"{url}/edit", form, url).status_code == 303
    session.refresh(course)
    assert (course.title, course.status) == ("Leading supervision (2026)", "published")
    stale = post_form(client, f"{url}/edit", {**form, "title": "Someone else's title"}, url)
    assert stale.status_code == 412
    assert "changed by someone else" in stale.get_data(as_text=True)
    bad = post_form(client, f"{url}/edit", {**form, "version": course.version, "status": "archived"}, url)
    assert bad.status_code == 422
    session.refresh(course)
    assert course.title == "Leading supervision (2026)"


def test_leads_see_but_get_no_forms(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    sign_in(client, lead.email)
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert course.title in page
    assert "Add module" not in page
    response = post_form(client, f"/courses/{course.id}/modules", {"title": "x"}, f"/programmes/{programme.id}")
    assert response.status_code == 403
    assert "Only the authors" in response.get_data(as_text=True)


def test_other_programmes_are_not_found(client: FlaskClient, session: Session, authoring: dict[str, Any]) -> None:
    other = factories.course(session, factories.programme(session, "Not yours"))
    assert client.get(f"/courses/{other.id}").status_code == 404
    assert "Not yours" not in client.get("/programmes").get_data(as_text=True)
