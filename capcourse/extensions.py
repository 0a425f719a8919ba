"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from flask import Flask, Request, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from capcourse.paths import MIGRATIONS_DIR

logger = logging.getLogger(__name__)

# Named constraints, so that migrations are identical on SQLite and PostgreSQL
# and a later migration can drop a constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(directory=str(MIGRATIONS_DIR), compare_type=True, render_as_batch=True)
#: The REST API and its OpenAPI document: one per application (see :func:`api_of`), since
#: a flask-smorest ``Api`` keeps the document of the last app it was bound to.
API_KEY = "capcourse.api"
login_manager = LoginManager()
login_manager.login_view = "account_pages.login"
login_manager.login_message = "Sign in to see this page."
login_manager.login_message_category = "info"
# Every form post carries a CSRF token; the API authenticates by bearer key
# (never by cookie), so its blueprints are exempted in the app factory.
csrf = CSRFProtect()


#: Whether the transactions begun now will write. On SQLite a writing
#: transaction takes the write lock when it begins (``BEGIN IMMEDIATE``): one
#: that read first and wrote later could find another writer's commit after its
#: snapshot and fail at once with "database is locked", whatever the busy timeout.
#: Requests set it from their method (GET, HEAD and OPTIONS only read); commands
#: and workers keep the default.
_writes: ContextVar[bool] = ContextVar("capcourse_writes", default=True)
#: How long a SQLite connection waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: WAL pages (4 KiB each) after which a commit checkpoints the WAL into the database itself (80 MiB): a
#: backstop, as the background checkpointer (:class:`_Checkpointer`) copies it long before.
SQLITE_CHECKPOINT_PAGES = 20_000
#: How long the background checkpointer lets write commits gather before it checkpoints them.
SQLITE_CHECKPOINT_DELAY_SECONDS = 0.05
#: How long a background checkpointer waits for a write commit before it closes its connection and ends.
SQLITE_CHECKPOINT_IDLE_SECONDS = 10.0
#: A WAL holding more than this gets a ``FULL`` checkpoint (writers wait for it), so that SQLite can start it
#: over; also the size a WAL file is cut back to when it does (``journal_size_limit``). At 16 MiB batches of
#: 100 statements met a full checkpoint every ~16 batches and waited for it: 9–14% of their mean time
#: (in-process, alternated with 64 MiB; 128 MiB was no better).
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: How long that checkpoint tries for its turn (between writers, after readers of older snapshots) before it
#: leaves it to the next one.
SQLITE_WAL_FULL_WAIT_SECONDS = 1.0


def will_write(writes: bool) -> None:
    """Say whether the transactions begun from now on (in this context) will write."""
    _writes.set(writes)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite as an embedded server: WAL, a busy timeout, foreign keys, transactions SQLAlchemy owns.

    WAL lets readers go on while one writer writes; the busy timeout makes a
    writer wait for the lock instead of failing. pysqlite's own transaction
    handling defers BEGIN and breaks SAVEPOINT, so it is switched off and BEGIN
    is emitted by :func:`_begin_sqlite` instead.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # In-memory databases have no WAL; they answer "memory" and stay as they are.
        (mode,) = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
        # In WAL mode NORMAL loses no committed transaction when the process dies,
        # only (at worst) the last ones on a power cut, and spares an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache (SQLite's default is 2 MiB), used only as pages are read: a CASE package of
        # 20,000 items updates indexes all over the file, and with the default cache the pages went out and
        # back in again (a third of the import's writing).
        cursor.execute("PRAGMA cache_size=-65536")
        # A checkpoint (the WAL copied into the database, with an fsync each side) runs in the commit that
        # finds the WAL past this many pages; the background checkpointer copies it first (see _Checkpointer).
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        # A WAL file keeps the size it grew to, even once SQLite starts writing it from the top again.
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        if mode == "wal":
            files = {name: file for _, name, file in cursor.execute("PRAGMA database_list")}
            if files.get("main"):
                connection_record.info[_WAL_FILE] = files["main"]
        cursor.close()


#: Key of a SQLite connection's record info: the path of its database when it is in WAL mode.
_WAL_FILE = "capcourse_wal_file"


@event.listens_for(Engine, "commit")
def _checkpoint_soon(connection: Any) -> None:
    path = connection.connection.info.get(_WAL_FILE) if connection.dialect.name == "sqlite" else None
    if path and _writes.get():
        _Checkpointer.nudge(path)


