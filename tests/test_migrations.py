"""Migrations: one head, upgrade from empty, no drift between models and migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from capcourse.extensions import db
from tests.conftest import drop_database, make_app, make_database

pytestmark = pytest.mark.db


@pytest.fixture
def empty_app(tmp_path: Path) -> Flask:
    database = make_database(tmp_path, "migrations")
    app = make_app(database)
    yield app
    with app.app_context():
        db.engine.dispose()
    drop_database(database)


def test_one_head(empty_app: Flask) -> None:
    with empty_app.app_context():
        config = empty_app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_from_empty_then_no_drift(empty_app: Flask) -> None:
    with empty_app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []


def test_downgrade_to_empty_and_back(empty_app: Flask) -> None:
    with empty_app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        with db.engine.connect() as connection:
            tables = set(db.inspect(connection).get_table_names()) - {"alembic_version"}
        assert tables == set()
        flask_migrate.upgrade()


def test_evidence_is_filled_from_the_records_already_there(empty_app: Flask) -> None:
    """0004 derives the evidence aggregate from existing completions and mappings, as the services would."""
    with empty_app.app_context():
        flask_migrate.upgrade(revision="0003")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        now = datetime(2026, 10, 1, tzinfo=UTC)
        ids = {name: uuid.uuid4() for name in ("framework", "item", "programme", "course", "module", "activity")}
        common = {"status": "published", "created_at": now, "updated_at": now, "version": 1}
        rows: list[tuple[str, dict[str, Any]]] = [
            ("frameworks", {"id": ids["framework"], "key": "f", "family": "f", "title": "F", "creator": "c", "last_change": now}),
            ("framework_items", {"id": ids["item"], "framework_id": ids["framework"], "key": "i", "item_type": "t",
                                 "position": 0, "full_statement": "S", "last_change": now}),
            ("programmes", {"id": ids["programme"], "title": "P", **common}),
            ("courses", {"id": ids["course"], "programme_id": ids["programme"], "title": "C", "position": 0, **common}),
            ("modules", {"id": ids["module"], "course_id": ids["course"], "title": "M", "position": 0, **common}),
            ("activities", {"id": ids["activity"], "module_id": ids["module"], "title": "A", "position": 0, **common}),
            ("learners", {"id": 1, "agent_key": "mbox:a", "agent": {"mbox": "mailto:a@example.org"}, "created_at": now}),
        ]  # fmt: skip
        mapped = {"programme_id": ids["programme"], "item_id": ids["item"], "depth": "assessed", "provenance": "authored",
                  "created_by": "t", "created_at": now, "updated_by": "t", "updated_at": now, "version": 1}  # fmt: skip
        # The item is mapped to the activity and to its module: each completion still counts once.
        rows += [("mappings", {"id": uuid.uuid4(), "activity_id": ids["activity"], **mapped}),
                 ("mappings", {"id": uuid.uuid4(), "module_id": ids["module"], **mapped})]  # fmt: skip
        for day, success in ((1, True), (5, True), (9, False)):
            rows.append(("completions", {"id": uuid.uuid4(), "programme_id": ids["programme"], "learner_id": 1,
                                         "activity_id": ids["activity"], "outcome": "passed" if success else "failed",
                                         "success": success, "occurred_at": now.replace(day=day), "recorded_at": now,
                                         "source": "api", "idempotency_key": f"k{day}", "statement_id": uuid.uuid4()}))  # fmt: skip
        # Reflected, SQLite's UUID columns are plain CHAR(32): give them what SQLAlchemy would have written.
        plain = (lambda v: v.hex if isinstance(v, uuid.UUID) else v) if db.engine.dialect.name == "sqlite" else None
        with db.engine.begin() as connection:
            for table, values in rows:
                converted = {k: plain(v) for k, v in values.items()} if plain else values
                connection.execute(tables.tables[table].insert().values(**converted))
        flask_migrate.upgrade(revision="0004")
        with db.engine.connect() as connection:
            found = connection.execute(sa.text("SELECT completions, first_at, last_at FROM evidence")).all()
        assert len(found) == 1
        count, first_at, last_at = found[0]
        assert count == 2
        assert str(first_at).startswith("2026-10-01") and str(last_at).startswith("2026-10-05")


def test_each_programme_keeps_the_names_its_cohorts_showed(empty_app: Flask) -> None:
    """0016 gives every programme the names its cohorts showed (the shared one), and none to others."""
    with empty_app.app_context():
        flask_migrate.upgrade(revision="0015")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        now = datetime(2026, 10, 1, tzinfo=UTC)
        ours, theirs, bystander = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        mine, their_cohort = uuid.uuid4(), uuid.uuid4()
        common = {"status": "published", "created_at": now, "updated_at": now, "version": 1}
        rows: list[tuple[str, dict[str, Any]]] = [
            *[("programmes", {"id": p, "title": t, **common}) for p, t in ((ours, "O"), (theirs, "T"), (bystander, "B"))],
            ("learners", {"id": 1, "agent_key": "a", "agent": {"mbox": "mailto:a@example.org"}, "name": "Ada", "created_at": now}),
            ("learners", {"id": 2, "agent_key": "b", "agent": {"mbox": "mailto:b@example.org"}, "created_at": now}),
            ("cohorts", {"id": mine, "programme_id": ours, "name": "C", "created_by": "t", "created_at": now}),
            ("cohorts", {"id": their_cohort, "programme_id": theirs, "name": "C", "created_by": "t", "created_at": now}),
            *[("cohort_members", {"cohort_id": c, "learner_id": lr, "added_by": "t", "added_at": now})
              for c, lr in ((mine, 1), (mine, 2), (their_cohort, 1))],
        ]  # fmt: skip
        plain = (lambda v: v.hex if isinstance(v, uuid.UUID) else v) if db.engine.dialect.name == "sqlite" else None
        with db.engine.begin() as connection:
            for table, values in rows:
                converted = {k: plain(v) for k, v in values.items()} if plain else values
                connection.execute(tables.tables[table].insert().values(**converted))
        flask_migrate.upgrade(revision="0016")
        with db.engine.connect() as connection:
            found = connection.execute(sa.text("SELECT programme_id, learner_id, name FROM programme_learners")).all()
        as_uuid = {str(p).replace("-", ""): p for p in (ours, theirs, bystander)}
        assert sorted((as_uuid[str(p).replace("-", "")] == ours, lr, name) for p, lr, name in found) == [
            (False, 1, "Ada"),
            (True, 1, "Ada"),
        ]
