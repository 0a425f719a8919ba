"""SQLite as an embedded server: writers take the write lock up front and wait for it in short steps."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from capcourse import extensions


@pytest.fixture(autouse=True)
def _writing() -> Iterator[None]:
    # Transactions write unless a request said otherwise: a GET earlier in this thread may have.
    token = extensions._writes.set(True)
    yield
    extensions._writes.reset(token)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def busy_timeout(connection: sa.Connection) -> int:
    return int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one())


def test_a_writer_waits_for_the_lock_and_takes_it_when_it_is_free(engine: sa.Engine) -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.2, release.set).start()
    with engine.begin() as connection:  # waits, polling, until the holder commits
        assert release.is_set(), "it wrote while the holder held the lock"
        connection.exec_driver_sql("INSERT INTO t VALUES (2)")
        assert busy_timeout(connection) == extensions.SQLITE_BUSY_TIMEOUT_MS
    holder.join(10)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT n FROM t ORDER BY n").scalars().all() == [1, 2]


def test_giving_up_raises_sqlalchemys_error_and_leaves_the_busy_timeout(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extensions, "SQLITE_BUSY_TIMEOUT_MS", 100)
    with engine.begin() as holder:
        holder.exec_driver_sql("INSERT INTO t VALUES (1)")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), engine.begin():
            pass
        assert time.monotonic() - started >= 0.1
    with engine.connect() as connection:
        assert busy_timeout(connection) == 100  # set again after the tries


def test_a_reader_does_not_wait_for_a_writer(engine: sa.Engine) -> None:
    with engine.begin() as writer:
        writer.exec_driver_sql("INSERT INTO t VALUES (1)")
        token = extensions._writes.set(False)
        try:
            with engine.begin() as reader:  # BEGIN, not BEGIN IMMEDIATE: it reads the last commit at once
                assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
        finally:
            extensions._writes.reset(token)


def test_connections_are_configured_as_an_embedded_server(engine: sa.Engine) -> None:
    with engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == extensions.SQLITE_BUSY_TIMEOUT_MS
        assert pragma("wal_autocheckpoint") == extensions.SQLITE_CHECKPOINT_PAGES
        assert pragma("journal_size_limit") == extensions.SQLITE_WAL_LIMIT_BYTES


def _wait_for(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _running(path: Path) -> bool:
    return (os.getpid(), str(path)) in extensions._Checkpointer._running


def test_write_commits_are_checkpointed_by_a_thread_not_by_the_commit(tmp_path: Path) -> None:
    """The WAL reaches the database file soon after a write commit, though no commit would checkpoint it."""
    path = tmp_path / "ingest.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER, pad TEXT)")
        empty = path.stat().st_size
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # this commit never checkpoints
            connection.exec_driver_sql(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) "
                "INSERT INTO t SELECT n, hex(randomblob(500)) FROM s"
            )
        assert _running(path)
        # 2,000 rows of 1 KB: in the WAL at first, then copied into the database by the checkpointer.
        assert _wait_for(lambda: path.stat().st_size > empty + 1_000_000), "the WAL was never checkpointed"
    finally:
        engine.dispose()


def _fill(connection: sqlite3.Connection, rows: int) -> None:
    connection.execute(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?) "
        "INSERT INTO t SELECT n, hex(randomblob(500)) FROM s",
        (rows,),
    )


def test_a_wal_past_the_limit_is_copied_whole_and_cut_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a passive checkpoint leaves what a reader's older snapshot holds back, a full one waits its turn."""
    monkeypatch.setattr(extensions, "SQLITE_WAL_LIMIT_BYTES", 256 * 1024)
    monkeypatch.setattr(extensions, "SQLITE_WAL_FULL_WAIT_SECONDS", 30.0)
    monkeypatch.setattr(extensions, "SQLITE_CHECKPOINT_IDLE_SECONDS", 0.2)
    path = tmp_path / "ingest.db"
    wal = tmp_path / "ingest.db-wal"
    engine = sa.create_engine(f"sqlite:///{path}")  # configured as capcourse configures its connections
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER, pad TEXT)")
        # That commit started the background checkpointer. Two checkpoints cannot run at once: one that met
        # it would answer (1, -1, -1), busy, which is not what this test is about (it failed so in CI).
        # The writes below go straight to sqlite3, so they start no other.
        assert _wait_for(lambda: not _running(path)), "the background checkpointer kept running"
        writer = engine.raw_connection().driver_connection
        reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        checkpointer = sqlite3.connect(path, isolation_level=None)
        checkpointer.execute("PRAGMA busy_timeout=0")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # no commit checkpoints
        _fill(writer, 1000)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()  # a snapshot before what follows
        _fill(writer, 2000)
        busy, log, copied = checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert copied < log  # held back by the reader

        threading.Timer(0.3, lambda: reader.execute("COMMIT")).start()
        extensions._checkpoint(checkpointer, 4096)

        busy, log, copied = checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, copied) == (0, log), "the full checkpoint did not wait for the reader"
        assert wal.stat().st_size > 1_000_000
        _fill(writer, 1)  # starts the WAL over, and cuts the file back
        assert wal.stat().st_size <= 256 * 1024
        assert writer.execute("SELECT count(*) FROM t").fetchone() == (3001,)
        for connection in (writer, reader, checkpointer):
            connection.close()
    finally:
        engine.dispose()


