"""Recording completions and emitting the xAPI statements they produce.

Whatever the way in (JSON API, xAPI statement, SCORM run-time data), a
completion goes through :func:`record_completion`: it is matched to activities
by IRI or external identifier, recorded once per idempotency key, and its
statements (the completion, and an attainment when it completes an item) are
stored and queued in the outbox in the same transaction.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.catalogue.models import Activity, Course, ExternalId, Module
from capcourse.frameworks.models import Item, utcnow
from capcourse.frameworks.uris import node_uri
from capcourse.mapping.models import Depth
from capcourse.mapping.models import Mapping as ItemMapping
from capcourse.records import evidence
from capcourse.records.models import (
    Attainment,
    Completion,
    Learner,
    OutboxEntry,
    Outcome,
    PendingRecord,
    StoredStatement,
)
from xapi.types import JSON

logger = logging.getLogger(__name__)

ACTIVITY_IRI = re.compile(r"/activities/([0-9a-fA-F-]{36})/?$")
VERBS = {Outcome.COMPLETED: xapi.COMPLETED, Outcome.PASSED: xapi.PASSED, Outcome.FAILED: xapi.FAILED}
LESSON = "http://adlnet.gov/expapi/activities/lesson"
MODULE = "http://adlnet.gov/expapi/activities/module"
COURSE = "http://adlnet.gov/expapi/activities/course"


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


@dataclass
class Lookups:
    """What a batch looks up again and again, looked up once per batch.

    Lives for one request: mappings changed by another request are seen by the next batch.
    """

    activities: dict[str, list[Activity]] = field(default_factory=dict)
    learners: dict[str, Learner] = field(default_factory=dict)
    mappings: dict[tuple[str, uuid.UUID], list[ItemMapping]] = field(default_factory=dict)
    #: Idempotency keys already recorded or kept; None until :meth:`prefetch` ran.
    seen_keys: set[str] | None = None

    def prefetch(self, session: Session, inputs: Sequence[CompletionInput]) -> None:
        """Load in two queries what a batch would otherwise ask per record (and flush for each ask)."""
        keys = [i.idempotency_key for i in inputs]
        self.seen_keys = set(
            session.scalars(select(Completion.idempotency_key).where(Completion.idempotency_key.in_(keys)))
        )
        self.seen_keys |= set(
            session.scalars(select(PendingRecord.idempotency_key).where(PendingRecord.idempotency_key.in_(keys)))
        )
        agent_keys = {xapi.agent_key(i.agent) for i in inputs}
        for learner in session.scalars(select(Learner).where(Learner.agent_key.in_(agent_keys))):
            self.learners[learner.agent_key] = learner
        self.prefetched_learners = True

    prefetched_learners: bool = False


@dataclass
class RecordResult:
    #: recorded, duplicate or pending (no activity matches yet).
    status: str
    completions: list[Completion] = field(default_factory=list)


def match_activities(session: Session, activity_ref: str) -> list[Activity]:
    """Activities an LMS's activity id stands for: our IRI, or an external identifier."""
    found = ACTIVITY_IRI.search(activity_ref)
    if found:
        try:
            activity = session.get(Activity, uuid.UUID(found.group(1)))
        except ValueError:
            activity = None
        if activity is not None:
            return [activity]
    return list(
        session.scalars(
            select(Activity)
            .join(ExternalId, ExternalId.activity_id == Activity.id)
            .where(ExternalId.value == activity_ref)
        ).unique()
    )


def learner_for(session: Session, agent: Mapping[str, Any], lookups: Lookups | None = None) -> Learner:
    key = xapi.agent_key(agent)
    learner: Learner | None = lookups.learners.get(key) if lookups else None
    if learner is None and not (lookups and lookups.prefetched_learners):
        learner = session.scalar(select(Learner).where(Learner.agent_key == key))
    normal = xapi.normalise_agent(agent)
    if learner is None:
        learner = Learner(agent_key=key, agent=normal, name=normal.get("name"))
        session.add(learner)
    if lookups is not None:
        lookups.learners[key] = learner
    elif normal.get("name") and learner.name != normal["name"]:
        learner.name = str(normal["name"])
    return learner


def store_statement(
    session: Session, statement: dict[str, Any], origin: str, destinations: Sequence[str]
) -> StoredStatement:
    """Keep a statement in capcourse's store and queue it for every destination."""
    obj = statement.get("object", {})
    context = statement.get("context", {})
    stored = StoredStatement(
        id=uuid.UUID(statement["id"]),
        statement=statement,
        origin=origin,
        verb_id=statement["verb"]["id"],
        object_id=obj.get("id") if obj.get("objectType", "Activity") == "Activity" else None,
        agent_key=_agent_key_or_none(statement.get("actor", {})),
        registration=uuid.UUID(context["registration"]) if context.get("registration") else None,
    )
    session.add(stored)
    for destination in destinations:
        session.add(OutboxEntry(stored=stored, destination=destination))
    return stored


