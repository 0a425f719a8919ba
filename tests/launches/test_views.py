"""Launches through the API, and SCORM run-time commits as browser players send them."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import ExternalId
from capcourse.identifiers import item_id
from capcourse.launches.models import Launch
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.models import Completion, OutboxEntry, StoredStatement
from capcourse.timestamps import utcnow
from tests import factories
from tests.factories import bearer
from tests.scorm.archives import RUNTIME
from tests.shared import needs_shared

pytestmark = pytest.mark.db

LMS_IRI = "https://lms.example.org/mod/scorm/view.php?id=12"
CURIOSITY = item_id("frontline-lcf-pathway-1", "MC.2")
LEARNER = {"email": "Ada.Learner@Example.org", "name": "Ada Learner"}

#: What each of scorm-again's recorded commits must come to: (outcome, success, scaled, raw, min, max, duration).
FIXTURE_OUTCOMES: dict[str, tuple[str, bool, float, float | None, float | None, float | None, float]] = {
    "scorm-again-12-json-commit.json": ("passed", True, 0.85, 85, None, 100, 330),
    "scorm-again-12-json-terminate-commit.json": ("passed", True, 0.85, 85, None, 100, 330),
    "scorm-again-2004-common-fields-commit.json": ("failed", False, 0.4, None, None, None, 330),
    "scorm-again-2004-common-fields-terminate-commit.json": ("failed", False, 0.4, None, None, None, 330),
}


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    map_items(session, principal_for_user(author), activity, [CURIOSITY], Depth.ASSESSED)
    session.add(
        ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms-activity-iri", value=LMS_IRI)
    )
    session.commit()
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    outsider = factories.user(session, Role.LEAD)
    factories.member(session, factories.programme(session, "Another programme"), outsider, MembershipRole.LEAD)
    return {
        "programme": programme,
        "activity": activity,
        "lms": bearer(factories.api_key(session, Role.INTEGRATION)[1]),
        "admin": bearer(factories.api_key(session, Role.ADMIN)[1]),
        "author": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "lead": bearer(factories.api_key(session, Role.LEAD, lead)[1]),
        "outsider": bearer(factories.api_key(session, Role.LEAD, outsider)[1]),
    }


def start(client: FlaskClient, world: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {"learner": LEARNER, "activity": LMS_IRI, **overrides}
    response = client.post("/api/v1/launches", json=body, headers=world["lms"])
    assert response.status_code == 201, response.json
    return dict(response.json)


def path_of(url: str) -> str:
    return url.removeprefix("http://capcourse.test")


def commit(client: FlaskClient, launch: dict[str, Any], body: Any, **kwargs: Any) -> Any:
    if isinstance(body, dict):
        kwargs.setdefault("data", json.dumps(body))
        kwargs.setdefault("content_type", "application/json;charset=UTF-8")
    else:
        kwargs.setdefault("data", body)
    return client.post(path_of(launch["commit_url"]), **kwargs)


def fixture_body(name: str) -> dict[str, Any]:
    return dict(json.loads((RUNTIME / name).read_text(encoding="utf-8"))["body"])


def completions(session: Session) -> list[Completion]:
    return list(session.scalars(select(Completion).order_by(Completion.recorded_at)))


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def scorm12(status: str, **elements: str) -> dict[str, Any]:
    """A SCORM 1.2 commit as scorm-again sends it (empty strings for what is not set)."""
    core = {"lesson_status": status, "lesson_mode": "normal", "credit": "", "session_time": "00:01:30"}
    core.update({k: v for k, v in elements.items() if k != "score"})
    return {"cmi": {"core": {**core, "score": {"raw": elements.get("score", ""), "min": "", "max": ""}}}}


# Starting launches -------------------------------------------------------------------------


def test_an_lms_starts_a_launch(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    before = utcnow()
    response = client.post(
        "/api/v1/launches", json={"learner": LEARNER, "activity": LMS_IRI, "passing_score": 0.8}, headers=world["lms"]
    )
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    launch = response.json
    token = launch["token"]
    assert token.startswith("cl_") and len(token) > 40
    assert launch["commit_url"] == f"http://capcourse.test/api/v1/launches/{token}/commit"
    assert launch["bearer_commit_url"] == "http://capcourse.test/api/v1/launches/commit"
    assert launch["scorm_again"] == {
        "lmsCommitUrl": launch["commit_url"],
        "dataCommitFormat": "json",
        "autocommit": True,
        "autocommitSeconds": 60,
        "autoCompleteLessonStatus": True,
        "terminateCommitParam": "terminate",
    }
    assert launch["activity_id"] == str(world["activity"].id)
    assert launch["activity"] == f"http://capcourse.test/activities/{world['activity'].id}"
    assert launch["programme_id"] == str(world["programme"].id)
    assert launch["learner"]["mbox"] == "mailto:ada.learner@example.org"
    assert launch["passing_score"] == 0.8
    assert uuid.UUID(launch["registration"])
    assert launch["created_by"].startswith("API key")
    created, expires = (datetime.fromisoformat(launch[k]) for k in ("created_at", "expires_at"))
    assert before <= created and expires - created == timedelta(hours=24)
    assert launch["commits"] == 0 and launch["outcome"] is None and launch["completions"] == []

    # Only the token's hash is kept.
    stored = session.get(Launch, uuid.UUID(launch["id"]))
    assert stored is not None and stored.token_hash != token and token not in json.dumps(stored.token_hash)


@pytest.mark.parametrize("reference", ["iri", "id", "external"])
def test_the_activity_is_named_by_iri_id_or_external_id(
    client: FlaskClient, world: dict[str, Any], reference: str
) -> None:
    activity = world["activity"]
    given = {
        "iri": f"https://anything.example/activities/{activity.id}",
        "id": str(activity.id),
        "external": LMS_IRI,
    }[reference]
    launch = start(client, world, activity=given, registration="7b6f3b8e-3f0e-4b7a-9a39-8c0b4f0e3c11")
    assert launch["activity_id"] == str(activity.id)
    assert launch["registration"] == "7b6f3b8e-3f0e-4b7a-9a39-8c0b4f0e3c11"


def test_exactly_one_activity_must_match(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    unknown = client.post(
        "/api/v1/launches", json={"learner": LEARNER, "activity": "https://nowhere.example/x"}, headers=world["lms"]
    )
    assert unknown.status_code == 422
    assert unknown.json["errors"] == {"activity": ["Matches no activity."]}

    # Another programme reuses the LMS's id: the LMS must say which activity.
    other = factories.programme(session, "Pathway 2")
    twin = factories.activity(session, factories.module(session, factories.course(session, other)))
    session.add(ExternalId(programme_id=other.id, activity_id=twin.id, system="lms-activity-iri", value=LMS_IRI))
    session.commit()
    ambiguous = client.post("/api/v1/launches", json={"learner": LEARNER, "activity": LMS_IRI}, headers=world["lms"])
    assert ambiguous.status_code == 422
    assert ambiguous.json["errors"] == {"activity": ["Matches 2 activities."]}
    assert "capcourse IRI or id" in ambiguous.json["message"]
    assert count(session, Launch) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"learner": {"name": "Nobody"}}, "learner"),
        ({"passing_score": 1.5}, "passing_score"),
        ({"registration": "not-a-uuid"}, "registration"),
        ({"activity": ""}, "activity"),
    ],
)
def test_bad_launch_requests_name_the_field(
    client: FlaskClient, world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/api/v1/launches", json={"learner": LEARNER, "activity": LMS_IRI, **body}, headers=world["lms"]
    )
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize(("who", "status"), [("author", 403), ("lead", 403), (None, 401)])
def test_only_lms_and_admin_keys_start_launches(
    client: FlaskClient, world: dict[str, Any], who: str | None, status: int
) -> None:
    headers = world[who] if who else {}
    response = client.post("/api/v1/launches", json={"learner": LEARNER, "activity": LMS_IRI}, headers=headers)
    assert response.status_code == status
    assert set(response.json) >= {"code", "status", "message"}


def test_admins_start_launches_too(client: FlaskClient, world: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/launches", json={"learner": LEARNER, "activity": str(world["activity"].id)}, headers=world["admin"]
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(("who", "status"), [("lms", 200), ("admin", 200), ("lead", 200), ("outsider", 404)])
def test_a_launch_is_read_by_whoever_reaches_its_programme(
    client: FlaskClient, world: dict[str, Any], who: str, status: int
) -> None:
    launch = start(client, world)
    response = client.get(f"/api/v1/launches/{launch['id']}", headers=world[who])
    assert response.status_code == status
    if status == 200:
        assert "token" not in response.json and "commit_url" not in response.json
        assert response.json["id"] == launch["id"]
    else:
        assert response.json["message"] == f"No launch has the identifier {launch['id']}."


# Commits --------------------------------------------------------------------------------------


@needs_shared("fixtures/scorm/runtime")
def test_every_recorded_scorm_again_commit_gives_its_completion() -> None:
    assert sorted(p.name for p in RUNTIME.glob("*.json")) == sorted(FIXTURE_OUTCOMES)


@pytest.mark.parametrize("name", sorted(FIXTURE_OUTCOMES))
def test_a_scorm_again_commit_becomes_a_completion(
    client: FlaskClient, session: Session, world: dict[str, Any], name: str
) -> None:
    outcome, success, scaled, raw, low, high, seconds = FIXTURE_OUTCOMES[name]
    launch = start(client, world)
    recorded = json.loads((RUNTIME / name).read_text(encoding="utf-8"))["request"]
    response = commit(client, launch, fixture_body(name), content_type=recorded["content_type"])
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["result"] is True and answer["errorCode"] == 0
    assert answer["outcome"] == outcome and answer["recorded"] is True
    (completion,) = completions(session)
    assert str(completion.id) == answer["completion_id"] and str(completion.statement_id) == answer["statement_id"]
    assert completion.source == "scorm"
    assert completion.idempotency_key == f"scorm:{launch['id']}:{outcome}"
    assert completion.activity_id == world["activity"].id
    assert (completion.outcome, completion.success) == (outcome, success)
    assert (completion.score_scaled, completion.score_raw, completion.score_min, completion.score_max) == (
        scaled,
        raw,
        low,
        high,
    )
    assert completion.duration_seconds == seconds


def test_the_terminate_commit_after_a_commit_records_nothing_new(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    launch = start(client, world)
    first = commit(client, launch, fixture_body("scorm-again-12-json-commit.json")).json
    final = commit(client, launch, fixture_body("scorm-again-12-json-terminate-commit.json")).json
    assert (first["recorded"], final["recorded"]) == (True, False)
    assert final["completion_id"] == first["completion_id"] and final["result"] is True
    assert len(completions(session)) == 1
    status = client.get(f"/api/v1/launches/{launch['id']}", headers=world["lms"]).json
    assert status["commits"] == 2 and status["outcome"] == "passed"
    assert status["last_data"]["total_time"] == "PT5M30S"
    assert [c["id"] for c in status["completions"]] == [first["completion_id"]]


def test_the_emitted_statement_carries_the_registration_and_mapping(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    launch = start(client, world)
    answer = commit(client, launch, fixture_body("scorm-again-12-json-commit.json")).json
    stored = session.scalars(select(StoredStatement).order_by(StoredStatement.pk)).all()
    emitted, attained = (s.statement for s in stored)
    assert emitted["id"] == answer["statement_id"]
    assert xapi.validate_statement(emitted) == [] and xapi.validate_statement(attained) == []
    BaseXapiStatement(**emitted)
    assert emitted["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed"
    assert emitted["actor"]["mbox"] == "mailto:ada.learner@example.org"
    assert emitted["object"]["id"] == launch["activity"]
    assert emitted["context"]["registration"] == launch["registration"]
    assert emitted["result"] == {
        "score": {"scaled": 0.85, "raw": 85.0, "max": 100.0},
        "success": True,
        "completion": True,
        "duration": "PT5M30S",
    }
    assert emitted["context"]["contextActivities"]["category"][0]["id"] == f"http://capcourse.test/uri/{CURIOSITY}"
    # The learner succeeded in the only activity assessed for the item.
    assert attained["verb"]["id"] == "https://w3id.org/xapi/tla/verbs/achieved"


def test_statements_are_queued_for_the_lrs(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    destinations = {"default": {"endpoint": "https://lrs.example.org/xapi", "username": "u", "password": "p"}}
    monkeypatch.setitem(app.config, "CAPCOURSE_LRS_DESTINATIONS", destinations)
    commit(client, start(client, world), fixture_body("scorm-again-2004-common-fields-commit.json"))
    assert {e.destination for e in session.scalars(select(OutboxEntry))} == {"default"}
    assert count(session, OutboxEntry) == 1  # failed: a completion, no attainment


def test_intermediate_commits_only_keep_the_data(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    launch = start(client, world)
    for status in ("not attempted", "incomplete", "browsed"):
        answer = commit(client, launch, scorm12(status)).json
        assert answer["result"] is True and answer["outcome"] is None and answer["recorded"] is False
        assert answer["completion_id"] is None
    assert completions(session) == [] and count(session, StoredStatement) == 0
    stored = session.get(Launch, uuid.UUID(launch["id"]))
    assert stored is not None and stored.commits == 3 and stored.last_commit_at is not None
    assert stored.last_data is not None and stored.last_data["lesson_status"] == "browsed"
    assert stored.last_data["completion_status"] == "incomplete" and stored.last_data["outcome"] is None


def test_a_12_sco_that_finishes_without_a_status_is_completed(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    """The commit scorm-again sends on LMSFinish carries ?terminate=true (terminateCommitParam): SCORM 1.2's rule."""
    launch = start(client, world)
    assert commit(client, launch, scorm12("not attempted")).json["recorded"] is False
    finish = path_of(launch["commit_url"]) + "?terminate=true"
    answer = client.post(finish, data=json.dumps(scorm12("not attempted")), content_type="text/plain;charset=UTF-8")
    assert answer.status_code == 200, answer.json
    assert (answer.json["outcome"], answer.json["recorded"]) == ("completed", True)
    ((outcome, success),) = [(c.outcome, c.success) for c in completions(session)]
    assert (outcome, success) == ("completed", None)
    # Through the Bearer endpoint too; a status the SCO set stands.
    again = start(client, world)
    answer = client.post(
        "/api/v1/launches/commit?terminate=true",
        json=scorm12("incomplete"),
        headers={"Authorization": f"Bearer {again['token']}"},
    )
    assert (answer.json["outcome"], answer.json["recorded"]) == (None, False)


