"""The /xapi Statements resource, as an LMS's xAPI plugin uses it."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import Role
from capcourse.catalogue.models import ExternalId
from capcourse.identifiers import item_id
from capcourse.lrs.models import StatementIndex
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.models import Completion, OutboxEntry, PendingRecord, StoredStatement
from tests import factories
from tests.conftest import sent_together
from tests.shared import shared_path

pytestmark = pytest.mark.db

VERSION = {"X-Experience-API-Version": "1.0.3"}
LMS_IRI = "https://lms.example.org/xapi/activities/quiz-7"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"moodle:{key}".encode()).decode(), **VERSION}


@pytest.fixture
def lms(session: Session) -> dict[str, str]:
    return basic(factories.api_key(session, Role.INTEGRATION)[1])


@pytest.fixture
def activity(session: Session) -> Any:
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    session.add(
        ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms-activity-iri", value=LMS_IRI)
    )
    session.commit()
    return activity


def passed(statement_id: str | None = None, **changes: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    built = xapi.statement(
        xapi.agent_from_email("ada@example.org", "Ada"),
        xapi.PASSED,
        xapi.activity(LMS_IRI, "Quiz 7"),
        statement_id or str(uuid.uuid4()),
        datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        xapi.result(success=True, completion=True, scaled=0.9),
    )
    return {**built, **changes}


def test_about_needs_no_credentials(client: FlaskClient) -> None:
    response = client.get("/xapi/about")
    assert response.json["version"] == ["1.0.3"]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_post_stores_and_records_completions(
    client: FlaskClient, session: Session, lms: dict[str, str], activity: Any
) -> None:
    statement = passed()
    response = client.post("/xapi/statements", json=[statement], headers=lms)
    assert response.status_code == 200, response.json
    assert response.json == [statement["id"]]
    completion = session.scalar(select(Completion).where(Completion.idempotency_key == f"xapi:{statement['id']}"))
    assert completion is not None and completion.activity_id == activity.id and completion.score_scaled == 0.9
    fetched = client.get("/xapi/statements", query_string={"statementId": statement["id"]}, headers=lms).json
    assert fetched["stored"] and fetched["authority"]["account"]["name"].startswith("api-key:")
    assert fetched["verb"] == statement["verb"]


def test_outcomes_with_an_offset_are_recorded_in_utc_beside_outcomes_in_utc(
    client: FlaskClient, session: Session, lms: dict[str, str], activity: Any
) -> None:
    batch = [passed(timestamp="2026-11-24T10:30:05.000+01:00"), passed(timestamp="2026-11-24T09:45:00.000Z")]

    response = client.post("/xapi/statements", json=batch, headers=lms)

    assert response.status_code == 200, response.json
    recorded = session.scalars(select(Completion.occurred_at).order_by(Completion.occurred_at)).all()
    assert [t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC) for t in recorded] == [
        datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC),
        datetime(2026, 11, 24, 9, 45, tzinfo=UTC),
    ]


def test_resending_the_same_statement_is_harmless_but_other_content_is_409(
    client: FlaskClient, session: Session, lms: dict[str, str], activity: Any
) -> None:
    statement = passed()
    client.post("/xapi/statements", json=statement, headers=lms)
    again = client.post("/xapi/statements", json=statement, headers=lms)
    assert again.status_code == 200
    assert session.scalar(select(func.count()).select_from(Completion)) == 1
    changed = client.post("/xapi/statements", json={**statement, "result": {"success": False}}, headers=lms)
    assert changed.status_code == 409


def test_a_statement_whose_key_a_completion_took_first_is_not_recorded_twice(
    client: FlaskClient, session: Session, lms: dict[str, str], activity: Any
) -> None:
    # The statements path does not look its keys up (they name statements stored just now); the insert still
    # skips a key an LMS used already through the completions API.
    statement = passed()
    key = f"xapi:{statement['id']}"
    bearer = {"Authorization": "Bearer " + lms_key(lms)}
    completion = {"learner": {"email": "ada@example.org"}, "activity": LMS_IRI, "outcome": "passed",
                  "timestamp": "2026-11-24T10:00:00+00:00", "idempotency_key": key}  # fmt: skip
    assert client.post("/api/v1/completions", json={"completions": [completion]}, headers=bearer).status_code == 200

    assert client.post("/xapi/statements", json=[statement], headers=lms).status_code == 200

    assert session.scalar(select(func.count()).select_from(Completion).where(Completion.idempotency_key == key)) == 1
    assert session.scalar(select(func.count()).select_from(StoredStatement).where(
        StoredStatement.id == uuid.UUID(statement["id"]))) == 1  # fmt: skip


def test_on_postgresql_an_outcomes_activity_and_learner_are_read_with_its_first_statement(
    client: FlaskClient, session: Session, lms: dict[str, str], activity: Any, pipelines: list[list[str]]
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite a query costs no round trip")
    bearer = {"Authorization": "Bearer " + lms_key(lms)}
    completion = {"learner": {"email": "ada@example.org"}, "activity": LMS_IRI, "outcome": "passed",
                  "timestamp": "2026-11-24T10:00:00+00:00"}  # fmt: skip
    for _ in range(2):  # the second time, the learner is known
        pipelines.clear()
        assert client.post("/xapi/statements", json=[passed()], headers=lms).status_code == 200
        # The activity (with what is mapped to it) and the learner, in one round trip with the statement's insert.
        assert sent_together(pipelines, "FROM external_ids", "FROM learners", "INSERT INTO statements"), pipelines
        pipelines.clear()
        fresh = {**completion, "idempotency_key": str(uuid.uuid4())}
        answer = client.post("/api/v1/completions", json={"completions": [fresh]}, headers=bearer)
        assert answer.status_code == 200, answer.json
        # Through the completions API, with the lookup of its idempotency key among the records kept pending (its
        # completion's insert finds one recorded already).
        assert sent_together(pipelines, "FROM external_ids", "FROM learners", "pending_records.idempotency_key"), (
            pipelines
        )
        assert not any("completions.idempotency_key IN" in sql for sent in pipelines for sql in sent), pipelines
    assert session.scalar(select(func.count()).select_from(Completion)) == 4


def lms_key(headers: dict[str, str]) -> str:
    return base64.b64decode(headers["Authorization"].split()[1]).decode().partition(":")[2]


def test_put_with_statement_id(client: FlaskClient, lms: dict[str, str], activity: Any) -> None:
    statement_id = str(uuid.uuid4())
    body = passed()
    del body["id"]
    response = client.put("/xapi/statements", query_string={"statementId": statement_id}, json=body, headers=lms)
    assert response.status_code == 204
    assert client.get("/xapi/statements", query_string={"statementId": statement_id}, headers=lms).status_code == 200
    mismatch = client.put("/xapi/statements", query_string={"statementId": statement_id}, json=passed(), headers=lms)
    assert mismatch.status_code == 400


def test_unmatched_activities_are_kept(client: FlaskClient, session: Session, lms: dict[str, str]) -> None:
    statement = passed(object={"objectType": "Activity", "id": "https://lms.example.org/unmapped"})
    assert client.post("/xapi/statements", json=statement, headers=lms).status_code == 200
    assert session.scalar(select(func.count()).select_from(PendingRecord)) == 1


def test_invalid_statements_are_400_with_the_rule_and_nothing_stored(
    client: FlaskClient, session: Session, lms: dict[str, str]
) -> None:
    bad = passed(actor={"mbox": "ada@example.org"})
    response = client.post("/xapi/statements", json=[passed(), bad], headers=lms)
    assert response.status_code == 400
    assert response.json["errors"]["1"] == [
        'statement.actor.mbox: must be "mailto:" followed by an email address (xAPI 1.0.3 Data 2.4.2.3)'
    ]
    assert session.scalar(select(func.count()).select_from(StoredStatement)) == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 400), ({"X-Experience-API-Version": "0.95"}, 400), ({"X-Experience-API-Version": "1.0.3"}, 401)],
)
def test_version_header_and_credentials(client: FlaskClient, headers: dict[str, str], status: int) -> None:
    assert client.post("/xapi/statements", json=passed(), headers=headers).status_code == status


def test_wrong_credentials_and_roles(client: FlaskClient, session: Session) -> None:
    assert client.post("/xapi/statements", json=passed(), headers=basic("cc_wrong")).status_code == 401
    author_key = factories.api_key(session, Role.AUTHOR)[1]
    assert client.post("/xapi/statements", json=passed(), headers=basic(author_key)).status_code == 403


def test_malformed_json_and_oversized_batches(client: FlaskClient, lms: dict[str, str]) -> None:
    response = client.post("/xapi/statements", data="{nope", content_type="application/json", headers=lms)
    assert response.status_code == 400
    big = client.post("/xapi/statements", json=[passed() for _ in range(1001)], headers=lms)
    assert big.status_code == 413


def test_filters_and_more(client: FlaskClient, lms: dict[str, str], activity: Any) -> None:
    statements = [passed() for _ in range(5)]
    other = passed(actor=xapi.agent_from_email("ben@example.org"))
    client.post("/xapi/statements", json=[*statements, other], headers=lms)
    agent = json.dumps({"mbox": "mailto:ADA@example.org"})
    first = client.get(
        "/xapi/statements", query_string={"agent": agent, "limit": 2, "verb": xapi.PASSED.id}, headers=lms
    ).json
    received = [s for s in first["statements"]]
    assert len(received) == 2 and first["more"]
    seen = [s["id"] for s in received]
    more = first["more"]
    while more:
        page = client.get(more, headers=lms).json
        seen += [s["id"] for s in page["statements"] if s["verb"]["id"] == xapi.PASSED.id]
        more = page["more"]
    # Ada's five, none of Ben's; the completion statements capcourse emitted carry the same actor too.
    assert set(seen) >= {s["id"] for s in statements}
    assert other["id"] not in seen
    assert client.get("/xapi/statements", query_string={"limit": "many"}, headers=lms).status_code == 400


def test_voiding_hides_a_statement(client: FlaskClient, lms: dict[str, str], activity: Any) -> None:
    target = passed()
    client.post("/xapi/statements", json=target, headers=lms)
    voiding = {
        "actor": xapi.agent_from_email("admin@example.org"),
        "verb": xapi.VOIDED.as_json(),
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    assert client.post("/xapi/statements", json=voiding, headers=lms).status_code == 200
    assert client.get("/xapi/statements", query_string={"statementId": target["id"]}, headers=lms).status_code == 404
    assert (
        client.get("/xapi/statements", query_string={"voidedStatementId": target["id"]}, headers=lms).status_code == 200
    )


def test_adl_samples_are_accepted(client: FlaskClient, lms: dict[str, str]) -> None:
    samples = sorted(shared_path("fixtures", "xapi").glob("scorm-profile-*.json"))
    assert samples
    for path in samples:
        data = json.loads(path.read_text(encoding="utf-8"))
        response = client.post("/xapi/statements", json=data, headers=lms)
        assert response.status_code == 200, (path.name, response.json)


def test_nul_characters_and_deep_nesting_are_refused_naming_where(client: FlaskClient, lms: dict[str, str]) -> None:
    statement = xapi.statement(
        xapi.agent_from_email("nul@example.org", "Nul\u0000Name"),
        xapi.COMPLETED,
        xapi.activity("https://lms.example.org/nul"),
        str(uuid.uuid4()),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    response = client.post("/xapi/statements", json=statement, headers=lms)
    assert response.status_code == 400
    assert "$.actor.name" in response.json["errors"]
    deep = "[" * 5000 + "]" * 5000
    response = client.post("/xapi/statements", data=deep, headers={**lms, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nested" in response.json["message"]
    assert client.get("/xapi/statements", query_string={"statementId": statement["id"]}, headers=lms).status_code == 404


def test_on_postgresql_a_mapped_statement_costs_six_round_trips_then_three(
    app: Flask,
    client: FlaskClient,
    session: Session,
    lms: dict[str, str],
    activity: Any,
    pipelines: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new learner's first success, then the steady state.

    Its emitted statements go with their outbox and index rows in one statement, sent with the commit.
    """
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite a query costs no round trip")
    from capcourse import prepared

    alone = prepared._told_and_wrapped

    def told(connection: Any, cursor: Any, sql: str, *rest: Any) -> None:
        pipelines.append([sql])  # a statement sent on its own: a round trip too
        alone(connection, cursor, sql, *rest)

    monkeypatch.setattr(prepared, "_told_and_wrapped", told)
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, activity, [item_id("frontline-lcf-pathway-1", "MC.2.a")], Depth.ASSESSED)
    session.commit()
    monkeypatch.setitem(app.config, "CAPCOURSE_LRS_DESTINATIONS", {"strict": {"endpoint": "http://127.0.0.1:9/x"}})
    costs = []
    # Another learner's first (its API key is read once, then cached); Ada's first; Ada's second, when she is
    # known and the item attained: the steady state.
    for actor in ("bob@example.org", "ada@example.org", "ada@example.org"):
        pipelines.clear()
        body = [passed(actor=xapi.agent_from_email(actor))]
        assert client.post("/xapi/statements", json=body, headers=lms).status_code == 200
        costs.append("\n\n".join(" | ".join(sql[:70] for sql in sent) for sent in pipelines))
    costs.pop(0)
    # The first time, the learner's insert, whether the attainment's statement id was withdrawn and the
    # attainment's insert as well: 8 before (what attaining takes and the learner's first successes were
    # each asked on their own, after the completion's insert).
    assert costs[0].count("\n\n") + 1 == 6, costs[0]
    assert "INSERT INTO learners" in costs[0] and "INSERT INTO attainments" in costs[0]
    # The statement's insert, the completion's, then (with the commit) everything emitted: 4 before.
    assert len(pipelines) == 3, costs[1]
    assert any("WITH new AS (INSERT INTO statements" in sql for sql in pipelines[-1]), pipelines
    emitted = session.scalars(select(StoredStatement.pk).where(StoredStatement.origin == "emitted")).all()
    # A completion statement each time and each learner's attainment once, every one queued and indexed.
    assert len(emitted) == 5
    queued = session.scalars(select(OutboxEntry.stored_pk).where(OutboxEntry.destination == "strict")).all()
    assert sorted(queued) == sorted(emitted)
    indexed = session.scalars(select(StatementIndex.statement_pk).where(StatementIndex.statement_pk.in_(emitted)))
    assert set(indexed) == set(emitted)
