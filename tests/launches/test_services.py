"""Launch services: durations, scores, settings, token redaction, reach, and commits racing each other."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import scorm
import xapi
from capcourse.accounts.access import principal_for_key, principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.errors import InvalidInputError, NotFoundError
from capcourse.extensions import db
from capcourse.launches import services
from capcourse.launches.models import Launch
from capcourse.launches.settings import settings_from
from capcourse.records import services as records
from capcourse.records.models import Completion
from capcourse.timestamps import utcnow
from tests import factories
from tests.conftest import drop_database, make_app, make_database, migrate_and_sync

CONFIG = {
    "CAPCOURSE_BASE_URL": "http://capcourse.test",
    "CAPCOURSE_LAUNCH_LIFETIME_HOURS": 24,
    "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS": "*",
    "CAPCOURSE_LAUNCH_MAX_BYTES": 1024,
}
LEARNER = xapi.agent_from_email("ada@example.org", "Ada")


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT5M30S", 330),
        ("PT1H0.25S", 3600.25),
        ("P1DT2H", 93600),
        ("PT0S", 0),
        ("P1Y", 365 * 86400),
        (None, None),
        ("5 minutes", None),
    ],
)
def test_durations_in_seconds(duration: str | None, seconds: float | None) -> None:
    assert services.duration_seconds(duration) == seconds


@pytest.mark.parametrize(
    ("score", "bounds"),
    [
        (scorm.Score(raw=85, min=0, max=100), (0, 100)),
        (scorm.Score(raw=85, max=100), (None, 100)),
        (scorm.Score(raw=150, min=0, max=100), (None, None)),
        (scorm.Score(raw=-5, min=0), (None, None)),
        (scorm.Score(raw=5, min=10, max=10), (None, None)),
        (scorm.Score(scaled=0.5), (None, None)),
    ],
)
def test_score_bounds_xapi_accepts(score: scorm.Score, bounds: tuple[float | None, float | None]) -> None:
    assert services._score_bounds(score) == bounds


def test_tokens_are_redacted() -> None:
    token = "cl_" + "Ab-_9" * 9
    assert services.redact(f'"POST /api/v1/launches/{token}/commit HTTP/1.1" 200') == (
        '"POST /api/v1/launches/cl_[redacted]/commit HTTP/1.1" 200'
    )
    assert services.redact("cl_short and API keys cc_abcdefghijklmnopqrstu stay") == (
        "cl_short and API keys cc_abcdefghijklmnopqrstu stay"
    )


@pytest.mark.parametrize(
    ("origins", "allowed", "refused"),
    [
        ("*", ["https://lms.example.org", "null"], []),
        ("https://lms.example.org/, https://b.example", ["https://lms.example.org", "https://b.example"], ["https://c.example"]),
        ("https://a.example https://b.example", ["https://a.example"], ["https://lms.example.org"]),
    ],
)  # fmt: skip
def test_allowed_origins(origins: str, allowed: list[str], refused: list[str]) -> None:
    settings = settings_from({**CONFIG, "CAPCOURSE_LAUNCH_ALLOWED_ORIGINS": origins})
    assert all(settings.origin_allowed(o) for o in allowed)
    assert not any(settings.origin_allowed(o) for o in refused)
    assert settings.lifetime == timedelta(hours=24) and settings.max_bytes == 1024


@pytest.mark.db
def test_a_person_reaches_only_their_programmes_activities(session: Session) -> None:
    """People never start launches through the API, but the reach rule is the one reading launches uses."""
    mine = factories.programme(session, "Mine")
    theirs = factories.programme(session, "Theirs")
    mine_activity = factories.activity(session, factories.module(session, factories.course(session, mine)))
    their_activity = factories.activity(session, factories.module(session, factories.course(session, theirs)))
    lead = factories.user(session, Role.LEAD)
    factories.member(session, mine, lead, MembershipRole.LEAD)
    principal = principal_for_user(lead)
    assert services.find_activity(session, principal, str(mine_activity.id)) is mine_activity
    with pytest.raises(InvalidInputError):
        services.find_activity(session, principal, str(their_activity.id))

    key, _ = factories.api_key(session, Role.INTEGRATION)
    lms = principal_for_key(key)
    settings = settings_from(CONFIG)
    new = services.create_launch(
        session, lms, LEARNER, str(their_activity.id), settings, passing_score=None, now=utcnow()
    )
    with pytest.raises(NotFoundError):
        services.launch_for_read(session, principal, new.launch.id)
    assert services.launch_for_read(session, lms, new.launch.id) is new.launch


@pytest.mark.db
def test_a_commit_racing_another_with_the_same_outcome_records_once(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests of one launch both find no completion yet; the second one's insert fails and is a duplicate."""
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    key, _ = factories.api_key(session, Role.INTEGRATION)
    settings = settings_from(CONFIG)
    now = utcnow()
    launch = services.create_launch(
        session, principal_for_key(key), LEARNER, str(activity.id), settings, passing_score=None, now=now
    ).launch
    passed = {"cmi": {"core": {"lesson_status": "passed", "score": {"raw": "90"}}}}
    first = services.commit_runtime(session, launch, passed, settings, now=now)
    assert first.recorded and first.completion is not None

    # What the second request saw: no key taken yet (for an activity it matched alone, the insert is what finds it).
    monkeypatch.setattr(records, "_taken_keys", lambda session, query, keys: set())
    later = now + timedelta(seconds=5)
    second = services.commit_runtime(session, launch, passed, settings, now=later)
    assert not second.recorded and second.completion is first.completion
    assert session.scalar(select(func.count()).select_from(Completion)) == 1
    # The launch's own record of the commit stays.
    assert launch.commits == 2 and services.aware(launch.last_commit_at or now) == later


