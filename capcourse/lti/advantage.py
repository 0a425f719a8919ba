"""LTI Advantage services capcourse calls on a platform: Names and Role Provisioning, Assignment and Grade.

- **Roster** (NRPS): an LMS course's members who are learners become capcourse
  learners identified by their LMS account (issuer + user id, the identity the
  LMS's xAPI and completions carry) and members of a cohort for that course;
  members who left (status Inactive or Deleted, or gone) leave the cohort.
  Refreshed on launch (at most every :data:`ROSTER_MAX_AGE`) and on demand.
- **Grades** (AGS): a line item per chosen framework item in an LMS course; when
  a learner attains the item (capcourse's ``achieved``), a score of 1/1 is
  queued once and posted through an outbox with the statement outbox's backoff,
  so a gradebook that is down gets it later, and one that never takes it ends
  dead, visible and retryable.

pylti1p3 does the protocol: service tokens (a client assertion signed with
capcourse's key), paging, media types.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from requests import RequestException
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal, programme_for_read, require_content_editor
from capcourse.catalogue.models import Course
from capcourse.cohorts import services as cohorts
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.delivery.services import Policy, backoff
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.frameworks.models import Item
from capcourse.frameworks.uris import node_uri
from capcourse.lti.launch import ADMIN_ROLES, AUTHOR_ROLES, MAX_ID, lms_agent, platform_principal, role_set
from capcourse.lti.models import LtiAccount, LtiContext, LtiLineItem, LtiPlatform, LtiScore
from capcourse.lti.tool import ServiceConnector, registration_for
from capcourse.records.models import Attainment, Learner
from capcourse.records.services import learner_for
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
#: A launch refreshes its course's roster when it is older than this.
ROSTER_MAX_AGE = timedelta(minutes=15)
#: Errors a platform's services can answer with: reported, never a 500.
SERVICE_ERRORS = (LtiException, RequestException, AssertionError, KeyError, ValueError)


class ServiceError(ConflictError):
    """A platform's service failed or refused (502-like, but the request itself was fine)."""

    status_code = HTTPStatus.BAD_GATEWAY


def _connector(session: Session, platform: LtiPlatform) -> ServiceConnector:
    return ServiceConnector(registration_for(session, platform))


@dataclass
class RosterResult:
    learners: int
    added: int
    removed: int
    cohort: Cohort


def _cohort(session: Session, principal: Principal, context: LtiContext, course: Course) -> Cohort:
    cohort = session.get(Cohort, context.cohort_id) if context.cohort_id else None
    if cohort is None:
        name = f"{context.platform.name}: {context.title or context.context_id}"[:190]
        taken = session.scalar(select(Cohort.id).where(Cohort.programme_id == course.programme_id, Cohort.name == name))
        if taken is not None:
            name = f"{name} ({context.context_id})"[:200]
        cohort = cohorts.create_cohort(
            session,
            principal,
            course.programme,
            name,
            f"The roster of {context.title or context.context_id} in {context.platform.name}.",
        )
        context.cohort_id = cohort.id
    return cohort


