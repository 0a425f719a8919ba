"""Starting launches and turning the SCORM run-time data their players commit into completions.

Rules:

- A launch is for exactly one activity and one learner; its token (shown
  once) authenticates the player's commits until the launch expires.
- Every commit is normalised by :func:`scorm.parse_runtime` (the ADL xAPI
  SCORM Profile's mapping) and kept as the launch's last data.
- A commit whose outcome is passed, failed or completed records one
  completion per launch and outcome (idempotency key
  ``scorm:<launch id>:<outcome>``) through
  :func:`~capcourse.records.services.record_completion`, so statements,
  evidence, attainments and the outbox follow as for every other way in.
  Repeated commits with that outcome record nothing new; intermediate ones
  (incomplete, unknown) record nothing.
- Commits in ``browse`` or ``review`` mode, or with credit ``no-credit``,
  are kept but record nothing: SCORM says such attempts do not count.
- The learner is the launch's: what the player reports as
  ``cmi.core.student_id`` or ``cmi.learner_id`` is kept for support, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.access import Principal, programme_for_read
from capcourse.accounts.models import Role
from capcourse.catalogue.models import Activity
from capcourse.errors import InvalidInputError, NotFoundError, UnauthorizedError
from capcourse.launches.models import Launch
from capcourse.launches.settings import LaunchSettings
from capcourse.packages.models import PackageItem
from capcourse.records.models import Completion
from capcourse.records.services import (
    CompletionInput,
    learner_for,
    match_activities,
    record_completion,
)

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cl_"
#: Launch tokens as they appear in URLs and logs (see :func:`redact`).
TOKEN_PATTERN = re.compile(r"cl_[A-Za-z0-9_-]{16,}")
#: Where the commit URL is: the token travels in the path for players that cannot send headers.
COMMIT_PATH = "/api/v1/launches/{token}/commit"
BEARER_COMMIT_PATH = "/api/v1/launches/commit"
#: The query parameter that marks the commit sent on LMSFinish / Terminate (``?terminate=true``), which
#: scorm-again adds when its ``terminateCommitParam`` setting names it.
TERMINATE_PARAM = "terminate"
#: Modes in which SCORM says an attempt does not count (as it does not with credit ``no-credit``).
NOT_COUNTED_MODES = frozenset({"browse", "review"})
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# Years and months have no fixed length; SCORM session times never reach them in practice.
_SECONDS = {"years": 365 * 86400, "months": 30 * 86400, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def _digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def aware(moment: datetime) -> datetime:
    """``moment`` with its time zone: SQLite gives back naive datetimes, and every time is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_expired(launch: Launch, now: datetime) -> bool:
    """Whether ``launch``'s token no longer lets its player commit."""
    return aware(launch.expires_at) <= now


def redact(text: str) -> str:
    """``text`` with every launch token replaced, for logs."""
    return TOKEN_PATTERN.sub("cl_[redacted]", text)


def activity_iri(base_url: str, activity_id: uuid.UUID) -> str:
    """The activity's IRI, as statements name it and :func:`~capcourse.records.services.match_activities` reads it."""
    return f"{base_url}/activities/{activity_id}"


def commit_url(base_url: str, token: str) -> str:
    """The launch's capability URL: commits to it need no header."""
    return base_url + COMMIT_PATH.format(token=token)


@dataclass(frozen=True)
class NewLaunch:
    launch: Launch
    #: The plain token: returned once, never stored (nor shown in a repr).
    token: str = field(repr=False)


def _may_reach(session: Session, principal: Principal, programme_id: uuid.UUID) -> bool:
    """Admins and integrations (which stand alone, as for completions) reach every programme; people theirs."""
    if principal.role == Role.INTEGRATION:
        return principal.reaches(programme_id)  # a key limited to programmes reads only theirs
    if principal.is_admin:
        return True
    try:
        programme_for_read(session, principal, programme_id)
    except NotFoundError:
        return False
    return True