@pytest.mark.db
def test_two_commits_of_one_launch_at_once_are_both_counted(tmp_path: Path) -> None:
    """scorm-again commits asynchronously: the timer's commit and Terminate's can be in flight together."""
    database = make_database(tmp_path, "commits")
    app = make_app(database)
    try:
        migrate_and_sync(app)
        with app.app_context():
            if db.engine.dialect.name != "postgresql":
                pytest.skip("SQLite's writers take turns from BEGIN IMMEDIATE: two commits cannot interleave")
            settings = settings_from(CONFIG)
            now = utcnow()
            with Session(db.engine) as session:
                programme = factories.programme(session)
                activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
                key, _ = factories.api_key(session, Role.INTEGRATION)
                launch_id = services.create_launch(
                    session, principal_for_key(key), LEARNER, str(activity.id), settings, passing_score=None, now=now
                ).launch.id
                session.commit()
            progress = {"cmi": {"core": {"lesson_status": "incomplete"}}}
            with Session(db.engine) as first, Session(db.engine) as second:
                # Both requests have read the launch before either commits.
                mine, theirs = first.get(Launch, launch_id), second.get(Launch, launch_id)
                assert mine is not None and theirs is not None and mine.commits == theirs.commits == 0
                services.commit_runtime(first, mine, progress, settings, now=now)
                first.commit()
                services.commit_runtime(second, theirs, progress, settings, now=now + timedelta(seconds=1))
                second.commit()
            with Session(db.engine) as session:
                assert session.get(Launch, launch_id).commits == 2  # type: ignore[union-attr]
            db.engine.dispose()
    finally:
        drop_database(database)


@pytest.mark.db
def test_the_launch_keeps_the_normalised_data(session: Session) -> None:
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    key, _ = factories.api_key(session, Role.INTEGRATION)
    settings = settings_from(CONFIG)
    launch = services.create_launch(
        session,
        principal_for_key(key),
        LEARNER,
        f"http://capcourse.test/activities/{activity.id}",
        settings,
        registration=uuid.UUID(int=7),
        now=utcnow(),
    ).launch
    flat = {"cmi.completion_status": "incomplete", "cmi.progress_measure": "0.4", "cmi.suspend_data": "secret"}
    result = services.commit_runtime(session, launch, flat, settings, now=utcnow())
    assert result.runtime.outcome is None and result.completion is None
    assert launch.last_data is not None
    assert launch.last_data["data_model"] == "2004" and launch.last_data["progress_measure"] == 0.4
    assert launch.last_data["outcome"] is None
    # Suspend data (and interactions) are not kept: only what capcourse uses.
    assert "secret" not in str(launch.last_data)
    assert launch.registration == uuid.UUID(int=7)