def sync_roster(
    session: Session, context: LtiContext, members: Sequence[Mapping[str, t.Any]] | None = None
) -> RosterResult:
    """Make the context's cohort the LMS course's learners, fetched by NRPS (or given as ``members``).

    :raises InvalidInputError: the platform announced no NRPS endpoint for this course.
    :raises ServiceError: the platform's NRPS failed.
    """
    platform = context.platform
    if members is None:
        if not context.memberships_url:
            raise InvalidInputError(
                "The LMS has not offered its roster (NRPS) for this course: launch capcourse from it first."
            )
        service = NamesRolesProvisioningService(
            _connector(session, platform),
            t.cast(t.Any, {"context_memberships_url": context.memberships_url, "service_versions": ["2.0"]}),
        )
        try:
            members = list(service.get_members())
        except SERVICE_ERRORS as error:
            raise ServiceError(f"{platform.name} did not give the roster: {error}") from error
    course = session.get(Course, context.course_id)
    assert course is not None
    principal = platform_principal(platform)
    cohort = _cohort(session, principal, context, course)
    active: dict[str, Learner] = {}
    for member in members:
        user_id = str(member.get("user_id") or "")
        roles = role_set(member.get("roles"))
        if (
            not user_id
            or len(user_id) > MAX_ID
            or roles & (AUTHOR_ROLES | ADMIN_ROLES)
            or member.get("status", "Active") != "Active"
        ):
            continue
        agent = lms_agent(platform, user_id, str(member.get("name") or "") or None)
        learner = learner_for(session, agent)
        session.flush()
        account = session.scalar(
            select(LtiAccount).where(LtiAccount.platform_id == platform.id, LtiAccount.subject == user_id)
        )
        if account is None:
            account = LtiAccount(platform_id=platform.id, subject=user_id)
            session.add(account)
        account.learner_id = learner.id
        active[learner.agent_key] = learner
    added = cohorts.add_learners(session, principal, cohort, [lr.agent for lr in active.values()]).added
    present = session.scalars(select(CohortMember).where(CohortMember.cohort_id == cohort.id)).all()
    keep = {lr.id for lr in active.values()}
    gone = [m.learner_id for m in present if m.learner_id not in keep]
    for learner_id in gone:
        cohorts.remove_learner(session, principal, cohort, learner_id)
    context.roster_synced_at = utcnow()
    session.flush()
    logger.info(
        "Roster of %s: %d learners, %d added, %d removed", context.context_id, len(active), len(added), len(gone)
    )
    return RosterResult(len(active), len(added), len(gone), cohort)


def roster_is_stale(context: LtiContext) -> bool:
    synced = context.roster_synced_at
    if synced is None:
        return True
    synced = synced if synced.tzinfo else synced.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - synced > ROSTER_MAX_AGE


