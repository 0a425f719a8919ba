"""Draining the outbox: batches, retries with backoff, conflicts per the spec, a dead letter.

Entries are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (on PostgreSQL) and
kept locked while their batch is sent, so several workers never send the same
statement at the same time; SQLite has one writer, which gives the same.
A statement is marked delivered only after the LRS said so, in the same
transaction that held the lock: a crash before the commit sends it again,
and the LRS recognises the resend by its id.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, selectinload

from capcourse.frameworks.models import utcnow
from capcourse.records.models import DeliveryState, OutboxEntry
from xapi.client import LrsClient, LrsEndpoint, LrsError

logger = logging.getLogger(__name__)

#: The LRS sets these, so they never make two copies of a statement differ.
NOT_COMPARED = ("authority", "stored", "version")


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 10
    batch_size: int = 100
    base_delay: float = 2.0
    max_delay: float = 3600.0


@dataclass
class Report:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def __iadd__(self, other: Report) -> Report:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        return self


def endpoints(config: Mapping[str, Any]) -> dict[str, LrsEndpoint]:
    """The configured destinations, by name."""
    return {
        name: LrsEndpoint(str(d["endpoint"]), d.get("username"), d.get("password"))
        for name, d in (config.get("CAPCOURSE_LRS_DESTINATIONS") or {}).items()
    }


def backoff(attempts: int, policy: Policy, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with full jitter: up to base × 2^(attempts-1), capped."""
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(policy.base_delay / 2, ceiling * rand()))


def claim(session: Session, destination: str, policy: Policy, now: datetime) -> list[OutboxEntry]:
    """Lock up to a batch of due entries that no other worker holds."""
    query = (
        select(OutboxEntry)
        .where(
            OutboxEntry.destination == destination,
            OutboxEntry.state == DeliveryState.PENDING,
            OutboxEntry.next_attempt_at <= now,
        )
        .order_by(OutboxEntry.id)
        .limit(policy.batch_size)
        .with_for_update(skip_locked=True, of=OutboxEntry)
    )
    return list(session.scalars(query))


def _same(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    def strip(statement: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in statement.items() if k not in NOT_COMPARED}, sort_keys=True)

    return strip(ours) == strip(theirs)


def _delivered(entry: OutboxEntry, now: datetime) -> None:
    entry.state = DeliveryState.DELIVERED
    entry.delivered_at = now
    entry.attempts += 1
    entry.last_error = None


def _failed(entry: OutboxEntry, error: str, retryable: bool, policy: Policy, now: datetime) -> bool:
    """Record a failed attempt; return True when the entry is now dead."""
    entry.attempts += 1
    entry.last_error = error[:2000]
    if not retryable or entry.attempts >= policy.max_attempts:
        entry.state = DeliveryState.DEAD
        logger.warning("Statement %s is dead for %s: %s", entry.stored.id, entry.destination, error[:200])
        return True
    entry.next_attempt_at = now + backoff(entry.attempts, policy)
    return False


def _one_by_one(client: LrsClient, entries: Sequence[OutboxEntry], policy: Policy, now: datetime) -> Report:
    """Send each statement alone, to find which of a refused batch is at fault.

    A 409 means the LRS holds that id: if it holds the same statement, it was
    delivered before (say, by a worker that died before committing).
    """
    report = Report()
    for entry in entries:
        statement = entry.stored.statement
        try:
            client.post_statements([statement])
            _delivered(entry, now)
            report.delivered += 1
        except LrsError as error:
            if error.status == 409:
                theirs = client.get_statement(statement["id"])
                if theirs is not None and _same(statement, theirs):
                    _delivered(entry, now)
                    report.delivered += 1
                    continue
                dead = _failed(entry, "The LRS holds another statement with this id (409).", False, policy, now)
            else:
                dead = _failed(entry, str(error), error.retryable, policy, now)
            report.dead += dead
            report.retried += not dead
    return report


def deliver_batch(session: Session, destination: str, client: LrsClient, policy: Policy) -> Report:
    """Claim, send and settle one batch; only flushes."""
    now = utcnow()
    entries = claim(session, destination, policy, now)
    if not entries:
        return Report()
    try:
        client.post_statements([e.stored.statement for e in entries])
    except LrsError as error:
        if error.retryable:
            report = Report()
            for entry in entries:
                dead = _failed(entry, str(error), True, policy, now)
                report.dead += dead
                report.retried += not dead
            session.flush()
            return report
        # 409 or a refused statement: the LRS stored none of the batch; find out which.
        report = _one_by_one(client, entries, policy, now)
        session.flush()
        return report
    for entry in entries:
        _delivered(entry, now)
    session.flush()
    return Report(delivered=len(entries))


def drain(
    session_factory: Callable[[], Session],
    destinations: Mapping[str, LrsEndpoint],
    policy: Policy,
    client_factory: Callable[[LrsEndpoint], LrsClient] = LrsClient,
    max_batches: int = 1000,
) -> Report:
    """Deliver everything that is due, batch after batch, one transaction per batch."""
    total = Report()
    for name, endpoint in destinations.items():
        with client_factory(endpoint) as client:
            for _ in range(max_batches):
                with session_factory() as session:
                    report = deliver_batch(session, name, client, policy)
                    session.commit()
                total += report
                if not (report.delivered or report.retried or report.dead):
                    break
                if report.retried and not report.delivered:
                    break  # the LRS is failing: wait for the backoff
    return total


def status(session: Session) -> list[dict[str, Any]]:
    """Per destination: counts by state, the oldest pending entry, the latest error."""
    rows = session.execute(
        select(OutboxEntry.destination, OutboxEntry.state, func.count(), func.min(OutboxEntry.created_at)).group_by(
            OutboxEntry.destination, OutboxEntry.state
        )
    ).all()
    result: dict[str, dict[str, Any]] = {}
    for destination, state, count, oldest in rows:
        entry = result.setdefault(
            destination, {"destination": destination, "pending": 0, "delivered": 0, "dead": 0, "oldest_pending": None}
        )
        entry[state] = count
        if state == DeliveryState.PENDING:
            entry["oldest_pending"] = oldest
    for destination, entry in result.items():
        entry["last_error"] = session.scalar(
            select(OutboxEntry.last_error)
            .where(OutboxEntry.destination == destination, OutboxEntry.last_error.is_not(None))
            .order_by(OutboxEntry.id.desc())
            .limit(1)
        )
    return sorted(result.values(), key=lambda e: e["destination"])


def dead_entries(session: Session, destination: str | None = None, limit: int = 100) -> list[OutboxEntry]:
    query = (
        select(OutboxEntry)
        .where(OutboxEntry.state == DeliveryState.DEAD)
        .order_by(OutboxEntry.id)
        .limit(limit)
        .options(selectinload(OutboxEntry.stored))  # each is shown with its statement's id: one query, not one each
    )
    if destination:
        query = query.where(OutboxEntry.destination == destination)
    return list(session.scalars(query))


def retry_dead(session: Session, destination: str | None = None) -> int:
    """Give dead entries a fresh start (after the LRS was fixed); return how many."""
    statement = (
        update(OutboxEntry)
        .where(OutboxEntry.state == DeliveryState.DEAD)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=utcnow())
    )
    if destination:
        statement = statement.where(OutboxEntry.destination == destination)
    count = cast("CursorResult[Any]", session.execute(statement)).rowcount
    session.flush()
    return int(count or 0)
