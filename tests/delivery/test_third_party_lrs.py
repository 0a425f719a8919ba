"""Delivery to Ralph, a real third-party LRS that validates statements strictly.

Statements are read back from Ralph and compared with what capcourse sent; the
fault test kills Ralph between batches and a worker before it commits, restarts
both, and checks that every statement arrived exactly once by id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.delivery.services import Policy, claim, deliver_batch, drain, send
from capcourse.extensions import db
from capcourse.records.models import StoredStatement
from tests.delivery.test_delivery import _app_with_database, make_due, queue, states
from tests.lrs import PASSWORD, USER, RalphServer, ralph
from xapi.client import LrsClient, LrsEndpoint

pytestmark = [pytest.mark.db, pytest.mark.lrs]


@pytest.fixture
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield from _app_with_database(tmp_path_factory, "ralph_source")


@pytest.fixture
def lrs(tmp_path: Path) -> Iterator[RalphServer]:
    with ralph(tmp_path / "ralph") as server:
        yield server


def endpoint(server: RalphServer) -> LrsEndpoint:
    return LrsEndpoint(server.endpoint, USER, PASSWORD)


def drain_to(app: Flask, server: RalphServer, batch_size: int = 10) -> object:
    with app.app_context():
        return drain(lambda: Session(db.engine), {"lrs": endpoint(server)}, Policy(batch_size=batch_size))


def test_ralph_accepts_our_statements_unchanged(source: Flask, lrs: RalphServer) -> None:
    ids = queue(source, 12)
    report = drain_to(source, lrs)
    assert report.delivered == 12  # type: ignore[attr-defined]
    with source.app_context(), Session(db.engine) as session:
        sent = {str(s.id): s.statement for s in session.scalars(select(StoredStatement))}
    with LrsClient(endpoint(lrs)) as client:
        held = {statement_id: client.get_statement(statement_id) for statement_id in ids}
    for statement_id in ids:
        received = held[statement_id]
        assert received is not None
        ignored = ("stored", "authority", "version")
        assert {k: v for k, v in received.items() if k not in ignored} == sent[statement_id]


def test_lrs_and_worker_killed_mid_delivery_every_statement_arrives_once(source: Flask, lrs: RalphServer) -> None:
    ids = queue(source, 30)
    with source.app_context():
        # A worker sends one batch and dies before it settles it.
        with Session(db.engine) as session, LrsClient(endpoint(lrs)) as client:
            claimed = claim(session, "lrs", Policy(batch_size=10), datetime.now(UTC))
            session.commit()
            send(client, claimed)
        # The LRS dies after the next batch.
        with Session(db.engine) as session, LrsClient(endpoint(lrs)) as client:
            deliver_batch(session, "lrs", client, Policy(batch_size=10))
    lrs.stop()
    make_due(source)  # the dead worker's lease has ended
    report = drain_to(source, lrs)
    assert report.delivered == 0 and report.retried == 10  # type: ignore[attr-defined]

    lrs.start()
    make_due(source)
    drain_to(source, lrs)
    assert states(source) == {"delivered": 30}
    held = lrs.statement_ids()
    assert sorted(held) == sorted(ids)