def find_activity(session: Session, principal: Principal, reference: str) -> Activity:
    """The one activity ``reference`` names: its id, its capcourse IRI, or an external id it carries.

    :raises InvalidInputError: no activity (the principal may reach) matches, or several do.
    """
    try:
        found = session.get(Activity, uuid.UUID(reference))
    except ValueError:
        found = None
    activities = [found] if found is not None else match_activities(session, reference)
    reachable = [a for a in activities if _may_reach(session, principal, a.module.course.programme_id)]
    if not reachable:
        raise InvalidInputError(
            f"No activity has the id, IRI or external id {reference!r}.", {"activity": ["Matches no activity."]}
        )
    if len(reachable) > 1:
        raise InvalidInputError(
            f"{len(reachable)} activities carry the external id {reference!r} (in several programmes): "
            "send the activity's capcourse IRI or id.",
            {"activity": [f"Matches {len(reachable)} activities."]},
        )
    return reachable[0]


def create_launch(
    session: Session,
    principal: Principal,
    agent: Mapping[str, Any],
    activity_ref: str,
    settings: LaunchSettings,
    *,
    passing_score: float | None = None,
    registration: uuid.UUID | None = None,
    now: datetime,
) -> NewLaunch:
    """Start a launch of the activity ``activity_ref`` names for the learner ``agent``.

    :param passing_score: scaled 0–1, from the LMS; overrides the mastery score the player
        commits. When None, the mastery score of the imported package's item, if any.
    :param registration: the xAPI registration of the attempt; a new one when None.
    :raises InvalidInputError: the activity reference matches no activity, or several.
    """
    if passing_score is not None and not 0.0 <= passing_score <= 1.0:
        raise InvalidInputError("passing_score is scaled: between 0 and 1.", {"passing_score": ["Between 0 and 1."]})
    activity = find_activity(session, principal, activity_ref)
    if passing_score is None:
        passing_score = session.scalar(select(PackageItem.passing_score).where(PackageItem.activity_id == activity.id))
    learner = learner_for(session, agent)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    launch = Launch(
        token_hash=_digest(token),
        programme_id=activity.module.course.programme_id,
        activity=activity,
        learner=learner,
        registration=registration or uuid.uuid4(),
        passing_score=passing_score,
        created_by=principal.name,
        created_at=now,
        expires_at=now + settings.lifetime,
        commits=0,
    )
    session.add(launch)
    session.flush()
    # The token never reaches a log: the launch's id says which one.
    logger.info(
        "Launch %s of activity %s for learner %s started by %s", launch.id, activity.id, learner.id, principal.name
    )
    return NewLaunch(launch, token)


def launch_for_read(session: Session, principal: Principal, launch_id: uuid.UUID) -> Launch:
    """:raises NotFoundError: no such launch, or one of a programme ``principal`` may not read."""
    launch = session.get(Launch, launch_id)
    if launch is None or not _may_reach(session, principal, launch.programme_id):
        raise NotFoundError(f"No launch has the identifier {launch_id}.")
    return launch


def launch_for_token(session: Session, token: str, now: datetime, *, in_url: bool) -> Launch:
    """The live launch ``token`` authenticates.

    :param in_url: the token came in the commit URL (a capability URL), not a header.
    :raises NotFoundError: unknown token in a URL (no such commit URL).
    :raises UnauthorizedError: unknown token in a header, or an expired launch.
    """
    launch: Launch | None = session.scalar(select(Launch).where(Launch.token_hash == _digest(token)))
    if launch is None or not hmac.compare_digest(launch.token_hash, _digest(token)):
        if in_url:
            raise NotFoundError("No launch has this commit URL: the LMS must start a launch first.")
        raise UnauthorizedError("The launch token is not valid: the LMS must start a launch first.")
    if is_expired(launch, now):
        raise UnauthorizedError(
            f"The launch expired at {aware(launch.expires_at).isoformat()}: the LMS must start a new one."
        )
    return launch


@dataclass(frozen=True)
class CommitResult:
    launch: Launch
    runtime: scorm.RuntimeData
    #: Why nothing was recorded for an outcome: ``no-credit``, ``browse`` or ``review``; None when it counts.
    not_counted: str | None
    #: This commit recorded a new completion.
    recorded: bool
    #: The completion of the commit's outcome, new or recorded by an earlier commit.
    completion: Completion | None


def runtime_json(runtime: scorm.RuntimeData) -> dict[str, Any]:
    """The normalised run-time data as JSON, with its outcome."""
    data = asdict(runtime)
    data["outcome"] = runtime.outcome.value if runtime.outcome else None
    return data


def duration_seconds(duration: str | None) -> float | None:
    """An ISO 8601 duration (as :func:`scorm.parse_runtime` gives times) in seconds."""
    if duration is None:
        return None
    match = _DURATION.match(duration)
    if match is None:
        return None
    return sum(float(value) * _SECONDS[name] for name, value in match.groupdict().items() if value)


