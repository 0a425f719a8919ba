"""What a validated LTI launch does: who the person is here, which course, which page.

- The LMS context becomes a capcourse course in the programme the admin chose
  for the platform (created on its first launch, with the external id
  ``lti-context``), and stays linked to it.
- LTI roles become capcourse rights: Instructor and ContentDeveloper → author
  of the programme; Administrator → admin where the platform allows it (else
  author); Learner → a learner identified by the LMS account (issuer + ``sub``),
  the identity xAPI statements from that LMS carry.
- A resource link opens the module or activity it maps to (from a deep link's
  custom ``capcourse_target``); the link id becomes an external id of that
  activity (``lti-resource-link``), so completions sent with it match at once.

People are linked to their LMS account only through a launch: a capcourse
account that merely shares an email is never taken over by an LMS asserting it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal, membership_role, require_content_editor
from capcourse.accounts.models import MembershipRole, Role, User
from capcourse.accounts.services import EMAIL, create_user
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.errors import ConflictError, InvalidInputError
from capcourse.lti.models import LtiAccount, LtiContext, LtiPlatform, LtiResourceLink
from capcourse.records.models import Learner
from capcourse.records.services import learner_for
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES = CLAIM + "roles"
CONTEXT = CLAIM + "context"
RESOURCE_LINK = CLAIM + "resource_link"
CUSTOM = CLAIM + "custom"
MESSAGE_TYPE = CLAIM + "message_type"
DEPLOYMENT = CLAIM + "deployment_id"
PRESENTATION = CLAIM + "launch_presentation"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
AUTHOR_ROLES = {LIS + "membership#Instructor", LIS + "membership#ContentDeveloper", "Instructor", "ContentDeveloper"}
ADMIN_ROLES = {
    LIS + "membership#Administrator",
    LIS + "institution/person#Administrator",
    LIS + "system/person#Administrator",
    LIS + "system/person#SysAdmin",
    "Administrator",
}
LEARNER_ROLES = {
    LIS + "membership#Learner",
    LIS + "institution/person#Student",
    LIS + "institution/person#Learner",
    "Learner",
}

#: Views a link (from a deep link's ``capcourse_target``) can open.
VIEWS = ("course", "coverage", "evidence", "module", "activity")


@dataclass
class LaunchOutcome:
    """Where a launch lands and as whom."""

    platform: LtiPlatform
    #: author, admin or learner.
    role: str
    user: User | None
    learner: Learner | None
    course: Course | None
    #: The page to open: a path on this site.
    target: str
    #: What the page is, for the launch page ("Module “Supervision”").
    target_label: str
    link: LtiResourceLink | None = None
    context: LtiContext | None = None


def role_set(value: Any) -> set[str]:
    """The role URIs of a roles claim or NRPS member, whatever else a platform put there."""
    return {r for r in value if isinstance(r, str)} if isinstance(value, list) else set()


def lti_role(claims: Mapping[str, Any], platform: LtiPlatform) -> str:
    """The capcourse role an LTI launch carries: admin, author or learner."""
    roles = role_set(claims.get(ROLES))
    if roles & ADMIN_ROLES:
        return "admin" if platform.admins_are_admins else "author"
    if roles & AUTHOR_ROLES:
        return "author"
    return "learner"


def platform_principal(platform: LtiPlatform) -> Principal:
    """The platform acting through its launches (creating courses, adding members), named in audit trails."""
    return Principal(role=Role.ADMIN, name=f"LTI platform {platform.name} ({platform.issuer})")


def lms_agent(platform: LtiPlatform, subject: str, name: str | None = None) -> dict[str, Any]:
    """The xAPI agent of an LMS account: the platform's issuer as homePage, ``sub`` as name."""
    agent: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": platform.issuer, "name": subject}}
    if name:
        agent["name"] = name[:200]
    return agent


