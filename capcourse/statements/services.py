"""Receiving, storing and querying statements as an xAPI 1.0.3 LRS does."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

import xapi
from capcourse.errors import BadRequestError, CapcourseError, ConflictError
from capcourse.records import services as records
from capcourse.records.models import Completion, Outcome, PendingRecord, StoredStatement
from capcourse.records.settings import RecordsSettings
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

OUTCOMES = {"completed": Outcome.COMPLETED, "passed": Outcome.PASSED, "failed": Outcome.FAILED}


class StatementsRejected(CapcourseError):  # noqa: N818 - reads as what happened
    """Some statements of a request break xAPI rules; nothing was stored."""


def check_all(statements: Sequence[Any]) -> None:
    """:raises StatementsRejected: naming every broken rule with the statement's index."""
    errors: dict[str, list[str]] = {}
    for index, statement in enumerate(statements):
        problems = xapi.validate_statement(statement)
        if problems:
            errors[str(index)] = [str(p) for p in problems]
    if errors:
        first = next(iter(errors.values()))[0]
        raise StatementsRejected(f"Statement rejected: {first}", errors)


@dataclass
class Received:
    ids: list[str]
    recorded: int
    pending: int


def receive(
    session: Session, statements: Sequence[dict[str, Any]], authority: dict[str, Any], settings: RecordsSettings
) -> Received:
    """Store statements from an LMS (all or none) and turn outcome statements into completions, as sets.

    :raises StatementsRejected: a statement breaks an xAPI rule.
    :raises ConflictError: an id is taken by a statement with other content.
    """
    check_all(statements)
    ids_in_batch = [s["id"] for s in statements if "id" in s]
    if len(ids_in_batch) != len(set(ids_in_batch)):
        raise BadRequestError("The same statement id appears twice in the batch.", {"id": ["Duplicated."]})
    now = xapi.timestamp(utcnow())
    complete = []
    for statement in statements:
        statement = dict(statement)
        if "id" not in statement:
            statement["id"] = str(uuid.uuid4())
        complete.append(statement)
    new = [
        {"version": "1.0.3", "timestamp": now, **statement, "stored": now, "authority": authority}
        for statement in complete
    ]
    # A voiding statement an LMS sends for one of capcourse's own statements goes on to the configured LRSs.
    ours = _emitted(session, {s["object"]["id"] for s in new if s["verb"]["id"] == xapi.VOIDED.id})
    forwarded = {s["id"] for s in new if s["verb"]["id"] == xapi.VOIDED.id and _canonical(s["object"]["id"]) in ours}
    outcomes_of = {s["id"]: c for s in new if (c := _as_completion(s, settings)) is not None}
    # Asked for now, the completions' activities and learners are read with the statements' insert.
    ahead = records.read_ahead(session, list(outcomes_of.values()), settings.base_url)
    # Inserted where the id is free; the ids held already (by an earlier request or a
    # concurrent one) are then compared as sent: the same statement, or a conflict.
    stored = records.store_statements(session, [s for s in new if s["id"] not in forwarded], "received", ())
    if forwarded:
        stored |= records.store_statements(
            session, [s for s in new if s["id"] in forwarded], "received", settings.destinations
        )
    if len(stored) < len(new):
        held = _stored(session, [s["id"] for s in complete if _canonical(s["id"]) not in stored])
        for statement in complete:
            if _canonical(statement["id"]) not in stored:
                _check_same(held[uuid.UUID(statement["id"])], statement)
    fresh = [s for s in new if _canonical(s["id"]) in stored]
    _void(session, fresh)
    outcomes = [outcomes_of[s["id"]] for s in fresh if s["id"] in outcomes_of]
    # Their keys name statements stored just now, for the first time: no record can hold them yet.
    results = records.record_batch(
        session, outcomes, settings.base_url, settings.destinations, unseen_keys=True, ahead=ahead
    )
    _retract(session, fresh, settings)
    session.flush()
    return Received(
        [s["id"] for s in complete],
        sum(r.status == "recorded" for r in results),
        sum(r.status == "pending" for r in results),
    )


def _canonical(statement_id: str) -> str:
    return str(uuid.UUID(statement_id))