def _agent_key_or_none(agent: Mapping[str, Any]) -> str | None:
    try:
        return xapi.agent_key(agent)
    except ValueError:
        return None  # an anonymous group


def record_completion(
    session: Session,
    data: CompletionInput,
    base_url: str,
    destinations: Sequence[str],
    lookups: Lookups | None = None,
) -> RecordResult:
    """Record ``data`` once, against every activity it matches, or keep it until one does.

    :param lookups: share one across the records of a batch.
    """
    lookups = lookups or Lookups()
    # Stored in UTC: SQLite keeps no offset, and evidence compares times as stored.
    data = replace(data, occurred_at=data.occurred_at.astimezone(UTC))
    if lookups.seen_keys is not None:
        if data.idempotency_key in lookups.seen_keys:
            return RecordResult("duplicate")
        lookups.seen_keys.add(data.idempotency_key)
    elif session.scalar(
        select(Completion.id).where(Completion.idempotency_key == data.idempotency_key)
    ) or session.scalar(select(PendingRecord.id).where(PendingRecord.idempotency_key == data.idempotency_key)):
        return RecordResult("duplicate")
    if data.activity_ref not in lookups.activities:
        lookups.activities[data.activity_ref] = match_activities(session, data.activity_ref)
    activities = lookups.activities[data.activity_ref]
    if not activities:
        session.add(
            PendingRecord(activity_ref=data.activity_ref, idempotency_key=data.idempotency_key, payload=data.as_json())
        )
        session.flush()
        logger.info("Kept a %s record for unmapped activity %s", data.outcome, data.activity_ref)
        return RecordResult("pending")
    learner = learner_for(session, data.agent, lookups)
    completions = []
    for index, activity in enumerate(activities):
        # One idempotency key, one completion per matched activity.
        key = data.idempotency_key if index == 0 else f"{data.idempotency_key}#{activity.id}"
        completions.append(_record(session, learner, activity, data, key, base_url, destinations, lookups))
    return RecordResult("recorded", completions)


def _record(
    session: Session,
    learner: Learner,
    activity: Activity,
    data: CompletionInput,
    key: str,
    base_url: str,
    destinations: Sequence[str],
    lookups: Lookups,
) -> Completion:
    programme_id = activity.module.course.programme_id
    completion_id = uuid.uuid4()
    completion = Completion(
        id=completion_id,
        programme_id=programme_id,
        learner=learner,
        activity=activity,
        outcome=data.outcome,
        success=_success(data),
        score_scaled=data.score_scaled,
        score_raw=data.score_raw,
        score_min=data.score_min,
        score_max=data.score_max,
        duration_seconds=data.duration_seconds,
        occurred_at=data.occurred_at,
        source=data.source,
        idempotency_key=key,
        statement_id=uuid.UUID(xapi.statement_id("completion", str(completion_id))),
    )
    session.add(completion)
    statement = completion_statement(session, completion, base_url, data.registration, lookups)
    store_statement(session, statement, "emitted", destinations)
    if completion.success:
        items = [m.item_id for m in _mappings(session, lookups, "activity", activity.id)]
        items += [m.item_id for m in _mappings(session, lookups, "module", activity.module_id)]
        if items:
            if learner.id is None:
                session.flush()  # a new learner needs its id for the evidence rows
            evidence.add_completion(session, programme_id, learner.id, items, data.occurred_at)
        _attainments(session, completion, base_url, destinations, lookups)
    return completion


def _success(data: CompletionInput) -> bool:
    if data.outcome == Outcome.PASSED:
        return True
    if data.outcome == Outcome.FAILED:
        return False
    return True if data.success is None else data.success


def _iri(base_url: str, kind: str, identifier: uuid.UUID) -> str:
    return f"{base_url}/{kind}/{identifier}"


def _item_activity(item: Item, base_url: str) -> dict[str, Any]:
    return xapi.activity(
        node_uri(base_url, item.id, item.uri),
        item.abbreviated_statement or item.full_statement[:200],
        xapi.COMPETENCY,
    )


def _mappings(session: Session, lookups: Lookups, kind: str, target_id: uuid.UUID) -> list[ItemMapping]:
    if (kind, target_id) not in lookups.mappings:
        column = ItemMapping.activity_id if kind == "activity" else ItemMapping.module_id
        lookups.mappings[kind, target_id] = list(session.scalars(select(ItemMapping).where(column == target_id)))
    return lookups.mappings[kind, target_id]