def _display_name(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return str(name).strip()[:200] or None


def _account(session: Session, platform: LtiPlatform, subject: str) -> LtiAccount:
    account: LtiAccount | None = session.scalar(
        select(LtiAccount).where(LtiAccount.platform_id == platform.id, LtiAccount.subject == subject)
    )
    if account is None:
        account = LtiAccount(platform_id=platform.id, subject=subject)
        session.add(account)
    account.last_launch_at = utcnow()
    return account


def _user(session: Session, platform: LtiPlatform, account: LtiAccount, claims: Mapping[str, Any], role: str) -> User:
    user = session.get(User, account.user_id) if account.user_id else None
    if user is None:
        email = str(claims.get("email") or "").strip().lower()
        taken = not EMAIL.match(email) or session.scalar(select(User.id).where(User.email == email)) is not None
        if taken:
            # An address of our own: the LMS account never takes over an existing one.
            digest = hashlib.sha256(f"{platform.id}|{account.subject}".encode()).hexdigest()[:20]
            email = f"lti-{digest}@lti.invalid"
        name = _display_name(claims) or f"{platform.name} user {account.subject}"[:200]
        # Nobody signs in with this password: it is random and never shown.
        user = create_user(session, email, name, Role.AUTHOR, secrets.token_urlsafe(32))
        account.user_id = user.id
    if not user.is_active:
        raise ConflictError("This capcourse account is disabled; ask an administrator.")
    if role == "admin" and user.role != Role.ADMIN:
        user.role = Role.ADMIN
    user.last_login_at = utcnow()
    return user


def _context(
    session: Session, platform: LtiPlatform, claims: Mapping[str, Any], principal: Principal
) -> LtiContext | None:
    claim = claims.get(CONTEXT)
    if not isinstance(claim, Mapping) or not claim.get("id"):
        return None
    context_id = str(claim["id"])
    context: LtiContext | None = session.scalar(
        select(LtiContext).where(LtiContext.platform_id == platform.id, LtiContext.context_id == context_id)
    )
    title = str(claim.get("title") or claim.get("label") or f"{platform.name} course {context_id}")[:300]
    if context is None:
        programme = session.get(Programme, platform.programme_id) if platform.programme_id else None
        if programme is None:
            raise ConflictError(
                f"capcourse does not know yet which programme courses from {platform.name} belong to: "
                "an administrator must choose it on the LTI platforms page first."
            )
        value = f"{platform.issuer} {context_id}"[:1000]
        # The same LMS course seen through another registration of the issuer (or a platform registered
        # again) is the course it became then.
        course_id = session.scalar(
            select(ExternalId.course_id).where(
                ExternalId.programme_id == programme.id,
                ExternalId.system == "lti-context",
                ExternalId.value == value,
                ExternalId.course_id.is_not(None),
            )
        )
        if course_id is None:
            course = catalogue.create_course(
                session,
                principal,
                programme,
                {
                    "title": title,
                    "description": f"Linked to {platform.name}.",
                    "external_ids": [{"system": "lti-context", "value": value}],
                },
            )
            course_id = course.id
        context = LtiContext(platform_id=platform.id, context_id=context_id, title=title, course_id=course_id)
        session.add(context)
        logger.info("LMS context %s of %s is course %s", context_id, platform.name, course_id)
    context.title = title
    nrps = claims.get(NRPS)
    if isinstance(nrps, Mapping) and nrps.get("context_memberships_url"):
        context.memberships_url = str(nrps["context_memberships_url"])
    ags = claims.get(AGS)
    if isinstance(ags, Mapping) and ags.get("lineitems"):
        context.lineitems_url = str(ags["lineitems"])
        context.ags_scopes = [str(s) for s in ags.get("scope") or []]
    session.flush()
    return context


def _make_author(session: Session, principal: Principal, programme: Programme, user: User) -> None:
    if membership_role(session, Principal(Role(user.role), user.name, user.id), programme.id) is None:
        catalogue.add_member(session, principal, programme, user.email, MembershipRole.AUTHOR)


def parse_target(value: str | None) -> tuple[str, uuid.UUID | None] | None:
    """A ``capcourse_target`` custom value: ``course``, ``coverage``, ``evidence``, ``module:ID`` or ``activity:ID``.

    :raises InvalidInputError: anything else.
    """
    if not value:
        return None
    view, _, ident = value.strip().partition(":")
    if view not in VIEWS or (view in ("module", "activity")) != bool(ident):
        raise InvalidInputError(f"The link's capcourse_target {value!r} is not one capcourse makes.")
    try:
        return view, uuid.UUID(ident) if ident else None
    except ValueError as error:
        raise InvalidInputError(f"The link's capcourse_target {value!r} names no valid identifier.") from error


def _resource_link(
    session: Session,
    platform: LtiPlatform,
    context: LtiContext | None,
    claims: Mapping[str, Any],
    principal: Principal,
) -> LtiResourceLink | None:
    claim = claims.get(RESOURCE_LINK)
    if not isinstance(claim, Mapping) or not claim.get("id"):
        return None
    link_id = str(claim["id"])[:500]
    link: LtiResourceLink | None = session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.platform_id == platform.id, LtiResourceLink.resource_link_id == link_id
        )
    )
    if link is None:
        link = LtiResourceLink(
            platform_id=platform.id, resource_link_id=link_id, context_id=context.id if context else None
        )
        session.add(link)
    link.title = str(claim.get("title") or "")[:500] or link.title
    custom = claims.get(CUSTOM) if isinstance(claims.get(CUSTOM), Mapping) else {}
    target = parse_target(str(custom.get("capcourse_target") or "")) if custom else None
    if target is not None and link.view is None and link.module_id is None and link.activity_id is None:
        course = session.get(Course, context.course_id) if context else None
        _aim(session, link, target, course.programme_id if course else platform.programme_id)
    session.flush()
    if link.activity_id is not None:
        _record_link_id(session, principal, link)
    return link