def test_one_completion_per_launch_and_outcome(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    launch = start(client, world, passing_score=0.8)
    # completed with a raw score under the passing score: failed, however often it is committed.
    for _ in range(3):
        assert commit(client, launch, scorm12("completed", score="70")).json["outcome"] == "failed"
    # A second try in the same launch passes: one more completion.
    assert commit(client, launch, scorm12("completed", score="90")).json["outcome"] == "passed"
    assert commit(client, launch, scorm12("passed", score="95")).json["recorded"] is False
    assert [(c.outcome, c.score_raw) for c in completions(session)] == [("failed", 70), ("passed", 90)]

    # Another launch of the same learner and activity is another attempt.
    again = start(client, world)
    assert commit(client, again, scorm12("passed", score="99")).json["recorded"] is True
    assert len(completions(session)) == 3


def test_the_launchs_passing_score_overrides_the_players(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    body = scorm12("completed", score="70")
    body["cmi"]["student_data"] = {"mastery_score": "60"}
    strict = start(client, world, passing_score=0.75)
    assert commit(client, strict, body).json["outcome"] == "failed"
    lenient = start(client, world)
    assert commit(client, lenient, body).json["outcome"] == "passed"


@pytest.mark.parametrize(
    ("elements", "reason"),
    [
        ({"credit": "no-credit"}, "no-credit"),
        ({"lesson_mode": "review"}, "review"),
    ],
)
def test_attempts_that_do_not_count_record_nothing(
    client: FlaskClient, session: Session, world: dict[str, Any], elements: dict[str, str], reason: str
) -> None:
    answer = commit(client, start(client, world), scorm12("passed", score="90", **elements)).json
    assert answer["result"] is True and answer["outcome"] == "passed"
    assert answer["recorded"] is False and answer["not_counted"] == reason
    assert completions(session) == []


def test_scores_xapi_cannot_carry_are_left_out(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    body = {
        "cmi": {
            "completion_status": "completed",
            "success_status": "passed",
            "score": {"raw": "150", "max": "100", "min": "0"},
        }
    }
    commit(client, start(client, world), body)
    (completion,) = completions(session)
    assert (completion.score_raw, completion.score_min, completion.score_max) == (150, None, None)
    emitted = session.scalars(select(StoredStatement).order_by(StoredStatement.pk)).first()
    assert emitted is not None and xapi.validate_statement(emitted.statement) == []


# The flat form -------------------------------------------------------------------------------------

FLAT = {
    "cmi.core.lesson_status": "passed",
    "cmi.core.score.raw": "85",
    "cmi.core.score.max": "100",
    "cmi.core.session_time": "00:05:30",
    "cmi.objectives.0.id": "https://case.example.org/CFItems/abc",
    "cmi.objectives.0.status": "passed",
}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (json.dumps(FLAT), "application/json"),
        (urlencode(FLAT), "application/x-www-form-urlencoded"),
        # sendBeacon's text/plain: scorm-again's JSON, and its "params" format (not percent-encoded).
        (json.dumps(FLAT), "text/plain;charset=UTF-8"),
        ("&".join(f"{k}={v}" for k, v in FLAT.items()), "text/plain;charset=UTF-8"),
    ],
)
def test_the_flat_form(
    client: FlaskClient, session: Session, world: dict[str, Any], data: str, content_type: str
) -> None:
    response = commit(client, start(client, world), data, content_type=content_type)
    assert response.status_code == 200, response.json
    (completion,) = completions(session)
    assert (completion.outcome, completion.score_raw, completion.duration_seconds) == ("passed", 85, 330)


def test_an_element_given_twice_in_a_form_is_refused(client: FlaskClient, world: dict[str, Any]) -> None:
    data = "cmi.core.lesson_status=passed&cmi.core.lesson_status=failed"
    response = commit(client, start(client, world), data, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert response.json["errors"] == {"cmi.core.lesson_status": ["Given more than once."]}


# Refusals change nothing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "elements"),
    [
        ({"cmi": {"core": {"lesson_status": "done", "score": {"raw": "85"}}}}, ["cmi.core.lesson_status"]),
        (
            {"cmi": {"completion_status": "completed", "score": {"scaled": "2"}, "session_time": "5 minutes"}},
            ["cmi.score.scaled", "cmi.session_time"],
        ),
        ({"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "lots"}, ["cmi.core.score.raw"]),
        ({"completionStatus": "completed"}, ["body"]),
        ("not json", ["body"]),
    ],
)
def test_bad_data_is_refused_naming_the_elements_and_changes_nothing(
    client: FlaskClient, session: Session, world: dict[str, Any], body: Any, elements: list[str]
) -> None:
    launch = start(client, world)
    response = commit(client, launch, body, content_type="application/json")
    assert response.status_code == 422
    assert sorted(response.json["errors"]) == elements
    assert response.json["message"].startswith("The SCORM run-time data is not valid")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    stored = session.get(Launch, uuid.UUID(launch["id"]))
    assert stored is not None and stored.commits == 0 and stored.last_data is None and stored.last_commit_at is None
    assert completions(session) == [] and count(session, StoredStatement) == 0


def test_an_oversized_commit_is_refused(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    launch = start(client, world)
    body = scorm12("passed")
    body["cmi"]["suspend_data"] = "x" * (256 * 1024)
    response = commit(client, launch, body)
    assert response.status_code == 413
    assert response.json["code"] == 413 and "at most 262144 bytes" in response.json["message"]
    assert completions(session) == [] and session.get(Launch, uuid.UUID(launch["id"])).commits == 0  # type: ignore[union-attr]


def test_an_oversized_form_commit_without_a_length_is_refused(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    # A URL-encoded body is read by the NUL guard before the view; sent chunked (no Content-Length),
    # it must meet the commit's cap all the same, not only the server's.
    launch = start(client, world)
    body = urlencode({"cmi.core.lesson_status": "passed", "cmi.suspend_data": "x" * (256 * 1024)}).encode()
    response = client.post(
        path_of(launch["commit_url"]),
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 413
    assert "at most 262144 bytes" in response.json["message"]
    assert completions(session) == [] and session.get(Launch, uuid.UUID(launch["id"])).commits == 0  # type: ignore[union-attr]


def test_an_expired_launch_is_refused(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    launch = start(client, world)
    stored = session.get(Launch, uuid.UUID(launch["id"]))
    assert stored is not None
    stored.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    for response in (
        commit(client, launch, scorm12("passed")),
        client.post("/api/v1/launches/commit", json=scorm12("passed"), headers=bearer(launch["token"])),
    ):
        assert response.status_code == 401
        assert response.json["message"].startswith("The launch expired at")
    assert completions(session) == [] and session.get(Launch, stored.id).commits == 0  # type: ignore[union-attr]
    assert client.get(f"/api/v1/launches/{launch['id']}", headers=world["lms"]).json["expired"] is True


def test_launches_last_the_configured_lifetime(
    app: Flask, client: FlaskClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CAPCOURSE_LAUNCH_LIFETIME_HOURS", 2)
    launch = start(client, world)
    created, expires = (datetime.fromisoformat(launch[k]) for k in ("created_at", "expires_at"))
    assert expires - created == timedelta(hours=2)


def test_unknown_tokens_are_refused(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    start(client, world)
    forged = "cl_" + "A" * 43
    in_url = client.post(f"/api/v1/launches/{forged}/commit", json=scorm12("passed"))
    assert in_url.status_code == 404
    assert in_url.json == {
        "code": 404,
        "status": "Not Found",
        "message": "No launch has this commit URL: the LMS must start a launch first.",
    }
    in_header = client.post("/api/v1/launches/commit", json=scorm12("passed"), headers=bearer(forged))
    assert in_header.status_code == 401 and in_header.headers["WWW-Authenticate"].startswith("Bearer")
    # An API key is no launch token.
    with_key = client.post("/api/v1/launches/commit", json=scorm12("passed"), headers=world["lms"])
    assert with_key.status_code == 401
    without = client.post("/api/v1/launches/commit", json=scorm12("passed"))
    assert without.status_code == 401 and "Authorization: Bearer" in without.json["message"]
    assert completions(session) == []


def test_the_bearer_endpoint_takes_the_token_in_the_header(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    launch = start(client, world)
    response = client.post(
        "/api/v1/launches/commit",
        json=fixture_body("scorm-again-2004-common-fields-commit.json"),
        headers=bearer(launch["token"]),
    )
    assert response.status_code == 200, response.json
    assert response.json["outcome"] == "failed" and response.json["launch_id"] == launch["id"]
    assert len(completions(session)) == 1


# CORS ---------------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": "https://lms.example.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization",
}


@pytest.mark.parametrize("path", ["/api/v1/launches/commit", "/api/v1/launches/cl_anything/commit"])
def test_preflights_are_answered(client: FlaskClient, path: str) -> None:
    response = client.options(path, headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"POST", "OPTIONS"}
    assert set(response.headers["Access-Control-Allow-Headers"].split(", ")) == {"Content-Type", "Authorization"}
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_commits_answer_any_origin_by_default(client: FlaskClient, world: dict[str, Any]) -> None:
    response = commit(
        client, start(client, world), scorm12("incomplete"), headers={"Origin": "https://lms.example.org"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_allowed_origins_can_be_configured(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    launch = start(client, world)
    monkeypatch.setitem(
        app.config, "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS", "https://lms.example.org, https://other.example"
    )
    allowed = client.options(path_of(launch["commit_url"]), headers=PREFLIGHT)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://lms.example.org"
    assert "Origin" in allowed.headers["Vary"]
    answered = commit(client, launch, scorm12("passed"), headers={"Origin": "https://other.example"})
    assert answered.status_code == 200
    assert answered.headers["Access-Control-Allow-Origin"] == "https://other.example"

    refused = commit(client, start(client, world), scorm12("passed"), headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS" in refused.json["message"]
    assert len(completions(session)) == 1
    assert (
        client.options(
            path_of(launch["commit_url"]), headers={**PREFLIGHT, "Origin": "https://evil.example"}
        ).status_code
        == 403
    )


# Tokens stay out of logs -------------------------------------------------------------------------


def test_tokens_stay_out_of_logs(client: FlaskClient, world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    launch = start(client, world)
    token = launch["token"]
    commit(client, launch, scorm12("passed"))
    commit(client, launch, "not json", content_type="application/json")
    # The development server's request log line, as werkzeug writes it.
    logging.getLogger("werkzeug").info(
        '%s - - "%s" %s %s', "127.0.0.1", f"POST /api/v1/launches/{token}/commit HTTP/1.1", "200", "-"
    )
    assert caplog.records and token not in caplog.text
    assert "/api/v1/launches/cl_[redacted]/commit" in caplog.text


def test_the_api_is_documented(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").json["paths"]
    assert {"post"} <= set(paths["/api/v1/launches"])
    assert {"get"} <= set(paths["/api/v1/launches/{launch_id}"])
    for path in ("/api/v1/launches/commit", "/api/v1/launches/{token}/commit"):
        operation = paths[path]["post"]
        assert set(operation["requestBody"]["content"]) == {
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
        }
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("CommitResult")
    assert paths["/api/v1/launches/commit"]["post"]["security"] == [{"launchToken": []}]
