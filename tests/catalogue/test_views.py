"""The catalogue API: programmes, courses, modules, activities, members; access and concurrency."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import Course, Programme
from capcourse.identifiers import framework_id
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db

FRONTLINE = str(framework_id("frontline-lcf-pathway-1"))
KSS_PS = str(framework_id("dfe-kss-practice-supervisors-2018"))


@pytest.fixture
def lead(session: Session) -> tuple[Any, dict[str, str]]:
    person = factories.user(session, Role.LEAD)
    return person, bearer(factories.api_key(session, Role.LEAD, person)[1])


def create_programme(client: FlaskClient, headers: dict[str, str], title: str = "Pathway 1, 2026 cohort") -> Any:
    response = client.post(
        "/api/v1/programmes", json={"title": title, "framework_ids": [FRONTLINE, KSS_PS]}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def test_a_lead_creates_a_programme_and_leads_it(client: FlaskClient, lead: tuple[Any, dict[str, str]]) -> None:
    person, headers = lead
    programme = create_programme(client, headers)
    assert {f["id"] for f in programme["frameworks"]} == {FRONTLINE, KSS_PS}
    assert programme["status"] == "draft"
    members = client.get(f"/api/v1/programmes/{programme['id']}/members", headers=headers).json
    assert [(m["email"], m["role"]) for m in members] == [(person.email, "lead")]


def test_authors_build_courses_modules_and_activities(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    headers = bearer(factories.api_key(session, Role.AUTHOR, author)[1])

    course = client.post(
        f"/api/v1/programmes/{programme.id}/courses",
        json={"title": "Leading supervision", "external_ids": [{"system": "moodle-course", "value": "42"}]},
        headers=headers,
    )
    assert course.status_code == 201, course.json
    assert course.json["iri"] == f"http://capcourse.test/courses/{course.json['id']}"
    assert course.headers["ETag"] == '"1"'
    module = client.post(
        f"/api/v1/courses/{course.json['id']}/modules", json={"title": "Reflective supervision"}, headers=headers
    )
    second = client.post(
        f"/api/v1/courses/{course.json['id']}/modules", json={"title": "Group supervision"}, headers=headers
    )
    assert (module.json["position"], second.json["position"]) == (0, 1)
    activity = client.post(
        f"/api/v1/modules/{module.json['id']}/activities",
        json={
            "title": "Observed session",
            "external_ids": [{"system": "lms-activity-iri", "value": "https://lms.example.org/mod/quiz/7"}],
        },
        headers=headers,
    )
    assert activity.status_code == 201
    assert activity.json["external_ids"] == [
        {"system": "lms-activity-iri", "value": "https://lms.example.org/mod/quiz/7"}
    ]
    listed = client.get(f"/api/v1/courses/{course.json['id']}/modules", headers=headers).json
    assert [m["title"] for m in listed] == ["Reflective supervision", "Group supervision"]


def test_external_ids_are_unique_within_a_programme(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    ext = {"system": "scorm-item", "value": "ITEM-1"}
    first = client.post(
        f"/api/v1/courses/{course.id}/modules", json={"title": "A", "external_ids": [ext]}, headers=headers
    )
    assert first.status_code == 201
    before = session.scalar(select(func.count()).select_from(Course))
    clash = client.post(
        f"/api/v1/courses/{course.id}/modules", json={"title": "B", "external_ids": [ext]}, headers=headers
    )
    assert clash.status_code == 409
    assert "scorm-item: ITEM-1" in clash.json["message"]
    assert len(client.get(f"/api/v1/courses/{course.id}/modules", headers=headers).json) == 1
    assert session.scalar(select(func.count()).select_from(Course)) == before
    twice = client.post(
        f"/api/v1/courses/{course.id}/modules", json={"title": "C", "external_ids": [ext, ext]}, headers=headers
    )
    assert twice.status_code == 422
    assert "external_ids" in twice.json["errors"]


def test_a_stale_update_is_refused(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    url = f"/api/v1/courses/{course.id}"
    etag = client.get(url, headers=headers).headers["ETag"]

    first = client.patch(url, json={"title": "Renamed by Ana"}, headers={**headers, "If-Match": etag})
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'
    stale = client.patch(url, json={"title": "Renamed by Ben"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert "changed by someone else" in stale.json["message"]
    missing = client.patch(url, json={"title": "No If-Match"}, headers=headers)
    assert missing.status_code == 428
    assert client.get(url, headers=headers).json["title"] == "Renamed by Ana"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "ok", "status": "archived"}, "status"),
        ({"title": "ok", "external_ids": [{"system": "x"}]}, "external_ids"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(
    client: FlaskClient, session: Session, body: dict[str, Any], field: str
) -> None:
    programme = factories.programme(session)
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    response = client.post(f"/api/v1/programmes/{programme.id}/courses", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert client.get(f"/api/v1/programmes/{programme.id}/courses", headers=headers).json == []


def test_unknown_framework_is_refused(client: FlaskClient, lead: tuple[Any, dict[str, str]], session: Session) -> None:
    _, headers = lead
    before = session.scalar(select(func.count()).select_from(Programme))
    response = client.post(
        "/api/v1/programmes",
        json={"title": "x", "framework_ids": ["00000000-0000-4000-8000-000000000000"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert "framework_ids" in response.json["errors"]
    assert session.scalar(select(func.count()).select_from(Programme)) == before


def test_nobody_reaches_another_programme_by_guessing_ids(client: FlaskClient, session: Session) -> None:
    ours, theirs = factories.programme(session, "Ours"), factories.programme(session, "Theirs")
    their_course = factories.course(session, theirs)
    their_module = factories.module(session, their_course)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, ours, author, MembershipRole.AUTHOR)
    headers = bearer(factories.api_key(session, Role.AUTHOR, author)[1])

    listed = client.get("/api/v1/programmes", headers=headers).json
    assert [p["title"] for p in listed] == ["Ours"]
    for url in (
        f"/api/v1/programmes/{theirs.id}",
        f"/api/v1/programmes/{theirs.id}/courses",
        f"/api/v1/courses/{their_course.id}",
        f"/api/v1/modules/{their_module.id}",
        f"/api/v1/modules/{their_module.id}/mappings",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
    response = client.post(f"/api/v1/courses/{their_course.id}/modules", json={"title": "Sneaky"}, headers=headers)
    assert response.status_code == 404
    assert len(their_course.modules) == 1


def test_a_lead_reads_but_does_not_edit_content(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    person = factories.user(session, Role.LEAD)
    factories.member(session, programme, person, MembershipRole.LEAD)
    headers = bearer(factories.api_key(session, Role.LEAD, person)[1])
    assert client.get(f"/api/v1/courses/{course.id}", headers=headers).status_code == 200
    response = client.post(f"/api/v1/courses/{course.id}/modules", json={"title": "x"}, headers=headers)
    assert response.status_code == 403
    assert "authors" in response.json["message"]


def test_authors_do_not_create_programmes_or_manage_members(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    headers = bearer(factories.api_key(session, Role.AUTHOR, author)[1])
    assert client.post("/api/v1/programmes", json={"title": "Mine"}, headers=headers).status_code == 403
    response = client.post(
        f"/api/v1/programmes/{programme.id}/members", json={"email": author.email, "role": "lead"}, headers=headers
    )
    assert response.status_code == 403


def test_leads_add_authors(client: FlaskClient, session: Session, lead: tuple[Any, dict[str, str]]) -> None:
    _, headers = lead
    programme = create_programme(client, headers)
    author = factories.user(session, Role.AUTHOR)
    added = client.post(
        f"/api/v1/programmes/{programme['id']}/members", json={"email": author.email, "role": "author"}, headers=headers
    )
    assert added.status_code == 200, added.json
    unknown = client.post(
        f"/api/v1/programmes/{programme['id']}/members",
        json={"email": "nobody@example.org", "role": "author"},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert "email" in unknown.json["errors"]
    removed = client.delete(f"/api/v1/programmes/{programme['id']}/members/{author.id}", headers=headers)
    assert removed.status_code == 204


@pytest.mark.parametrize(("role", "status"), [(None, 401), (Role.INTEGRATION, 403)])
def test_machines_and_strangers_are_kept_out(
    client: FlaskClient, session: Session, role: Role | None, status: int
) -> None:
    headers = bearer(factories.api_key(session, role)[1]) if role else {}
    assert client.get("/api/v1/programmes", headers=headers).status_code == status


def test_programmes_are_paged_and_filtered(client: FlaskClient, session: Session) -> None:
    for n in range(3):
        factories.programme(session, f"Cohort {n}", status="published" if n else "draft")
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    response = client.get("/api/v1/programmes", query_string={"status": "published", "page_size": 1}, headers=headers)
    assert response.status_code == 200
    assert len(response.json) == 1
    assert '"total": 2' in response.headers["X-Pagination"]
    found = client.get("/api/v1/programmes", query_string={"q": "cohort 2"}, headers=headers).json
    assert [p["title"] for p in found] == ["Cohort 2"]