def context_for(session: Session, principal: Principal, context_id: int) -> LtiContext:
    """An LMS course, for whoever may read its capcourse course's programme.

    :raises NotFoundError: no such context, or one ``principal`` may not read.
    """
    context = session.get(LtiContext, context_id)
    course = session.get(Course, context.course_id) if context else None
    if context is None or course is None:
        raise NotFoundError(f"No LMS course has the identifier {context_id}.")
    try:
        programme_for_read(session, principal, course.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No LMS course has the identifier {context_id}.") from error
    return context


def list_contexts(session: Session, principal: Principal) -> list[LtiContext]:
    """The LMS courses linked to capcourse courses that ``principal`` may read."""
    contexts = session.scalars(select(LtiContext).order_by(LtiContext.id)).all()
    readable = []
    for context in contexts:
        try:
            readable.append(context_for(session, principal, context.id))
        except NotFoundError:
            continue
    return readable


# Grades


def _ags(session: Session, context: LtiContext) -> AssignmentsGradesService:
    if not context.lineitems_url:
        raise InvalidInputError(
            "The LMS has not offered its gradebook (AGS) for this course: launch capcourse from it first."
        )
    scopes = context.ags_scopes or AGS_SCOPES
    return AssignmentsGradesService(
        _connector(session, context.platform), t.cast(t.Any, {"scope": scopes, "lineitems": context.lineitems_url})
    )


def add_line_items(
    session: Session, principal: Principal, context: LtiContext, item_ids: Sequence[t.Any], base_url: str
) -> list[LtiLineItem]:
    """A gradebook column per framework item in the LMS course (found by its tag, the item's URI, or created).

    :raises InvalidInputError: an item that does not exist, or no AGS for this course.
    :raises ServiceError: the platform refused.
    """
    course = session.get(Course, context.course_id)
    assert course is not None
    require_content_editor(session, principal, course.programme)
    items = list(session.scalars(select(Item).where(Item.id.in_(item_ids))))
    missing = sorted(str(i) for i in set(item_ids) - {i.id for i in items})
    if missing:
        raise InvalidInputError("Some framework items do not exist.", {"item_ids": missing})
    service = _ags(session, context)
    made: list[LtiLineItem] = []
    for item in items:
        existing = session.scalar(
            select(LtiLineItem).where(LtiLineItem.context_id == context.id, LtiLineItem.item_id == item.id)
        )
        if existing is not None:
            made.append(existing)
            continue
        label = " ".join(p for p in (item.code, item.abbreviated_statement or item.full_statement) if p)[:200]
        wanted = (
            LineItem()
            .set_tag(node_uri(base_url, item.id, item.uri))
            .set_label(label or str(item.id))
            .set_score_maximum(1)
            .set_resource_id(str(item.id))
        )
        try:
            found = service.find_or_create_lineitem(wanted)
        except SERVICE_ERRORS as error:
            raise ServiceError(f"{context.platform.name} did not make the gradebook column: {error}") from error
        line = LtiLineItem(context_id=context.id, item_id=item.id, url=str(found.get_id()), label=label)
        session.add(line)
        made.append(line)
    session.flush()
    return made


def queue_scores(session: Session, now: datetime | None = None) -> int:
    """Queue a score for every attainment of an item with a line item, for a learner the LMS knows; once each."""
    queued = 0
    rows = session.execute(
        select(LtiLineItem, Attainment, LtiAccount)
        .join(LtiContext, LtiContext.id == LtiLineItem.context_id)
        .join(Course, Course.id == LtiContext.course_id)
        .join(
            Attainment, (Attainment.item_id == LtiLineItem.item_id) & (Attainment.programme_id == Course.programme_id)
        )
        .join(
            LtiAccount,
            (LtiAccount.learner_id == Attainment.learner_id) & (LtiAccount.platform_id == LtiContext.platform_id),
        )
        .outerjoin(LtiScore, (LtiScore.line_item_id == LtiLineItem.id) & (LtiScore.account_id == LtiAccount.id))
        .where(LtiScore.id.is_(None))
    ).all()
    for line, attainment, account in rows:
        session.add(
            LtiScore(
                next_attempt_at=now or utcnow(),
                line_item_id=line.id,
                account_id=account.id,
                attainment_id=attainment.id,
                score_given=1.0,
                score_maximum=1.0,
            )
        )
        queued += 1
    session.flush()
    return queued


@dataclass
class ScoreReport:
    queued: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def deliver_scores(
    session: Session, policy: Policy | None = None, now: datetime | None = None, limit: int = 100
) -> ScoreReport:
    """Queue new scores, then post the due ones; failures wait with backoff, and die after ``policy.max_attempts``."""
    policy = policy or Policy()
    now = now or utcnow()
    report = ScoreReport(queued=queue_scores(session, now))
    due = session.scalars(
        select(LtiScore)
        .where(LtiScore.state == "pending", LtiScore.next_attempt_at <= now)
        .order_by(LtiScore.id)
        .limit(limit)
    ).all()
    for score in due:
        line = score.line_item
        attainment = session.get(Attainment, score.attainment_id)
        grade = (
            Grade()
            .set_score_given(score.score_given)
            .set_score_maximum(score.score_maximum)
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_user_id(score.account.subject)
            .set_timestamp((attainment.attained_at if attainment else now).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
            .set_comment("Attained in capcourse")
        )
        try:
            _ags(session, line.context).put_grade(grade, LineItem().set_id(line.url))
        except SERVICE_ERRORS as error:
            score.attempts += 1
            score.last_error = str(error)[:2000]
            if score.attempts >= policy.max_attempts:
                score.state = "dead"
                report.dead += 1
            else:
                score.next_attempt_at = now + backoff(score.attempts, policy)
                report.retried += 1
            continue
        score.attempts += 1
        score.state = "delivered"
        score.delivered_at = now
        score.last_error = None
        report.delivered += 1
    session.flush()
    return report


def score_status(session: Session) -> dict[str, int]:
    """How many scores are pending, delivered and dead."""
    counts = {"pending": 0, "delivered": 0, "dead": 0}
    for state in session.scalars(select(LtiScore.state)):
        counts[state] = counts.get(state, 0) + 1
    return counts


def retry_dead_scores(session: Session) -> int:
    """Send dead scores again from the start."""
    dead = session.scalars(select(LtiScore).where(LtiScore.state == "dead")).all()
    for score in dead:
        score.state, score.attempts, score.next_attempt_at = "pending", 0, utcnow()
    session.flush()
    return len(dead)
