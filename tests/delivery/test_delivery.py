"""Delivery to a real xAPI endpoint over HTTP on loopback, with faults.

The receiving LRS is a second capcourse instance on its own database (its
/xapi resource validates every statement); the third-party LRS test lives in
test_third_party_lrs.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.delivery.services import Policy, claim, drain, retry_dead, send
from capcourse.extensions import db
from capcourse.records.models import DeliveryState, OutboxEntry, StoredStatement
from capcourse.records.services import store_statement
from tests.browser import live_server
from tests.conftest import TEST_DATABASE_URL, scratch_app
from xapi.client import LrsClient, LrsEndpoint, LrsError

pytestmark = pytest.mark.db


@dataclass
class Lrs:
    app: Flask
    key: str

    def endpoint(self, url: str) -> LrsEndpoint:
        return LrsEndpoint(f"{url}/xapi", "capcourse", self.key)

    def count(self, statement_id: str) -> int:
        with self.app.app_context(), Session(db.engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(StoredStatement)
                    .where(StoredStatement.id == uuid.UUID(statement_id))
                )
                or 0
            )

    def get(self, statement_id: str) -> dict[str, Any]:
        with self.app.app_context(), Session(db.engine) as session:
            stored = session.scalar(select(StoredStatement).where(StoredStatement.id == uuid.UUID(statement_id)))
            assert stored is not None
            return dict(stored.statement)


def _app_with_database(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Flask]:
    with scratch_app(tmp_path_factory.mktemp(name), name) as app:
        yield app


@pytest.fixture
def lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lrs]:
    for app in _app_with_database(tmp_path_factory, "lrs"):
        with app.app_context(), Session(db.engine) as session:
            _, key = create_api_key(session, "delivery test", Role.INTEGRATION)
            session.commit()
        yield Lrs(app, key)


@pytest.fixture
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield from _app_with_database(tmp_path_factory, "source")


def queue(app: Flask, count: int, destination: str = "lrs") -> list[str]:
    """Emit ``count`` statements into the source's outbox, committed."""
    ids = []
    with app.app_context(), Session(db.engine) as session:
        for n in range(count):
            statement = xapi.statement(
                xapi.agent_from_email(f"learner{n}@example.org"),
                xapi.COMPLETED,
                xapi.activity(f"https://capcourse.test/activities/{uuid.uuid4()}", f"Activity {n}"),
                xapi.statement_id("delivery-test", str(uuid.uuid4())),
                datetime(2026, 11, 24, 12, 0, n % 60, tzinfo=UTC),
                xapi.result(completion=True, success=True),
            )
            store_statement(session, statement, "emitted", [destination])
            ids.append(statement["id"])
        session.commit()
    return ids


def run_drain(app: Flask, endpoint: LrsEndpoint, policy: Policy | None = None) -> Any:
    with app.app_context():
        return drain(lambda: Session(db.engine), {"lrs": endpoint}, policy or Policy(batch_size=7))


def states(app: Flask) -> dict[str, int]:
    with app.app_context(), Session(db.engine) as session:
        rows = session.execute(select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state))
        return {state: count for state, count in rows}


def make_due(app: Flask) -> None:
    with app.app_context(), Session(db.engine) as session:
        session.execute(update(OutboxEntry).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()


def test_statements_arrive_unchanged(lrs: Lrs, source: Flask) -> None:
    ids = queue(source, 20)
    with live_server(lrs.app) as url:
        report = run_drain(source, lrs.endpoint(url))
    assert report.delivered == 20
    assert states(source) == {"delivered": 20}
    with source.app_context(), Session(db.engine) as session:
        sent = {str(s.id): s.statement for s in session.scalars(select(StoredStatement))}
    for statement_id in ids:
        received = lrs.get(statement_id)
        assert {k: v for k, v in received.items() if k not in ("stored", "authority", "version")} == sent[statement_id]


def test_lrs_down_then_back_every_statement_arrives_once(lrs: Lrs, source: Flask) -> None:
    ids = queue(source, 15)
    # Nothing listens on this port: the LRS is down.
    with live_server(lrs.app) as url:
        down = url
    report = run_drain(source, lrs.endpoint(down), Policy(batch_size=20))
    assert report.delivered == 0 and report.retried == 15
    with source.app_context(), Session(db.engine) as session:
        entries = session.scalars(select(OutboxEntry)).all()
        assert {e.attempts for e in entries} == {1}
        assert all(e.next_attempt_at.replace(tzinfo=UTC) > datetime.now(UTC) for e in entries)
        assert "Could not reach the LRS" in entries[0].last_error

    # Restarted: a worker also dies after sending one batch and before committing.
    with live_server(lrs.app) as url:
        make_due(source)
        endpoint = lrs.endpoint(url)
        with source.app_context(), Session(db.engine) as session, LrsClient(endpoint) as client:
            claimed = claim(session, "lrs", Policy(batch_size=5), datetime.now(UTC))
            session.commit()
            send(client, claimed)  # the crash: the LRS has these five, our outbox does not know
        assert states(source) == {"pending": 15}
        make_due(source)  # the dead worker's lease has ended
        report = run_drain(source, endpoint)
    assert report.delivered == 15
    assert [lrs.count(i) for i in ids] == [1] * 15


def test_a_conflicting_statement_is_dead_and_the_rest_arrive(lrs: Lrs, source: Flask) -> None:
    ids = queue(source, 4)
    with source.app_context(), Session(db.engine) as session:
        theirs = dict(session.scalar(select(StoredStatement).where(StoredStatement.id == uuid.UUID(ids[1]))).statement)
    theirs["result"] = {"success": False}
    with live_server(lrs.app) as url:
        endpoint = lrs.endpoint(url)
        with LrsClient(endpoint) as client:
            client.post_statements([theirs])
        report = run_drain(source, endpoint)
    assert (report.delivered, report.dead) == (3, 1)
    with source.app_context(), Session(db.engine) as session:
        dead = session.scalar(select(OutboxEntry).where(OutboxEntry.state == DeliveryState.DEAD))
        assert "409" in dead.last_error
        assert retry_dead(session) == 1
        session.commit()
    assert states(source) == {"delivered": 3, "pending": 1}


def test_refused_credentials_go_dead_after_the_last_attempt(lrs: Lrs, source: Flask) -> None:
    queue(source, 2)
    with live_server(lrs.app) as url:
        endpoint = LrsEndpoint(f"{url}/xapi", "capcourse", "cc_wrong")
        report = run_drain(source, endpoint, Policy(max_attempts=3))
    assert report.dead == 2
    assert states(source) == {"dead": 2}


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="SKIP LOCKED needs PostgreSQL")
def test_two_workers_never_claim_the_same_entries(source: Flask) -> None:
    queue(source, 10)
    policy = Policy(batch_size=6)
    with source.app_context(), Session(db.engine) as first, Session(db.engine) as second:
        now = datetime.now(UTC)
        mine = {e.id for e in claim(first, "lrs", policy, now)}
        first.flush()
        theirs = {e.id for e in claim(second, "lrs", policy, now)}
        assert len(mine) == 6 and len(theirs) == 4
        assert not mine & theirs
        first.rollback()
        second.rollback()