def _aim(session: Session, link: LtiResourceLink, target: tuple[str, uuid.UUID | None], programme_id: Any) -> None:
    """Point ``link`` at a view, module or activity of the programme.

    :raises InvalidInputError: a module or activity of another programme, or none.
    """
    view, ident = target
    link.module_id = link.activity_id = None
    if view == "module":
        module = session.get(Module, ident)
        if module is None or module.course.programme_id != programme_id:
            raise InvalidInputError("The link names a module that is not in this LMS's programme.")
        link.module_id = module.id
    elif view == "activity":
        activity = session.get(Activity, ident)
        if activity is None or activity.module.course.programme_id != programme_id:
            raise InvalidInputError("The link names an activity that is not in this LMS's programme.")
        link.activity_id = activity.id
    link.view = view


def aim_link(session: Session, principal: Principal, link: LtiResourceLink, value: str) -> LtiResourceLink:
    """Tie an LMS link to what it should open (by hand, for links not placed by deep linking).

    :raises InvalidInputError: an unknown target, or one outside the link's programme.
    :raises ForbiddenError: ``principal`` may not edit that programme.
    """
    context = session.get(LtiContext, link.context_id) if link.context_id else None
    course = session.get(Course, context.course_id) if context else None
    if course is None:
        raise InvalidInputError("This link has no LMS course, so no programme to point into.")
    require_content_editor(session, principal, course.programme)
    target = parse_target(value)
    if target is None:
        raise InvalidInputError("Name what the link opens: course, coverage, evidence, module:ID or activity:ID.")
    _aim(session, link, target, course.programme_id)
    session.flush()
    if link.activity_id is not None:
        _record_link_id(session, principal, link)
    return link


#: The external-id system of LMS resource links.
LINK_SYSTEM = "lti-resource-link"


def _record_link_id(session: Session, principal: Principal, link: LtiResourceLink) -> None:
    """Give the activity the link's id as an external id, so records sent with it match (once)."""
    activity = session.get(Activity, link.activity_id)
    assert activity is not None
    present = session.scalar(
        select(ExternalId.id).where(
            ExternalId.programme_id == activity.module.course.programme_id,
            ExternalId.system == LINK_SYSTEM,
            ExternalId.value == link.resource_link_id,
        )
    )
    if present is not None:
        return
    wanted = [{"system": e.system, "value": e.value} for e in activity.external_ids]
    wanted.append({"system": LINK_SYSTEM, "value": link.resource_link_id})
    catalogue.update_content(session, principal, activity, activity.version, {"external_ids": wanted})


#: LTI 1.3 caps user, context and resource link ids at 255 characters.
MAX_ID = 255


def _check_identifiers(claims: Mapping[str, Any]) -> None:
    """:raises InvalidInputError: an id longer than LTI allows (capcourse would not store it whole)."""
    context = claims.get(CONTEXT)
    link = claims.get(RESOURCE_LINK)
    for name, value in (
        ("sub", claims.get("sub")),
        ("context id", context.get("id") if isinstance(context, Mapping) else None),
        ("resource link id", link.get("id") if isinstance(link, Mapping) else None),
    ):
        if value is not None and len(str(value)) > MAX_ID:
            raise InvalidInputError(f"The launch's {name} is longer than LTI's {MAX_ID} characters.")


def handle_launch(session: Session, platform: LtiPlatform, claims: Mapping[str, Any]) -> LaunchOutcome:
    """Act on a launch whose token pylti1p3 has validated: account, course, rights, link, landing page."""
    subject = str(claims.get("sub") or "").strip()
    if not subject:
        raise InvalidInputError("The launch names no user (no sub claim); capcourse needs one.")
    _check_identifiers(claims)
    principal = platform_principal(platform)
    role = lti_role(claims, platform)
    account = _account(session, platform, subject)
    context = _context(session, platform, claims, principal)
    course = session.get(Course, context.course_id) if context else None
    user: User | None = None
    learner: Learner | None = None
    if role in ("author", "admin"):
        user = _user(session, platform, account, claims, role)
        if course is not None and role == "author":
            _make_author(session, principal, course.programme, user)
    else:
        learner = learner_for(session, lms_agent(platform, subject, _display_name(claims)))
        session.flush()
        account.learner_id = learner.id
    link = _resource_link(session, platform, context, claims, principal) if course or platform.programme_id else None
    session.flush()
    target, label = _landing(session, course, link)
    return LaunchOutcome(platform, role, user, learner, course, target, label, link, context)


def _landing(session: Session, course: Course | None, link: LtiResourceLink | None) -> tuple[str, str]:
    if link is not None and link.activity_id:
        activity = session.get(Activity, link.activity_id)
        if activity is not None:
            return f"/activities/{activity.id}", f"Activity “{activity.title}”"
    if link is not None and link.module_id:
        module = session.get(Module, link.module_id)
        if module is not None:
            return f"/modules/{module.id}", f"Module “{module.title}”"
    if course is not None and link is not None and link.view == "coverage":
        return f"/programmes/{course.programme_id}/coverage", f"Coverage of “{course.programme.title}”"
    if course is not None and link is not None and link.view == "evidence":
        return f"/programmes/{course.programme_id}/cohort", f"Learner evidence in “{course.programme.title}”"
    if course is not None:
        return f"/courses/{course.id}", f"Course “{course.title}”"
    return "/programmes", "Your programmes"
