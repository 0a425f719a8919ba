"""Fixtures: ``app``, ``client``, ``runner``, and a database per test run.

The database is SQLite in a temporary folder, or the PostgreSQL server named
by ``CAPCOURSE_TEST_DATABASE_URL`` (CI runs the ``db`` tests again that way).
On PostgreSQL each run works in a schema of its own, dropped at the end, so
runs never see each other's rows. Every test runs inside a transaction that
is rolled back, so tests may commit freely and still leave nothing behind.

Under pytest-xdist (``make test`` runs ``-n``), each worker is a process with
its own temporary folders (so its own SQLite files) and, on PostgreSQL, its own
database (``test_gw0``, ``test_gw1``… beside the one named), created when first
needed. Servers a test starts listen on :func:`free_port`.
"""

from __future__ import annotations

import os
import re
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
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import NullPool

from capcourse import create_app
from capcourse.extensions import db
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.sync import sync_frameworks
from tests.shared import REQUIRED, SHARED, missing

#: The pytest-xdist worker this process is ("gw0", "gw1"…), or "" when the run is not distributed.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_database_url(url: str) -> str:
    """``url`` with the database name suffixed by the xdist worker (``test`` → ``test_gw0``).

    Each worker then has a database of its own, so nothing one does at the level
    of a database (connections, locks, catalogue queries) meets the other's.
    """
    if not (WORKER and url.startswith("postgresql")):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


#: The PostgreSQL URL the tests use (this worker's database), or "" for SQLite.
TEST_DATABASE_URL = _worker_database_url(os.environ.get("CAPCOURSE_TEST_DATABASE_URL", ""))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A test id without the random UUIDs a parameter holds (``/items/<uuid4>`` → ``/items/uuid``).

    pytest-xdist's workers collect separately and must agree on every test id; a
    ``uuid.uuid4()`` in a parameter would give each its own. The value itself is unchanged.
    """
    if isinstance(val, str) and _UUID.search(val):
        return _UUID.sub("uuid", val)
    return None


#: The slowest test files (``--durations`` of a full run), longest first: under pytest-xdist
#: they are handed out before everything else, so no worker is left with one at the end while
#: the others idle. ``True``: its tests share nothing costly (no module fixture) and each may
#: go to a different worker.
SLOW_FIRST: dict[str, bool] = {
    "tests/test_schemathesis.py": True,
    "tests/delivery/test_faults.py": True,
    "tests/test_access_matrix.py": False,
    "tests/packages/test_playing.py": False,
    "tests/test_accessibility.py": False,
    "tests/case/test_provider.py": False,
    "tests/records/test_concurrency.py": True,
    "tests/delivery/test_serve.py": True,
    "tests/accounts/test_sessions.py": True,
    "tests/delivery/test_third_party_lrs.py": True,
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's ``loadfile`` scheduling (a file's tests on one worker, so a module fixture
    such as a live server or Chromium starts once), with :data:`SLOW_FIRST` handed out first."""
    from xdist.scheduler import LoadFileScheduling

    class SlowFirst(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if SLOW_FIRST.get(path) else path

        def schedule(self) -> None:
            if self.collection is None and self.collection_is_completed and self.registered_collections:
                # The queue keeps the order keys are first added in; the base class fills in the rest.
                scopes = {
                    self._split_scope(nodeid): None for nodeid in next(iter(self.registered_collections.values()))
                }
                for path in SLOW_FIRST:
                    for scope in scopes:
                        if scope.split("::", 1)[0] == path:
                            self.workqueue[scope] = {}
            super().schedule()

    return SlowFirst(config, log)


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


_created: set[str] = set()


def _ensure_worker_database() -> None:
    """Create this worker's database on the server named by ``CAPCOURSE_TEST_DATABASE_URL``, once."""
    if not WORKER or TEST_DATABASE_URL in _created:
        return
    name = make_url(TEST_DATABASE_URL).database
    engine = sa.create_engine(
        os.environ["CAPCOURSE_TEST_DATABASE_URL"], poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:

            def exists() -> bool:
                return bool(connection.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).first())

            if not exists():
                try:
                    connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
                except sa.exc.DBAPIError:
                    if not exists():  # not another run creating it at the same moment
                        raise
    finally:
        engine.dispose()
    _created.add(TEST_DATABASE_URL)


def _run_sql(statement: str) -> None:
    _ensure_worker_database()
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
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The SQL of each psycopg pipeline :mod:`capcourse.prepared` sends (on PostgreSQL: one round trip each)."""
    from capcourse import prepared

    sent: list[list[str]] = []
    send = prepared._pipelined

    def recorded(connection: Any, statements: Any, meanwhile: Any = None) -> None:
        sent.append([statement[0] for statement in statements])
        send(connection, statements, meanwhile)

    monkeypatch.setattr(prepared, "_pipelined", recorded)
    return sent


def sent_together(pipelines: list[list[str]], *parts: str) -> bool:
    """Whether one of ``pipelines`` holds, for each of ``parts``, a statement containing it."""
    return any(all(any(part in sql for sql in sent) for part in parts) for sent in pipelines)


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
