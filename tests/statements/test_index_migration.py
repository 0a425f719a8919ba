"""Migration 0012 indexes the statements stored before the LRS's statement index existed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask

from capcourse.extensions import db
from tests.conftest import drop_database, make_app, make_database

pytestmark = pytest.mark.db


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    database = make_database(tmp_path, "lrs_index")
    app = make_app(database)
    yield app
    with app.app_context():
        db.engine.dispose()
    drop_database(database)


def index() -> set[tuple[int, str, str]]:
    """The statement index's rows, as (statement_pk, kind, value)."""
    with db.engine.connect() as connection:
        found = connection.execute(sa.text("SELECT statement_pk, kind, value FROM lrs_statement_index"))
        return {(pk, kind, value) for pk, kind, value in found}


def test_statements_already_there_are_indexed(empty_app: Flask) -> None:
    with empty_app.app_context():
        flask_migrate.upgrade(revision="0011")
        statement_id = uuid.uuid4()
        statement = {
            "id": str(statement_id),
            "actor": {"mbox": "mailto:ada@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "http://example.org/unit-1"},
            "context": {"instructor": {"mbox": "mailto:grace@example.org"}},
        }
        sqlite = db.engine.dialect.name == "sqlite"
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO statements (pk, id, statement, origin, verb_id, voided, stored_at) "
                    "VALUES (7, :id, :statement, 'received', :verb, false, :now)"
                ),
                {
                    "id": statement_id.hex if sqlite else statement_id,
                    "statement": json.dumps(statement),
                    "verb": statement["verb"]["id"],
                    "now": datetime(2026, 11, 1, tzinfo=UTC),
                },
            )
        flask_migrate.upgrade(revision="0012")
        rows = index()
        assert (7, "activity", "http://example.org/unit-1") in rows
        # Migration 0012 indexes as the code of the day does: without id rows since 0021.
        assert {kind for _, kind, _ in rows} == {"agent", "activity", "related_agent"}


def test_id_rows_go_and_come_back_with_their_text(empty_app: Flask) -> None:
    """0021 deletes the id rows; its downgrade writes them back as the earlier code spelt them."""
    with empty_app.app_context():
        flask_migrate.upgrade(revision="0020")
        sqlite = db.engine.dialect.name == "sqlite"
        ids = [uuid.UUID("0A1B2C3D-4E5F-4A6B-8C7D-8E9FA0B1C2D3"), uuid.uuid4()]
        with db.engine.begin() as connection:
            for pk, statement_id in enumerate(ids, start=1):
                connection.execute(
                    sa.text(
                        "INSERT INTO statements (pk, id, statement, origin, verb_id, voided, stored_at) "
                        "VALUES (:pk, :id, '{}', 'received', 'http://x.example/v', false, :now)"
                    ),
                    {
                        "pk": pk,
                        "id": statement_id.hex if sqlite else statement_id,
                        "now": datetime(2026, 11, 1, tzinfo=UTC),
                    },
                )
                connection.execute(
                    sa.text("INSERT INTO lrs_statement_index (statement_pk, kind, value) VALUES (:pk, 'id', :value)"),
                    {"pk": pk, "value": str(statement_id)},
                )
            connection.execute(
                sa.text("INSERT INTO lrs_statement_index (statement_pk, kind, value) VALUES (2, 'target', :value)"),
                {"value": str(ids[0])},
            )

        before = index()
        flask_migrate.upgrade(revision="0021")
        assert index() == {(2, "target", str(ids[0]))}
        flask_migrate.downgrade(revision="0020")
        assert index() == before


def test_rows_keep_through_the_surrogate_keys_removal_and_return(empty_app: Flask) -> None:
    """0023 drops the index's ``id``; its downgrade numbers the rows again, and new rows after them."""
    with empty_app.app_context():
        flask_migrate.upgrade(revision="0022")
        rows = {
            (1, "agent", "mbox:mailto:ada@example.org"),
            (1, "activity", "http://example.org/unit-1"),
            (2, "agent", "mbox:mailto:ada@example.org"),
        }
        insert = sa.text("INSERT INTO lrs_statement_index (statement_pk, kind, value) VALUES (:pk, :kind, :value)")
        with db.engine.begin() as connection:
            for pk, kind, value in sorted(rows):
                connection.execute(insert, {"pk": pk, "kind": kind, "value": value})

        flask_migrate.upgrade(revision="0023")
        assert index() == rows
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("lrs_statement_index")}
        assert columns == {"statement_pk", "kind", "value"}
        flask_migrate.downgrade(revision="0022")
        assert index() == rows
        with db.engine.begin() as connection:
            connection.execute(insert, {"pk": 3, "kind": "related_agent", "value": "mbox:mailto:grace@example.org"})
            ids = connection.execute(sa.text("SELECT id FROM lrs_statement_index ORDER BY id")).scalars().all()
        assert len(ids) == 4 and len(set(ids)) == 4 and None not in ids
        assert sa.inspect(db.engine).get_pk_constraint("lrs_statement_index")["constrained_columns"] == ["id"]
