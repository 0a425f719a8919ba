"""Statements kept in capcourse's store, with their outbox and index rows, whichever way they are written."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from capcourse import prepared
from capcourse.extensions import db
from capcourse.lrs.models import StatementIndex
from capcourse.lrs.retrieval import index_entries
from capcourse.records.models import DeliveryState, OutboxEntry, StoredStatement
from capcourse.records.services import emitting, store_emitted, store_statements
from tests import factories

pytestmark = pytest.mark.db

DESTINATIONS = ["primary", "backup"]


def by_emitted(session: Session, statements: list[dict[str, Any]]) -> None:
    store_emitted(session, emitting(statements, DESTINATIONS))


def by_emitted_in_two(session: Session, statements: list[dict[str, Any]]) -> None:
    """Made in two parts and stored as one, as a batch's completion and attainment statements are."""
    store_emitted(session, emitting(statements[:1], DESTINATIONS) + emitting(statements[1:], DESTINATIONS))


def by_stored(session: Session, statements: list[dict[str, Any]]) -> None:
    store_statements(session, statements, "emitted", DESTINATIONS)


def rows_of(session: Session, statements: list[dict[str, Any]]) -> dict[str, Any]:
    """What the store holds for ``statements``: each one, its outbox rows and its index rows."""
    found: dict[str, Any] = {}
    for statement in statements:
        stored = session.scalars(select(StoredStatement).where(StoredStatement.id == uuid.UUID(statement["id"]))).one()
        outbox = session.execute(
            select(OutboxEntry.destination, OutboxEntry.state, OutboxEntry.attempts).where(
                OutboxEntry.stored_pk == stored.pk
            )
        ).all()
        index = session.execute(
            select(StatementIndex.kind, StatementIndex.value).where(StatementIndex.statement_pk == stored.pk)
        ).all()
        found[statement["id"]] = (stored.statement, stored.origin, sorted(outbox), sorted(index))
    return found


@pytest.mark.parametrize(
    "store", [by_emitted, by_emitted_in_two, by_stored], ids=["store_emitted", "in_two", "store_statements"]
)
@pytest.mark.parametrize("count", [3, prepared.MAX_VALUES_ROWS // len(DESTINATIONS) + 1], ids=["few", "many"])
def test_statements_are_kept_queued_for_every_destination_and_indexed(
    session: Session, store: Callable[[Session, list[dict[str, Any]]], None], count: int
) -> None:
    # Many: more outbox rows than one deferred statement takes (prepared.MAX_VALUES_ROWS), so on
    # PostgreSQL the statements' keys come back first and their rows follow by COPY.
    statements = factories.statements(count)
    store(session, statements)
    session.flush()

    found = rows_of(session, statements)
    for statement in statements:
        kept, origin, outbox, index = found[statement["id"]]
        assert kept == statement
        assert origin == "emitted"
        assert outbox == [("backup", DeliveryState.PENDING, 0), ("primary", DeliveryState.PENDING, 0)]
        assert index == sorted(index_entries(statement))


@pytest.mark.parametrize(
    "store", [by_emitted, by_emitted_in_two, by_stored], ids=["store_emitted", "in_two", "store_statements"]
)
def test_a_statement_stored_already_gets_no_more_outbox_or_index_rows(
    session: Session, store: Callable[[Session, list[dict[str, Any]]], None]
) -> None:
    first = factories.statements(2)
    store(session, first)
    session.flush()
    before = rows_of(session, first)

    # The same ids again (a resend; capcourse never makes one), beside a new one: only the new one is added.
    again = [*first, *factories.statements(1)]
    store(session, again)
    session.flush()

    assert rows_of(session, first) == before
    assert len(rows_of(session, again[2:])[again[2]["id"]][2]) == len(DESTINATIONS)
    assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 3 * len(DESTINATIONS)


def test_on_postgresql_emitted_statements_wait_for_the_next_statement(session: Session) -> None:
    """With their outbox and index rows, in one statement sent with whatever runs next (the commit)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite a statement costs no round trip")
    session.execute(select(1))  # the transaction's BEGIN goes now
    heard: list[str] = []

    def listen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        statements = factories.statements(2)
        store_emitted(session, emitting(statements, DESTINATIONS))
        assert heard == []
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 2 * len(DESTINATIONS)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(heard) == 2
    assert heard[0].startswith("WITH new AS (INSERT INTO statements")
    assert 'INSERT INTO "outbox"' in heard[0] and 'INSERT INTO "lrs_statement_index"' in heard[0]
