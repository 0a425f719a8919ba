"""The mapping API: map, refuse duplicates, change depth, unmap with history, bulk."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import item_id
from capcourse.mapping.models import Mapping, MappingEvent
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db

SUPERVISION = str(item_id("frontline-curriculum-areas", "HQS"))
CURIOSITY = str(item_id("frontline-lcf-pathway-1", "MC.2"))
KSS_7 = str(item_id("dfe-kss-practice-supervisors-2018", "7"))


@pytest.fixture
def setting(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course)
    other = factories.module(session, course, "Group supervision")
    activity = factories.activity(session, module)
    author = factories.user(session, Role.AUTHOR, name="Ana Author")
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    return {
        "programme": programme,
        "module": module,
        "other": other,
        "activity": activity,
        "author": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "lead": bearer(factories.api_key(session, Role.LEAD, lead)[1]),
    }


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_map_a_module_to_items_of_two_frameworks(client: FlaskClient, setting: dict[str, Any]) -> None:
    url = f"/api/v1/modules/{setting['module'].id}/mappings"
    response = client.post(url, json={"item_ids": [CURIOSITY, KSS_7], "depth": "developed"}, headers=setting["author"])
    assert response.status_code == 201, response.json
    assert {m["item"]["code"] for m in response.json} == {"LCF.MC.2", "KSS-PS.7"}
    first = response.json[0]
    assert first["depth"] == "developed"
    assert first["provenance"] == "authored"
    assert first["created_by"].startswith("Ana Author <")
    listed = client.get(url, headers=setting["lead"]).json
    assert len(listed) == 2


def test_map_an_activity_to_a_curriculum_area(client: FlaskClient, setting: dict[str, Any]) -> None:
    url = f"/api/v1/activities/{setting['activity'].id}/mappings"
    response = client.post(url, json={"item_ids": [SUPERVISION], "depth": "assessed"}, headers=setting["author"])
    assert response.status_code == 201
    assert response.json[0]["activity_id"] == str(setting["activity"].id)
    assert response.json[0]["item"]["item_type"] == "Curriculum area"


def test_mapping_an_item_twice_is_409_and_writes_nothing(
    client: FlaskClient, session: Session, setting: dict[str, Any]
) -> None:
    url = f"/api/v1/modules/{setting['module'].id}/mappings"
    client.post(url, json={"item_ids": [CURIOSITY], "depth": "introduced"}, headers=setting["author"])
    before = count(session, Mapping), count(session, MappingEvent)
    again = client.post(url, json={"item_ids": [KSS_7, CURIOSITY], "depth": "assessed"}, headers=setting["author"])
    assert again.status_code == 409
    assert "LCF.MC.2" in again.json["message"]
    assert (count(session, Mapping), count(session, MappingEvent)) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"item_ids": [str(uuid.uuid4())], "depth": "developed"}, 422, "item_ids"),
        ({"item_ids": [CURIOSITY], "depth": "mastered"}, 422, "depth"),
        ({"item_ids": [], "depth": "developed"}, 422, "item_ids"),
        ({"item_ids": ["not-a-uuid"], "depth": "developed"}, 422, "item_ids"),
        ({"item_ids": [CURIOSITY] * 501, "depth": "developed"}, 422, "item_ids"),
        ({"depth": "developed"}, 422, "item_ids"),
    ],
)
def test_bad_mappings_name_the_field_and_write_nothing(
    client: FlaskClient, session: Session, setting: dict[str, Any], body: dict[str, Any], status: int, field: str
) -> None:
    before = count(session, Mapping)
    response = client.post(f"/api/v1/modules/{setting['module'].id}/mappings", json=body, headers=setting["author"])
    assert response.status_code == status
    errors = response.json["errors"]
    assert field in errors.get("json", errors)
    assert count(session, Mapping) == before


def test_change_depth_with_if_match_and_refuse_a_stale_one(client: FlaskClient, setting: dict[str, Any]) -> None:
    created = client.post(
        f"/api/v1/modules/{setting['module'].id}/mappings",
        json={"item_ids": [CURIOSITY], "depth": "introduced"},
        headers=setting["author"],
    ).json[0]
    url = f"/api/v1/mappings/{created['id']}"
    etag = client.get(url, headers=setting["author"]).headers["ETag"]
    changed = client.patch(url, json={"depth": "assessed"}, headers={**setting["author"], "If-Match": etag})
    assert changed.status_code == 200
    assert changed.json["depth"] == "assessed"
    stale = client.patch(url, json={"depth": "developed"}, headers={**setting["author"], "If-Match": etag})
    assert stale.status_code == 412
    assert client.patch(url, json={"depth": "developed"}, headers=setting["author"]).status_code == 428


def test_unmapping_keeps_history_a_lead_can_read(client: FlaskClient, setting: dict[str, Any]) -> None:
    created = client.post(
        f"/api/v1/modules/{setting['module'].id}/mappings",
        json={"item_ids": [CURIOSITY], "depth": "introduced"},
        headers=setting["author"],
    ).json[0]
    url = f"/api/v1/mappings/{created['id']}"
    etag = client.get(url, headers=setting["author"]).headers["ETag"]
    client.patch(url, json={"depth": "developed"}, headers={**setting["author"], "If-Match": etag})
    removed = client.delete(url, headers={**setting["author"], "If-Match": '"2"'})
    assert removed.status_code == 204
    assert client.get(url, headers=setting["author"]).status_code == 404

    history = client.get(f"/api/v1/programmes/{setting['programme'].id}/mapping-history", headers=setting["lead"])
    assert history.status_code == 200
    assert [(e["action"], e["depth_before"], e["depth_after"]) for e in history.json] == [
        ("deleted", "developed", None),
        ("updated", "introduced", "developed"),
        ("created", None, "introduced"),
    ]
    assert {e["actor"].split(" <")[0] for e in history.json} == {"Ana Author"}
    assert history.json[0]["item_label"].startswith("LCF.MC.2 Curiosity of self")
    assert history.json[0]["target_title"] == "Reflective supervision"


def test_leads_cannot_map(client: FlaskClient, setting: dict[str, Any]) -> None:
    response = client.post(
        f"/api/v1/modules/{setting['module'].id}/mappings",
        json={"item_ids": [CURIOSITY], "depth": "introduced"},
        headers=setting["lead"],
    )
    assert response.status_code == 403


def test_bulk_maps_many_modules_to_many_items(client: FlaskClient, setting: dict[str, Any]) -> None:
    url = f"/api/v1/programmes/{setting['programme'].id}/mappings/bulk"
    body = {
        "module_ids": [str(setting["module"].id), str(setting["other"].id)],
        "activity_ids": [str(setting["activity"].id)],
        "item_ids": [CURIOSITY, KSS_7, SUPERVISION],
        "depth": "introduced",
    }
    first = client.post(url, json=body, headers=setting["author"])
    assert first.status_code == 200, first.json
    assert first.json == {"created": 9, "updated": 0, "unchanged": 0}
    again = client.post(
        url, json={**body, "item_ids": [CURIOSITY, KSS_7], "depth": "assessed"}, headers=setting["author"]
    )
    assert again.json == {"created": 0, "updated": 6, "unchanged": 0}
    same = client.post(url, json={**body, "item_ids": [SUPERVISION]}, headers=setting["author"])
    assert same.json == {"created": 0, "updated": 0, "unchanged": 3}


def test_bulk_is_all_or_nothing(client: FlaskClient, session: Session, setting: dict[str, Any]) -> None:
    stranger = factories.module(session, factories.course(session, factories.programme(session, "Other")))
    before = count(session, Mapping)
    response = client.post(
        f"/api/v1/programmes/{setting['programme'].id}/mappings/bulk",
        json={
            "module_ids": [str(setting["module"].id), str(stranger.id)],
            "item_ids": [CURIOSITY],
            "depth": "introduced",
        },
        headers=setting["author"],
    )
    assert response.status_code == 422
    assert "module_ids" in response.json["errors"]
    assert count(session, Mapping) == before
