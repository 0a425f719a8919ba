"""Draining the outbox: batches, retries with backoff, conflicts per the spec, a dead letter.

A worker claims a batch with ``SELECT … FOR UPDATE SKIP LOCKED`` (on PostgreSQL;
SQLite has one writer, which gives the same) and leases it by moving its next
attempt past the lease, then commits: the batch is its own, and no transaction
(nor SQLite's write lock) is held while it is sent. After the LRS answers, the
batch is settled in one short transaction, as sets. A statement is marked
delivered only after the LRS said so: a worker that dies before settling
leaves its batch due again when the lease ends, and the LRS recognises the
resend by its id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Text, bindparam, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, selectinload

from capcourse.records.models import DeliveryState, OutboxEntry, StoredStatement
from capcourse.timestamps import utcnow
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
    #: How long a claimed batch is a worker's own: longer than sending it can take. A batch claimed
    #: ahead, while the one before it is sent, is leased for twice this.
    lease: float = 120.0


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


@dataclass(frozen=True)
class Claimed:
    """An outbox entry a worker holds for the lease: what it sends, and how often it tried."""

    id: int
    attempts: int
    #: The statement as the store keeps it (JSON text): sent as it is, decoded only when needed.
    text: str

    @cached_property
    def statement(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.text)
        return decoded


@dataclass
class Outcome:
    """What the LRS said of a batch: entries delivered, and entries failed with why."""

    delivered: list[int]
    failed: list[tuple[Claimed, str, bool]]


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


def claim(
    session: Session, destination: str, policy: Policy, now: datetime, lease: float | None = None
) -> list[Claimed]:
    """Lease up to a batch of due entries that no other worker holds.

    Their next attempt moves to the end of the lease, so once the caller commits
    no other worker takes them while this one sends, and no transaction stays
    open across the network. A worker that dies holding a lease leaves its
    entries due again when the lease ends; the LRS recognises a resend by its id.
    """
    ids = list(
        session.scalars(
            select(OutboxEntry.id)
            .where(
                OutboxEntry.destination == destination,
                OutboxEntry.state == DeliveryState.PENDING,
                OutboxEntry.next_attempt_at <= now,
            )
            .order_by(OutboxEntry.id)
            .limit(policy.batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(ids))
        .values(next_attempt_at=now + timedelta(seconds=policy.lease if lease is None else lease))
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        # As text: a batch is sent as stored, not decoded here and encoded again by the client
        # (3.5 ms of a 100-statement batch, while the sending thread waits for the GIL).
        select(OutboxEntry.id, OutboxEntry.attempts, StoredStatement.statement.cast(Text))
        .join(StoredStatement, StoredStatement.pk == OutboxEntry.stored_pk)
        .where(OutboxEntry.id.in_(ids))
        .order_by(OutboxEntry.id)
    )
    return [Claimed(entry_id, attempts, text) for entry_id, attempts, text in rows]


def _same(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    def strip(statement: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in statement.items() if k not in NOT_COMPARED}, sort_keys=True)

    return strip(ours) == strip(theirs)


def send(client: LrsClient, claimed: Sequence[Claimed]) -> Outcome:
    """Send a claimed batch; where the LRS refuses it, send one by one to find which statement is at fault.

    A 409 means the LRS holds that id: if it holds the same statement, it was
    delivered before (say, by a worker that died before settling).
    """
    try:
        client.post_serialized([c.text for c in claimed])
        return Outcome([c.id for c in claimed], [])
    except LrsError as error:
        if error.retryable:
            return Outcome([], [(c, str(error), True) for c in claimed])
    # 409 or a refused statement: the LRS stored none of the batch; find out which.
    outcome = Outcome([], [])
    for entry in claimed:
        try:
            client.post_serialized([entry.text])
            outcome.delivered.append(entry.id)
        except LrsError as error:
            if error.status == 409:
                theirs = client.get_statement(entry.statement["id"])
                if theirs is not None and _same(entry.statement, theirs):
                    outcome.delivered.append(entry.id)
                    continue
                outcome.failed.append((entry, "The LRS holds another statement with this id (409).", False))
            else:
                outcome.failed.append((entry, str(error), error.retryable))
    return outcome


def settle(session: Session, outcome: Outcome, policy: Policy, now: datetime) -> Report:
    """Record what the LRS said, as sets: one update for the delivered, one for the failed. Only flushes."""
    report = Report(delivered=len(outcome.delivered))
    if outcome.delivered:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(outcome.delivered), OutboxEntry.state == DeliveryState.PENDING)
            .values(
                state=DeliveryState.DELIVERED,
                delivered_at=now,
                attempts=OutboxEntry.attempts + 1,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
    changes = []
    for entry, error, retryable in outcome.failed:
        attempts = entry.attempts + 1
        dead = not retryable or attempts >= policy.max_attempts
        if dead:
            logger.warning("Statement %s is dead: %s", entry.statement.get("id"), error[:200])
        report.dead += dead
        report.retried += not dead
        changes.append(
            {
                "entry_id": entry.id,
                "attempts": attempts,
                "last_error": error[:2000],
                "state": DeliveryState.DEAD if dead else DeliveryState.PENDING,
                "next_attempt_at": now + backoff(attempts, policy),
            }
        )
    if changes:
        table = OutboxEntry.__table__
        # One statement executed with many parameter sets: each entry has its own backoff.
        session.execute(
            update(table)
            .where(table.c.id == bindparam("entry_id"), table.c.state == DeliveryState.PENDING)
            .values(
                attempts=bindparam("attempts"),
                last_error=bindparam("last_error"),
                state=bindparam("state"),
                next_attempt_at=bindparam("next_attempt_at"),
            ),
            changes,
        )
    session.flush()
    return report


def deliver_batch(session: Session, destination: str, client: LrsClient, policy: Policy) -> Report:
    """Claim a batch (committed), send it with no transaction open, settle it (committed)."""
    claimed = claim(session, destination, policy, utcnow())
    session.commit()
    if not claimed:
        return Report()
    outcome = send(client, claimed)
    report = settle(session, outcome, policy, utcnow())
    session.commit()
    return report


def release(session: Session, claimed: Sequence[Claimed], now: datetime) -> None:
    """Give back a claimed batch that will not be sent now: its entries are due again at once. Only flushes."""
    if claimed:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([c.id for c in claimed]), OutboxEntry.state == DeliveryState.PENDING)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.flush()


def drain(
    session_factory: Callable[[], Session],
    destinations: Mapping[str, LrsEndpoint],
    policy: Policy,
    client_factory: Callable[[LrsEndpoint], LrsClient] = LrsClient,
    max_batches: int = 1000,
) -> Report:
    """Deliver everything that is due, batch after batch, one transaction per claim and per settlement.

    The database work is pipelined with the network: while one batch is with the
    LRS, a thread of its own settles the batch before and claims the next, so
    the LRS is kept busy. Batches are still sent one at a time and in the
    outbox's order (a voiding statement never overtakes the statement it voids).
    """
    total = Report()
    for name, endpoint in destinations.items():
        with (
            client_factory(endpoint) as client,
            ThreadPoolExecutor(1, thread_name_prefix="capcourse-outbox") as db_thread,
        ):
            total += _drain_destination(session_factory, name, client, policy, max_batches, db_thread)
    return total


def _drain_destination(
    session_factory: Callable[[], Session],
    destination: str,
    client: LrsClient,
    policy: Policy,
    max_batches: int,
    db_thread: ThreadPoolExecutor,
) -> Report:
    def in_db_thread(work: Callable[..., Any], *args: Any) -> Future[Any]:
        # The caller's context (the Flask app, the write intent) goes with the work.
        return db_thread.submit(contextvars.copy_context().run, work, *args)

    def claimed(ahead: bool) -> list[Claimed]:
        with session_factory() as session:
            # A batch claimed ahead first waits for the one before it to be sent: its lease
            # covers both sends, so no other worker takes it while it waits.
            batch = claim(session, destination, policy, utcnow(), policy.lease * (2 if ahead else 1))
            session.commit()
            return batch

    def settled(outcome: Outcome) -> Report:
        with session_factory() as session:
            report = settle(session, outcome, policy, utcnow())
            session.commit()
            return report

    def released(batch: list[Claimed]) -> None:
        with session_factory() as session:
            release(session, batch, utcnow())
            session.commit()

    settling: list[Future[Report]] = []
    upcoming: Future[list[Claimed]] | None = in_db_thread(claimed, False)
    sent = 0
    try:
        while upcoming is not None:
            batch = upcoming.result()
            upcoming = None
            if not batch:
                break
            sent += 1
            if sent < max_batches:
                upcoming = in_db_thread(claimed, True)
            outcome = send(client, batch)
            settling.append(in_db_thread(settled, outcome))
            if outcome.failed and not outcome.delivered and any(retryable for _, _, retryable in outcome.failed):
                break  # the LRS is failing: wait for the backoff
    finally:
        if upcoming is not None:
            # Claimed for a send that will not happen now: due again at once, not after the lease.
            unsent = upcoming.result()
            if unsent:
                in_db_thread(released, unsent).result()
    total = Report()
    for report in settling:
        total += report.result()
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
