"""The evidence aggregate stays equal to what the completions and mappings say, whatever changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import Role
from capcourse.identifiers import item_id
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.services import bulk_map, map_items, unmap
from capcourse.records import evidence
from capcourse.records.models import Evidence, Learner
from capcourse.records.services import CompletionInput, record_completion
from tests import factories

pytestmark = pytest.mark.db

MC_2_A = item_id("frontline-lcf-pathway-1", "MC.2.a")
MC_2_B = item_id("frontline-lcf-pathway-1", "MC.2.b")
EC_5_A = item_id("frontline-lcf-pathway-1", "EC.5.a")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    first = factories.activity(session, module, "Reading")
    second = factories.activity(session, module, "Assessed task")
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    return {"programme": programme, "module": module, "first": first, "second": second, "admin": admin}


def complete(session: Session, who: str, activity: Any, outcome: str, when: datetime) -> None:
    record_completion(
        session,
        CompletionInput(
            agent=xapi.agent_from_email(f"{who}@example.org", who.title()),
            activity_ref=f"http://capcourse.test/activities/{activity.id}",
            outcome=outcome,
            occurred_at=when,
            idempotency_key=f"{who}:{activity.id}:{when.isoformat()}",
            source="api",
        ),
        "http://capcourse.test",
        (),
    )
    session.flush()


def stored(session: Session, programme: Any) -> dict[tuple[Any, int], tuple[int, datetime, datetime]]:
    rows = session.scalars(select(Evidence).where(Evidence.programme_id == programme.id)).all()
    return {(r.item_id, r.learner_id): (r.completions, _utc(r.first_at), _utc(r.last_at)) for r in rows}


def _utc(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def assert_matches_a_rebuild(session: Session, programme: Any) -> dict[tuple[Any, int], tuple[int, datetime, datetime]]:
    """The rows kept up to date step by step equal the rows computed afresh from the completions."""
    kept = stored(session, programme)
    evidence.rebuild(session, programme.id)
    assert stored(session, programme) == kept
    return kept


def test_completions_and_mapping_changes_keep_evidence_exact(session: Session, world: dict[str, Any]) -> None:
    programme, module, first, second, admin = (world[k] for k in ("programme", "module", "first", "second", "admin"))
    day = datetime(2026, 10, 1, 9, tzinfo=UTC)
    map_items(session, admin, first, [MC_2_A], Depth.INTRODUCED)
    complete(session, "ada", first, "passed", day)
    complete(session, "ada", first, "completed", day + timedelta(days=2))
    complete(session, "ben", first, "failed", day)  # no evidence from a failure
    kept = assert_matches_a_rebuild(session, programme)
    assert [(count, first_at, last_at) for count, first_at, last_at in kept.values()] == [
        (2, day, day + timedelta(days=2))
    ]

    # Mapped later: evidence recorded before the mapping counts from then on.
    map_items(session, admin, module, [MC_2_A, MC_2_B], Depth.DEVELOPED)
    complete(session, "cy", second, "passed", day + timedelta(days=5))
    kept = assert_matches_a_rebuild(session, programme)
    ada_id = session.scalar(select(Learner.id).where(Learner.name == "Ada"))
    ada = {item: count for (item, learner), (count, _, _) in kept.items() if learner == ada_id}
    # MC.2.a reaches Ada's completions both through the activity and the module: each counts once.
    assert ada == {MC_2_A: 2, MC_2_B: 2}

    bulk_map(session, admin, programme, [], [second.id], [EC_5_A], Depth.ASSESSED)
    assert_matches_a_rebuild(session, programme)
    assert any(item == EC_5_A for item, _ in stored(session, programme))

    mapping = session.scalar(select(Mapping).where(Mapping.module_id == module.id, Mapping.item_id == MC_2_B))
    unmap(session, admin, mapping, mapping.version)
    kept = assert_matches_a_rebuild(session, programme)
    assert all(item != MC_2_B for item, _ in kept)


def test_times_from_any_offset_are_kept_in_utc(session: Session, world: dict[str, Any]) -> None:
    map_items(session, world["admin"], world["first"], [MC_2_A], Depth.ASSESSED)
    london_summer = timezone(timedelta(hours=1))
    complete(session, "ada", world["first"], "passed", datetime(2026, 7, 1, 9, tzinfo=london_summer))
    complete(session, "ada", world["first"], "passed", datetime(2026, 7, 1, 8, 30, tzinfo=UTC))
    ((count, first_at, last_at),) = stored(session, world["programme"]).values()
    assert count == 2
    assert first_at == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert last_at == datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    assert_matches_a_rebuild(session, world["programme"])
