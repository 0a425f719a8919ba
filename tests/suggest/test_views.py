"""The suggestion API: equivalents, items for a module or activity, areas, decisions; refusals."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import framework_id, item_id
from capcourse.suggest.models import SuggestionDecision
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db

KSS_PS_2015 = str(framework_id("dfe-kss-practice-supervisors-2015"))
BULLET = str(item_id("dfe-kss-practice-supervisors-2018", "6.2"))
BIASES = str(item_id("frontline-lcf-pathway-1", "MC.3.a"))


@pytest.fixture
def setting(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course, "Anti-oppressive practice: biases and prejudices")
    activity = factories.activity(session, module, "Reflecting on our biases")
    author = factories.user(session, Role.AUTHOR, name="Ana Author")
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    outsider = factories.user(session, Role.LEAD)
    return {
        "module": module,
        "activity": activity,
        "author": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "outsider": bearer(factories.api_key(session, Role.LEAD, outsider)[1]),
        "admin": bearer(factories.api_key(session, Role.ADMIN)[1]),
    }


def test_equivalents_of_an_item(client: FlaskClient, setting: dict[str, Any]) -> None:
    response = client.get(
        f"/api/v1/items/{BULLET}/equivalents",
        query_string={"framework_id": KSS_PS_2015, "limit": 3},
        headers=setting["author"],
    )
    assert response.status_code == 200, response.json
    best = response.json[0]
    assert best["rank"] == 1 and best["score"] == 1.0
    assert best["item"]["code"] == "KSS-PS.6.2" and best["item"]["framework_version"] == "2015"
    assert best["matched"] and best["why"].startswith("shares ")
    assert len(response.json) == 3


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 422),
        ({"framework_id": "nope"}, 422),
        ({"framework_id": KSS_PS_2015, "limit": 0}, 422),
        ({"framework_id": KSS_PS_2015, "limit": 51}, 422),
        ({"framework_id": "00000000-0000-0000-0000-000000000000"}, 404),
    ],
)
def test_equivalents_refuse_bad_queries(
    client: FlaskClient, setting: dict[str, Any], query: dict[str, Any], status: int
) -> None:
    response = client.get(f"/api/v1/items/{BULLET}/equivalents", query_string=query, headers=setting["author"])
    assert response.status_code == status, response.json


def test_equivalent_decisions_need_a_lead_or_admin(
    client: FlaskClient, setting: dict[str, Any], session: Session
) -> None:
    url = f"/api/v1/items/{BULLET}/equivalents/decisions"
    body = {"item_id": str(item_id("dfe-kss-practice-supervisors-2015", "6.2")), "decision": "confirmed"}
    assert client.post(url, json=body, headers=setting["author"]).status_code == 403
    response = client.post(url, json=body, headers=setting["admin"])
    assert response.status_code == 201, response.json
    assert response.json["kind"] == "equivalent" and response.json["decision"] == "confirmed"
    assert client.post(url, json={**body, "decision": "maybe"}, headers=setting["admin"]).status_code == 422
    listed = client.get("/api/v1/suggestion-decisions?kind=equivalent", headers=setting["admin"])
    assert [d["item_id"] for d in listed.json] == [body["item_id"]]


def test_suggest_confirm_and_reject_for_a_module(
    client: FlaskClient, setting: dict[str, Any], session: Session
) -> None:
    url = f"/api/v1/modules/{setting['module'].id}/suggestions"
    offered = client.get(url, query_string={"limit": 5}, headers=setting["author"])
    assert offered.status_code == 200, offered.json
    assert offered.json[0]["item"]["id"] == BIASES
    second = offered.json[1]["item"]["id"]
    confirmed = client.post(
        f"{url}/confirm", json={"item_id": BIASES, "depth": "developed", "rank": 1}, headers=setting["author"]
    )
    assert confirmed.status_code == 201, confirmed.json
    assert confirmed.json["provenance"] == "suggested-then-confirmed"
    rejected = client.post(f"{url}/reject", json={"item_id": second, "rank": 2}, headers=setting["author"])
    assert rejected.status_code == 201 and rejected.json["decision"] == "rejected"
    again = {s["item"]["id"] for s in client.get(url, query_string={"limit": 50}, headers=setting["author"]).json}
    assert BIASES not in again and second not in again
    assert (
        client.post(
            f"{url}/confirm", json={"item_id": BIASES, "depth": "developed"}, headers=setting["author"]
        ).status_code
        == 409
    )
    assert client.post(f"{url}/reject", json={"item_id": BIASES}, headers=setting["author"]).status_code == 409
    assert session.query(SuggestionDecision).filter_by(subject_id=setting["module"].id).count() == 2


def test_suggestions_for_an_activity_with_a_documents_text(client: FlaskClient, setting: dict[str, Any]) -> None:
    url = f"/api/v1/activities/{setting['activity'].id}/suggestions"
    response = client.post(
        url, json={"text": "Commissioning services and managing budgets", "limit": 3}, headers=setting["author"]
    )
    assert response.status_code == 200, response.json
    assert len(response.json) == 3
    assert client.post(url, json={"text": ""}, headers=setting["author"]).status_code == 422
    assert (
        client.post(
            url,
            json={"text": "x", "framework_ids": ["00000000-0000-0000-0000-000000000000"]},
            headers=setting["author"],
        ).status_code
        == 422
    )


def test_outsiders_see_nothing_and_bad_bodies_change_nothing(
    client: FlaskClient, setting: dict[str, Any], session: Session
) -> None:
    url = f"/api/v1/modules/{setting['module'].id}/suggestions"
    assert client.get(url, headers=setting["outsider"]).status_code == 404
    assert (
        client.post(
            f"{url}/confirm", json={"item_id": BIASES, "depth": "developed"}, headers=setting["outsider"]
        ).status_code
        == 404
    )
    assert (
        client.post(f"{url}/confirm", json={"item_id": BIASES, "depth": "deep"}, headers=setting["author"]).status_code
        == 422
    )
    unknown = {"item_id": "00000000-0000-0000-0000-000000000000", "depth": "developed"}
    assert client.post(f"{url}/confirm", json=unknown, headers=setting["author"]).status_code == 422
    assert (
        client.post(f"{url}/reject", json={"item_id": unknown["item_id"]}, headers=setting["author"]).status_code == 422
    )
    assert session.query(SuggestionDecision).count() == 0
    assert client.get(url).status_code == 401


def test_area_suggestions(client: FlaskClient, setting: dict[str, Any]) -> None:
    url = f"/api/v1/items/{BIASES}/area-suggestions"
    offered = client.get(url, query_string={"limit": 2}, headers=setting["author"])
    assert offered.status_code == 200 and len(offered.json) <= 2
    area = offered.json[0]["item"]["id"]
    assert offered.json[0]["item"]["item_type"] == "Curriculum area"
    assert client.post(f"{url}/confirm", json={"area_id": area}, headers=setting["author"]).status_code == 403
    confirmed = client.post(f"{url}/confirm", json={"area_id": area}, headers=setting["admin"])
    assert confirmed.status_code == 201, confirmed.json
    assert area not in {s["item"]["id"] for s in client.get(url, headers=setting["author"]).json}
    assert client.post(f"{url}/reject", json={"area_id": BULLET}, headers=setting["admin"]).status_code == 422
