"""Core statements run on the database driver's own cursor, for the ingest path.

Through SQLAlchemy's execution path (the ORM session, events, parameter
processing, result objects) a small statement costs 50–110 µs of Python on
this project's machines, several times what SQLite takes to run it, and a
statement from an LMS costs about fifteen of them (``bench/ingest.py``). A
:class:`Prepared` statement is compiled by SQLAlchemy once per dialect (and
per length of its ``IN`` lists, or per row shape and page size of an
``INSERT``), with the type processors SQLAlchemy chose for its parameters and
columns, and then runs on the DBAPI cursor of the session's connection: in the
session's transaction, with the same SQL and the same values SQLAlchemy would
have sent, minus its per-call bookkeeping. On PostgreSQL the cursor is psycopg's
raw one and the placeholders are numbered here (``$1``…), once per plan: psycopg's
own cursor parses every statement of more than 50 parameters again, in Python,
at every call. psycopg prepares a statement on the server once it has run a few
times; a query with an ``IN`` list of several values never is (see
:meth:`Prepared._plan`), as PostgreSQL's one generic plan for it can be a
sequential scan made while the table was small. On PostgreSQL a plain insert (no
``ON CONFLICT``, no ``RETURNING``) goes by ``COPY`` instead, far cheaper than
psycopg's one pipelined ``INSERT`` per row.

On PostgreSQL an insert built ``deferred`` (one whose outcome its caller never
reads: index rows, outbox rows, evidence counts) is not sent at once: it waits on
the connection and goes in one pipeline with the next statement, whatever runs it
(this module, SQLAlchemy, the ``COMMIT``), so it costs no round trip of its own. A
statement from an LMS waited for about a dozen round trips; four of them were
these. Its error, if any, is raised by that next statement (the transaction is
lost either way); a rollback drops what waits. A query can wait the same way
(:meth:`Prepared.ahead`): ingest asks for a batch's activities, learners and
attainments before the insert it runs anyway, and reads their rows after it, so
a statement from an LMS reads about 9 answers from PostgreSQL instead of 12
(``strace`` of 300 requests at batch 1, both endpoints). A transaction's ``BEGIN``
waits the same way for its first statement (:func:`_begin_with_the_first_statement`),
and its ``COMMIT`` goes with what waits at the end: a round trip less each. A statement
from an LMS cost four round trips, one per pipeline (``strace`` of 400 requests at
batch 1, both endpoints: 4 reads from the server's socket per request, 5 with psycopg's
own ``BEGIN``). The statements capcourse emits for it go with their outbox and index
rows in one statement that waits for the ``COMMIT`` (:func:`defer_with`), where they
waited for their keys to come back: three round trips once its learner is known and
its items attained (``tests/statements/test_views.py``; ``strace`` of 1,000 requests at
batch 1, half of them a new learner's: 1,049 reads fewer). A new learner's first success
costs six: the learner's insert, the attainment check with the completion's insert (what
attaining takes and the learner's first successes read with it, in one query), whether
the attainment's statement id was withdrawn, and the attainment's insert. An item that
still lacks a success in another activity is read again after the evidence upsert, so
that a concurrent request finishing that activity is seen (``records.services._attainments``).

An insert whose answer is read (``RETURNING``) can take work that needs no statement
and not its answer (``meanwhile``): it is done once the insert is on the wire and
before the answer is read, so on PostgreSQL the server inserts while Python builds.
A batch of 100 statements from an LMS builds its completions' statements with their
outbox and index rows while the server inserts the completions, and the statements'
index rows while it inserts the statements: 1.2-2.0 ms less waiting for the server
per batch, of 22-25 ms in-process (see ``records.services._record``).

What it does not do, so that callers must: Python-side column defaults
(an ``INSERT`` must give every column it sets; :class:`PreparedInsert`
refuses one whose compiled form needs a value the rows lack), ORM identity
maps (rows come back as tuples; pending ORM changes are flushed first, as
the session's autoflush would), and SQLAlchemy's statement-level
``after_execute`` events (inserts report their row counts to
:data:`INSERT_HOOKS` instead). Cursor-level listeners
(``before_cursor_execute``, ``after_cursor_execute``) are called as
SQLAlchemy calls them, and the driver's errors are raised as SQLAlchemy's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, count
from operator import itemgetter
from typing import Any, NamedTuple, cast

from psycopg import IsolationLevel, RawCursor
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Pool, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

#: Called with (connection, table name, rows inserted) after each insert run here: how the
#: metrics learn of rows that never pass through SQLAlchemy's ``after_execute`` event.
INSERT_HOOKS: list[Callable[[Connection, str, int], None]] = []

#: Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
MAX_PARAMETERS = 30_000
#: Rows per multi-row ``VALUES`` page (SQLAlchemy's own page size for insertmanyvalues).
MAX_ROWS = 1000
#: Plain inserts of up to this many rows go to PostgreSQL as one multi-row ``INSERT``, more by ``COPY``.
#: Measured in-process, alternated (bench/ingest.py's statements): 200 against 20 took 2–8% off a
#: statement from an LMS (its emitted statements' ~30 index rows wait for the commit instead of a
#: COPY's two round trips) and 1–3% off a batch of 100; all by INSERT (~1,300 index rows) was 6%
#: slower for a batch of completions. Since a batch's statements are built while the server inserts
#: its completions (``meanwhile``), 1,000 against 200 took 5.1% off a batch of 100 statements (5
#: alternated pairs of 300 batches, each pair faster; the process's CPU 5.7% less): its statements'
#: ~300 index rows wait for that insert instead of a COPY of their own, and its emitted statements
#: go with their outbox and index rows (~700) in the commit's pipeline. The server's share grew 4%
#: (11.9 against 11.5 ms per batch); a batch of 100 completions was unchanged.
MAX_VALUES_ROWS = 1000
#: Plans kept per statement: one per combination of IN-list lengths seen, so bounded, as a
#: statement with three lists could otherwise collect thousands in a long-running server.
MAX_PLANS = 256

_PYFORMAT = re.compile(r"%\((\w+)\)s")

Processor = Callable[[Any], Any] | None


def _bind_processors(compiled: SQLCompiler) -> Mapping[str, Processor]:
    # A tuple-typed parameter would have a processor per element; none of ours is.
    return cast(Mapping[str, Processor], compiled._bind_processors)


def _result_processors(compiled: SQLCompiler, dialect: Dialect) -> list[Processor]:
    return [entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns]


def _positional(sql: str, names: Sequence[str] | None, paramstyle: str) -> tuple[str, list[str]]:
    """``sql`` with positional parameters, and the parameter names in their order."""
    if paramstyle == "qmark":
        return sql, list(names or ())
    if paramstyle in ("pyformat", "format"):
        order: list[str] = []

        def positional(found: re.Match[str]) -> str:
            order.append(found.group(1))
            return "%s"

        return _PYFORMAT.sub(positional, sql), order
    raise NotImplementedError(f"paramstyle {paramstyle!r}")


def _process(rows: Iterable[Sequence[Any]], processors: Sequence[Processor]) -> list[tuple[Any, ...]]:
    if not any(processors):
        return [tuple(row) for row in rows]
    return [tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True)) for row in rows]


def _last_value_kept(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor``, answering again at once for the very object it was just given.

    The rows of one insert share many values (the batch's ``now`` in every
    timestamp column, one programme's id), each converted once instead of per
    row. Only for the rows of one call, which nothing changes while they are
    converted, so a mutable value (a JSON column's dict) cannot have changed since.
    """
    last: list[Any] = [_NOTHING, None]

    def process(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        converted = processor(value)
        last[0], last[1] = value, converted
        return converted

    return process


_NOTHING = object()


def _row_params(
    keys: Sequence[str], processors: Sequence[Processor], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Each row's values in ``keys`` order, as the bind processors make them.

    Column by column, so the loops run in C (``itemgetter``, ``map``, ``zip``)
    and only the processors themselves are Python calls: the 1,200 index rows
    of a batch of 100 statements no longer cost a generator per row.
    """
    if len(keys) == 1:
        key = keys[0]
        tuples = [(row[key],) for row in rows]
    else:
        tuples = list(map(itemgetter(*keys), rows))
    if not any(processors):
        return tuples
    columns: list[Iterable[Any]] = list(zip(*tuples, strict=True))
    for index, processor in enumerate(processors):
        if processor is not None:
            columns[index] = map(_last_value_kept(processor), columns[index])
    return list(zip(*columns, strict=True))


def _cursor(session: Session) -> tuple[Connection, Any]:
    """The session's connection (its transaction begun as the session begins it) and a DBAPI cursor on it.

    Pending ORM changes are flushed first, as before any query the session runs itself (autoflush).
    """
    session._autoflush()
    connection = _connection(session)
    dbapi_connection: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        # A raw cursor takes the statement as written, with $1…$n (see _numbered): psycopg's own cursor
        # splits every statement of more than 50 parameters with Python regular expressions, uncached,
        # 1–4 ms for each page of a batch's inserts.
        return connection, RawCursor(dbapi_connection)
    return connection, dbapi_connection.cursor()


#: Key of a session's info: (its transaction, the connection that transaction holds), kept by _connection.
_HELD = "capcourse_connection"


def _connection(session: Session) -> Connection:
    """``session.connection()``, looked up once per transaction of the session.

    Within one transaction the session always answers with the same connection,
    but asking walks its state machinery, with events, on every statement:
    ``Session.connection`` was 7.2% of an LMS's single-statement request on
    SQLite, 4.7% once asked only at the transaction's start, where it begins it
    (py-spy, in-process; too little to show in wall-clock A/B runs). A
    transaction rolled back for an error is no longer active, and asking again
    raises as the session does.
    """
    transaction = _innermost(session)
    held = session.info.get(_HELD)
    if held is not None and transaction is not None and held[0] is transaction and transaction.is_active:
        return cast(Connection, held[1])
    connection = session.connection()  # begins the transaction when there is none yet
    session.info[_HELD] = (_innermost(session), connection)
    return connection


def _innermost(session: Session) -> SessionTransaction | None:
    # A SAVEPOINT begun since the connection was held is begun by asking the session again.
    return session.get_nested_transaction() or session.get_transaction()


_PLACEHOLDER = re.compile(r"%[s%]")


@lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """``sql`` written with ``%s`` placeholders (and ``%%`` for a literal ``%``) as PostgreSQL numbers them.

    Cached: the statements are this module's plans, and pages of their rows.
    """
    counter = count(1)
    return _PLACEHOLDER.sub(lambda found: "%" if found.group() == "%%" else f"${next(counter)}", sql)


#: Key of a PostgreSQL connection's record info: the deferred statements waiting on it, as
#: (numbered SQL, parameters, many, the cursor that keeps its rows or None, prepare) in the order they were run.
_DEFERRED = "capcourse_deferred"

_Statement = tuple[str, Any, bool, Any, "bool | None"]


def _defer(
    connection: Connection, sql: str, params: Any, many: bool = False, cursor: Any = None, prepare: bool | None = None
) -> _Statement:
    statement: _Statement = (_numbered(sql), params, many, cursor, prepare)
    connection.info.setdefault(_DEFERRED, []).append(statement)
    return statement


def _execute(
    connection: Connection,
    cursor: Any,
    sql: str,
    params: Any,
    many: bool = False,
    *,
    prepare: bool | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Run ``sql`` on ``cursor``, telling SQLAlchemy's cursor-level listeners (query counts, tracing) as it would.

    On PostgreSQL the statements deferred on the connection go first, in one pipeline with this one;
    ``prepare`` is psycopg's (None: prepared once it has run a few times on the connection; False: never).
    ``meanwhile`` (work that runs no statement) is called once the statement is sent, before its answer
    is read: on PostgreSQL the server runs the statement meanwhile (see :func:`_pipelined`); elsewhere
    the work is done after the statement.
    """
    if isinstance(cursor, RawCursor):
        sql = _numbered(sql)
        deferred = connection.info.pop(_DEFERRED, None)
        if deferred or meanwhile is not None:
            _pipelined(connection, [*(deferred or ()), (sql, params, many, cursor, prepare)], meanwhile)
            return
        if prepare is False and not many:
            _told_and_wrapped(connection, cursor, sql, params, many, lambda: cursor.execute(sql, params, prepare=False))
            return
    if many:
        _told_and_wrapped(connection, cursor, sql, params, many, lambda: cursor.executemany(sql, params))
    else:
        _told_and_wrapped(connection, cursor, sql, params, many, lambda: cursor.execute(sql, params))
    if meanwhile is not None:
        meanwhile()


def _pipelined(
    connection: Connection, statements: Sequence[_Statement], meanwhile: Callable[[], None] | None = None
) -> None:
    """Send ``statements`` in one psycopg pipeline: one round trip. A statement that came with a cursor
    (the caller's, or a read sent ahead) leaves its result on it for its owner, who closes it; the others
    get a cursor of their own here. Each is told to the cursor-level listeners as if run alone.

    ``meanwhile`` is called once they are on the wire and before their answers are read: the server
    runs them while this process does that work. It must run no statement (the connection is in
    pipeline mode until it returns); an error it raises ends the pipeline and propagates.
    """
    dbapi_connection: Any = connection.connection.dbapi_connection
    own = [RawCursor(dbapi_connection) for *_, given, _ in statements if given is None]
    spare = iter(own)
    cursors = [given if given is not None else next(spare) for *_, given, _ in statements]
    dispatch = connection.dispatch
    # A deferred BEGIN is not told, as psycopg's own never was: listeners count the statements a session runs.
    told = [(cursor, statement) for cursor, statement in zip(cursors, statements, strict=True) if not _opens(statement)]
    if dispatch.before_cursor_execute:
        for cursor, (sql, params, many, _, _) in told:
            dispatch.before_cursor_execute(connection, cursor, sql, params, None, many)
    dialect = connection.dialect
    try:
        with dbapi_connection.pipeline():
            for cursor, (sql, params, many, _, prepare) in zip(cursors, statements, strict=True):
                if many:
                    cursor.executemany(sql, params)
                elif prepare is False:
                    cursor.execute(sql, params, prepare=False)
                else:
                    cursor.execute(sql, params)
            if meanwhile is not None:
                meanwhile()
    except dialect.loaded_dbapi.Error as error:
        for cursor in cursors:
            cursor.close()  # as _told_and_wrapped closes its cursor on an error
        disconnected = dialect.is_disconnect(error, dbapi_connection, None)
        sql = ";\n".join(statement[0] for statement in statements)
        raise DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error, connection_invalidated=disconnected, dialect=dialect
        ) from error
    finally:
        for cursor in own:
            cursor.close()
    if dispatch.after_cursor_execute:
        for cursor, (sql, params, many, _, _) in told:
            dispatch.after_cursor_execute(connection, cursor, sql, params, None, many)


def send_deferred(connection: Connection) -> None:
    """Send the statements deferred on ``connection`` now (one round trip), if any."""
    deferred = connection.info.pop(_DEFERRED, None)
    if deferred:
        _pipelined(connection, deferred)


@event.listens_for(Engine, "before_cursor_execute")
def _before_statement(connection: Connection, *_: Any) -> None:
    # Whatever SQLAlchemy runs next (an ORM flush, a query, a savepoint) finds the deferred rows written.
    if _DEFERRED in connection.info:
        send_deferred(connection)


#: Key of a pooled PostgreSQL connection's info: capcourse switched psycopg to autocommit on it, to send the
#: transactions' ``BEGIN`` itself (see :func:`_begin_with_the_first_statement`).
_OWN_BEGIN = "capcourse_own_begin"


@event.listens_for(Engine, "begin")
def _begin_with_the_first_statement(connection: Connection) -> None:
    """On PostgreSQL, have the transaction's ``BEGIN`` wait, as a deferred statement, for its first statement.

    psycopg sends ``BEGIN`` before a transaction's first statement and waits for its
    answer, even in a pipeline: a round trip of its own, one of the five a statement
    from an LMS costs. Here psycopg is put in autocommit, so it sends none, and the
    ``BEGIN`` it would have sent (with the connection's isolation level, read-only and
    deferrable settings) waits on the connection like a deferred insert: whatever
    runs the first statement (this module, SQLAlchemy, ``COPY``, the ``COMMIT``) sends
    it first, in one pipeline. psycopg commits and rolls back by the server's
    transaction status, not its autocommit flag, so SQLAlchemy's ``commit()`` and
    ``rollback()`` end the transaction as before; a rollback before the first
    statement drops the ``BEGIN`` unsent. Code that takes the driver's connection
    itself must call :func:`driver_connection`, which sends what waits first.

    Left to psycopg: a connection SQLAlchemy put in autocommit (``isolation_level=
    "AUTOCOMMIT"``, the API-key read), one in autocommit by anyone else, and one not
    idle.
    """
    if connection.dialect.name != "postgresql":
        return
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    record = connection.connection
    dbapi_connection: Any = record.dbapi_connection
    if dbapi_connection.autocommit and not record.info.get(_OWN_BEGIN):
        return
    if dbapi_connection.info.transaction_status != TransactionStatus.IDLE:
        return
    if not dbapi_connection.autocommit:
        # SQLAlchemy set it back after an AUTOCOMMIT use (the pool's reset), or the connection is new.
        dbapi_connection.autocommit = True
        record.info[_OWN_BEGIN] = True
    connection.info.setdefault(_DEFERRED, []).insert(0, (_begin_statement(dbapi_connection), None, False, None, False))


def _begin_statement(dbapi_connection: Any) -> str:
    """The ``BEGIN`` psycopg would send on ``dbapi_connection`` outside autocommit."""
    parts = ["BEGIN"]
    if dbapi_connection.isolation_level is not None:
        parts += ["ISOLATION LEVEL", IsolationLevel(dbapi_connection.isolation_level).name.replace("_", " ")]
    if dbapi_connection.read_only is not None:
        parts.append("READ ONLY" if dbapi_connection.read_only else "READ WRITE")
    if dbapi_connection.deferrable is not None:
        parts.append("DEFERRABLE" if dbapi_connection.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


def _opens(statement: _Statement) -> bool:
    return statement[0].startswith("BEGIN")


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection under ``connection``, with what waits on it sent (the transaction's
    ``BEGIN`` among it): a statement run on it directly then runs in the transaction, after what came before."""
    send_deferred(connection)
    return connection.connection.driver_connection


@event.listens_for(Engine, "commit")
def _before_commit(connection: Connection) -> None:
    deferred = connection.info.pop(_DEFERRED, None)
    if not deferred:
        return
    if len(deferred) == 1 and _opens(deferred[0]):
        return  # nothing ran: no transaction was opened, none to commit (psycopg's commit sends nothing)
    dbapi_connection: Any = connection.connection.dbapi_connection
    if (
        _opens(deferred[0])
        or not dbapi_connection.autocommit
        or dbapi_connection.info.transaction_status != TransactionStatus.IDLE
    ):
        # The COMMIT goes in their pipeline: one round trip for both, where a pipeline of its own then
        # psycopg's COMMIT took two. psycopg's commit, which SQLAlchemy calls next, finds the transaction
        # ended and sends nothing. A failed COMMIT (or statement before it) is raised here, by commit().
        deferred = [*deferred, ("COMMIT", None, False, None, False)]
    _pipelined(connection, deferred)


@event.listens_for(Engine, "rollback")
def _dropped_on_rollback(connection: Connection) -> None:
    connection.info.pop(_DEFERRED, None)


@event.listens_for(Pool, "checkin")
def _dropped_on_checkin(_dbapi_connection: Any, record: Any) -> None:
    # A connection given back without a rollback SQLAlchemy saw (the pool resets it) keeps nothing either.
    if record is not None:
        record.info.pop(_DEFERRED, None)


def _copy(
    connection: Connection, cursor: Any, table: Table, keys: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``COPY table (keys) FROM STDIN`` of ``rows`` (values as the bind processors made them), on psycopg."""
    send_deferred(connection)  # COPY cannot run in a pipeline
    columns = ", ".join(table.c[key].name for key in keys)
    sql = f'COPY "{table.name}" ({columns}) FROM STDIN'

    def send() -> None:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    _told_and_wrapped(connection, cursor, sql, rows, True, send)


def _told_and_wrapped(
    connection: Connection, cursor: Any, sql: str, params: Any, many: bool, send: Callable[[], Any]
) -> None:
    """``send()`` ``sql`` on ``cursor`` between SQLAlchemy's cursor-level listeners, as SQLAlchemy would."""
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, cursor, sql, params, None, many)
    dialect = connection.dialect
    try:
        send()
    except dialect.loaded_dbapi.Error as error:
        # Raised as SQLAlchemy raises it (IntegrityError, OperationalError, …): the error handlers
        # (a 503 while the database is unreachable, a 409 on a conflict) know only those.
        cursor.close()
        disconnected = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
        raise DBAPIError.instance(
            sql, params, error, dialect.loaded_dbapi.Error, connection_invalidated=disconnected, dialect=dialect
        ) from error
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(connection, cursor, sql, params, None, many)


@dataclass(frozen=True)
class _Plan:
    sql: str
    #: For each positional parameter: the statement's parameter name, and an index into it when it is an IN list.
    sources: tuple[tuple[str, int | None], ...]
    #: Values the statement carries itself (literals SQLAlchemy made parameters of), by name.
    constants: Mapping[str, Any]
    processors: tuple[Processor, ...]
    results: tuple[Processor, ...]
    #: Never prepared on the server (an IN list of several values: see :meth:`Prepared._plan`).
    one_shot: bool = False


class Prepared:
    """A Core statement (a query, or DML with one set of parameters) run on the driver's cursor.

    Build it once at import, like the Core statement it wraps; ``IN`` lists are
    ``bindparam(name, expanding=True)``.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, tuple[SQLCompiler, tuple[str, ...]]] = {}
        self._plans: dict[tuple[Dialect, tuple[int, ...]], _Plan] = {}

    def _plan(self, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
        found = self._compiled.get(dialect)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            expanding = tuple(name for name, bind in compiled.binds.items() if bind.expanding)
            found = self._compiled[dialect] = (compiled, expanding)
        compiled, expanding = found
        lengths = tuple(len(params[name]) for name in expanding)
        plan = self._plans.get((dialect, lengths))
        if plan is not None:
            return plan
        state = compiled.construct_expanded_state({**params})
        sql, names = _positional(state.statement, state.positiontup, dialect.paramstyle)
        origin: dict[str, tuple[str, int | None]] = {}
        for name, expanded in (state.parameter_expansion or {}).items():
            for index, expanded_name in enumerate(expanded):
                origin[expanded_name] = (name, index)
        sources = tuple(origin.get(name, (name, None)) for name in names)
        defaults = compiled.construct_params(_check=False)
        constants = {name: defaults[name] for name, _ in sources if name not in params}
        binds = _bind_processors(compiled)
        plan = _Plan(
            sql,
            sources,
            constants,
            tuple(binds.get(source) for source, _ in sources),
            tuple(_result_processors(compiled, dialect)),
            # psycopg prepares a statement once it has run it a few times on a connection, and PostgreSQL
            # then keeps one generic plan for it, made for the table as it was then. For an IN list of
            # several values that plan can be a sequential scan that builds the list again for every row:
            # 22-42 ms for 100 idempotency keys against 6,000 completions (bench/ingest.py), where the
            # statement planned with its values (a one-shot, unnamed statement) takes the unique index.
            one_shot=any(length > 1 for length in lengths),
        )
        # An empty IN list compiles to a fixed expression with no parameter: one plan per length.
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        self._plans[dialect, lengths] = plan
        return plan

    def _values(self, plan: _Plan, params: Mapping[str, Any]) -> tuple[Any, ...]:
        given = {**plan.constants, **params} if plan.constants else params
        values = [given[name] if index is None else given[name][index] for name, index in plan.sources]
        return tuple(v if p is None else p(v) for p, v in zip(plan.processors, values, strict=True))

    def _run(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, _Plan]:
        connection, cursor = _cursor(session)
        plan = self._plan(connection.dialect, params)
        _execute(connection, cursor, plan.sql, self._values(plan, params), prepare=False if plan.one_shot else None)
        return cursor, plan

    def ahead(self, session: Session, params: Mapping[str, Any] | None = None) -> Ahead:
        """The query's rows, asked for now and read later (:meth:`Ahead.rows`).

        On PostgreSQL the query waits on the connection like a deferred insert and goes in one pipeline
        with the next statement, so that reads a request needs anyway cost no round trip of their own.
        Elsewhere (SQLite: no round trips) it runs now. Either way it sees what the statements before it
        did, in the transaction, and nothing after it.
        """
        params = params or {}
        if session.get_bind().dialect.name != "postgresql":
            rows = self.all(session, params)
            return Ahead(lambda: rows)
        connection, cursor = _cursor(session)
        plan = self._plan(connection.dialect, params)
        waiting = _defer(
            connection, plan.sql, self._values(plan, params), cursor=cursor, prepare=False if plan.one_shot else None
        )

        def read() -> list[tuple[Any, ...]]:
            try:
                if any(statement is waiting for statement in connection.info.get(_DEFERRED, ())):
                    send_deferred(connection)
                return _process(cursor.fetchall(), plan.results)
            finally:
                cursor.close()

        return Ahead(read)

    def all(self, session: Session, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Every row, as tuples of the values SQLAlchemy would have given."""
        cursor, plan = self._run(session, params or {})
        try:
            return _process(cursor.fetchall(), plan.results)
        finally:
            cursor.close()

    def scalars(self, session: Session, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self.all(session, params)]

    def execute(self, session: Session, params: Mapping[str, Any] | None = None) -> int:
        """Run DML that returns no rows; the number of rows it changed."""
        cursor, _ = self._run(session, params or {})
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


class Ahead:
    """Rows of a query sent ahead (:meth:`Prepared.ahead`), read once, when first asked for."""

    def __init__(self, read: Callable[[], list[tuple[Any, ...]]]) -> None:
        self._read: Callable[[], list[tuple[Any, ...]]] | None = read
        self._rows: list[tuple[Any, ...]] = []

    def rows(self) -> list[tuple[Any, ...]]:
        """The query's rows, as :meth:`Prepared.all` gives them.

        :raises psycopg.ProgrammingError: the transaction was rolled back before the query was sent.
        """
        if self._read is not None:
            self._rows = self._read()
            self._read = None  # only once read: a failed read fails again, never answers no rows
        return self._rows


#: A placeholder in a VALUES row, with the cast SQLAlchemy writes after it on PostgreSQL (``::UUID``).
_VALUE = r"(?:%s|\?)(?:::[A-Z][A-Z0-9_ ]*(?:\[\])?)?"
_VALUES_GROUP = re.compile(rf" VALUES (\({_VALUE}(?:, {_VALUE})*\))")


def _values_group(sql: str) -> tuple[str, str, str] | None:
    """A one-row ``INSERT … VALUES (…) …`` with positional placeholders as the text before its row,
    the row, and the rest; None if its row is not placeholders only (each with its cast, if any).

    Nothing outside the row is a parameter: :meth:`PreparedInsert._plan` refuses a statement with one
    (SQLAlchemy names it apart from every column, and the rows give columns only).
    """
    found = _VALUES_GROUP.search(sql)
    if found is None:
        return None
    return sql[: found.start(1)], found.group(1), sql[found.end(1) :]


@dataclass(frozen=True)
class _InsertPlan:
    #: The statement up to its ``VALUES`` group, the group to repeat for each row, and the rest;
    #: or (no ``RETURNING``) the whole statement for one row, sent with ``executemany``.
    head: str
    group: str
    tail: str
    keys: tuple[str, ...]
    processors: tuple[Processor, ...]
    results: tuple[Processor, ...]
    #: A plain insert's one-row statement split around its row (:func:`_values_group`), for multi-row
    #: VALUES on PostgreSQL; None when its row is not placeholders only (COPY then).
    rows: tuple[str, str, str] | None = None


class PreparedInsert:
    """A multi-row ``INSERT`` (optionally ``ON CONFLICT DO NOTHING`` or ``DO UPDATE``, ``RETURNING``) on the driver.

    The rows of one call go in one statement per page, so with ``DO UPDATE`` they must not repeat a
    conflict key: PostgreSQL refuses to update a row twice in one statement (sum them first, as evidence does).

    :param build: makes the statement for a dialect (from ``sqlalchemy.dialects.<name>.insert``, to have
        ``ON CONFLICT``); called once per dialect.
    :param deferred: on PostgreSQL, send the rows with the next statement (see the module); only for an
        insert without ``RETURNING`` whose row count the caller does not need (hooks are told all rows).
    """

    def __init__(self, table: Table, build: Callable[[Any], Any] | None = None, *, deferred: bool = False) -> None:
        self.table = table
        #: Sent with the next statement on PostgreSQL (see the module): the caller never reads its outcome.
        self.deferred = deferred
        #: A plain insert (no ON CONFLICT, no RETURNING) goes to PostgreSQL by COPY.
        self.plain = build is None
        self.build = build or (lambda insert: insert)
        self._plans: dict[tuple[Dialect, tuple[str, ...]], _InsertPlan] = {}
        self._statements: dict[Dialect, Any] = {}

    def _statement(self, dialect: Dialect) -> Any:
        statement = self._statements.get(dialect)
        if statement is None:
            insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
            statement = self._statements[dialect] = self.build(insert(self.table))
        return statement

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _InsertPlan:
        plan = self._plans.get((dialect, keys))
        if plan is not None:
            return plan
        compiled = self._statement(dialect).compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
        many = compiled._insertmanyvalues
        if many is None:
            # No RETURNING: the driver's executemany sends the rows (as SQLAlchemy would)…
            head, names = _positional(compiled.string, compiled.positiontup, dialect.paramstyle)
            group_sql = tail = ""
            split = _values_group(head)
            if split is not None and not self.plain:
                # … except with ON CONFLICT: then as multi-row VALUES pages, as with RETURNING. On PostgreSQL
                # executemany is one statement per row; for 100 evidence rows in a pipeline that took
                # 1.8-2.0 ms of psycopg and 4.4-5.6 ms of the server, one statement 0.7-1.0 and 4.0-4.4 ms.
                head, group_sql, tail = split
        else:
            single = f"({many.single_values_expr})"
            head, found, tail = compiled.string.partition(single)
            if not found or single in tail:
                raise NotImplementedError(f"{self.table.name}: the VALUES clause is not where it was expected")
            group_sql, names = _positional(single, compiled.positiontup, dialect.paramstyle)
        unknown = sorted(set(names) - set(keys))
        if unknown:
            # A column default SQLAlchemy would compute, or a parameter outside VALUES: give it in the rows.
            raise ValueError(f"{self.table.name}: rows must give {', '.join(unknown)}")
        binds = _bind_processors(compiled)
        plan = _InsertPlan(
            head,
            group_sql,
            tail,
            tuple(names),
            tuple(binds.get(name) for name in names),
            tuple(_result_processors(compiled, dialect)),
            split if self.plain else None,
        )
        self._plans[dialect, keys] = plan
        return plan

    def run(
        self, session: Session, rows: Sequence[Mapping[str, Any]], meanwhile: Callable[[], None] | None = None
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (each with the same keys); the ``RETURNING`` rows, if any.

        :param meanwhile: work that runs no statement and does not depend on the outcome, called once
            the rows are sent and before what they return is read (one page of ``RETURNING`` rows only:
            then on PostgreSQL the server inserts while this process works; otherwise it is called after).
        """
        if not rows:
            if meanwhile is not None:
                meanwhile()
            return []
        connection, cursor = _cursor(session)
        plan = self._plan(connection.dialect, tuple(rows[0]))
        params = _row_params(plan.keys, plan.processors, rows)
        returned: list[tuple[Any, ...]] = []
        defer = self.deferred and connection.dialect.name == "postgresql"
        overlap: Callable[[], None] | None = None  # meanwhile, when it can go while the server inserts
        try:
            if self.plain and connection.dialect.name == "postgresql":
                if len(params) > MAX_VALUES_ROWS or len(params) * len(plan.keys) > MAX_PARAMETERS or plan.rows is None:
                    # COPY: psycopg's executemany sends the rows as one pipelined INSERT each, a tenth of a
                    # millisecond of Python apiece; a batch's 700 index rows took half its time that way.
                    _copy(connection, cursor, self.table, plan.keys, params)
                else:
                    # A few rows (a statement's index, a batch's outbox rows): one multi-row INSERT is one
                    # round trip, or none of its own when deferred, where COPY takes two.
                    head, group, tail = plan.rows
                    sql = f"{head}{', '.join([group] * len(params))}{tail}"
                    if defer:
                        _defer(connection, sql, list(chain.from_iterable(params)))
                    else:
                        _execute(connection, cursor, sql, list(chain.from_iterable(params)))
                inserted = len(rows)
            elif not plan.group and defer:
                _defer(connection, plan.head, params, many=True)
                inserted = len(rows)
            elif not plan.group:
                _execute(connection, cursor, plan.head, params, many=True)
                inserted = cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else len(rows)
            else:
                inserted = 0
                per_page = max(1, min(MAX_ROWS, MAX_PARAMETERS // max(1, len(plan.keys))))
                overlap = meanwhile if plan.results and len(rows) <= per_page else None
                for start in range(0, len(rows), per_page):
                    page = params[start : start + per_page]
                    sql = f"{plan.head}{', '.join([plan.group] * len(page))}{plan.tail}"
                    if defer and not plan.results:
                        _defer(connection, sql, list(chain.from_iterable(page)))
                        inserted += len(page)
                        continue
                    _execute(connection, cursor, sql, list(chain.from_iterable(page)), meanwhile=overlap)
                    if plan.results:
                        fetched = cursor.fetchall()
                        returned.extend(_process(fetched, plan.results))
                        inserted += len(fetched)
                    elif cursor.rowcount is not None and cursor.rowcount >= 0:
                        inserted += cursor.rowcount
        finally:
            cursor.close()
        if meanwhile is not None and overlap is None:
            meanwhile()
        for hook in INSERT_HOOKS:
            hook(connection, self.table.name, inserted)
        return returned


class Dependent(NamedTuple):
    """Rows of another table that belong to rows being inserted, each naming its row by position.

    Written with the key the database gives that row (a serial ``pk``), so in the
    same statement as the insert on PostgreSQL (:func:`defer_with`), or after it,
    once its keys are known.
    """

    table: Table
    #: Its column that takes the inserted row's key.
    key_column: str
    #: Its rows, each giving every other column (the same ones), made for this insert: the key is added to them.
    rows: Sequence[dict[str, Any]]
    #: For each row, the position of the inserted row it belongs to.
    owners: Sequence[int]


@lru_cache(maxsize=64)
def _placeholders(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[str, ...]:
    """Each column's placeholder as an insert's ``VALUES`` writes it, with SQLAlchemy's cast (``%s::VARCHAR``:
    a cast to the column's own ``VARCHAR(300)`` would cut a longer value short, where the insert refuses it)."""
    plan = PreparedInsert(table)._plan(dialect, columns)
    if plan.rows is None:
        raise NotImplementedError(f"{table.name}: the VALUES clause is not placeholders only")
    found = re.findall(_VALUE, plan.rows[1])
    return tuple(found[plan.keys.index(column)] for column in columns)


def _column_values(table: Table, column: str, dialect: Dialect, values: Iterable[Any]) -> list[Any]:
    processor = table.c[column].type._cached_bind_processor(dialect)
    if processor is None:
        return list(values)
    return [value if value is None else processor(value) for value in values]


def defer_with(
    insert: PreparedInsert,
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    returning: tuple[str, str],
    dependents: Sequence[Dependent],
) -> bool:
    """On PostgreSQL, send ``rows`` and their ``dependents`` as one deferred statement: no round trip of its own.

    ``insert`` must be ``INSERT … ON CONFLICT DO NOTHING RETURNING key, match`` (``returning``, by column
    name; ``match`` unique among ``rows``). A data-modifying ``WITH`` inserts the rows, then each dependent's
    rows for the rows inserted (joined by their match value), with their keys: a row left out for its
    conflict gets none, as when the keys come back first. Nothing is read back.

    :returns: False (and nothing done) off PostgreSQL, for more rows than one statement takes, or for more
        dependent rows than :data:`MAX_VALUES_ROWS`: insert as usual then (many rows go faster by ``COPY``,
        once the keys have come back).
    """
    if not rows or sum(len(d.rows) for d in dependents) > MAX_VALUES_ROWS:
        return False
    connection = _connection(session)  # the transaction's, held: cheaper to ask than the session's bind
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return False
    plan = insert._plan(dialect, tuple(rows[0]))
    # Every row's values are parameters, and each dependent row's with its owner's match value.
    parameters = len(rows) * len(plan.keys) + sum(len(d.rows) * (len(d.rows[0]) + 1) for d in dependents if d.rows)
    if not plan.group or parameters > MAX_PARAMETERS:
        return False
    session._autoflush()  # as before any statement run here (see _cursor)
    key, match = returning
    owner_placeholder = re.findall(_VALUE, plan.group)[plan.keys.index(match)]
    head = f"{plan.head}{', '.join([plan.group] * len(rows))}{plan.tail}"
    params: list[Any] = list(chain.from_iterable(_row_params(plan.keys, plan.processors, rows)))
    parts: list[str] = []
    for dependent in dependents:
        if not dependent.rows:
            continue
        table, columns = dependent.table, tuple(dependent.rows[0])
        names = ", ".join(table.c[c].name for c in columns)
        # The rows as VALUES, as an insert of them sends them (their values made by the columns' types), with
        # their owner's match value first: as unnest arrays, psycopg quoted every element in Python (6% more
        # of a statement's instructions at batch 1, against 3% fewer this way; bench/instructions.py).
        group = f"({', '.join((owner_placeholder, *_placeholders(table, columns, dialect)))})"
        owners = _column_values(insert.table, match, dialect, (rows[n][match] for n in dependent.owners))
        columns_values = [_column_values(table, c, dialect, (row[c] for row in dependent.rows)) for c in columns]
        values = zip(owners, *columns_values, strict=True)
        params.extend(chain.from_iterable(values))
        parts.append(
            f'INSERT INTO "{table.name}" ({table.c[dependent.key_column].name}, {names}) '
            f"SELECT new.{key}, {', '.join(f'v.{table.c[c].name}' for c in columns)} "
            f"FROM (VALUES {', '.join([group] * len(dependent.rows))}) AS v(owner, {names}) "
            f"JOIN new ON new.{match} = v.owner"
        )
    if not parts:
        sql = head.rpartition(" RETURNING ")[0]
    else:
        named = [f"new AS ({head})", *(f"d{n} AS ({part})" for n, part in enumerate(parts[:-1]))]
        sql = f"WITH {', '.join(named)} {parts[-1]}"
    _defer(connection, sql, params)
    for hook in INSERT_HOOKS:
        hook(connection, insert.table.name, len(rows))
        for dependent in dependents:
            if dependent.rows:
                hook(connection, dependent.table.name, len(dependent.rows))
    return True