class _Checkpointer:
    """Copies a SQLite database's WAL into the database in a thread of its own, off every request's clock.

    SQLite checkpoints in the commit that finds the WAL past ``wal_autocheckpoint``
    pages: that commit copies and fsyncs every page written since the last one
    (20–40 ms during an ingest of batches, a sixth of a batch's time). Here one
    daemon thread per process and database runs a ``PASSIVE`` checkpoint (it never
    waits for readers or writers, nor blocks them) shortly after write commits,
    on a connection of its own; sqlite3 lets go of the GIL while it copies, so
    requests go on meanwhile. The commits' own checkpoint stays, as a backstop,
    at :data:`SQLITE_CHECKPOINT_PAGES`. The thread ends after
    :data:`SQLITE_CHECKPOINT_IDLE_SECONDS` without a commit, closing its connection.

    SQLite writes the WAL from the top again only when a writer finds all of it
    copied; while writers take turns without a pause a passive checkpoint never
    catches up, and the file grew by about 25 MB per 1,000 statements (0.52 GB
    after 20,000 from four clients). So once the WAL holds more than
    :data:`SQLITE_WAL_LIMIT_BYTES` the checkpoint is a ``FULL`` one: it takes
    its turn between writers (looking every half millisecond, as they do), waits
    for readers of older snapshots, copies the rest; the next writer then starts
    the WAL over and cuts the file back to the limit (``journal_size_limit``).
    """

    _lock = threading.Lock()
    _running: dict[tuple[int, str], _Checkpointer] = {}

    def __init__(self, path: str, key: tuple[int, str]) -> None:
        self.path = path
        self.key = key
        self.wanted = threading.Event()
        self.thread = threading.Thread(target=self._run, name="capcourse-sqlite-checkpoint", daemon=True)

    @classmethod
    def nudge(cls, path: str) -> None:
        """Have ``path``'s WAL checkpointed soon, by this process's checkpointer (started if none runs)."""
        # By process: a forked web worker has no thread of its parent's.
        key = (os.getpid(), path)
        checkpointer = cls._running.get(key)
        if checkpointer is None:
            with cls._lock:
                checkpointer = cls._running.get(key)
                if checkpointer is None:
                    checkpointer = cls._running[key] = cls(path, key)
                    checkpointer.thread.start()
        checkpointer.wanted.set()

    def _run(self) -> None:
        try:
            # mode=rw: a database deleted meanwhile (a test's, a moved install) is not made again, empty.
            uri = f"{Path(self.path).as_uri()}?mode=rw"
            with closing(sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)) as connection:
                # Busy is an answer, not a wait: see _checkpoint.
                connection.execute("PRAGMA busy_timeout=0")
                (page_size,) = connection.execute("PRAGMA page_size").fetchone()
                while self.wanted.wait(SQLITE_CHECKPOINT_IDLE_SECONDS):
                    time.sleep(SQLITE_CHECKPOINT_DELAY_SECONDS)
                    self.wanted.clear()
                    _checkpoint(connection, page_size)
        except sqlite3.Error as error:
            # The commits' own checkpoint goes on regardless; the next write commit starts a checkpointer again.
            logger.info("Background checkpoint of %s stopped: %s", self.path, error)
        finally:
            with self._lock:
                if self._running.get(self.key) is self:
                    del self._running[self.key]


def _checkpoint(connection: sqlite3.Connection, page_size: int) -> None:
    """A passive checkpoint, and a full one if the WAL holds more than :data:`SQLITE_WAL_LIMIT_BYTES`.

    The full one asks again every half millisecond instead of through SQLite's
    busy handler, whose sleeps grow to 100 ms: writers polling as often took the
    lock first every time, and the WAL grew on regardless.
    """
    _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if frames * page_size <= SQLITE_WAL_LIMIT_BYTES:
        return
    deadline = time.monotonic() + SQLITE_WAL_FULL_WAIT_SECONDS
    while True:
        (busy, _, _) = connection.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        if not busy or time.monotonic() >= deadline:
            return
        time.sleep(SQLITE_WRITE_POLL_SECONDS)


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    if _writes.get():
        _begin_immediate(connection)
    else:
        connection.exec_driver_sql("BEGIN")


#: How often a SQLite writer looks again for the write lock while another holds it.
SQLITE_WRITE_POLL_SECONDS = 0.0005


