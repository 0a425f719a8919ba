"""Statements run on the driver give what SQLAlchemy gives, in the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from psycopg.pq import PipelineStatus
from sqlalchemy import bindparam, event, literal_column, select, text
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.orm import Session

from capcourse import prepared
from capcourse.extensions import db
from capcourse.prepared import Prepared, PreparedInsert
from capcourse.records.models import Learner
from tests.conftest import TEST_DATABASE_URL, drop_database, make_app, make_database

pytestmark = pytest.mark.db

_learners = Learner.__table__
WHEN = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)
BY_KEYS = select(_learners.c.id, _learners.c.agent_key, _learners.c.agent, _learners.c.created_at).where(
    _learners.c.agent_key.in_(bindparam("keys", expanding=True)), _learners.c.name != "nobody"
)


def learner_row(n: int, **extra: Any) -> dict[str, Any]:
    agent = {"objectType": "Agent", "mbox": f"mailto:p{n}@example.org", "name": f"P {n}"}
    return {"agent_key": f"mbox:p{n}@example.org", "agent": agent, "name": f"P {n}", "created_at": WHEN, **extra}


def new_learners(session: Session, count: int) -> list[dict[str, Any]]:
    rows = [learner_row(n) for n in range(count)]
    session.add_all(Learner(**row) for row in rows)
    session.flush()
    return rows


def test_a_query_gives_the_rows_sqlalchemy_gives(session: Session) -> None:
    rows = new_learners(session, 4)
    keys = [rows[0]["agent_key"], rows[2]["agent_key"], "mbox:nobody@example.org"]
    query = Prepared(BY_KEYS)

    got = sorted(query.all(session, {"keys": keys}))
    expected = sorted(tuple(row) for row in session.execute(BY_KEYS, {"keys": keys}))

    assert got == expected
    assert [row[1] for row in got] == [rows[0]["agent_key"], rows[2]["agent_key"]]
    assert got[0][2] == rows[0]["agent"]  # JSON, decoded
    assert got[0][3].replace(tzinfo=UTC) == WHEN  # a datetime, not the text SQLite keeps
    # Another length of the IN list, and an empty one, each compiled once and reused.
    assert len(query.all(session, {"keys": [r["agent_key"] for r in rows]})) == 4
    assert query.all(session, {"keys": []}) == []
    assert query.scalars(session, {"keys": keys[:1]}) == [got[0][0]]


def test_an_insert_returns_the_new_rows_and_leaves_the_taken_ones(session: Session) -> None:
    new_learners(session, 1)
    insert = PreparedInsert(
        _learners, lambda i: i.on_conflict_do_nothing(index_elements=["agent_key"]).returning(_learners.c.agent_key)
    )

    returned = insert.run(session, [learner_row(0), learner_row(1), learner_row(2)])

    assert sorted(key for (key,) in returned) == ["mbox:p1@example.org", "mbox:p2@example.org"]
    stored = session.scalars(select(Learner).where(Learner.agent_key == "mbox:p2@example.org")).one()
    assert stored.agent == learner_row(2)["agent"]
    assert stored.created_at.replace(tzinfo=UTC) == WHEN


def test_many_rows_go_in_pages(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_ROWS", 2)
    insert = PreparedInsert(_learners, lambda i: i.returning(_learners.c.id))

    returned = insert.run(session, [learner_row(n) for n in range(5)])

    assert len({learner_id for (learner_id,) in returned}) == 5
    assert session.scalar(select(db.func.count()).select_from(_learners)) == 5


@pytest.mark.parametrize(
    ("most_values", "most_parameters", "on_postgresql"), [(20, 30_000, "INSERT"), (3, 30_000, "COPY"), (20, 15, "COPY")]
)
def test_a_plain_insert_goes_by_executemany_or_on_postgresql_by_values_or_by_copy(
    session: Session, monkeypatch: pytest.MonkeyPatch, most_values: int, most_parameters: int, on_postgresql: str
) -> None:
    """Four rows: in one multi-row INSERT on PostgreSQL, or by COPY when that is more than a few rows, or more
    parameters than one statement takes (four columns each here)."""
    monkeypatch.setattr(prepared, "MAX_VALUES_ROWS", most_values)
    monkeypatch.setattr(prepared, "MAX_PARAMETERS", most_parameters)
    heard: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("SAVEPOINT"):
            heard.append(statement.split()[0].upper())

    rows = [learner_row(n) for n in range(3)] + [learner_row(3, agent={"objectType": "Agent", "name": 'a "b"\t\\'})]
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert PreparedInsert(_learners).run(session, rows) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert heard == ([on_postgresql] if session.get_bind().dialect.name == "postgresql" else ["INSERT"])
    # As SQLAlchemy would have written them: JSON (with quotes, tabs, backslashes), text and timestamps.
    stored = session.execute(
        select(_learners.c.agent_key, _learners.c.agent, _learners.c.created_at).order_by(_learners.c.agent_key)
    ).all()
    assert [(key, agent, when.replace(tzinfo=UTC)) for key, agent, when in stored] == [
        (row["agent_key"], row["agent"], WHEN) for row in rows
    ]


@pytest.mark.parametrize("most_values", [20, 0])
def test_a_plain_insert_refused_by_the_database_is_raised_as_sqlalchemys_error(
    session: Session, monkeypatch: pytest.MonkeyPatch, most_values: int
) -> None:
    monkeypatch.setattr(prepared, "MAX_VALUES_ROWS", most_values)  # 0: by COPY on PostgreSQL
    new_learners(session, 1)
    with pytest.raises(IntegrityError):  # the same agent_key again: unique
        PreparedInsert(_learners).run(session, [learner_row(1), learner_row(0)])


def test_an_insert_must_give_the_columns_sqlalchemy_would_default(session: Session) -> None:
    row = learner_row(0)
    del row["created_at"]  # a Python-side default (utcnow): the driver would not apply it

    with pytest.raises(ValueError, match="created_at"):
        PreparedInsert(_learners).run(session, [row])


def test_listeners_and_insert_hooks_hear_of_what_ran(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[str] = []
    counted: list[tuple[str, int]] = []
    monkeypatch.setattr(prepared, "INSERT_HOOKS", [lambda _conn, table, rows: counted.append((table, rows))])

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("SAVEPOINT"):  # the test's transaction, begun at the first statement
            heard.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        PreparedInsert(_learners, lambda i: i.returning(_learners.c.id)).run(session, [learner_row(0), learner_row(1)])
        Prepared(BY_KEYS).all(session, {"keys": ["x"]})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)

    assert heard == ["INSERT", "SELECT"]
    assert counted == [("learners", 2)]


def test_pending_orm_changes_are_flushed_first_as_the_session_would(session: Session) -> None:
    session.add(Learner(**learner_row(7)))  # not flushed

    assert Prepared(BY_KEYS).scalars(session, {"keys": ["mbox:p7@example.org"]}) != []


def test_statements_run_in_the_sessions_transaction_of_the_moment(session: Session) -> None:
    # The connection is looked up once per transaction: a savepoint, a commit and a failed
    # transaction each change what the session would answer, and the statements follow it.
    insert = PreparedInsert(_learners)
    by_keys = Prepared(BY_KEYS)
    insert.run(session, [learner_row(1)])
    first = session.connection()

    savepoint = session.begin_nested()
    insert.run(session, [learner_row(2)])
    savepoint.rollback()
    assert by_keys.scalars(session, {"keys": ["mbox:p1@example.org", "mbox:p2@example.org"]}) == [
        session.scalar(select(_learners.c.id).where(_learners.c.agent_key == "mbox:p1@example.org"))
    ]
    assert session.connection() is first

    with pytest.raises(IntegrityError):
        insert.run(session, [learner_row(1)])  # agent_key is unique
    session.rollback()
    assert by_keys.all(session, {"keys": ["mbox:p1@example.org"]}) == []  # rolled back, as the session was

    with pytest.raises(IntegrityError), session.begin_nested():
        insert.run(session, [learner_row(3), learner_row(3)])
    insert.run(session, [learner_row(4)])
    session.commit()
    assert [row[1] for row in by_keys.all(session, {"keys": ["mbox:p3@example.org", "mbox:p4@example.org"]})] == [
        "mbox:p4@example.org"
    ]


def test_a_failed_transaction_is_refused_until_rolled_back_as_the_session_refuses_it(session: Session) -> None:
    insert = PreparedInsert(_learners)
    insert.run(session, [learner_row(1)])
    session.add(Learner(**learner_row(1)))
    with pytest.raises(IntegrityError):
        session.flush()  # the session's own flush fails: its transaction must be rolled back
    with pytest.raises(PendingRollbackError):
        session.connection()
    with pytest.raises(PendingRollbackError):
        Prepared(BY_KEYS).all(session, {"keys": ["mbox:p1@example.org"]})
    session.rollback()
    assert Prepared(BY_KEYS).all(session, {"keys": ["mbox:p1@example.org"]}) == []


def test_plans_per_statement_are_bounded(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_PLANS", 3)
    query = Prepared(BY_KEYS)
    for length in range(1, 8):
        assert query.all(session, {"keys": [f"k{n}" for n in range(length)]}) == []
        assert len(query._plans) <= 3


def test_the_drivers_errors_are_raised_as_sqlalchemys(session: Session) -> None:
    with pytest.raises(IntegrityError):
        PreparedInsert(_learners).run(session, [learner_row(0), learner_row(0)])  # agent_key is unique


def test_none_goes_through_the_types_as_sqlalchemy_sends_it(session: Session) -> None:
    # A JSON column takes Python's None as JSON null, not SQL NULL, through SQLAlchemy and here alike.
    PreparedInsert(_learners).run(session, [learner_row(0, agent=None)])

    assert session.scalar(select(_learners.c.agent.is_(None))) is False


def test_a_literal_percent_and_long_in_lists_reach_the_database_as_written(session: Session) -> None:
    # On PostgreSQL statements go on a raw cursor, numbered $1…$n here: a '%' of the SQL itself (which
    # SQLAlchemy writes '%%' for psycopg) must stay one '%', and a list past psycopg's 50-parameter cache
    # must be numbered in order.
    rows = new_learners(session, 3)
    query = Prepared(
        select(_learners.c.agent_key, literal_column("'100%'"))
        .where(_learners.c.agent_key.in_(bindparam("keys", expanding=True)))
        .order_by(_learners.c.agent_key)
    )
    keys = [f"mbox:absent{n}@example.org" for n in range(120)] + [rows[2]["agent_key"], rows[0]["agent_key"]]

    assert query.all(session, {"keys": keys}) == [(rows[0]["agent_key"], "100%"), (rows[2]["agent_key"], "100%")]
    assert query.all(session, {"keys": keys[:120]}) == []


def test_on_postgresql_a_query_with_a_list_of_several_values_is_never_prepared(session: Session) -> None:
    """PostgreSQL keeps one generic plan for a prepared statement, made for the table as it was then: for an IN
    list of several values, a sequential scan that builds the list again for each row as the table grows."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite prepares every statement, and plans it with its values")
    rows = new_learners(session, 3)
    one = Prepared(select(_learners.c.id).where(_learners.c.agent_key.in_(bindparam("keys", expanding=True))))
    several = Prepared(select(_learners.c.name).where(_learners.c.agent_key.in_(bindparam("keys", expanding=True))))
    waiting = PreparedInsert(_learners, deferred=True)
    # More times than psycopg waits before it prepares a statement (prepare_threshold, 5 by default), alone
    # and at the end of a pipeline (after a deferred insert).
    for n in range(8):
        assert len(one.all(session, {"keys": [rows[0]["agent_key"]]})) == 1
        assert len(several.all(session, {"keys": [rows[1]["agent_key"], rows[2]["agent_key"]]})) == 2
        waiting.run(session, [learner_row(10 + n)])
        assert len(several.all(session, {"keys": [rows[1]["agent_key"], f"mbox:p{10 + n}@example.org"]})) == 2
    prepared_here = session.execute(db.text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("learners.id" in sql for sql in prepared_here)  # the one-value lookup is prepared
    assert not any("learners.name" in sql for sql in prepared_here)


def _heard(into: list[str]) -> Any:
    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's own transaction
            into.append(statement.split()[0].upper())

    return listen


def test_a_deferred_insert_goes_with_the_next_statement_on_postgresql(session: Session) -> None:
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    heard: list[str] = []
    insert = PreparedInsert(_learners, deferred=True)
    listen = _heard(heard)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        insert.run(session, [learner_row(0), learner_row(1)])
        # On PostgreSQL nothing is sent yet (SQLite, whose statements cost no round trip, runs it at once).
        assert heard == ([] if on_postgresql else ["INSERT"])
        # The next statement, SQLAlchemy's own here, goes after it and finds the rows.
        assert session.scalar(select(db.func.count()).select_from(_learners)) == 2
        assert heard == ["INSERT", "SELECT"]
        # And before a statement run here, in the same pipeline.
        insert.run(session, [learner_row(2)])
        assert len(Prepared(BY_KEYS).all(session, {"keys": ["mbox:p2@example.org"]})) == 1
        assert heard == ["INSERT", "SELECT", "INSERT", "SELECT"]
        # A COPY (which cannot be pipelined) sends what waits first.
        insert.run(session, [learner_row(3)])
        PreparedInsert(_learners).run(session, [learner_row(n) for n in range(10, 10 + prepared.MAX_VALUES_ROWS + 1)])
        assert heard[4:] == ["INSERT", "COPY" if on_postgresql else "INSERT"]
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert prepared._DEFERRED not in session.connection().info


def test_a_query_asked_ahead_goes_with_the_next_statement_and_sees_only_what_came_before(session: Session) -> None:
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    rows = new_learners(session, 1)
    heard: list[str] = []
    listen = _heard(heard)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        ahead = Prepared(BY_KEYS).ahead(session, {"keys": [rows[0]["agent_key"], "mbox:p5@example.org"]})
        # On PostgreSQL nothing is sent yet; SQLite (no round trips) runs it at once.
        assert heard == ([] if on_postgresql else ["SELECT"])
        returning = PreparedInsert(_learners, lambda i: i.returning(_learners.c.agent_key))
        assert returning.run(session, [learner_row(5)]) == [("mbox:p5@example.org",)]
        # It went first, with the insert, and did not see the insert's row.
        assert heard == ["SELECT", "INSERT"]
        assert [row[1] for row in ahead.rows()] == [rows[0]["agent_key"]]
        assert ahead.rows() is ahead.rows()  # read once
        # Read with nothing run after it, it is sent when read.
        alone = Prepared(BY_KEYS).ahead(session, {"keys": ["mbox:p5@example.org"]})
        assert [row[1] for row in alone.rows()] == ["mbox:p5@example.org"]
        assert heard == ["SELECT", "INSERT", "SELECT"]
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert prepared._DEFERRED not in session.connection().info


def test_a_deferred_upsert_and_its_pages_are_sent_in_order(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_ROWS", 2)
    upsert = PreparedInsert(
        _learners,
        lambda i: i.on_conflict_do_update(index_elements=["agent_key"], set_={"name": i.excluded.name}),
        deferred=True,
    )
    upsert.run(session, [learner_row(n) for n in range(5)])
    upsert.run(session, [learner_row(0, name="renamed")])  # after the first: its row exists by then

    names = {key: name for key, name in session.execute(select(_learners.c.agent_key, _learners.c.name))}
    assert len(names) == 5
    assert names["mbox:p0@example.org"] == "renamed"


def test_a_deferred_insert_the_database_refuses_fails_the_next_statement(session: Session) -> None:
    new_learners(session, 1)
    with pytest.raises(IntegrityError):  # the same agent_key again: unique; raised at once on SQLite
        PreparedInsert(_learners, deferred=True).run(session, [learner_row(0)])
        session.scalar(select(db.func.count()).select_from(_learners))


def test_a_deferred_insert_goes_before_the_commit_and_a_rollback_drops_it(tmp_path: Path) -> None:
    # A database of its own: the other tests' sessions never really commit or roll back.
    database = make_database(tmp_path, "deferred")
    app = make_app(database)
    try:
        with app.app_context():
            flask_migrate.upgrade()
            rows = [learner_row(n) for n in range(3)]
            keys = [row["agent_key"] for row in rows]
            insert = PreparedInsert(_learners, deferred=True)
            with Session(db.engine) as session:
                insert.run(session, rows[:2])
                session.commit()
                insert.run(session, rows[2:])
                session.rollback()
                # Nothing of it waits: at most (on PostgreSQL) the next transaction's BEGIN.
                waiting = session.connection().info.get(prepared._DEFERRED, [])
                assert [sql.split()[0] for sql, *_ in waiting] == (
                    ["BEGIN"] if database.url.startswith("postgresql") else []
                )
                # The rolled-back row is not sent with the next transaction's first statement either.
                stored = [row[1] for row in Prepared(BY_KEYS).all(session, {"keys": keys})]
                assert sorted(stored) == keys[:2]
            db.engine.dispose()
    finally:
        drop_database(database)


def test_on_postgresql_the_deferred_statements_and_the_commit_go_in_one_round_trip(tmp_path: Path) -> None:
    """psycopg's own COMMIT would be a round trip of its own after the pipeline of what waits."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("PostgreSQL only: nothing waits on SQLite, whose statements cost no round trip")
    database = make_database(tmp_path, "commit")
    app = make_app(database)
    try:
        with app.app_context():
            flask_migrate.upgrade()
            insert = PreparedInsert(_learners, deferred=True)
            keys = [learner_row(n)["agent_key"] for n in range(4)]
            heard: list[str] = []
            pipelines: list[list[str]] = []
            listen = _heard(heard)
            real = prepared._pipelined

            def pipelined(connection: Any, statements: Any, meanwhile: Any = None) -> None:
                pipelines.append([statement[0].split()[0] for statement in statements])
                real(connection, statements, meanwhile)

            with Session(db.engine) as session, pytest.MonkeyPatch.context() as patch:
                patch.setattr(prepared, "_pipelined", pipelined)
                event.listen(db.engine, "before_cursor_execute", listen)
                try:
                    insert.run(session, [learner_row(0), learner_row(1)])
                    session.commit()
                finally:
                    event.remove(db.engine, "before_cursor_execute", listen)
                assert heard == ["INSERT", "COMMIT"]  # psycopg's BEGIN was never told to listeners, nor is this one
                # The whole transaction in one round trip: its BEGIN waited for the insert, which waited for the COMMIT.
                assert pipelines == [["BEGIN", "INSERT", "COMMIT"]]

                # A COMMIT the database refuses (a deferred constraint, checked at commit) fails commit(),
                # as SQLAlchemy's error; what waited with it is not kept.
                session.execute(text("CREATE TABLE checked_at_commit (n INTEGER UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
                session.commit()
                session.execute(text("INSERT INTO checked_at_commit VALUES (1), (1)"))
                insert.run(session, [learner_row(2)])
                with pytest.raises(IntegrityError, match="checked_at_commit"):
                    session.commit()
                session.rollback()
                insert.run(session, [learner_row(3)])
                session.commit()
            with Session(db.engine) as session:  # another connection sees what was committed, and only that
                stored = sorted(row[1] for row in Prepared(BY_KEYS).all(session, {"keys": keys}))
                assert stored == [keys[0], keys[1], keys[3]]
            db.engine.dispose()
    finally:
        drop_database(database)


def test_on_postgresql_a_transactions_begin_goes_with_its_first_statement(
    tmp_path: Path, pipelines: list[list[str]]
) -> None:
    """psycopg's own BEGIN was a round trip of its own, before the first statement of every transaction."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite's BEGIN is capcourse's own (extensions) and costs no round trip")
    database = make_database(tmp_path, "begin")
    app = make_app(database)
    keys = [learner_row(n)["agent_key"] for n in range(4)]

    def stored(session: Session) -> list[str]:
        return sorted(row[1] for row in Prepared(BY_KEYS).all(session, {"keys": keys}))

    def status(session: Session) -> str:
        return str(session.connection().connection.dbapi_connection.info.transaction_status.name)  # type: ignore[union-attr]

    try:
        with app.app_context():
            flask_migrate.upgrade()
            with Session(db.engine) as session, Session(db.engine) as other:
                # The first statement takes the BEGIN with it: one round trip, and a real transaction.
                pipelines.clear()
                PreparedInsert(_learners).run(session, [learner_row(0)])
                assert [[sql.split()[0] for sql in sent] for sent in pipelines] == [["BEGIN", "INSERT"]]
                assert status(session) == "INTRANS"
                assert stored(other) == []  # not committed: another connection sees nothing yet
                other.rollback()
                session.rollback()
                assert stored(session) == []
                session.rollback()

                # A transaction that runs nothing sends nothing, committed or rolled back.
                pipelines.clear()
                session.connection()
                session.commit()
                session.connection()
                session.rollback()
                assert pipelines == []
                assert status(session) == "IDLE"
                session.rollback()

                # SQLAlchemy's own first statement (an ORM flush, text()) finds the BEGIN sent before it.
                session.add(Learner(**learner_row(1)))
                session.flush()
                assert status(session) == "INTRANS"
                session.execute(text("SELECT 1"))
                session.rollback()
                assert stored(session) == []
                session.rollback()

                # The driver's own connection, taken through driver_connection(), runs in the transaction too.
                connection = session.connection()
                driver = prepared.driver_connection(connection)
                with driver.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO learners (agent_key, agent, name, created_at) VALUES (%s, '{}', 'x', now())",
                        (keys[2],),
                    )
                assert status(session) == "INTRANS"
                session.rollback()
                assert stored(session) == []
                session.rollback()

                # What commits, commits; a read in autocommit (the API-key read) opens no transaction.
                PreparedInsert(_learners).run(session, [learner_row(3)])
                session.commit()
                assert stored(other) == [keys[3]]
                other.rollback()
            with Session(db.engine) as session:
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                pipelines.clear()
                assert stored(session) == [keys[3]]
                assert pipelines == [] and status(session) == "IDLE"
                session.commit()
            db.engine.dispose()
    finally:
        drop_database(database)


def test_an_upsert_without_returning_sends_its_rows_in_one_statement(session: Session) -> None:
    """``ON CONFLICT`` with no ``RETURNING`` (evidence counts): multi-row VALUES, not one statement per row."""
    new_learners(session, 1)
    heard: list[tuple[bool, int]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT"):
            heard.append((executemany, len(parameters)))

    upsert = PreparedInsert(
        _learners, lambda i: i.on_conflict_do_update(index_elements=["agent_key"], set_={"name": i.excluded.name})
    )
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        upsert.run(session, [learner_row(0, name="renamed"), learner_row(1), learner_row(2)])
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)

    assert heard == [(False, 3 * 4)]  # one statement: 3 rows of 4 values
    names = {key: name for key, name in session.execute(select(_learners.c.agent_key, _learners.c.name))}
    assert names == {"mbox:p0@example.org": "renamed", "mbox:p1@example.org": "P 1", "mbox:p2@example.org": "P 2"}


RETURNING_KEYS = PreparedInsert(
    _learners, lambda i: i.on_conflict_do_nothing(index_elements=["agent_key"]).returning(_learners.c.agent_key)
)


def test_work_meanwhile_runs_once_the_insert_is_with_the_server_and_before_its_answer_is_read(
    session: Session,
) -> None:
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    heard: list[str] = []
    seen: list[Any] = []
    listen = _heard(heard)
    backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() if on_postgresql else None
    driver: Any = session.connection().connection.dbapi_connection
    ahead = Prepared(BY_KEYS).ahead(session, {"keys": ["mbox:p0@example.org"]})  # waits, to go in the pipeline

    def meanwhile() -> None:
        seen.append(list(heard))
        if backend is not None:
            # psycopg is still in pipeline mode: the insert's answer is not read yet.
            seen.append(PipelineStatus(driver.pgconn.pipeline_status).name)
            # Another connection finds the insert on this one's server process: it was sent, not held back.
            with db.engine.connect() as other:
                for _ in range(500):
                    query = other.exec_driver_sql(f"SELECT query FROM pg_stat_activity WHERE pid = {backend}").scalar()
                    if query and query.startswith("INSERT INTO learners"):
                        break
                    other.exec_driver_sql("SELECT pg_sleep(0.01)")
                seen.append(query)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        returned = RETURNING_KEYS.run(session, [learner_row(0), learner_row(1)], meanwhile)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)

    assert sorted(key for (key,) in returned) == ["mbox:p0@example.org", "mbox:p1@example.org"]
    assert ahead.rows() == []  # read before the insert
    # Called once, after the insert (and on PostgreSQL what waited before it) went.
    assert seen[0] == (["SELECT", "INSERT"] if on_postgresql else ["INSERT"])
    if on_postgresql:
        assert seen[1] == "ON"
        assert seen[2].startswith("INSERT INTO learners")
        assert PipelineStatus(driver.pgconn.pipeline_status).name == "OFF"
    assert len(seen) == (3 if on_postgresql else 1)