def _score_bounds(score: scorm.Score) -> tuple[float | None, float | None]:
    """min and max as xAPI allows them: min < max, and raw between them.

    SCORM does not ask a SCO for that, so bounds that break it are left out
    rather than refusing the learner's commit.
    """
    low, high, raw = score.min, score.max, score.raw
    if low is not None and high is not None and low >= high:
        return None, None
    if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
        return None, None
    return low, high


def _not_counted(runtime: scorm.RuntimeData) -> str | None:
    if runtime.credit == "no-credit":
        return "no-credit"
    if runtime.mode in NOT_COUNTED_MODES:
        return runtime.mode
    return None


def completion_key(launch_id: uuid.UUID, outcome: str) -> str:
    """The idempotency key of the launch's completion with ``outcome``: one per launch and outcome."""
    return f"scorm:{launch_id}:{outcome}"


def launch_completions(session: Session, launch: Launch) -> list[Completion]:
    """The completions the launch's commits recorded, oldest first."""
    keys = [completion_key(launch.id, outcome) for outcome in scorm.Outcome]
    return list(
        session.scalars(select(Completion).where(Completion.idempotency_key.in_(keys)).order_by(Completion.recorded_at))
    )


def commit_runtime(
    session: Session,
    launch: Launch,
    body: Mapping[str, object] | bytes,
    settings: LaunchSettings,
    *,
    now: datetime,
    finished: bool = False,
) -> CommitResult:
    """Take one commit of run-time data for ``launch``; record its outcome once.

    :param body: the decoded body (a JSON object, or a flat form as a mapping), or raw JSON bytes.
    :param finished: the player says this is the commit of ``LMSFinish`` / ``Terminate`` (scorm-again's
        ``terminateCommitParam``): a SCORM 1.2 SCO that set no status is then completed, as the LMS would make it.
    :raises InvalidInputError: the body is not SCORM run-time data, or breaks the
        data model; the errors name the elements. Nothing is changed then.
    """
    try:
        runtime = scorm.parse_runtime(body, passing_score=launch.passing_score, finished=finished)
    except scorm.RuntimeDataError as error:
        errors: dict[str, list[str]] = {}
        for element, message in error.errors:
            errors.setdefault(element, []).append(message)
        raise InvalidInputError(f"The SCORM run-time data is not valid: {error}", errors) from None
    # A player commits on a timer and on Terminate, asynchronously: two commits of one launch can run at
    # once. On PostgreSQL both read the launch, and the later write counted one commit for the two; the
    # row is read again, locked, so they take turns (SQLite's writers take turns from BEGIN already).
    session.refresh(launch, with_for_update=True)
    launch.last_commit_at = now
    launch.commits = (launch.commits or 0) + 1
    launch.last_data = runtime_json(runtime)
    outcome = runtime.outcome
    not_counted = _not_counted(runtime)
    if outcome is None or not_counted is not None:
        session.flush()
        return CommitResult(launch, runtime, not_counted if outcome else None, recorded=False, completion=None)
    key = completion_key(launch.id, outcome.value)
    low, high = _score_bounds(runtime.score)
    data = CompletionInput(
        agent=dict(launch.learner.agent),
        activity_ref=activity_iri(settings.records.base_url, launch.activity_id),
        outcome=outcome.value,
        occurred_at=now,
        idempotency_key=key,
        source="scorm",
        success={"passed": True, "failed": False}.get(runtime.success_status),
        score_scaled=runtime.score.scaled,
        score_raw=runtime.score.raw,
        score_min=low,
        score_max=high,
        # The Profile reports cmi.session_time as the attempt's duration; total time when a SCO sends none.
        duration_seconds=duration_seconds(runtime.session_time or runtime.total_time),
        registration=str(launch.registration),
    )
    # Players commit on a timer and on Terminate: a concurrent commit of the same
    # outcome is a duplicate (recorded once, by whichever request came first).
    result = record_completion(session, data, settings.records.base_url, settings.records.destinations)
    completion = session.scalar(select(Completion).where(Completion.idempotency_key == key))
    if result.status == "recorded" and completion is not None:
        logger.info("Launch %s: %s recorded as completion %s", launch.id, outcome.value, completion.id)
    session.flush()
    return CommitResult(launch, runtime, None, recorded=result.status == "recorded", completion=completion)
