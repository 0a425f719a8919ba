"""Completions in through the JSON API; statements out, carrying the mapping."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import ExternalId
from capcourse.extensions import db
from capcourse.identifiers import item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.models import Attainment, Completion, Evidence, OutboxEntry, PendingRecord, StoredStatement
from capcourse.records.services import store_statement
from tests import factories
from tests.conftest import sent_together
from tests.factories import bearer

pytestmark = pytest.mark.db

LMS_IRI = "https://lms.example.org/mod/assign/view.php?id=7"
CURIOSITY = item_id("frontline-lcf-pathway-1", "MC.2")
KSS_7 = item_id("dfe-kss-practice-supervisors-2018", "7")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course)
    activity = factories.activity(session, module)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    principal = principal_for_user(author)
    map_items(session, principal, activity, [CURIOSITY], Depth.ASSESSED)
    map_items(session, principal, module, [KSS_7], Depth.DEVELOPED)
    session.add(
        ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms-activity-iri", value=LMS_IRI)
    )
    session.commit()
    return {
        "activity": activity,
        "author": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "lms": bearer(factories.api_key(session, Role.INTEGRATION)[1]),
    }


def completion(**overrides: Any) -> dict[str, Any]:
    return {
        "learner": {"email": "Ada.Learner@Example.org", "name": "Ada Learner"},
        "activity": LMS_IRI,
        "outcome": "passed",
        "score_raw": 8,
        "score_min": 0,
        "score_max": 10,
        "timestamp": "2026-11-24T09:30:05.123+00:00",
        "idempotency_key": "moodle-attempt-1",
        **overrides,
    }


def posted(client: FlaskClient, world: dict[str, Any], *records: dict[str, Any]) -> list[str]:
    """The status of each of ``records``, posted in one batch by the world's LMS."""
    response = client.post("/api/v1/completions", json={"completions": list(records)}, headers=world["lms"])
    return [result["status"] for result in response.json["results"]]


def statements(session: Session) -> list[dict[str, Any]]:
    return [s.statement for s in session.scalars(select(StoredStatement).order_by(StoredStatement.pk))]