def test_reads_start_no_checkpointer_and_an_idle_one_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extensions, "SQLITE_CHECKPOINT_IDLE_SECONDS", 0.2)
    path = tmp_path / "idle.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        token = extensions._writes.set(False)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT 1")
            assert not _running(path)
        finally:
            extensions._writes.reset(token)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        assert _running(path)
        assert _wait_for(lambda: not _running(path)), "an idle checkpointer kept running"
    finally:
        engine.dispose()


def test_a_database_deleted_meanwhile_is_not_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extensions, "SQLITE_CHECKPOINT_DELAY_SECONDS", 0.3)
    path = tmp_path / "gone.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    engine.dispose()
    # The checkpointer may have opened its connection already; removing the files under it must not raise.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    extensions._Checkpointer.nudge(str(tmp_path / "never.db"))
    assert _wait_for(lambda: not _running(tmp_path / "never.db"))
    assert not (tmp_path / "never.db").exists()


def test_in_memory_databases_have_no_checkpointer() -> None:
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        assert not any(key[0] == os.getpid() and not key[1] for key in extensions._Checkpointer._running)
        with engine.connect() as connection:
            assert extensions._WAL_FILE not in connection.connection.info
    finally:
        engine.dispose()


def test_a_request_without_a_cookie_opens_a_session_without_the_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import session

    from capcourse import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test"})
    signers: list[object] = []
    real = extensions.CookieSessions.get_signing_serializer

    def counted(interface: extensions.CookieSessions, given: Any) -> Any:
        signers.append(given)
        return real(interface, given)

    monkeypatch.setattr(extensions.CookieSessions, "get_signing_serializer", counted)

    @app.get("/_session_test")
    def _seen() -> dict[str, Any]:
        seen = dict(session)
        session["visits"] = int(seen.get("visits", 0)) + 1
        return seen

    client = app.test_client(use_cookies=False)
    first = client.get("/_session_test")
    assert first.status_code == 200
    assert first.json == {}
    assert signers == [app]  # to sign the cookie it sets, none to open the empty session
    cookie = first.headers["Set-Cookie"].split(";")[0]
    second = client.get("/_session_test", headers={"Cookie": cookie})
    assert second.json == {"visits": 1}
    assert len(signers) == 3  # the cookie brought was opened with it, and the new one signed


