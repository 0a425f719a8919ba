"""Voiding a received statement, or retracting a completion, takes back everything it caused."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import Role
from capcourse.catalogue.models import ExternalId
from capcourse.coverage.attainment import learner_attainment
from capcourse.coverage.evidence import EvidenceFilter, cohort
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records import evidence
from capcourse.records.models import Attainment, Completion, Evidence, Learner, OutboxEntry, StoredStatement
from capcourse.records.verbs import MOODLE_UNCOMPLETED, verb_table
from tests import factories

pytestmark = pytest.mark.db

VERSION = {"X-Experience-API-Version": "1.0.3"}
LMS_IRI = "https://lms.example.org/xapi/activities/quiz-9"
FRONTLINE = framework_id("frontline-lcf-pathway-1")
MC_2_A = item_id("frontline-lcf-pathway-1", "MC.2.a")
MC_2_B = item_id("frontline-lcf-pathway-1", "MC.2.b")
ADA = xapi.agent_from_email("ada@example.org", "Ada")


@pytest.fixture
def world(app: Flask, session: Session) -> Iterator[dict[str, Any]]:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    activity = factories.activity(session, module, "Quiz 9")
    session.add(
        ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms-activity-iri", value=LMS_IRI)
    )
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, activity, [MC_2_A], Depth.ASSESSED)
    map_items(session, admin, module, [MC_2_B], Depth.DEVELOPED)
    key = factories.api_key(session, Role.INTEGRATION)[1]
    session.commit()
    old = app.config.get("CAPCOURSE_LRS_DESTINATIONS")
    app.config["CAPCOURSE_LRS_DESTINATIONS"] = {"strict": {"endpoint": "http://127.0.0.1:9/xapi"}}
    try:
        yield {
            "programme": programme,
            "activity": activity,
            "headers": {"Authorization": "Basic " + base64.b64encode(f"lms:{key}".encode()).decode(), **VERSION},
        }
    finally:
        app.config["CAPCOURSE_LRS_DESTINATIONS"] = old


def statement(verb: xapi.Verb | str, day: int = 24, obj: dict[str, Any] | None = None, **result: Any) -> dict[str, Any]:
    built = xapi.statement(
        ADA,
        verb if isinstance(verb, xapi.Verb) else xapi.Verb(verb, "uncompleted"),
        obj or xapi.activity(LMS_IRI, "Quiz 9"),
        str(uuid.uuid4()),
        datetime(2026, 11, day, 10, 0, tzinfo=UTC),
        xapi.result(**result) if result else None,
    )
    return built


def voiding(target: str) -> dict[str, Any]:
    return statement(xapi.VOIDED, 25, {"objectType": "StatementRef", "id": target})


def send(client: FlaskClient, world: dict[str, Any], *statements: dict[str, Any]) -> None:
    response = client.post("/xapi/statements", json=list(statements), headers=world["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)


def outbox(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(StoredStatement.statement)
        .join(OutboxEntry, OutboxEntry.stored_pk == StoredStatement.pk)
        .where(OutboxEntry.destination == "strict")
        .order_by(OutboxEntry.id)
    )
    return list(rows)


def views(session: Session, world: dict[str, Any]) -> tuple[dict[uuid.UUID, int], set[uuid.UUID], set[uuid.UUID]]:
    """Cohort evidence per item, the items Ada's coverage shows achieved, and the attainments stored."""
    report = coverage(session, world["programme"], session.get(Framework, FRONTLINE))
    heat = cohort(session, report, EvidenceFilter())
    by_course = cohort(session, report, EvidenceFilter(since=datetime(2026, 1, 1, tzinfo=UTC)))
    assert by_course.item_learners == heat.item_learners
    learner = session.scalar(select(Learner).where(Learner.name == "Ada"))
    achieved = set()
    if learner is not None:
        achieved = {a.item.id for a in learner_attainment(session, report, learner).achieved}
    attained = set(session.scalars(select(Attainment.item_id).where(Attainment.programme_id == world["programme"].id)))
    return heat.item_learners, achieved, attained


def assert_evidence_is_a_rebuild(session: Session, programme_id: uuid.UUID) -> None:
    def rows() -> set[tuple[Any, ...]]:
        found = session.scalars(select(Evidence).where(Evidence.programme_id == programme_id)).all()
        return {(r.item_id, r.learner_id, r.completions) for r in found}

    kept = rows()
    evidence.rebuild(session, programme_id)
    assert rows() == kept