def _begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE``, looking for the write lock every half millisecond while another writer holds it.

    SQLite's own busy handler sleeps longer and longer as it waits (25, 50,
    then 100 ms at a time): a writer queued behind a batch of statements woke
    long after the lock was free, and several LMS clients posting at once spent
    their time asleep beside an idle database. Polled here instead, up to the
    same busy timeout; the last try goes through SQLAlchemy, so giving up raises
    its ``OperationalError`` (a 503) as before.
    """
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF != sqlite3.SQLITE_BUSY:
                    break  # not the lock: raised below as SQLAlchemy raises it
            time.sleep(SQLITE_WRITE_POLL_SECONDS)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()


#: Held by a write request's work in this process while the database is SQLite (see :func:`one_write_at_a_time`);
#: reentrant, as a request that took its turn (:func:`take_write_turn`) runs code that asks for it again.
_WRITE_WORK = threading.RLock()
#: Key in ``flask.g``: this request holds its turn, to be given back at its teardown.
_WRITE_TURN = "capcourse_write_turn"


def _take_turn() -> bool:
    """This thread's turn at write work on SQLite (True when taken); on PostgreSQL none is needed (False).

    A thread that waited as long as SQLite's busy timeout goes on without it.
    """
    if db.engine.dialect.name != "sqlite":
        return False
    return _WRITE_WORK.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)


@contextmanager
def one_write_at_a_time() -> Iterator[None]:
    """On SQLite, let one thread of this process at a time do write work (its request's body already read).

    SQLite takes one writer at a time anyway, but a web worker's threads share
    one GIL: while one held the write lock, another thread of the same process
    parsing and checking its own batch took half the core from it, so the lock
    was held about twice as long, and the other worker's requests waited on it.
    Four LMS clients got no more through than one. With the work of ingest
    requests (checking, storing, committing) done one at a time per process, the
    lock holder runs at full speed while the other worker works beside it.
    Measured on a 2-core machine, served, 4 clients: one thread per worker got
    1.24–1.38 times the statements per second at batch 1 and 1.09 times at batch 100;
    this turn, taken for the whole request after its body is read
    (:func:`take_write_turn`), keeps the threads (for slow clients) and part of that:
    1.17–1.20 times for xAPI statements at batch 1, 1.05–1.12 at batch 100, 1.03 for
    completions at batch 1 (against the same code without it, alternated).
    Bodies are read before, outside (a slow client holds no one up), and nothing
    inside waits on the network: SQLite transactions never do (see records).

    On PostgreSQL nothing is held: a transaction there waits on round trips to the
    server, and other threads use the core meanwhile. A thread that waited for its
    turn as long as SQLite's busy timeout goes on without it (and SQLite's own lock
    then decides), so a long write never turns into a failure here.
    """
    taken = _take_turn()
    try:
        yield
    finally:
        if taken:
            _WRITE_WORK.release()


def take_write_turn() -> None:
    """Read the request's body, then hold :func:`one_write_at_a_time`'s turn until the request's teardown.

    For ingest endpoints (from a blueprint's ``before_request``): authentication,
    parsing, checking, storing and answering then all run in the turn, never the
    body's transfer. The body is read whole (and kept for the view), within
    ``MAX_CONTENT_LENGTH``, before the key is checked.
    """
    request.get_data()
    if _take_turn():
        setattr(g, _WRITE_TURN, True)


def _give_back_write_turn(_error: BaseException | None) -> None:
    if g.pop(_WRITE_TURN, False):
        _WRITE_WORK.release()


def api_of(app: Flask) -> Api:
    """The application's REST API (its OpenAPI document)."""
    api: Api = app.extensions[API_KEY]
    return api


def register_api(app: Flask, *blueprints: Blueprint) -> None:
    """Add API blueprints to the app's OpenAPI document; they authenticate by key, so no CSRF token."""
    for blueprint in blueprints:
        api_of(app).register_blueprint(blueprint)
        csrf.exempt(blueprint)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened without building the signer when the request brings no cookie.

    Every request from an LMS or a script (a key, no cookie) opened a session, and Flask makes its
    serializer (an HMAC signer) on each opening, about a tenth of a millisecond.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Bind every extension to ``app``."""
    app.session_interface = CookieSessions()
    db.init_app(app)
    migrate.init_app(app, db)
    app.extensions[API_KEY] = Api(app)
    login_manager.init_app(app)
    csrf.init_app(app)

    app.teardown_request(_give_back_write_turn)

    @app.before_request
    def _declare_writes() -> None:
        will_write(request.method not in ("GET", "HEAD", "OPTIONS"))