def test_a_completion_becomes_a_mapped_statement(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    response = client.post("/api/v1/completions", json={"completions": [completion()]}, headers=world["lms"])
    assert response.status_code == 200, response.json
    (result,) = response.json["results"]
    assert result["status"] == "recorded"
    emitted, attained = statements(session)
    assert xapi.validate_statement(emitted) == []
    BaseXapiStatement(**emitted)
    assert emitted["id"] == result["statement_ids"][0]
    assert emitted["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed"
    assert emitted["actor"]["mbox"] == "mailto:ada.learner@example.org"
    assert emitted["object"]["id"] == f"http://capcourse.test/activities/{world['activity'].id}"
    assert emitted["result"]["success"] is True
    assert emitted["timestamp"] == "2026-11-24T09:30:05.123Z"
    activities = emitted["context"]["contextActivities"]
    assert activities["category"][0]["id"] == f"http://capcourse.test/uri/{CURIOSITY}"
    assert activities["category"][0]["definition"]["type"] == xapi.COMPETENCY
    assert activities["other"][0]["id"] == f"http://capcourse.test/uri/{KSS_7}"
    assert activities["parent"][0]["definition"]["type"] == "http://adlnet.gov/expapi/activities/module"

    # The activity was the only one assessed for the item: the learner attained it.
    assert attained["verb"]["id"] == "https://w3id.org/xapi/tla/verbs/achieved"
    assert attained["object"]["id"] == f"http://capcourse.test/uri/{CURIOSITY}"
    assert attained["context"]["statement"] == {"objectType": "StatementRef", "id": emitted["id"]}
    assert xapi.validate_statement(attained) == []


def test_a_batch_for_two_activities_of_one_module_carries_each_ones_mapping(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    """Each statement names its own activity's items in the order they were mapped, and its module's once."""
    first = world["activity"]
    second = factories.activity(session, first.module)
    principal = principal_for_user(factories.user(session, Role.ADMIN))
    later, earlier = item_id("frontline-lcf-pathway-1", "EC.5.a"), item_id("frontline-lcf-pathway-1", "MC.3.a")
    map_items(session, principal, second, [earlier], Depth.INTRODUCED)
    map_items(session, principal, second, [later], Depth.DEVELOPED)
    session.commit()
    batch = [
        completion(activity=f"http://capcourse.test/activities/{second.id}", idempotency_key="second"),
        completion(idempotency_key="first"),
        completion(
            activity=f"http://capcourse.test/activities/{second.id}", idempotency_key="again", outcome="completed"
        ),
    ]

    response = client.post("/api/v1/completions", json={"completions": batch}, headers=world["lms"])

    assert response.status_code == 200, response.json
    by_id = {s["id"]: s for s in statements(session)}
    carried = []
    for result in response.json["results"]:
        activities = by_id[result["statement_ids"][0]]["context"]["contextActivities"]
        carried.append(([a["id"] for a in activities["category"]], [a["id"] for a in activities["other"]]))
    uri = "http://capcourse.test/uri/{}".format
    assert carried == [
        ([uri(earlier), uri(later)], [uri(KSS_7)]),
        ([uri(CURIOSITY)], [uri(KSS_7)]),
        ([uri(earlier), uri(later)], [uri(KSS_7)]),
    ]


def test_completions_of_one_activity_in_a_batch_keep_their_own_registration_and_result(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    """The parts a batch's statements share (object, context) are built per activity and registration."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [
        completion(idempotency_key="a", registration=first, score_raw=3),
        completion(idempotency_key="b", score_raw=5, outcome="completed"),
        completion(idempotency_key="c", registration=second, score_raw=7),
        completion(idempotency_key="d", registration=first, score_raw=9),
    ]

    response = client.post("/api/v1/completions", json={"completions": batch}, headers=world["lms"])

    assert response.status_code == 200, response.json
    by_id = {s["id"]: s for s in statements(session)}
    emitted = [by_id[result["statement_ids"][0]] for result in response.json["results"]]
    assert [s["context"].get("registration") for s in emitted] == [first, None, second, first]
    assert [s["result"]["score"]["raw"] for s in emitted] == [3, 5, 7, 9]
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in emitted] == ["passed", "completed", "passed", "passed"]
    assert len({s["id"] for s in emitted}) == 4
    for statement in emitted:
        assert statement["object"]["id"] == f"http://capcourse.test/activities/{world['activity'].id}"
        assert [a["id"] for a in statement["context"]["contextActivities"]["category"]] == [
            f"http://capcourse.test/uri/{CURIOSITY}"
        ]
        assert xapi.validate_statement(statement) == []


def test_resends_are_recorded_once(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    body = {"completions": [completion(), completion()]}
    results = client.post("/api/v1/completions", json=body, headers=world["lms"]).json["results"]
    assert [r["status"] for r in results] == ["recorded", "duplicate"]
    again = client.post("/api/v1/completions", json=body, headers=world["lms"]).json["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert session.scalar(select(func.count()).select_from(Completion)) == 1
    assert len(statements(session)) == 2  # the completion and its attainment, once each


def test_records_for_one_activity_each_are_not_looked_up_first_their_insert_finds_resends(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    """Looking every key up first cost a batch of 100 a scan of the completions on PostgreSQL."""
    heard: list[str] = []

    def listen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.append(statement)

    records = [completion(), completion(idempotency_key="moodle-attempt-2")]
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert posted(client, world, *records) == ["recorded", "recorded"]
        assert posted(client, world, *records) == ["duplicate", "duplicate"]
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert not [sql for sql in heard if sql.startswith("SELECT completions.idempotency_key")]
    assert session.scalar(select(func.count()).select_from(Completion)) == 2


def test_a_resend_for_an_activity_matched_since_is_not_recorded_for_it(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    assert posted(client, world, completion()) == ["recorded"]
    activity = world["activity"]
    other = factories.activity(session, activity.module, "Reflective log")
    session.add(
        ExternalId(programme_id=activity.module.course.programme_id, activity_id=other.id, system="vle", value=LMS_IRI)
    )
    session.commit()

    assert posted(client, world, completion()) == ["duplicate"]
    assert session.scalars(select(Completion.activity_id)).all() == [activity.id]


def test_a_resend_for_an_activity_no_longer_matched_is_not_kept_pending(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    assert posted(client, world, completion()) == ["recorded"]
    session.execute(delete(ExternalId).where(ExternalId.value == LMS_IRI))
    session.commit()

    assert posted(client, world, completion()) == ["duplicate"]
    assert session.scalar(select(func.count()).select_from(PendingRecord)) == 0


def test_a_learner_attains_an_item_once_and_on_postgresql_it_is_checked_with_the_insert(
    client: FlaskClient, session: Session, world: dict[str, Any], pipelines: list[list[str]]
) -> None:
    for n in range(3):
        pipelines.clear()
        body = {"completions": [completion(idempotency_key=f"attempt-{n}")]}
        assert client.post("/api/v1/completions", json=body, headers=world["lms"]).status_code == 200
        if session.get_bind().dialect.name == "postgresql":
            # Whether the item is attained already is asked with the completion's insert: no round trip of its own.
            assert sent_together(pipelines, "FROM attainments", "INSERT INTO completions"), pipelines
    assert session.scalar(select(func.count()).select_from(Completion)) == 3
    assert session.scalar(select(func.count()).select_from(Attainment)) == 1
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in statements(session)]
    assert verbs == ["passed", "achieved", "passed", "passed"]


def test_an_item_two_activities_assess_is_attained_when_the_last_is_first_succeeded_in(
    client: FlaskClient, session: Session, world: dict[str, Any], pipelines: list[list[str]]
) -> None:
    """Dated by the later of the two first successes, whether stored before or in the same batch.

    On PostgreSQL what attaining takes and the first successes are read before the batch's completions
    are inserted (with their insert), so the batch's own successes are added to what was read.
    """
    first = world["activity"]
    second = factories.activity(session, first.module)
    map_items(session, principal_for_user(factories.user(session, Role.ADMIN)), second, [CURIOSITY], Depth.ASSESSED)
    session.commit()
    other = f"http://capcourse.test/activities/{second.id}"

    def post(*batch: dict[str, Any]) -> None:
        response = client.post("/api/v1/completions", json={"completions": list(batch)}, headers=world["lms"])
        assert response.status_code == 200, response.json

    post(completion(activity=other, timestamp="2026-11-20T10:00:00+00:00", idempotency_key="second"))
    assert session.scalar(select(func.count()).select_from(Attainment)) == 0  # the first activity is missing
    pipelines.clear()
    post(
        completion(timestamp="2026-11-25T10:00:00+00:00", idempotency_key="late"),
        completion(timestamp="2026-11-22T10:00:00+00:00", idempotency_key="early"),
        completion(timestamp="2026-11-21T10:00:00+00:00", idempotency_key="failed", outcome="failed"),
    )
    if session.get_bind().dialect.name == "postgresql":
        assert sent_together(pipelines, "FROM mappings", "min(completions.occurred_at)", "INSERT INTO completions")

    (attainment,) = session.scalars(select(Attainment)).all()
    # The first activity first succeeded in on the 22nd (the failure does not count), the second on the 20th.
    assert attainment.attained_at.isoformat().startswith("2026-11-22T10:00:00")
    (achieved,) = [s for s in statements(session) if s["verb"]["id"] == xapi.ACHIEVED.id]
    assert achieved["timestamp"] == "2026-11-22T10:00:00.000Z"
    assert achieved["id"] == str(attainment.statement_id)


def test_a_failure_attains_nothing(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    client.post("/api/v1/completions", json={"completions": [completion(outcome="failed")]}, headers=world["lms"])
    (emitted,) = statements(session)
    assert emitted["result"]["success"] is False


def test_unknown_success_is_not_success(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    """A completion that says nothing of success is recorded as unknown: evidence, but no attainment."""
    client.post(
        "/api/v1/completions",
        json={"completions": [completion(outcome="completed", score_raw=None, score_min=None, score_max=None)]},
        headers=world["lms"],
    )
    (emitted,) = statements(session)  # no achieved statement
    assert emitted["verb"]["id"] == xapi.COMPLETED.id
    assert "success" not in emitted["result"] and emitted["result"]["completion"] is True
    assert xapi.validate_statement(emitted) == []
    (recorded,) = session.scalars(select(Completion)).all()
    assert recorded.success is None
    evidence = session.scalars(select(Evidence.item_id)).all()
    assert sorted(map(str, evidence)) == sorted(map(str, [CURIOSITY, KSS_7]))
    assert session.scalar(select(func.count()).select_from(Attainment)) == 0

    # A completion that says it succeeded attains the item its activity assesses.
    client.post(
        "/api/v1/completions",
        json={"completions": [completion(outcome="completed", success=True, idempotency_key="moodle-attempt-2")]},
        headers=world["lms"],
    )
    emitted, attained = statements(session)[1:]
    assert emitted["result"]["success"] is True
    assert attained["verb"]["id"] == "https://w3id.org/xapi/tla/verbs/achieved"
    assert session.scalar(select(func.count()).select_from(Attainment)) == 1


def test_unknown_activities_wait_for_a_mapping(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    later = "https://lms.example.org/mod/quiz/view.php?id=99"
    response = client.post(
        "/api/v1/completions", json={"completions": [completion(activity=later)]}, headers=world["lms"]
    )
    assert response.json["results"][0]["status"] == "pending"
    assert statements(session) == []
    admin = bearer(factories.api_key(session, Role.ADMIN)[1])
    # Pending ids come from every LMS and programme: admins see them, people on one programme do not.
    assert client.get("/api/v1/pending-records", headers=world["author"]).status_code == 403
    pending = client.get("/api/v1/pending-records", headers=admin).json
    assert pending == [{"activity": later, "records": 1}]

    # An author gives an activity that id: the kept record is applied.
    activity = world["activity"]
    url = f"/api/v1/activities/{activity.id}"
    etag = client.get(url, headers=world["author"]).headers["ETag"]
    external_ids = [{"system": "lms-activity-iri", "value": LMS_IRI}, {"system": "lms-activity-iri", "value": later}]
    patched = client.patch(url, json={"external_ids": external_ids}, headers={**world["author"], "If-Match": etag})
    assert patched.status_code == 200, patched.json
    assert session.scalar(select(func.count()).select_from(Completion)) == 1
    assert client.get("/api/v1/pending-records", headers=admin).json == []


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"learner": {"name": "No id"}}, "learner"),
        ({"outcome": "mastered"}, "outcome"),
        ({"timestamp": "2026-11-24T09:30:05"}, "timestamp"),
        ({"score_raw": 11}, "score_raw"),
        ({"score_scaled": 2}, "score_scaled"),
        ({"activity": ""}, "activity"),
    ],
)
def test_a_bad_entry_refuses_the_batch_and_names_it(
    client: FlaskClient, session: Session, world: dict[str, Any], entry: dict[str, Any], field: str
) -> None:
    body = {"completions": [completion(idempotency_key="fine"), completion(**entry)]}
    response = client.post("/api/v1/completions", json=body, headers=world["lms"])
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["completions"]["1"]
    assert session.scalar(select(func.count()).select_from(Completion)) == 0


def test_batches_are_capped(client: FlaskClient, world: dict[str, Any]) -> None:
    body = {"completions": [completion(idempotency_key=str(n)) for n in range(1001)]}
    response = client.post("/api/v1/completions", json=body, headers=world["lms"])
    assert response.status_code == 422
    assert "completions" in response.json["errors"]["json"]


@pytest.mark.parametrize(("who", "status"), [("author", 403), (None, 401)])
def test_only_integrations_send_completions(
    client: FlaskClient, world: dict[str, Any], who: str | None, status: int
) -> None:
    headers = world[who] if who else {}
    assert (
        client.post("/api/v1/completions", json={"completions": [completion()]}, headers=headers).status_code == status
    )


def test_statements_are_queued_for_every_destination(session: Session) -> None:
    statement = xapi.statement(
        xapi.agent_from_email("a@example.org"),
        xapi.COMPLETED,
        xapi.activity("https://example.org/a"),
        xapi.statement_id("queued"),
        __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC),
    )
    store_statement(session, statement, "emitted", ["primary", "backup"])
    session.flush()
    stored = session.scalars(select(StoredStatement).where(StoredStatement.id == uuid.UUID(statement["id"]))).one()
    entries = session.scalars(select(OutboxEntry).where(OutboxEntry.stored_pk == stored.pk)).all()
    assert sorted(e.destination for e in entries) == ["backup", "primary"]
    assert {e.state for e in entries} == {"pending"}
