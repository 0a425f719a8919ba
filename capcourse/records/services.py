"""Recording completions and emitting the xAPI statements they produce.

Whatever the way in (JSON API, xAPI statement, SCORM run-time data), a batch
of completions goes through :func:`record_batch`: matched to activities by IRI
or external identifier, recorded once per idempotency key, and its statements
(the completion, and an attainment when it completes an item) stored and
queued in the outbox in the same transaction.

A batch is written as sets: lookups once per batch, multi-row inserts, one
evidence upsert, attainments checked in a few queries. What is created on
first sight (learners, completions, pending records, attainments, stored
statements) is inserted with ``ON CONFLICT DO NOTHING`` and read back, so
concurrent requests never fail on each other's rows.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import xapi
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.frameworks.models import Item
from capcourse.frameworks.uris import node_uri
from capcourse.identifiers import uuid7
from capcourse.mapping.models import Depth
from capcourse.mapping.models import Mapping as ItemMapping
from capcourse.prepared import Ahead, Dependent, Prepared, PreparedInsert, defer_with
from capcourse.records import evidence
from capcourse.records.models import (
    Attainment,
    Completion,
    DeliveryState,
    Learner,
    OutboxEntry,
    Outcome,
    PendingRecord,
    StoredStatement,
)
from capcourse.timestamps import utcnow
from xapi.types import JSON

logger = logging.getLogger(__name__)

ACTIVITY_IRI = re.compile(r"/activities/([0-9a-fA-F-]{36})/?$")
VERBS = {Outcome.COMPLETED: xapi.COMPLETED, Outcome.PASSED: xapi.PASSED, Outcome.FAILED: xapi.FAILED}
LESSON = "http://adlnet.gov/expapi/activities/lesson"
MODULE = "http://adlnet.gov/expapi/activities/module"
COURSE = "http://adlnet.gov/expapi/activities/course"
#: Values per IN (…) list read or written at once: well under SQLite's 32,766 bound parameters.
CHUNK = 500

# The queries of the ingest path, built once on Core tables with expanding IN parameters and
# run on the driver's cursor (capcourse.prepared): through the ORM session each cost several
# times what SQLite takes to run it (bench/ingest.py).
_activities = Activity.__table__
_modules = Module.__table__
_courses = Course.__table__
_programmes = Programme.__table__
_external = ExternalId.__table__
_mappings = ItemMapping.__table__
_items = Item.__table__
_learners_t = Learner.__table__
_completions = Completion.__table__
_pending = PendingRecord.__table__
_attainments_t = Attainment.__table__
_statements = StoredStatement.__table__


def _in(name: str) -> Any:
    return bindparam(name, expanding=True)


_PENDING_KEYS = Prepared(select(_pending.c.idempotency_key).where(_pending.c.idempotency_key.in_(_in("keys"))))
_RECORDED_KEYS = Prepared(select(_completions.c.idempotency_key).where(_completions.c.idempotency_key.in_(_in("keys"))))
_LEARNERS = Prepared(
    select(_learners_t.c.id, _learners_t.c.agent_key, _learners_t.c.agent).where(
        _learners_t.c.agent_key.in_(_in("keys"))
    )
)
_TARGET_COLUMNS = (
    _activities.c.id,
    _activities.c.title,
    _modules.c.id,
    _modules.c.title,
    _courses.c.id,
    _courses.c.title,
    _programmes.c.id,
    _programmes.c.title,
)
_TARGETS = Prepared(
    select(*_TARGET_COLUMNS)
    .join_from(_activities, _modules, _modules.c.id == _activities.c.module_id)
    .join(_courses, _courses.c.id == _modules.c.course_id)
    .join(_programmes, _programmes.c.id == _courses.c.programme_id)
    .where(_activities.c.id.in_(_in("ids")))
)
#: The activities LMS identifiers name, with where each sits: matching and its targets in one query.
_EXTERNAL_TARGETS = Prepared(
    select(_external.c.value, *_TARGET_COLUMNS)
    .join_from(_external, _activities, _activities.c.id == _external.c.activity_id)
    .join(_modules, _modules.c.id == _activities.c.module_id)
    .join(_courses, _courses.c.id == _modules.c.course_id)
    .join(_programmes, _programmes.c.id == _courses.c.programme_id)
    .where(_external.c.value.in_(_in("values")))
    .order_by(_external.c.id)
)
_MAPPING_COLUMNS = (
    _mappings.c.id,
    _mappings.c.activity_id,
    _mappings.c.module_id,
    _mappings.c.item_id,
    _mappings.c.depth,
    _items.c.uri,
    _items.c.abbreviated_statement,
    _items.c.full_statement,
)


def _with_mappings(query: Any) -> Any:
    """``query`` (of activities joined to their modules) with a row per item mapped to the activity or its module.

    One query instead of two for what a batch's completions need: on PostgreSQL a
    round trip less, and items are looked up by key for each mapping (the query on
    its own was planned as a scan of every framework item, hashed, per request).
    """
    return (
        query.add_columns(*_MAPPING_COLUMNS)
        .outerjoin(_mappings, or_(_mappings.c.activity_id == _activities.c.id, _mappings.c.module_id == _modules.c.id))
        .outerjoin(_items, _items.c.id == _mappings.c.item_id)
        .order_by(_mappings.c.created_at, _mappings.c.id)
    )


_TARGETS_MAPPED = Prepared(_with_mappings(_TARGETS.statement))
_EXTERNAL_TARGETS_MAPPED = Prepared(_with_mappings(_EXTERNAL_TARGETS.statement))
#: The mappings of the given items in the given programmes that say what attaining an item takes: the
#: activities mapped to it at depth ``assessed``. One definition for attaining and for withdrawing.
_ASSESSED = (
    _mappings.c.item_id.in_(_in("items")),
    _mappings.c.depth == Depth.ASSESSED.value,
    _mappings.c.programme_id.in_(_in("programmes")),
    _mappings.c.activity_id.is_not(None),
)
_ASSESSED_BY = Prepared(
    select(_mappings.c.programme_id, _mappings.c.item_id, _mappings.c.activity_id).where(*_ASSESSED)
)
_first_success = (
    select(func.min(_completions.c.occurred_at))
    .where(
        _completions.c.learner_id == _learners_t.c.id,
        _completions.c.activity_id == _mappings.c.activity_id,
        Completion.counts(),
    )
    .scalar_subquery()
)
#: For each learner, programme and item assessed there that the learner has not attained: a row per
#: activity attaining it takes, with when the learner first succeeded in it (or NULL). Nothing for an
#: item attained already, as most are after a learner's first success. What attaining takes, whether
#: it is attained and the first successes in one query, so that on PostgreSQL it goes with the
#: completions' insert (it depends only on what was read ahead): a learner's first success on an item
#: waited for the insert, then for what attaining it takes, then for the first successes.
_ATTAINING = Prepared(
    select(_mappings.c.programme_id, _mappings.c.item_id, _learners_t.c.id, _mappings.c.activity_id, _first_success)
    .select_from(_mappings)
    .join(_learners_t, _learners_t.c.id.in_(_in("learners")))
    .where(
        *_ASSESSED,
        ~select(_attainments_t.c.id)
        .where(
            _attainments_t.c.programme_id == _mappings.c.programme_id,
            _attainments_t.c.learner_id == _learners_t.c.id,
            _attainments_t.c.item_id == _mappings.c.item_id,
        )
        .exists(),
    )
)
_STORED_IDS = Prepared(select(_statements.c.id).where(_statements.c.id.in_(_in("ids"))))
_OUTBOX_TABLE: Any = OutboxEntry.__table__
_PENDING = str(DeliveryState.PENDING)
#: ``INSERT … ON CONFLICT DO NOTHING [RETURNING …]`` per (table, conflict, returning).
_INSERTS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], PreparedInsert] = {}


@dataclass
class CompletionInput:
    """A completion as any LMS sends it, before matching."""

    agent: dict[str, Any]
    activity_ref: str
    outcome: str
    occurred_at: datetime
    idempotency_key: str
    source: str
    success: bool | None = None
    score_scaled: float | None = None
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    duration_seconds: float | None = None
    registration: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CompletionInput:
        return cls(**{**data, "occurred_at": datetime.fromisoformat(data["occurred_at"])})


@dataclass(frozen=True)
class Recorded:
    """A completion as recorded: enough to answer the sender without loading it back."""

    id: uuid.UUID
    statement_id: uuid.UUID
    activity_id: uuid.UUID
    idempotency_key: str


@dataclass
class RecordResult:
    #: recorded, duplicate or pending (no activity matches yet).
    status: str
    completions: list[Recorded] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """An activity with what its statements name: module, course, programme."""

    activity_id: uuid.UUID
    activity_title: str
    module_id: uuid.UUID
    module_title: str
    course_id: uuid.UUID
    course_title: str
    programme_id: uuid.UUID
    programme_title: str


@dataclass(frozen=True)
class _Mapped:
    """An item an activity or module is mapped to, with what a statement says of it."""

    item_id: uuid.UUID
    depth: str
    uri: str
    label: str


def insert_for(session: Session, model: Any) -> Any:
    """An ``INSERT`` into ``model``'s table that knows ``ON CONFLICT`` on this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model.__table__)
    return sqlite.insert(model.__table__)