def test_the_in_process_worker_delivers_without_another_process(lrs: Lrs, source: Flask) -> None:
    import time

    from capcourse.delivery.worker import start_in_process

    ids = queue(source, 5)
    with live_server(lrs.app) as url:
        endpoint = lrs.endpoint(url)
        source.config["CAPCOURSE_LRS_DESTINATIONS"] = {
            "lrs": {"endpoint": endpoint.url, "username": endpoint.username, "password": endpoint.password}
        }
        stop = start_in_process(source, interval=0.05)
        try:
            deadline = time.monotonic() + 20
            while states(source) != {"delivered": 5} and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
    assert states(source) == {"delivered": 5}
    assert [lrs.count(i) for i in ids] == [1] * 5


def test_cli_run_once_and_status(lrs: Lrs, source: Flask) -> None:
    queue(source, 3)
    runner = source.test_cli_runner()
    refused = runner.invoke(args=["delivery", "run", "--once"])
    assert refused.exit_code != 0 and "No LRS is configured" in refused.output
    with live_server(lrs.app) as url:
        endpoint = lrs.endpoint(url)
        source.config["CAPCOURSE_LRS_DESTINATIONS"] = {
            "lrs": {"endpoint": endpoint.url, "username": endpoint.username, "password": endpoint.password}
        }
        ran = runner.invoke(args=["delivery", "run", "--once"])
    assert ran.exit_code == 0, ran.output
    assert "delivered 3" in ran.output
    assert "lrs: 0 pending, 3 delivered, 0 dead" in runner.invoke(args=["delivery", "status"]).output


class RecordingClient:
    """An LRS client that keeps what it is sent, and fails (retryably) while ``down``."""

    def __init__(self, endpoint: LrsEndpoint, down: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.down = down

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def post_serialized(self, statements: list[str]) -> list[str]:
        if self.down:
            raise LrsError("Could not reach the LRS: down", None, retryable=True)
        self.batches.append([json.loads(s)["id"] for s in statements])
        return self.batches[-1]


def test_batches_go_one_at_a_time_in_outbox_order(source: Flask) -> None:
    ids = queue(source, 23)
    client = RecordingClient(LrsEndpoint("http://lrs.invalid/xapi"))
    with source.app_context():
        report = drain(lambda: Session(db.engine), {"lrs": client_endpoint()}, Policy(batch_size=5), lambda _: client)
    assert report.delivered == 23
    assert [len(b) for b in client.batches] == [5, 5, 5, 5, 3]
    assert [i for batch in client.batches for i in batch] == ids
    assert states(source) == {"delivered": 23}


def test_a_batch_claimed_ahead_is_given_back_when_the_lrs_fails(source: Flask) -> None:
    queue(source, 12)
    client = RecordingClient(LrsEndpoint("http://lrs.invalid/xapi"), down=True)
    with source.app_context():
        report = drain(lambda: Session(db.engine), {"lrs": client_endpoint()}, Policy(batch_size=5), lambda _: client)
    assert (report.delivered, report.retried) == (0, 5)
    with source.app_context(), Session(db.engine) as session:
        entries = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()
    now = datetime.now(UTC)
    # The first batch waits for its backoff; the one claimed while it was sent is due at once, untried.
    assert [e.attempts for e in entries] == [1] * 5 + [0] * 7
    assert all(e.next_attempt_at.replace(tzinfo=UTC) > now for e in entries[:5])
    assert all(e.next_attempt_at.replace(tzinfo=UTC) <= now for e in entries[5:])


def client_endpoint() -> LrsEndpoint:
    return LrsEndpoint("http://lrs.invalid/xapi")