def _stored(session: Session, ids: Sequence[str]) -> dict[uuid.UUID, dict[str, Any]]:
    given = [uuid.UUID(i) for i in ids]
    rows = session.execute(select(StoredStatement.id, StoredStatement.statement).where(StoredStatement.id.in_(given)))
    return {statement_id: statement for statement_id, statement in rows}


def _check_same(existing: dict[str, Any], statement: dict[str, Any]) -> None:
    """:raises ConflictError: ``statement`` reuses the id of another statement."""
    if not xapi.same_statement(existing, statement):
        raise ConflictError(
            f"Statement {statement['id']} exists already with other content.", {"id": [statement["id"]]}
        )


def _emitted(session: Session, ids: set[str]) -> set[str]:
    """Which of these statement ids are capcourse's own emitted statements (lower-case ids)."""
    if not ids:
        return set()
    rows = session.scalars(
        select(StoredStatement.id).where(
            StoredStatement.id.in_([uuid.UUID(i) for i in ids]), StoredStatement.origin == "emitted"
        )
    )
    return {str(i) for i in rows}


def _void(session: Session, statements: Sequence[dict[str, Any]]) -> None:
    """Mark the statements these voiding statements target as voided (a voiding statement itself can't be)."""
    targets = [uuid.UUID(s["object"]["id"]) for s in statements if s["verb"]["id"] == xapi.VOIDED.id]
    if targets:
        session.execute(
            update(StoredStatement)
            .where(StoredStatement.id.in_(targets), StoredStatement.verb_id != xapi.VOIDED.id)
            .values(voided=True)
        )


def _retract(session: Session, statements: Sequence[dict[str, Any]], settings: RecordsSettings) -> None:
    """Take back what voided and retracting statements caused, as sets.

    A voided statement's completions (and those of a voided completion
    statement capcourse emitted) are voided, with their evidence and
    attainments; one kept for an unmapped activity is dropped. A retracting verb
    (Moodle's ``uncompleted``) voids the learner's completions of that activity
    up to the statement's timestamp.
    """
    targets = {uuid.UUID(s["object"]["id"]) for s in statements if s["verb"]["id"] == xapi.VOIDED.id}
    ids: set[uuid.UUID] = set()
    if targets:
        keys = {f"xapi:{s['object']['id']}" for s in statements if s["verb"]["id"] == xapi.VOIDED.id}
        keys |= {f"xapi:{t}" for t in targets}
        ids |= records.completions_for_keys(session, keys)
        ids |= set(session.scalars(select(Completion.id).where(Completion.statement_id.in_(targets))))
        session.execute(delete(PendingRecord).where(PendingRecord.idempotency_key.in_(keys)))
    retractions = [
        (s["actor"], s["object"]["id"], _when(s))
        for s in statements
        if settings.verbs.role(s["verb"]["id"]) == "retract"
        and s["object"].get("objectType", "Activity") == "Activity"
        and s["actor"].get("objectType") != "Group"
    ]
    ids |= records.completions_before(session, retractions)
    if ids:
        records.void_completions(session, ids, settings.base_url, settings.destinations)


def _when(statement: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(statement["timestamp"].replace("Z", "+00:00"))


def _as_completion(statement: dict[str, Any], settings: RecordsSettings) -> records.CompletionInput | None:
    role = settings.verbs.role(statement["verb"]["id"])
    outcome = OUTCOMES.get(role) if role else None
    obj = statement["object"]
    actor = statement["actor"]
    if outcome is None or obj.get("objectType", "Activity") != "Activity" or actor.get("objectType") == "Group":
        return None
    result = statement.get("result", {})
    score = result.get("score", {})
    return records.CompletionInput(
        agent=actor,
        activity_ref=obj["id"],
        outcome=outcome,
        occurred_at=_when(statement),
        idempotency_key=f"xapi:{statement['id']}",
        source="xapi",
        success=result.get("success"),
        score_scaled=score.get("scaled"),
        score_raw=score.get("raw"),
        score_min=score.get("min"),
        score_max=score.get("max"),
        registration=statement.get("context", {}).get("registration"),
    )