def insert_new(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[str],
    returning: Sequence[str] = (),
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """``INSERT … ON CONFLICT DO NOTHING`` of many rows in one go.

    One statement per row shape, compiled once and run on the driver
    (:class:`~capcourse.prepared.PreparedInsert`) as multi-row ``VALUES``
    pages. A row whose ``conflict`` columns are taken (by an earlier request,
    or a concurrent one) is left out, never an error. Every row gives the same
    columns, including those with Python-side defaults.

    :param meanwhile: work that runs no statement, done while the server inserts where it can
        (:meth:`~capcourse.prepared.PreparedInsert.run`), and in any case before this returns.
    :returns: the ``returning`` columns of the rows inserted (a value each when one column is asked).
    """
    result = _insert_new(model, conflict, returning).run(session, rows, meanwhile)
    if not returning:
        return []
    return [row[0] for row in result] if len(returning) == 1 else result


def _insert_new(model: Any, conflict: Sequence[str], returning: Sequence[str]) -> PreparedInsert:
    """The statement :func:`insert_new` runs, compiled once per table, conflict and returning."""
    cache_key = (model.__table__.name, tuple(conflict), tuple(returning))
    statement = _INSERTS.get(cache_key)
    if statement is None:
        table = model.__table__

        def build(insert: Any) -> Any:
            built = insert.on_conflict_do_nothing(index_elements=list(conflict))
            return built.returning(*(table.c[name] for name in returning)) if returning else built

        statement = _INSERTS[cache_key] = PreparedInsert(table, build)
    return statement


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def match_activities(session: Session, activity_ref: str) -> list[Activity]:
    """Activities an LMS's activity id stands for: our IRI, or an external identifier."""
    ids = _match(session, [activity_ref]).get(activity_ref, [])
    if not ids:
        return []
    found = {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _match(session: Session, refs: Iterable[str]) -> dict[str, list[uuid.UUID]]:
    """Activity ids for each of ``refs``: our IRIs, then external identifiers."""
    return _resolve(session, refs)[0]


def _resolve(session: Session, refs: Iterable[str]) -> tuple[dict[str, list[uuid.UUID]], dict[uuid.UUID, _Target]]:
    """Activity ids for each of ``refs`` (our IRIs, then external identifiers), and where each activity sits.

    A query for the IRIs (when there are any) and one for the external identifiers.
    """
    matched, targets, _ = _resolve_mapped(session, refs, None)
    return matched, targets


def _by_iri(refs: Iterable[str]) -> dict[str, uuid.UUID]:
    """The activity ids of those ``refs`` that are capcourse's own activity IRIs."""
    by_iri: dict[str, uuid.UUID] = {}
    for ref in refs:
        found = ACTIVITY_IRI.search(ref)
        if found:
            try:
                by_iri[ref] = uuid.UUID(found.group(1))
            except ValueError:
                continue
    return by_iri


@dataclass
class ReadAhead:
    """What recording a batch reads (its activities with their mappings, its learners), asked for at once.

    On PostgreSQL the queries go in one pipeline with the batch's next statement (see
    :meth:`capcourse.prepared.Prepared.ahead`): a statement from an LMS waited for its
    stored statement's insert, then the activity query, then the learner query, one
    round trip each. They cover every input asked about, duplicates included; what is
    not covered (an activity IRI of ours that no activity has, looked up again as an
    external identifier) is read when needed.
    """

    activity_ids: set[uuid.UUID]
    by_activity_id: Ahead | None
    values: set[str]
    by_value: Ahead | None
    agents: dict[str, dict[str, Any]]
    learners: list[Ahead]


def _reads_ahead(session: Session) -> bool:
    """Whether reading ahead saves anything: on PostgreSQL, a round trip; on SQLite queries cost none, and
    there each is read when needed, of only what is needed (not the whole batch's)."""
    return session.get_bind().dialect.name == "postgresql"


def read_ahead(session: Session, inputs: Sequence[CompletionInput], base_url: str) -> ReadAhead | None:
    """Ask for what :func:`record_batch` reads for ``inputs``, to be read in one round trip with what runs next.

    :returns: None where reading ahead saves nothing (see :func:`_reads_ahead`).
    """
    if not _reads_ahead(session):
        return None
    refs = {i.activity_ref for i in inputs}
    by_iri = _by_iri(refs)
    activity_ids = set(by_iri.values())
    values = refs - by_iri.keys()
    # An agent with no key is left to learners_for, as before, should its input be recorded at all.
    agents = _normal_agents((i.agent for i in inputs), skip_unidentified=True)
    return ReadAhead(
        activity_ids,
        _TARGETS_MAPPED.ahead(session, {"ids": list(activity_ids)}) if activity_ids else None,
        values,
        _EXTERNAL_TARGETS_MAPPED.ahead(session, {"values": list(values)}) if values else None,
        agents,
        [_LEARNERS.ahead(session, {"keys": list(chunk)}) for chunk in _chunks(list(agents))],
    )


def _resolve_mapped(
    session: Session, refs: Iterable[str], base_url: str | None, ahead: ReadAhead | None = None
) -> tuple[dict[str, list[uuid.UUID]], dict[uuid.UUID, _Target], dict[uuid.UUID, list[_Mapped]]]:
    """:func:`_resolve`, and (given ``base_url``) the items mapped to each activity and module, in the order they
    were mapped, read by the same queries (a row per mapping), or taken from ``ahead`` where it covers them."""
    refs = set(refs)
    by_iri = _by_iri(refs)
    if base_url is None:
        ahead = None  # read ahead with their mappings
    targets: dict[uuid.UUID, _Target] = {}
    mapped: dict[uuid.UUID, list[_Mapped]] = {}
    seen: set[uuid.UUID] = set()

    def take(row: Sequence[Any]) -> _Target:
        # A target's row, then (with base_url) the mapping the row carries, once each.
        if base_url is None:
            target = _Target(*row)
        else:
            target = _Target(*row[:8])
            mapping_id, activity_id, module_id, item_id, depth, uri, abbreviated, full = row[8:]
            if mapping_id is not None and mapping_id not in seen:
                seen.add(mapping_id)
                mapped.setdefault(activity_id or module_id, []).append(
                    _Mapped(item_id, depth, node_uri(base_url, item_id, uri), abbreviated or full[:200])
                )
        targets[target.activity_id] = target
        return target

    if by_iri:
        asked = set(by_iri.values())
        if ahead is not None and ahead.by_activity_id is not None and asked <= ahead.activity_ids:
            rows = ahead.by_activity_id.rows()  # of the whole batch's activities: those not asked are not matched
        else:
            rows = (_TARGETS if base_url is None else _TARGETS_MAPPED).all(session, {"ids": list(asked)})
        for row in rows:
            take(row)
    matched: dict[str, list[uuid.UUID]] = {ref: [i] for ref, i in by_iri.items() if i in targets}
    rest = refs - matched.keys()
    if rest:
        if ahead is not None and ahead.by_value is not None and rest <= ahead.values:
            rows = ahead.by_value.rows()
        else:
            rows = (_EXTERNAL_TARGETS if base_url is None else _EXTERNAL_TARGETS_MAPPED).all(
                session, {"values": list(rest)}
            )
        for value, *columns in rows:
            if value not in rest:
                continue
            target = take(columns)
            ids = matched.setdefault(value, [])
            if target.activity_id not in ids:
                ids.append(target.activity_id)
    return matched, targets, mapped


def _normal_agents(
    agents: Iterable[Mapping[str, Any]],
    known: Mapping[str, dict[str, Any]] | None = None,
    *,
    skip_unidentified: bool = False,
) -> dict[str, dict[str, Any]]:
    """Each agent's key and normalised form, once per key; the forms in ``known`` are not made again.

    :param skip_unidentified: leave out an agent with no key, instead of raising ``ValueError``.
    """
    normal: dict[str, dict[str, Any]] = {}
    for agent in agents:
        try:
            key = xapi.agent_key(agent)
        except ValueError:
            if skip_unidentified:
                continue
            raise
        if key not in normal:  # a batch names the same learners again and again
            form = known.get(key) if known else None
            normal[key] = form if form is not None else xapi.normalise_agent(agent)
    return normal


def learners_for(
    session: Session, agents: Iterable[Mapping[str, Any]], ahead: ReadAhead | None = None
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Learner id and stored agent for each agent key, creating the learners first seen.

    The known ones are read first (or taken from ``ahead`` where it covers them); the others are
    inserted with ``INSERT … ON CONFLICT DO NOTHING RETURNING``, and any a concurrent request
    inserted first are read back, so two requests that see a new learner at once both get the one row.
    """
    normal = _normal_agents(agents, ahead.agents if ahead is not None else None)
    if ahead is not None and normal.keys() <= ahead.agents.keys():
        found = {
            key: (learner_id, agent)
            for rows in ahead.learners
            for learner_id, key, agent in rows.rows()
            if key in normal
        }
    else:
        found = _learners(session, list(normal))
    missing = [key for key in normal if key not in found]
    if missing:
        now = utcnow()
        rows = [{"agent_key": k, "agent": normal[k], "name": normal[k].get("name"), "created_at": now} for k in missing]
        for learner_id, key, agent in insert_new(
            session, Learner, rows, ["agent_key"], returning=("id", "agent_key", "agent")
        ):
            found[key] = (learner_id, agent)
        # Those a concurrent request inserted first are read back.
        taken = [key for key in missing if key not in found]
        if taken:
            found.update(_learners(session, taken))
    return found


def _learners(session: Session, keys: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for chunk in _chunks(keys):
        for learner_id, key, agent in _LEARNERS.all(session, {"keys": list(chunk)}):
            found[key] = (learner_id, agent)
    return found


def learner_for(session: Session, agent: Mapping[str, Any]) -> Learner:
    """The learner ``agent`` identifies, created on first sight; their name follows the agent's."""
    key = xapi.agent_key(agent)
    learner_id, _ = learners_for(session, [agent])[key]
    learner = session.get(Learner, learner_id)
    assert learner is not None
    name = xapi.normalise_agent(agent).get("name")
    if name and learner.name != name:
        learner.name = str(name)
    return learner


#: Called with the statements about to be stored: rows of another table to write beside each one stored
#: (naming it by its position; written with its ``pk``, in the same transaction), or None. How a higher
#: layer (the LRS's statement index) adds to them without this layer importing it. A hook runs no
#: statement: it is called while the server inserts (``meanwhile``), with the connection in a pipeline.
STORED_HOOKS: list[Callable[[Sequence[dict[str, Any]]], Dependent | None]] = []
#: Deferred inserts of the rows that go with stored statements (outbox, hooks'), once their keys are known.
_DEPENDENT_INSERTS: dict[str, PreparedInsert] = {}


def store_statements(
    session: Session, statements: Sequence[dict[str, Any]], origin: str, destinations: Sequence[str]
) -> set[str]:
    """Keep statements in capcourse's store and queue each for every destination, as sets.

    A statement whose id is stored already is left as it is (a concurrent
    request stored it first): it is not queued again.

    :returns: the ids of the statements this call stored.
    """
    now = utcnow()
    rows = [_statement_row(statement, origin, now) for statement in statements]
    dependents: list[Dependent] = []
    # Made while the server inserts the statements, for all of them: resent ones (an LMS trying again)
    # get no key back, so _insert_dependents neither queues nor indexes them again.
    stored = _insert_statements(
        session, rows, meanwhile=lambda: dependents.extend(_dependents(rows, statements, destinations, now))
    )
    if stored:
        _insert_dependents(session, rows, stored, dependents)
    return {str(i) for i in stored}


def _insert_statements(
    session: Session, rows: Sequence[dict[str, Any]], meanwhile: Callable[[], None] | None = None
) -> dict[uuid.UUID, int]:
    """Insert statement rows where their ids are free: the ``pk`` of each inserted, by id."""
    # By the UUIDs the rows hold: each statement's id is parsed once, not again to match what was inserted.
    inserted = insert_new(session, StoredStatement, rows, ["id"], returning=("pk", "id"), meanwhile=meanwhile)
    return {i: pk for pk, i in inserted}


def _insert_dependents(
    session: Session, rows: Sequence[dict[str, Any]], stored: Mapping[uuid.UUID, int], dependents: Sequence[Dependent]
) -> None:
    """Insert the dependents' rows of the statement ``rows`` inserted (``stored``), with their keys."""
    keys = [stored.get(row["id"]) for row in rows]
    for dependent in dependents:
        kept = []
        for row, owner in zip(dependent.rows, dependent.owners, strict=True):
            key = keys[owner]
            if key is not None:
                row[dependent.key_column] = key
                kept.append(row)
        if kept:
            insert = _DEPENDENT_INSERTS.get(dependent.table.name)
            if insert is None:
                insert = _DEPENDENT_INSERTS[dependent.table.name] = PreparedInsert(dependent.table, deferred=True)
            insert.run(session, kept)


@dataclass(frozen=True)
class Emitting:
    """Rows of statements capcourse has just made, with their outbox and index rows, ready to store.

    Made apart from storing them (:func:`emitting`, which runs no statement), so
    that a batch's can be made while the server inserts its completions. Two
    add up to one: their rows go in the same statements.
    """

    rows: list[dict[str, Any]]
    dependents: list[Dependent]

    def __add__(self, other: Emitting) -> Emitting:
        if not other.rows:
            return self
        if not self.rows:
            return other
        offset = len(self.rows)
        theirs = {dependent.table.name: dependent for dependent in other.dependents}
        joined = []
        for mine in self.dependents:
            found = theirs.pop(mine.table.name, None)
            if found is None:
                joined.append(mine)
                continue
            owners = [*mine.owners, *(owner + offset for owner in found.owners)]
            joined.append(mine._replace(rows=[*mine.rows, *found.rows], owners=owners))
        for rest in theirs.values():
            joined.append(rest._replace(owners=[owner + offset for owner in rest.owners]))
        return Emitting([*self.rows, *other.rows], joined)


def emitting(statements: Sequence[dict[str, Any]], destinations: Sequence[str]) -> Emitting:
    """The rows that store ``statements`` (capcourse's own, new ids) and queue each for every destination."""
    if not statements:
        return Emitting([], [])
    now = utcnow()
    rows = [_statement_row(statement, "emitted", now) for statement in statements]
    return Emitting(rows, _dependents(rows, statements, destinations, now))


def store_emitted(session: Session, statements: Emitting) -> None:
    """Keep statements capcourse has just made (:func:`emitting`) and queue them, as sets.

    As :func:`store_statements`, but on PostgreSQL, for a few statements, in one
    statement with their outbox and index rows, sent with the next one (the
    commit): no round trip of its own, as nothing is read back. A statement
    whose id is stored already (none should be) is left as it is, and gets no
    outbox or index rows.
    """
    rows, dependents = statements.rows, statements.dependents
    if not rows:
        return
    if not defer_with(_insert_new(StoredStatement, ["id"], ("pk", "id")), session, rows, ("pk", "id"), dependents):
        _insert_dependents(session, rows, _insert_statements(session, rows), dependents)


def _dependents(
    rows: Sequence[Mapping[str, Any]],
    statements: Sequence[dict[str, Any]],
    destinations: Sequence[str],
    now: datetime,
) -> list[Dependent]:
    """The outbox rows of statements about to be stored (one per destination), and the hooks' rows."""
    found = []
    if destinations:
        found.append(
            Dependent(
                _OUTBOX_TABLE,
                "stored_pk",
                [
                    {"destination": d, "state": _PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
                    for _ in rows
                    for d in destinations
                ],
                [n for n in range(len(rows)) for _ in destinations],
            )
        )
    for hook in STORED_HOOKS:
        extra = hook(statements)
        if extra is not None:
            found.append(extra)
    return found


def store_statement(
    session: Session, statement: dict[str, Any], origin: str, destinations: Sequence[str]
) -> StoredStatement:
    """Keep one statement and queue it for every destination (see :func:`store_statements`); return it as stored."""
    store_statements(session, [statement], origin, destinations)
    stored: StoredStatement | None = session.scalar(
        select(StoredStatement).where(StoredStatement.id == uuid.UUID(statement["id"]))
    )
    assert stored is not None
    return stored


def _statement_row(statement: Mapping[str, Any], origin: str, now: datetime) -> dict[str, Any]:
    obj = statement.get("object", {})
    context = statement.get("context", {})
    return {
        "id": uuid.UUID(statement["id"]),
        "statement": statement,
        "origin": origin,
        "verb_id": statement["verb"]["id"],
        "object_id": obj.get("id") if obj.get("objectType", "Activity") == "Activity" else None,
        "agent_key": agent_key_or_none(statement.get("actor", {})),
        "registration": uuid.UUID(context["registration"]) if context.get("registration") else None,
        "voided": False,
        "stored_at": now,
    }


def agent_key_or_none(agent: Mapping[str, Any]) -> str | None:
    """``agent``'s key, or None for an anonymous Group (only its members identify anyone)."""
    try:
        return xapi.agent_key(agent)
    except ValueError:
        return None  # an anonymous group


def record_completion(
    session: Session, data: CompletionInput, base_url: str, destinations: Sequence[str]
) -> RecordResult:
    """Record ``data`` once, against every activity it matches, or keep it until one does."""
    return record_batch(session, [data], base_url, destinations)[0]


def record_batch(
    session: Session,
    inputs: Sequence[CompletionInput],
    base_url: str,
    destinations: Sequence[str],
    *,
    unseen_keys: bool = False,
    ahead: ReadAhead | None = None,
) -> list[RecordResult]:
    """Record a batch of completions as sets: a handful of queries whatever its size.

    Each input is recorded once per idempotency key (a resend, in this batch or
    any earlier one, is a ``duplicate``), against every activity it matches,
    or kept as ``pending`` until one does. Recorded completions, their
    statements, evidence, attainments and outbox rows are written in the
    caller's transaction, so the batch is all or nothing. Only flushes.

    :param unseen_keys: the caller knows no key was recorded before (each names a statement it has just
        stored for the first time), so they are not looked up; a key taken all the same (a record sent
        under another's key) is still never recorded twice: the inserts skip taken keys.
    :param ahead: what :func:`read_ahead` asked for these inputs before the caller's last statement;
        asked for here (to go with the key lookup) when not given, where reading ahead saves anything.
    :returns: one result per input, in order.
    """
    if not inputs:
        return []
    # Stored in UTC: SQLite keeps no offset, and evidence compares times as stored. (Most arrive in UTC:
    # copying each input anyway took 2% of a batch's instructions.)
    inputs = [
        i if i.occurred_at.tzinfo is UTC else replace(i, occurred_at=i.occurred_at.astimezone(UTC)) for i in inputs
    ]
    if ahead is None:
        ahead = read_ahead(session, inputs, base_url)
    results: list[RecordResult | None] = [None] * len(inputs)
    keys = [i.idempotency_key for i in inputs]
    seen = set() if unseen_keys else _taken_keys(session, _PENDING_KEYS, keys)
    fresh: list[int] = []
    for index, key in enumerate(keys):
        if key in seen:
            results[index] = RecordResult("duplicate")
        else:
            seen.add(key)
            fresh.append(index)
    matched, targets, mapped = _resolve_mapped(session, {inputs[i].activity_ref for i in fresh}, base_url, ahead)
    if not unseen_keys:
        # A record resent for one activity is found a duplicate by the completions' insert, which skips taken
        # keys. The others are looked up first: one for no activity would be kept pending again, one for several
        # recorded for an activity matched since. Looking every key up cost a batch of 100 a scan of the
        # completions (PostgreSQL plans one for 100 keys up to ~20,000 rows: 1.3-2.5 ms a batch, bench/ingest.py).
        asked = [i for i in fresh if len(matched.get(inputs[i].activity_ref, ())) != 1]
        recorded = _taken_keys(session, _RECORDED_KEYS, [keys[i] for i in asked])
        if recorded:
            for index in asked:
                if keys[index] in recorded:
                    results[index] = RecordResult("duplicate")
            fresh = [i for i in fresh if results[i] is None]
    pending = [i for i in fresh if not matched.get(inputs[i].activity_ref)]
    _keep_pending(session, [inputs[i] for i in pending], results, pending)
    recording = [i for i in fresh if matched.get(inputs[i].activity_ref)]
    if recording:
        _record(session, inputs, recording, matched, targets, mapped, results, base_url, destinations, ahead)
    return [r if r is not None else RecordResult("duplicate") for r in results]


def _taken_keys(session: Session, query: Prepared, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` ``query`` (:data:`_PENDING_KEYS`, :data:`_RECORDED_KEYS`) finds."""
    seen: set[str] = set()
    for chunk in _chunks(list(set(keys))):
        seen.update(query.scalars(session, {"keys": list(chunk)}))
    return seen


def _keep_pending(
    session: Session, inputs: Sequence[CompletionInput], results: list[RecordResult | None], indexes: Sequence[int]
) -> None:
    now = utcnow()
    rows = [
        {
            "activity_ref": data.activity_ref,
            "idempotency_key": data.idempotency_key,
            "payload": data.as_json(),
            "received_at": now,
        }
        for data in inputs
    ]
    kept = set(insert_new(session, PendingRecord, rows, ["idempotency_key"], returning=("idempotency_key",)))
    for index, data in zip(indexes, inputs, strict=True):
        # Not kept: a concurrent request kept the same record first.
        results[index] = RecordResult("pending" if data.idempotency_key in kept else "duplicate")
        if data.idempotency_key in kept:
            logger.info("Kept a %s record for unmapped activity %s", data.outcome, data.activity_ref)


def _record(
    session: Session,
    inputs: Sequence[CompletionInput],
    indexes: Sequence[int],
    matched: Mapping[str, list[uuid.UUID]],
    targets: Mapping[uuid.UUID, _Target],
    mapped: Mapping[uuid.UUID, list[_Mapped]],
    results: list[RecordResult | None],
    base_url: str,
    destinations: Sequence[str],
    ahead: ReadAhead | None = None,
) -> None:
    learners = learners_for(session, [inputs[i].agent for i in indexes], ahead)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    owner: list[int] = []
    for index in indexes:
        data = inputs[index]
        learner_id, _ = learners[xapi.agent_key(data.agent)]
        for n, activity_id in enumerate(matched[data.activity_ref]):
            completion_id = uuid7()
            rows.append(
                {
                    "id": completion_id,
                    "programme_id": targets[activity_id].programme_id,
                    "learner_id": learner_id,
                    "activity_id": activity_id,
                    "outcome": data.outcome,
                    "success": _success(data),
                    "score_scaled": data.score_scaled,
                    "score_raw": data.score_raw,
                    "score_min": data.score_min,
                    "score_max": data.score_max,
                    "duration_seconds": data.duration_seconds,
                    "occurred_at": data.occurred_at,
                    "recorded_at": now,
                    "source": data.source,
                    # One idempotency key, one completion per matched activity.
                    "idempotency_key": data.idempotency_key if n == 0 else f"{data.idempotency_key}#{activity_id}",
                    "statement_id": uuid.UUID(xapi.statement_id("completion", str(completion_id))),
                }
            )
            owner.append(index)
    # What attaining the items these completions may finish takes, asked now to go with the insert.
    attaining = _attaining_ahead(session, [row for row in rows if row["success"]], mapped)
    agents = {learner_id: agent for learner_id, agent in learners.values()}
    parts = StatementParts(mapped, base_url)
    built: list[dict[str, Any]] = []
    storing: list[Emitting] = []

    def build() -> None:
        # Every row's statement and the rows storing it, made while the server inserts the completions.
        # If the insert skips some (resends, or a request that raced this one), they are made again without them.
        built.extend(
            completion_statement(
                row, agents[row["learner_id"]], targets[row["activity_id"]], parts, inputs[index].registration
            )
            for row, index in zip(rows, owner, strict=True)
        )
        storing.append(emitting(built, destinations))

    inserted = set(insert_new(session, Completion, rows, ["idempotency_key"], returning=("id",), meanwhile=build))
    # A row not inserted was recorded before (a resend for one activity, not looked up: see record_batch), or
    # by a concurrent request meanwhile: a duplicate.
    kept = [(row, index) for row, index in zip(rows, owner, strict=True) if row["id"] in inserted]
    for row, index in kept:
        result = results[index] or RecordResult("recorded")
        result.completions.append(Recorded(row["id"], row["statement_id"], row["activity_id"], row["idempotency_key"]))
        results[index] = result
    for index in indexes:
        if results[index] is None:
            results[index] = RecordResult("duplicate")
    if len(kept) < len(rows):
        built = [statement for statement, row in zip(built, rows, strict=True) if row["id"] in inserted]
        storing = [emitting(built, destinations)]
    # Evidence: every completion not failed (see Completion.is_evidence); attainment: known successes only.
    evidenced = [row for row, _ in kept if row["success"] is not False]
    succeeded = [row for row in evidenced if row["success"]]
    evidence.add_completions(
        session,
        [
            (row["programme_id"], row["learner_id"], item_id, row["occurred_at"])
            for row in evidenced
            for item_id in dict.fromkeys(
                [m.item_id for m in mapped.get(row["activity_id"], [])]
                + [m.item_id for m in mapped.get(targets[row["activity_id"]].module_id, [])]
            )
        ],
    )
    attained = _attainments(session, succeeded, agents, mapped, base_url, attaining)
    store_emitted(session, storing[0] + emitting(attained, destinations))


def _success(data: CompletionInput) -> bool | None:
    """Passed is a success and failed is not; a completion is what it says, and unknown (``None``) when it says
    nothing: unknown success is not success."""
    if data.outcome == Outcome.PASSED:
        return True
    if data.outcome == Outcome.FAILED:
        return False
    return data.success


def _iri(base_url: str, kind: str, identifier: uuid.UUID) -> str:
    return f"{base_url}/{kind}/{identifier}"


def _item_activity(item: _Mapped) -> dict[str, Any]:
    return xapi.activity(item.uri, item.label, xapi.COMPETENCY)


class StatementParts:
    """The object and context of completion statements, built once per activity (and registration) for a batch.

    They depend only on the activity, where it sits and what it is mapped to: a
    batch of 100 statements from an LMS about one activity built the same module,
    course, programme and item activities 100 times, 6% of the whole request's
    instructions (callgrind, SQLite, in-process: 143.5 against 134.4 million). The
    statements of the batch share these objects; nothing changes a statement once it
    is built (it is stored, indexed and sent as it is), so sharing them is safe.
    """

    def __init__(self, mapped: Mapping[uuid.UUID, list[_Mapped]], base_url: str) -> None:
        self.mapped = mapped
        self.base_url = base_url
        self._built: dict[tuple[uuid.UUID, str | None], tuple[dict[str, Any], dict[str, Any]]] = {}

    def of(self, target: _Target, registration: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The statement's object (the activity) and context for a completion of ``target``."""
        key = (target.activity_id, registration)
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = self._build(target, registration)
        return built

    def _build(self, target: _Target, registration: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        base_url = self.base_url
        direct = self.mapped.get(target.activity_id, [])
        via_module = self.mapped.get(target.module_id, [])
        mapping_extension: list[JSON] = [
            {"item": m.uri, "depth": m.depth, "via": via}
            for via, mappings in (("activity", direct), ("module", via_module))
            for m in mappings
        ]
        extensions: dict[str, JSON] | None = (
            {f"{base_url}/xapi/extensions/mappings": mapping_extension} if mapping_extension else None
        )
        obj = xapi.activity(_iri(base_url, "activities", target.activity_id), target.activity_title, LESSON)
        context = xapi.context(
            registration=registration,
            parent=[xapi.activity(_iri(base_url, "modules", target.module_id), target.module_title, MODULE)],
            grouping=[
                xapi.activity(_iri(base_url, "courses", target.course_id), target.course_title, COURSE),
                xapi.activity(_iri(base_url, "programmes", target.programme_id), target.programme_title),
            ],
            category=[_item_activity(m) for m in direct],
            other=[_item_activity(m) for m in via_module],
            extensions=extensions,
        )
        return obj, context


def completion_statement(
    row: Mapping[str, Any],
    agent: Mapping[str, Any],
    target: _Target,
    parts: StatementParts,
    registration: str | None = None,
) -> dict[str, Any]:
    """The xAPI statement of a completion, carrying its capability mapping.

    Course and programme go in ``grouping``, the module in ``parent``; items
    mapped to the activity go in ``category`` and items mapped to its module
    in ``other``, as Activities whose ids are the items' CASE URIs.
    """
    obj, context = parts.of(target, registration)
    return xapi.statement(
        dict(agent),
        VERBS[Outcome(row["outcome"])],
        obj,
        str(row["statement_id"]),
        row["occurred_at"],
        xapi.result(
            completion=True,
            success=row["success"],
            scaled=row["score_scaled"],
            raw=row["score_raw"],
            minimum=row["score_min"],
            maximum=row["score_max"],
            duration_seconds=row["duration_seconds"],
        ),
        context,
    )


def _candidates(
    succeeded: Sequence[Mapping[str, Any]], mapped: Mapping[uuid.UUID, list[_Mapped]]
) -> tuple[dict[tuple[uuid.UUID, int, uuid.UUID], Mapping[str, Any]], dict[uuid.UUID, _Mapped]]:
    """(programme, learner, item) → the latest of these successful completions towards it, and the items,
    of the items mapped at depth ``assessed``."""
    candidates: dict[tuple[uuid.UUID, int, uuid.UUID], Mapping[str, Any]] = {}
    items: dict[uuid.UUID, _Mapped] = {}
    for row in succeeded:
        for m in mapped.get(row["activity_id"], []):
            if m.depth == Depth.ASSESSED:
                items[m.item_id] = m
                key = (row["programme_id"], row["learner_id"], m.item_id)
                if key not in candidates or row["occurred_at"] >= candidates[key]["occurred_at"]:
                    candidates[key] = row
    return candidates, items


def _attained_params(keys: Iterable[tuple[uuid.UUID, int, uuid.UUID]]) -> dict[str, list[Any]]:
    keys = list(keys)
    return {
        "programmes": list({p for p, _, _ in keys}),
        "learners": list({learner for _, learner, _ in keys}),
        "items": list({i for _, _, i in keys}),
    }


def _attaining_ahead(
    session: Session, succeeded: Sequence[Mapping[str, Any]], mapped: Mapping[uuid.UUID, list[_Mapped]]
) -> Ahead | None:
    """:data:`_ATTAINING` of what ``succeeded`` may finish, asked for ahead (:meth:`Prepared.ahead`), where
    that saves anything (:func:`_reads_ahead`)."""
    if not _reads_ahead(session):
        return None
    candidates, _ = _candidates(succeeded, mapped)
    return _ATTAINING.ahead(session, _attained_params(candidates)) if candidates else None


def _requirements(
    found: Iterable[Sequence[Any]], succeeded: Iterable[Mapping[str, Any]]
) -> tuple[dict[tuple[uuid.UUID, int, uuid.UUID], list[uuid.UUID]], dict[tuple[int, uuid.UUID], datetime]]:
    """From :data:`_ATTAINING`'s rows: (programme, learner, item) not attained → the activities attaining it
    takes, and (learner, activity) → when the learner first succeeded in it, ``succeeded`` included (the
    earlier of the two, as the rows may have been read before they were inserted)."""
    required: dict[tuple[uuid.UUID, int, uuid.UUID], list[uuid.UUID]] = {}
    first_success: dict[tuple[int, uuid.UUID], datetime] = {}
    for programme_id, item_id, learner_id, activity_id, when in found:
        required.setdefault((programme_id, learner_id, item_id), []).append(activity_id)
        if when is not None:
            first_success[learner_id, activity_id] = _as_utc(when)
    for row in succeeded:
        pair, when = (row["learner_id"], row["activity_id"]), _as_utc(row["occurred_at"])
        if pair not in first_success or when < first_success[pair]:
            first_success[pair] = when
    return required, first_success


def _attainments(
    session: Session,
    succeeded: Sequence[Mapping[str, Any]],
    agents: Mapping[int, Mapping[str, Any]],
    mapped: Mapping[uuid.UUID, list[_Mapped]],
    base_url: str,
    attaining_ahead: Ahead | None = None,
) -> list[dict[str, Any]]:
    """Attainments these successful completions finish, as ``achieved`` statements, checked as sets.

    An item is attained when the learner has succeeded in every activity of
    the programme mapped to it at depth ``assessed``; the attainment is dated
    when the last of those activities was first succeeded in.

    :param succeeded: inserted in this transaction; known successes (:meth:`Completion.counts`).
    :param attaining_ahead: :func:`_attaining_ahead` of these completions or more (the batch's, before some
        were found recorded already), read instead of asking again. Asked before the completions were
        inserted, it does not know their successes: they are added to it.
    """
    # (programme, learner, item) → the batch's latest completion towards it.
    candidates, items = _candidates(succeeded, mapped)
    if not candidates:
        return []
    params = _attained_params(candidates)
    found = attaining_ahead.rows() if attaining_ahead is not None else _ATTAINING.all(session, params)
    required, first_success = _requirements(found, succeeded)
    if attaining_ahead is not None and any(
        first_success.get((key[1], a)) is None for key in candidates for a in required.get(key, ())
    ):
        # Read ahead, before this transaction's evidence upsert, it may miss a concurrent request's success in
        # another activity the item takes, as that request may miss this one's: the item would stay unattained.
        # Read again after the upsert: both write the learner's evidence row for the item, and the second
        # upsert waits for the first request to commit, so the second request sees both successes.
        required, first_success = _requirements(_ATTAINING.all(session, params), succeeded)
    rows: list[dict[str, Any]] = []
    for key, trigger in candidates.items():
        needed = required.get(key)
        if not needed:
            continue  # attained already
        programme_id, learner_id, item_id = key
        times = [first_success.get((learner_id, a)) for a in needed]
        if any(t is None for t in times):
            continue
        rows.append(
            {
                "programme_id": programme_id,
                "learner_id": learner_id,
                "item_id": item_id,
                "statement_id": uuid.UUID(
                    xapi.statement_id("attainment", str(programme_id), str(learner_id), str(item_id))
                ),
                "attained_at": max(t for t in times if t is not None),
                "trigger": trigger,
            }
        )
    # An attainment withdrawn earlier (its statement voided) is attained again under a new statement id:
    # a voided statement's id can never be used again.
    withdrawn = _stored_ids(session, [row["statement_id"] for row in rows])
    for row in rows:
        if row["statement_id"] in withdrawn:
            row["statement_id"] = uuid.UUID(
                xapi.statement_id(
                    "attainment",
                    str(row["programme_id"]),
                    str(row["learner_id"]),
                    str(row["item_id"]),
                    row["attained_at"].isoformat(),
                )
            )
    statements = []
    new = set(
        insert_new(
            session,
            Attainment,
            [{k: v for k, v in row.items() if k != "trigger"} for row in rows],
            ["learner_id", "item_id", "programme_id"],
            returning=("statement_id",),
        )
    )
    for row in rows:
        if row["statement_id"] not in new:
            continue  # a concurrent request attained it first
        trigger = row["trigger"]
        statements.append(
            xapi.statement(
                dict(agents[row["learner_id"]]),
                xapi.ACHIEVED,
                _item_activity(items[row["item_id"]]),
                str(row["statement_id"]),
                row["attained_at"],
                xapi.result(success=True, completion=True),
                xapi.context(
                    grouping=[xapi.activity(_iri(base_url, "programmes", row["programme_id"]))],
                    statement_ref=str(trigger["statement_id"]),
                ),
            )
        )
        logger.info("Learner %s attained %s", row["learner_id"], row["item_id"])
    return statements


def _stored_ids(session: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for chunk in _chunks(list(ids)):
        found.update(_STORED_IDS.scalars(session, {"ids": list(chunk)}))
    return found


@dataclass(frozen=True)
class Voided:
    """What voiding some completions took back."""

    completions: int
    #: (programme, learner, item) of the attainments withdrawn.
    attainments: list[tuple[uuid.UUID, int, uuid.UUID]]
    #: The ids of the voiding statements capcourse emitted.
    statements: list[str]


def completions_for_keys(session: Session, keys: Iterable[str]) -> set[uuid.UUID]:
    """The completions recorded under these idempotency keys, the extra matches' ``key#activity`` included."""
    keys = set(keys)
    found: set[uuid.UUID] = set()
    # Extra matches carry "#<activity uuid>" after the key: the prefix of the key's length, then "#".
    by_length: dict[int, list[str]] = {}
    for key in keys:
        by_length.setdefault(len(key), []).append(key)
    for length, same in by_length.items():
        for chunk in _chunks(same):
            found.update(
                session.scalars(
                    select(Completion.id).where(
                        func.substr(Completion.idempotency_key, 1, length).in_(chunk),
                        or_(
                            func.length(Completion.idempotency_key) == length,
                            func.substr(Completion.idempotency_key, length + 1, 1) == "#",
                        ),
                    )
                )
            )
    return found


def completions_before(
    session: Session, retractions: Iterable[tuple[Mapping[str, Any], str, datetime]]
) -> set[uuid.UUID]:
    """The completions a learner recorded for an activity up to a moment: what a retracting verb takes back.

    :param retractions: (agent, activity id as the LMS names it, when) of each retracting statement.
    """
    retractions = list(retractions)
    if not retractions:
        return set()
    matched = _match(session, {ref for _, ref, _ in retractions})
    keys = {xapi.agent_key(agent) for agent, _, _ in retractions}
    learners = dict(session.execute(select(Learner.agent_key, Learner.id).where(Learner.agent_key.in_(keys))).all())
    # (learner, activity) → the latest retraction of it.
    latest: dict[tuple[int, uuid.UUID], datetime] = {}
    for agent, ref, when in retractions:
        learner_id = learners.get(xapi.agent_key(agent))
        if learner_id is None:
            continue
        for activity_id in matched.get(ref, []):
            moment = when.astimezone(UTC)
            if latest.get((learner_id, activity_id), moment) <= moment:
                latest[learner_id, activity_id] = moment
    if not latest:
        return set()
    rows = session.execute(
        select(Completion.id, Completion.learner_id, Completion.activity_id, Completion.occurred_at).where(
            Completion.learner_id.in_({learner for learner, _ in latest}),
            Completion.activity_id.in_({activity for _, activity in latest}),
            Completion.voided_at.is_(None),
        )
    )
    return {
        completion_id
        for completion_id, learner_id, activity_id, occurred_at in rows
        if (limit := latest.get((learner_id, activity_id))) is not None and _as_utc(occurred_at) <= limit
    }


def void_completions(
    session: Session, completion_ids: Iterable[uuid.UUID], base_url: str, destinations: Sequence[str]
) -> Voided:
    """Take completions back, as sets: mark them voided, recompute their evidence, withdraw attainments.

    Completions are kept (``voided_at`` set), never deleted. Every item their
    activity or module is mapped to has its evidence recomputed; an attainment
    that no longer holds is deleted. capcourse voids the statements it emitted
    for them (the completion statement and the ``achieved`` statement): the
    voiding statements are stored and queued for every destination.
    """
    ids = list(set(completion_ids))
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += session.execute(
            select(
                Completion.id,
                Completion.programme_id,
                Completion.learner_id,
                Completion.activity_id,
                Completion.statement_id,
                Activity.module_id,
            )
            .join(Activity, Activity.id == Completion.activity_id)
            .where(Completion.id.in_(chunk), Completion.voided_at.is_(None))
        ).all()
    if not rows:
        return Voided(0, [], [])
    now = utcnow()
    for chunk in _chunks([row[0] for row in rows]):
        session.execute(
            update(Completion)
            .where(Completion.id.in_(chunk), Completion.voided_at.is_(None))
            .values(voided_at=now)
            .execution_options(synchronize_session=False)
        )
    programmes = {row.programme_id for row in rows}
    activities = {row.activity_id for row in rows}
    modules = {row.module_id for row in rows}
    items: dict[uuid.UUID, set[uuid.UUID]] = {}
    assessed: dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]] = {}
    for programme_id, item_id, activity_id, depth in session.execute(
        select(ItemMapping.programme_id, ItemMapping.item_id, ItemMapping.activity_id, ItemMapping.depth).where(
            ItemMapping.programme_id.in_(programmes),
            or_(ItemMapping.activity_id.in_(activities), ItemMapping.module_id.in_(modules)),
        )
    ):
        items.setdefault(programme_id, set()).add(item_id)
        if depth == Depth.ASSESSED and activity_id is not None:
            assessed.setdefault((programme_id, activity_id), set()).add(item_id)
    for programme_id, item_ids in items.items():
        evidence.refresh_items(session, programme_id, item_ids)
    withdrawn = _withdraw_attainments(session, rows, assessed)
    learner_ids = {row.learner_id for row in rows} | {learner for _, learner, _, _ in withdrawn}
    agents: dict[int, dict[str, Any]] = {
        learner_id: agent
        for learner_id, agent in session.execute(select(Learner.id, Learner.agent).where(Learner.id.in_(learner_ids)))
    }
    targets = [(row.learner_id, row.statement_id, row.programme_id) for row in rows] + [
        (learner, statement_id, programme_id) for programme_id, learner, _, statement_id in withdrawn
    ]
    statements = void_statements(
        session,
        [(agents[learner], target, programme_id) for learner, target, programme_id in targets],
        base_url,
        destinations,
    )
    logger.info("Voided %d completions and withdrew %d attainments", len(rows), len(withdrawn))
    return Voided(len(rows), [(p, learner, item) for p, learner, item, _ in withdrawn], statements)


def _withdraw_attainments(
    session: Session, voided: Sequence[Any], assessed: Mapping[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]]
) -> list[tuple[uuid.UUID, int, uuid.UUID, uuid.UUID]]:
    """Delete the attainments the voided completions were needed for; return (programme, learner, item, statement)."""
    suspects = {
        (row.programme_id, row.learner_id, item_id)
        for row in voided
        for item_id in assessed.get((row.programme_id, row.activity_id), ())
    }
    if not suspects:
        return []
    programmes = {p for p, _, _ in suspects}
    learner_ids = {learner for _, learner, _ in suspects}
    item_ids = {i for _, _, i in suspects}
    held = [
        (attainment_id, programme_id, learner_id, item_id, statement_id)
        for attainment_id, programme_id, learner_id, item_id, statement_id in session.execute(
            select(
                Attainment.id,
                Attainment.programme_id,
                Attainment.learner_id,
                Attainment.item_id,
                Attainment.statement_id,
            ).where(
                Attainment.programme_id.in_(programmes),
                Attainment.learner_id.in_(learner_ids),
                Attainment.item_id.in_(item_ids),
            )
        )
        if (programme_id, learner_id, item_id) in suspects
    ]
    if not held:
        return []
    required = _assessed_by(session, item_ids, programmes)
    activities = set().union(*required.values()) if required else set()
    succeeded = set(
        session.execute(
            select(Completion.learner_id, Completion.activity_id)
            .where(Completion.learner_id.in_(learner_ids), Completion.activity_id.in_(activities), Completion.counts())
            .distinct()
        ).all()
    )
    gone = [
        (attainment_id, programme_id, learner_id, item_id, statement_id)
        for attainment_id, programme_id, learner_id, item_id, statement_id in held
        if not all((learner_id, a) in succeeded for a in required.get((programme_id, item_id), ()))
    ]
    for chunk in _chunks([g[0] for g in gone]):
        session.execute(delete(Attainment).where(Attainment.id.in_(chunk)))
    return [(p, learner, item, statement_id) for _, p, learner, item, statement_id in gone]


def void_statements(
    session: Session,
    targets: Sequence[tuple[Mapping[str, Any], uuid.UUID, uuid.UUID]],
    base_url: str,
    destinations: Sequence[str],
) -> list[str]:
    """Emit a ``voided`` statement for each of capcourse's own statements given (actor, id, programme); queue it.

    The programme goes in ``grouping``, as in the statement voided, so a key
    limited to the programme reads the voiding statement too.

    The targets are marked voided in capcourse's store. A target that was never
    stored (nothing was emitted for it) or is voided already is left alone.

    :returns: the ids of the voiding statements stored.
    """
    wanted = {target: (actor, programme_id) for actor, target, programme_id in targets}
    live: set[uuid.UUID] = set()
    for chunk in _chunks(list(wanted)):
        live.update(
            session.scalars(
                select(StoredStatement.id).where(
                    StoredStatement.id.in_(chunk),
                    StoredStatement.voided.is_(False),
                    StoredStatement.verb_id != xapi.VOIDED.id,
                )
            )
        )
    if not live:
        return []
    now = utcnow()
    statements = [
        xapi.statement(
            dict(wanted[target][0]),
            xapi.VOIDED,
            {"objectType": "StatementRef", "id": str(target)},
            xapi.statement_id("voiding", str(target)),
            now,
            None,
            xapi.context(grouping=[xapi.activity(_iri(base_url, "programmes", wanted[target][1]))]),
        )
        for target in sorted(live)
    ]
    stored = store_statements(session, statements, "emitted", destinations)
    for chunk in _chunks(sorted(live)):
        session.execute(
            update(StoredStatement)
            .where(StoredStatement.id.in_(chunk))
            .values(voided=True)
            .execution_options(synchronize_session=False)
        )
    return sorted(stored)


def _assessed_by(
    session: Session, item_ids: Iterable[uuid.UUID], programmes: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]]:
    """(programme, item) → the activities mapped to the item at depth ``assessed``: what attaining it takes."""
    required: dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]] = {}
    for programme_id, item_id, activity_id in _ASSESSED_BY.all(
        session, {"items": list(set(item_ids)), "programmes": list(set(programmes))}
    ):
        assert activity_id is not None  # filtered above
        required.setdefault((programme_id, item_id), set()).add(activity_id)
    return required


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def apply_pending(session: Session, base_url: str, destinations: Sequence[str]) -> int:
    """Record the kept records whose activity id now matches an activity; return how many."""
    records = session.execute(
        select(PendingRecord.id, PendingRecord.activity_ref, PendingRecord.payload)
        .where(PendingRecord.applied_at.is_(None))
        .order_by(PendingRecord.id)
    ).all()
    matched = _match(session, {ref for _, ref, _ in records})
    due = [(record_id, payload) for record_id, ref, payload in records if matched.get(ref)]
    if not due:
        return 0
    for chunk in _chunks([record_id for record_id, _ in due]):
        session.execute(delete(PendingRecord).where(PendingRecord.id.in_(chunk)))
    results = record_batch(session, [CompletionInput.from_json(payload) for _, payload in due], base_url, destinations)
    return sum(result.status == "recorded" for result in results)


def pending_summary(session: Session) -> list[tuple[str, int]]:
    """Activity ids with kept records, and how many, for authors to map."""
    rows = session.execute(
        select(PendingRecord.activity_ref, func.count())
        .where(PendingRecord.applied_at.is_(None))
        .group_by(PendingRecord.activity_ref)
        .order_by(func.count().desc())
    )
    return [(ref, count) for ref, count in rows]


def now() -> datetime:
    return utcnow()