def test_voiding_a_statement_takes_back_its_completion_evidence_and_attainment(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    passed = statement(xapi.PASSED, success=True, completion=True)
    send(client, world, passed)
    items, achieved, attained = views(session, world)
    assert items.get(MC_2_A) == 1 and items.get(MC_2_B) == 1
    assert achieved == attained == {MC_2_A}
    emitted = outbox(session)
    assert [s["verb"]["id"] for s in emitted] == [xapi.PASSED.id, xapi.ACHIEVED.id]

    send(client, world, voiding(passed["id"]))
    session.expire_all()
    completion = session.scalar(select(Completion).where(Completion.idempotency_key == f"xapi:{passed['id']}"))
    assert completion is not None and completion.voided_at is not None  # kept, marked
    items, achieved, attained = views(session, world)
    assert items.get(MC_2_A, 0) == 0 and items.get(MC_2_B, 0) == 0
    assert achieved == attained == set()
    assert_evidence_is_a_rebuild(session, world["programme"].id)

    voids = outbox(session)[len(emitted) :]
    assert {s["object"]["id"] for s in voids} == {s["id"] for s in emitted}
    for sent in voids:
        assert sent["verb"]["id"] == xapi.VOIDED.id
        assert sent["object"]["objectType"] == "StatementRef"
        assert sent["actor"] == emitted[0]["actor"]
        assert xapi.validate_statement(sent) == []
    # capcourse's own store no longer serves the voided statements.
    for sent in emitted:
        assert client.get(f"/xapi/statements?statementId={sent['id']}", headers=world["headers"]).status_code == 404
        again = client.get(f"/xapi/statements?voidedStatementId={sent['id']}", headers=world["headers"])
        assert again.status_code == 200

    # Passing again attains the item again, under a statement id never used before.
    send(client, world, statement(xapi.PASSED, 26, success=True, completion=True))
    items, achieved, attained = views(session, world)
    assert items.get(MC_2_A) == 1 and achieved == {MC_2_A}
    achieved_ids = [s["id"] for s in outbox(session) if s["verb"]["id"] == xapi.ACHIEVED.id]
    assert len(achieved_ids) == len(set(achieved_ids)) == 2


def test_moodle_uncompleted_retracts_the_earlier_completion(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    send(client, world, statement(xapi.COMPLETED, 20, completion=True))
    assert views(session, world)[0].get(MC_2_B) == 1
    send(client, world, statement(MOODLE_UNCOMPLETED, 21))
    session.expire_all()
    assert session.scalars(select(Completion.voided_at)).all()[0] is not None
    assert views(session, world)[0].get(MC_2_B, 0) == 0
    sent = outbox(session)
    # Completed with no verdict: evidence, but no attainment (unknown success is not success); voiding takes it back.
    assert [s["verb"]["id"] for s in sent] == [xapi.COMPLETED.id, xapi.VOIDED.id]
    assert sent[1]["object"]["id"] == sent[0]["id"]
    assert_evidence_is_a_rebuild(session, world["programme"].id)
    # A later completion counts again.
    send(client, world, statement(xapi.COMPLETED, 22, completion=True))
    assert views(session, world)[0].get(MC_2_B) == 1


def test_an_lms_voiding_capcourses_own_statement_is_forwarded(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    send(client, world, statement(xapi.PASSED, success=True, completion=True))
    completion_statement = outbox(session)[0]
    send(client, world, voiding(completion_statement["id"]))
    voids = [s for s in outbox(session) if s["verb"]["id"] == xapi.VOIDED.id]
    # The LMS's voiding statement goes on as it is; capcourse adds one for the withdrawn attainment only.
    assert sorted(s["object"]["id"] for s in voids) == sorted(s["id"] for s in outbox(session)[:2])
    assert views(session, world)[2] == set()


def test_cmi5_satisfied_counts_and_the_verb_table_is_a_setting(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    send(client, world, statement("https://w3id.org/xapi/adl/verbs/satisfied"))
    assert views(session, world)[0].get(MC_2_B) == 1
    assert verb_table({"retract": ["https://example.org/verbs/reset"]}).role(MOODLE_UNCOMPLETED) is None
    with pytest.raises(ValueError, match="two roles"):
        verb_table({"failed": [xapi.COMPLETED.id]})
    with pytest.raises(ValueError, match="unknown role"):
        verb_table({"attempted": []})


@pytest.mark.lrs
def test_learning_locker_accepts_the_voiding_statements(
    client: FlaskClient, session: Session, world: dict[str, Any], tmp_path: Any
) -> None:
    """What the outbox holds after a voiding, sent in order to a strict third-party LRS, is taken as voiding."""
    import httpx

    from tests.learning_locker import HEADERS, PASSWORD, USER, learning_locker

    passed = statement(xapi.PASSED, success=True, completion=True)
    send(client, world, passed)
    send(client, world, voiding(passed["id"]))
    queued = outbox(session)
    assert [s["verb"]["id"] for s in queued] == [xapi.PASSED.id, xapi.ACHIEVED.id, xapi.VOIDED.id, xapi.VOIDED.id]
    with learning_locker(tmp_path / "learning-locker") as lrs:
        url = f"{lrs.endpoint}/statements"
        with httpx.Client(auth=(USER, PASSWORD), headers=HEADERS, timeout=30) as lrs_client:
            for sent in queued:
                response = lrs_client.post(url, json=[sent])
                assert response.status_code == 200, response.text
            for voided in queued[:2]:
                assert lrs_client.get(url, params={"statementId": voided["id"]}).status_code == 404
                back = lrs_client.get(url, params={"voidedStatementId": voided["id"]})
                assert back.status_code == 200 and back.json()["id"] == voided["id"]


def test_voiding_a_kept_record_drops_it_and_a_bad_verb_table_stops_the_start(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    from capcourse import create_app
    from capcourse.records.models import PendingRecord

    unmapped = statement(xapi.PASSED, obj=xapi.activity("https://lms.example.org/xapi/activities/unknown", "New"))
    send(client, world, unmapped)
    assert session.scalar(select(PendingRecord).where(PendingRecord.idempotency_key == f"xapi:{unmapped['id']}"))
    send(client, world, voiding(unmapped["id"]))
    session.expire_all()
    assert (
        session.scalar(select(PendingRecord).where(PendingRecord.idempotency_key == f"xapi:{unmapped['id']}")) is None
    )
    with pytest.raises(ValueError, match="unknown role"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "CAPCOURSE_XAPI_VERBS": {"x": []}})


def test_learning_locker_takes_every_emitted_statement_and_serves_it_back_unchanged(
    client: FlaskClient, session: Session, world: dict[str, Any], tmp_path: Any
) -> None:
    """completed, failed, passed, achieved and voided, as capcourse emits them, through a strict third-party LRS."""
    import httpx

    from tests.learning_locker import HEADERS, PASSWORD, USER, learning_locker

    send(client, world, statement(xapi.COMPLETED, day=20, completion=True))
    send(client, world, statement(xapi.FAILED, day=21, success=False, completion=True))
    passed = statement(xapi.PASSED, day=22, success=True, completion=True)
    send(client, world, passed)
    send(client, world, voiding(passed["id"]))
    queued = outbox(session)
    verbs = [s["verb"]["id"] for s in queued]
    assert {xapi.COMPLETED.id, xapi.FAILED.id, xapi.PASSED.id, xapi.ACHIEVED.id, xapi.VOIDED.id} <= set(verbs)
    voided = {s["object"]["id"] for s in queued if s["verb"]["id"] == xapi.VOIDED.id}
    set_by_the_lrs = ("stored", "authority", "version")
    with learning_locker(tmp_path / "learning-locker") as lrs:
        url = f"{lrs.endpoint}/statements"
        with httpx.Client(auth=(USER, PASSWORD), headers=HEADERS, timeout=30) as lrs_client:
            for sent in queued:
                response = lrs_client.post(url, json=[sent])
                assert response.status_code == 200, (sent["verb"]["id"], response.text)
            for sent in queued:
                key = "voidedStatementId" if sent["id"] in voided else "statementId"
                back = lrs_client.get(url, params={key: sent["id"]})
                assert back.status_code == 200, (sent["verb"]["id"], back.text)
                theirs = {k: v for k, v in back.json().items() if k not in set_by_the_lrs}
                assert theirs == {k: v for k, v in sent.items() if k not in set_by_the_lrs}, sent["verb"]["id"]
