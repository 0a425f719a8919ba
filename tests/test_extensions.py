"""SQLite as an embedded server: writers take the write lock up front and wait for it in short steps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