class _TrickledBody(io.BytesIO):
    """A request body that sends its first bytes, then waits for ``more`` before the rest (a slow LMS)."""

    def __init__(self, body: bytes, more: threading.Event) -> None:
        super().__init__(body)
        self.more = more
        self.begun = threading.Event()

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() == 0:
            self.begun.set()
            return super().read(10)
        assert self.more.wait(30)
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_a_write_requests_work_is_done_one_at_a_time_per_process_on_sqlite_its_body_read_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads of one process sharing the GIL held SQLite's write lock twice as long (see one_write_at_a_time)."""
    from sqlalchemy.orm import Session

    from capcourse.accounts.models import Role
    from capcourse.accounts.services import create_api_key
    from capcourse.records import services
    from tests.conftest import scratch_app

    keys: list[str] = []

    def prepare(session: Session) -> None:
        keys.append(create_api_key(session, "lms", Role.INTEGRATION)[1])

    with scratch_app(tmp_path, "gate", prepare) as app:
        on_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        headers = {"Authorization": f"Bearer {keys[0]}", "Content-Type": "application/json"}

        def batch(n: int) -> bytes:
            entry = {"learner": {"email": f"l{n}@example.org"}, "activity": "https://lms.example.org/unknown",
                     "outcome": "passed", "timestamp": "2026-12-01T10:00:00+00:00"}  # fmt: skip
            return json.dumps({"completions": [entry]}).encode()

        # A body still on its way holds no one up: a whole request goes through meanwhile.
        more = threading.Event()
        answers: dict[str, int] = {}

        def post(name: str, **request: Any) -> None:
            answers[name] = app.test_client().post("/api/v1/completions", headers=headers, **request).status_code

        trickled = _TrickledBody(batch(0), more)
        slow = threading.Thread(target=post, args=("slow",), kwargs={"input_stream": trickled})
        slow.start()
        assert trickled.begun.wait(30)
        post("fast", data=batch(1))
        assert answers == {"fast": 200}
        more.set()
        slow.join(30)
        assert answers == {"fast": 200, "slow": 200}

        # Two requests' work: one after the other on SQLite, side by side on PostgreSQL.
        seen: list[str] = []
        go = threading.Event()
        both_in = threading.Barrier(2, timeout=30)
        record = services.record_batch

        def recorded(*args: Any, **kwargs: Any) -> Any:
            seen.append("in")
            if on_sqlite:
                assert go.wait(30)
            else:
                both_in.wait()
            seen.append("out")
            return record(*args, **kwargs)

        monkeypatch.setattr(services, "record_batch", recorded)
        first = threading.Thread(target=post, args=("first",), kwargs={"data": batch(2)})
        second = threading.Thread(target=post, args=("second",), kwargs={"data": batch(3)})
        first.start()
        while not seen:
            time.sleep(0.01)
        second.start()
        if on_sqlite:
            second.join(0.5)  # it waits for its turn, however long the first takes
            assert seen == ["in"]
            go.set()
        first.join(30)
        second.join(30)
        assert seen == (["in", "out", "in", "out"] if on_sqlite else ["in", "in", "out", "out"])
        assert answers["first"] == answers["second"] == 200

        # A refused batch gives its turn back too (at the request's teardown, whatever the answer).
        post("refused", data=b'{"completions": [{"learner": {}}]}')
        assert answers["refused"] == 422
        free: list[bool] = []

        def turn_is_free() -> None:
            free.append(extensions._WRITE_WORK.acquire(timeout=5))
            if free[-1]:
                extensions._WRITE_WORK.release()

        probe = threading.Thread(target=turn_is_free)
        probe.start()
        probe.join(30)
        assert free == [True]


def test_a_turn_waited_for_as_long_as_the_busy_timeout_goes_on_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write far longer than usual (a big import in the same process) delays the others, never fails them."""
    from tests.conftest import make_app, make_database

    app = make_app(make_database(tmp_path, "turn"))
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only: on PostgreSQL nothing is held")
    monkeypatch.setattr(extensions, "SQLITE_BUSY_TIMEOUT_MS", 200)
    taken, done = threading.Event(), threading.Event()

    def long_write() -> None:  # another thread's, holding its turn
        with app.app_context(), extensions.one_write_at_a_time():
            taken.set()
            assert done.wait(30)

    other = threading.Thread(target=long_write)
    other.start()
    try:
        assert taken.wait(30)
        with app.app_context(), extensions.one_write_at_a_time():  # in, 0.2 s later, without the turn
            assert not extensions._WRITE_WORK._is_owned()  # type: ignore[attr-defined]
    finally:
        done.set()
        other.join(30)
    with app.app_context():
        with extensions.one_write_at_a_time():
            assert extensions._WRITE_WORK._is_owned()  # type: ignore[attr-defined]
            with extensions.one_write_at_a_time():  # again, within (a request that took its turn)
                assert extensions._WRITE_WORK._is_owned()  # type: ignore[attr-defined]
        assert not extensions._WRITE_WORK._is_owned()  # type: ignore[attr-defined]
