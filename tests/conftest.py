"""Fixtures: ``app``, ``client``, ``runner``, and a database per test run.

The database is SQLite in a temporary folder, or the PostgreSQL server named
by ``CAPCOURSE_TEST_DATABASE_URL`` (CI runs the ``db`` tests again that way).
On PostgreSQL each run works in a schema of its own, dropped at the end, so
runs never see each other's rows. Every test runs inside a transaction that
is rolled back, so tests may commit freely and still leave nothing behind.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import NullPool

from capcourse import create_app
from capcourse.extensions import db
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.sync import sync_frameworks
from tests.shared import REQUIRED, SHARED, missing

TEST_DATABASE_URL = os.environ.get("CAPCOURSE_TEST_DATABASE_URL", "")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``shared(path)`` is skipped with a note when ``../shared/<path>`` is not there."""
    for marker in item.iter_markers("shared"):
        if not (SHARED / marker.args[0]).exists():
            missing(marker.args[0])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test that failed only because a file of ``../shared`` is not there is reported as skipped.

    Helpers that read a standard (a schema, an XSD, a fixture) at run time then
    need no marker of their own; with ``CAPCOURSE_REQUIRE_SHARED=1`` it stays a failure.
    """
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if report.failed and not REQUIRED and error is not None and not SHARED.exists():
        # A missing file names itself; a helper that looked for a schema or a folder says where.
        filename = str(getattr(error, "filename", "") or "")
        message = filename if filename.startswith(str(SHARED)) else str(error)
        if str(SHARED) in message:
            where = message[message.index(str(SHARED)) :].split()[0].rstrip(".,:;'\"")
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, "Skipped: " + _shared_note(where))
    return report


def _shared_note(filename: str) -> str:
    from tests.shared import note

    return note(str(Path(filename).relative_to(SHARED)))


@dataclass
class ScratchDatabase:
    """Where a test database lives and how to connect to it."""

    url: str
    engine_options: dict[str, Any] = field(default_factory=dict)
    schema: str | None = None


def free_port() -> int:
    """A TCP port nothing listens on now, on loopback, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_database(tmp_path: Path, name: str) -> ScratchDatabase:
    """An empty database: a SQLite file, or a fresh schema on PostgreSQL."""
    if TEST_DATABASE_URL.startswith("postgresql"):
        schema = f"capcourse_test_{name}_{secrets.token_hex(4)}"
        _run_sql(f'CREATE SCHEMA "{schema}"')
        return ScratchDatabase(
            TEST_DATABASE_URL, {"connect_args": {"options": f"-csearch_path={schema}"}}, schema=schema
        )
    return ScratchDatabase(f"sqlite:///{tmp_path / (name + '.db')}")


def _run_sql(statement: str) -> None:
    # NullPool: the connection is really closed on exit, not kept in a pool.
    engine = sa.create_engine(TEST_DATABASE_URL, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def drop_database(database: ScratchDatabase) -> None:
    if database.schema:
        _run_sql(f'DROP SCHEMA "{database.schema}" CASCADE')


def make_app(database: ScratchDatabase, **config: Any) -> Flask:
    """An application on ``database`` with test settings."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database.url,
            "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options,
            "CAPCOURSE_BASE_URL": "http://capcourse.test",
            # Imported packages' files: never the instance folder of the checkout.
            "CAPCOURSE_PACKAGE_DIR": tempfile.mkdtemp(prefix="capcourse-test-packages-"),
            **config,
        }
    )


def migrate_and_sync(app: Flask) -> None:
    """Upgrade to head and load the shipped frameworks, committed."""
    with app.app_context():
        flask_migrate.upgrade()
        # A session of its own: inside a test, db.session is the test's.
        with Session(db.engine) as session:
            sync_frameworks(session, load_seed_data())
            session.commit()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabase]:
    database = make_database(tmp_path_factory.mktemp("db"), "main")
    yield database
    drop_database(database)


@pytest.fixture(scope="session")
def app(database: ScratchDatabase) -> Iterator[Flask]:
    """The application, on a migrated database holding the shipped frameworks."""
    app = make_app(database)
    migrate_and_sync(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _rolled_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the test in a transaction that is rolled back afterwards.

    Commits inside the test only release a savepoint. Tests that build their
    own database (migrations, live server) don't ask for ``app`` and skip this.
    """
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"), scopefunc=_app_ctx_id
        )
        original, db.session = db.session, session
        try:
            yield
        finally:
            session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def session(app_context: None) -> Session:
    """The database session of the current test (rolled back afterwards)."""
    return db.session()


@contextmanager
def scratch_app(folder: Path, name: str, prepare: Callable[[Session], None] | None = None) -> Iterator[Flask]:
    """An application on a database of its own, migrated, synced and committed (for live servers).

    :param prepare: fills the database further, in a session that is committed.
    """
    database = make_database(folder, name)
    app = make_app(database)
    migrate_and_sync(app)
    if prepare is not None:
        with app.app_context(), Session(db.engine) as session:
            prepare(session)
            session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_database(database)