@pytest.mark.parametrize("case", ["no rows", "pages", "no returning"])
def test_work_meanwhile_is_done_once_however_the_rows_go(
    session: Session, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """With no rows, several pages or no RETURNING, it cannot overlap the insert and is done after it."""
    done: list[int] = []

    def meanwhile() -> None:
        done.append(session.scalar(select(db.func.count()).select_from(_learners)))

    rows = [learner_row(n) for n in range(5)]
    if case == "no rows":
        rows = []
    elif case == "pages":
        monkeypatch.setattr(prepared, "MAX_ROWS", 2)
    insert = (
        PreparedInsert(_learners, lambda i: i.on_conflict_do_nothing()) if case == "no returning" else RETURNING_KEYS
    )
    insert.run(session, rows, meanwhile)

    # It may run statements then: it sees every row inserted.
    assert done == [len(rows)]


def test_an_error_in_work_meanwhile_ends_the_pipeline_and_the_session_goes_on_after_a_rollback(
    session: Session,
) -> None:
    def meanwhile() -> None:
        raise ValueError("made up")

    with pytest.raises(ValueError, match="made up"):
        RETURNING_KEYS.run(session, [learner_row(0)], meanwhile)
    session.rollback()
    assert RETURNING_KEYS.run(session, [learner_row(1)]) == [("mbox:p1@example.org",)]
    assert Prepared(BY_KEYS).scalars(session, {"keys": ["mbox:p0@example.org"]}) == []


def test_an_insert_the_database_refuses_is_raised_as_sqlalchemys_error_with_work_meanwhile(session: Session) -> None:
    # No created_at: NOT NULL is broken, which ON CONFLICT DO NOTHING does not cover. (Whether the work is done
    # depends on when the error comes back; either way the insert's error is what is raised.)
    with pytest.raises(IntegrityError):
        RETURNING_KEYS.run(session, [learner_row(0, created_at=None)], lambda: None)
    session.rollback()
    assert RETURNING_KEYS.run(session, [learner_row(1)]) == [("mbox:p1@example.org",)]
