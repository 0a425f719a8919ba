"""The State, Activity Profile and Agent Profile resources, the Activities and Agents resources."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from tests import factories

pytestmark = pytest.mark.db

ACTIVITY = "http://example.org/activities/unit-1"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:ada@example.org"})


@pytest.fixture
def lms(session: Session) -> dict[str, str]:
    key = factories.api_key(session, Role.INTEGRATION)[1]
    return {
        "Authorization": "Basic " + base64.b64encode(f"lms:{key}".encode()).decode(),
        "X-Experience-API-Version": "1.0.3",
    }


def state(state_id: str = "bookmark", **extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, "agent": AGENT, "stateId": state_id, **extra}


def test_state_put_get_merge_list_delete(client: FlaskClient, lms: dict[str, str]) -> None:
    put = client.put("/xapi/activities/state", query_string=state(), json={"page": 3, "seen": [1]}, headers=lms)
    assert put.status_code == 204
    got = client.get("/xapi/activities/state", query_string=state(), headers=lms)
    assert got.status_code == 200 and got.json == {"page": 3, "seen": [1]}
    assert got.headers["ETag"] == '"' + hashlib.sha1(got.data).hexdigest() + '"'
    merged = client.post("/xapi/activities/state", query_string=state(), json={"page": 4, "x": {"y": 1}}, headers=lms)
    assert merged.status_code == 204
    assert client.get("/xapi/activities/state", query_string=state(), headers=lms).json == {
        "page": 4,
        "seen": [1],
        "x": {"y": 1},
    }
    client.put("/xapi/activities/state", query_string=state("other"), data=b"raw", headers=lms)
    listed = client.get("/xapi/activities/state", query_string={"activityId": ACTIVITY, "agent": AGENT}, headers=lms)
    assert sorted(listed.json) == ["bookmark", "other"]
    head = client.head("/xapi/activities/state", query_string=state(), headers=lms)
    assert head.status_code == 200 and head.data == b""
    # Merging JSON into a document that is not JSON is refused, and changes nothing.
    refused = client.post("/xapi/activities/state", query_string=state("other"), json={"a": 1}, headers=lms)
    assert refused.status_code == 400
    assert client.get("/xapi/activities/state", query_string=state("other"), headers=lms).data == b"raw"
    assert client.delete("/xapi/activities/state", query_string=state(), headers=lms).status_code == 204
    assert client.get("/xapi/activities/state", query_string=state(), headers=lms).status_code == 404
    all_gone = client.delete(
        "/xapi/activities/state", query_string={"activityId": ACTIVITY, "agent": AGENT}, headers=lms
    )
    assert all_gone.status_code == 204
    assert client.get("/xapi/activities/state", query_string=state("other"), headers=lms).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"agent": AGENT, "stateId": "s"},
        {"activityId": ACTIVITY, "stateId": "s"},
        {"activityId": ACTIVITY, "agent": "{not json", "stateId": "s"},
        {"activityId": ACTIVITY, "agent": json.dumps({"name": "no identifier"}), "stateId": "s"},
        {"activityId": ACTIVITY, "agent": AGENT, "stateId": "s", "registration": "not-a-uuid"},
        {"activityId": ACTIVITY, "agent": AGENT, "stateId": "s", "StateId": "s"},
        {"activityId": "not an iri", "agent": AGENT, "stateId": "s"},
    ],
)
def test_bad_state_parameters_are_400(client: FlaskClient, lms: dict[str, str], params: dict[str, str]) -> None:
    response = client.put("/xapi/activities/state", query_string=params, json={"a": 1}, headers=lms)
    assert response.status_code == 400, response.json
    assert response.json["message"]


def test_profiles_need_an_etag_precondition_to_write(client: FlaskClient, lms: dict[str, str]) -> None:
    params = {"activityId": ACTIVITY, "profileId": "settings"}
    url = "/xapi/activities/profile"
    assert client.put(url, query_string=params, json={"a": 1}, headers=lms).status_code == 400
    created = client.put(url, query_string=params, json={"a": 1}, headers={**lms, "If-None-Match": "*"})
    assert created.status_code == 204
    etag = client.get(url, query_string=params, headers=lms).headers["ETag"]
    assert client.put(url, query_string=params, json={"a": 2}, headers=lms).status_code == 409
    assert client.put(url, query_string=params, json={"a": 2}, headers={**lms, "If-None-Match": "*"}).status_code == 412
    assert client.put(url, query_string=params, json={"a": 2}, headers={**lms, "If-Match": '"0"'}).status_code == 412
    assert client.get(url, query_string=params, headers=lms).json == {"a": 1}
    assert client.put(url, query_string=params, json={"a": 2}, headers={**lms, "If-Match": etag}).status_code == 204
    assert client.get(url, query_string=params, headers=lms).json == {"a": 2}


def test_agent_profile_and_agents(client: FlaskClient, lms: dict[str, str]) -> None:
    params = {"agent": AGENT, "profileId": "prefs"}
    assert (
        client.put(
            "/xapi/agents/profile", query_string=params, json={"lang": "cy"}, headers={**lms, "If-None-Match": "*"}
        )
    ).status_code == 204
    assert client.get("/xapi/agents/profile", query_string={"agent": AGENT}, headers=lms).json == ["prefs"]
    person = client.get("/xapi/agents", query_string={"agent": AGENT}, headers=lms).json
    assert person == {"objectType": "Person", "mbox": ["mailto:ada@example.org"]}
    assert client.get("/xapi/agents", headers=lms).status_code == 400


def test_activities_merge_every_definition(client: FlaskClient, lms: dict[str, str]) -> None:
    def said(language: str, name: str) -> dict[str, Any]:
        return {
            "actor": {"mbox": "mailto:ada@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
            "object": {"objectType": "Activity", "id": ACTIVITY, "definition": {"name": {language: name}}},
        }

    assert (
        client.post("/xapi/statements", json=[said("en-US", "Unit 1"), said("cy", "Uned 1")], headers=lms).status_code
        == 200
    )
    activity = client.get("/xapi/activities", query_string={"activityId": ACTIVITY}, headers=lms).json
    assert activity == {
        "objectType": "Activity",
        "id": ACTIVITY,
        "definition": {"name": {"en-US": "Unit 1", "cy": "Uned 1"}},
    }


def test_every_resource_wants_the_version_header_and_a_key(client: FlaskClient, lms: dict[str, str]) -> None:
    no_version = {"Authorization": lms["Authorization"]}
    assert client.get("/xapi/activities/state", query_string=state(), headers=no_version).status_code == 400
    assert (
        client.get(
            "/xapi/activities/state", query_string=state(), headers={"X-Experience-API-Version": "1.0.3"}
        ).status_code
        == 401
    )


def test_an_overlong_content_type_is_400(client: FlaskClient, lms: dict[str, str]) -> None:
    headers = {**lms, "Content-Type": "application/" + "x" * 400}
    response = client.put("/xapi/activities/state", query_string=state(), data=b"{}", headers=headers)
    assert response.status_code == 400


def test_an_agent_with_a_long_account_keeps_documents(client: FlaskClient, lms: dict[str, str]) -> None:
    agent = json.dumps({"account": {"homePage": "https://lms.example.org", "name": "n" * 900}})
    params = {"activityId": ACTIVITY, "agent": agent, "stateId": "s"}
    assert client.put("/xapi/activities/state", query_string=params, json={"a": 1}, headers=lms).status_code == 204
    assert client.get("/xapi/activities/state", query_string=params, headers=lms).json == {"a": 1}
