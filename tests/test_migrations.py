"""Migrations: one head, upgrade from empty, no drift between models and migrations."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
import pytest
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