def completion_statement(
    session: Session,
    completion: Completion,
    base_url: str,
    registration: str | None = None,
    lookups: Lookups | None = None,
) -> dict[str, Any]:
    """The xAPI statement of a completion, carrying its capability mapping.

    Course and programme go in ``grouping``, the module in ``parent``; items
    mapped to the activity go in ``category`` and items mapped to its module
    in ``other``, as Activities whose ids are the items' CASE URIs.
    """
    activity = completion.activity
    module: Module = activity.module
    course: Course = module.course
    lookups = lookups or Lookups()
    direct = _mappings(session, lookups, "activity", activity.id)
    via_module = _mappings(session, lookups, "module", module.id)
    mapping_extension: list[JSON] = [
        {"item": node_uri(base_url, m.item_id, m.item.uri), "depth": m.depth, "via": via}
        for via, mappings in (("activity", direct), ("module", via_module))
        for m in mappings
    ]
    extensions: dict[str, JSON] | None = (
        {f"{base_url}/xapi/extensions/mappings": mapping_extension} if mapping_extension else None
    )
    return xapi.statement(
        dict(completion.learner.agent),
        VERBS[Outcome(completion.outcome)],
        xapi.activity(_iri(base_url, "activities", activity.id), activity.title, LESSON),
        str(completion.statement_id),
        completion.occurred_at,
        xapi.result(
            completion=True,
            success=bool(completion.success),
            scaled=completion.score_scaled,
            raw=completion.score_raw,
            minimum=completion.score_min,
            maximum=completion.score_max,
            duration_seconds=completion.duration_seconds,
        ),
        xapi.context(
            registration=registration,
            parent=[xapi.activity(_iri(base_url, "modules", module.id), module.title, MODULE)],
            grouping=[
                xapi.activity(_iri(base_url, "courses", course.id), course.title, COURSE),
                xapi.activity(_iri(base_url, "programmes", course.programme_id), course.programme.title),
            ],
            category=[_item_activity(m.item, base_url) for m in direct],
            other=[_item_activity(m.item, base_url) for m in via_module],
            extensions=extensions,
        ),
    )


def _attainments(
    session: Session, completion: Completion, base_url: str, destinations: Sequence[str], lookups: Lookups
) -> None:
    """Emit ``achieved`` for every item this completion finishes covering.

    An item is attained when the learner has succeeded in every activity of
    the programme mapped to it at depth ``assessed``.
    """
    activity_mappings = _mappings(session, lookups, "activity", completion.activity_id)
    items = [m.item_id for m in activity_mappings if m.depth == Depth.ASSESSED]
    for item_id in items:
        exists = select(Attainment.id).where(
            Attainment.learner_id == completion.learner_id,
            Attainment.item_id == item_id,
            Attainment.programme_id == completion.programme_id,
        )
        if session.scalar(exists) is not None:
            continue
        required = set(
            session.scalars(
                select(ItemMapping.activity_id).where(
                    ItemMapping.item_id == item_id,
                    ItemMapping.depth == Depth.ASSESSED,
                    ItemMapping.programme_id == completion.programme_id,
                    ItemMapping.activity_id.is_not(None),
                )
            )
        )
        succeeded = set(
            session.scalars(
                select(Completion.activity_id).where(
                    Completion.learner_id == completion.learner_id,
                    Completion.success.is_(True),
                    Completion.activity_id.in_(required),
                )
            )
        )
        if required - succeeded:
            continue
        item = session.get(Item, item_id)
        assert item is not None
        statement_id = xapi.statement_id(
            "attainment", str(completion.programme_id), str(completion.learner_id), str(item_id)
        )
        session.add(
            Attainment(
                programme_id=completion.programme_id,
                learner_id=completion.learner_id,
                item_id=item_id,
                statement_id=uuid.UUID(statement_id),
                attained_at=completion.occurred_at,
            )
        )
        statement = xapi.statement(
            dict(completion.learner.agent),
            xapi.ACHIEVED,
            _item_activity(item, base_url),
            statement_id,
            completion.occurred_at,
            xapi.result(success=True, completion=True),
            xapi.context(
                grouping=[xapi.activity(_iri(base_url, "programmes", completion.programme_id))],
                statement_ref=str(completion.statement_id),
            ),
        )
        store_statement(session, statement, "emitted", destinations)
        logger.info("Learner %s attained %s", completion.learner_id, item.code or item.id)


def apply_pending(session: Session, base_url: str, destinations: Sequence[str]) -> int:
    """Record the kept records whose activity id now matches an activity; return how many."""
    applied = 0
    for record in session.scalars(select(PendingRecord).where(PendingRecord.applied_at.is_(None))).all():
        if not match_activities(session, record.activity_ref):
            continue
        data = CompletionInput.from_json(record.payload)
        session.delete(record)
        session.flush()
        result = record_completion(session, data, base_url, destinations)
        if result.status == "recorded":
            applied += 1
    return applied


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
