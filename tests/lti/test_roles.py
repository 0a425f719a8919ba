"""What a validated launch's claims become: rights, accounts, courses (the service, without HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.access import command_line_principal
from capcourse.accounts.models import Role
from capcourse.errors import ConflictError
from capcourse.lti import launch, services
from capcourse.lti.models import LtiPlatform
from tests import factories

pytestmark = pytest.mark.db

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


def _platform(session: Session, programme_id: Any = None, admins: bool = False) -> LtiPlatform:
    platform = services.create_platform(
        session,
        command_line_principal(),
        {
            "name": "Unit LMS",
            "issuer": "https://lms.example.org",
            "client_id": f"client-{uuid.uuid4()}",
            "auth_login_url": "https://lms.example.org/auth",
            "auth_token_url": "https://lms.example.org/token",
            "key_set_url": "https://lms.example.org/jwks",
            "programme_id": programme_id,
            "admins_are_admins": admins,
        },
        ["d"],
    )
    session.commit()
    return platform


def _claims(sub: str, *roles: str, **extra: Any) -> dict[str, Any]:
    return {
        "sub": sub,
        launch.ROLES: list(roles),
        launch.CONTEXT: {"id": "ctx", "title": "Unit course"},
        **extra,
    }


def test_without_a_programme_the_launch_says_what_to_do(session: Session) -> None:
    platform = _platform(session)
    with pytest.raises(ConflictError, match="an administrator must choose it"):
        launch.handle_launch(session, platform, _claims("t", LIS + "membership#Instructor"))


def test_lms_administrators_are_admins_only_where_allowed(session: Session) -> None:
    programme = factories.programme(session)
    cautious = _platform(session, programme.id)
    outcome = launch.handle_launch(session, cautious, _claims("a", LIS + "institution/person#Administrator"))
    assert outcome.role == "author" and outcome.user is not None and outcome.user.role == Role.AUTHOR
    trusting = _platform(session, programme.id, admins=True)
    outcome = launch.handle_launch(session, trusting, _claims("b", LIS + "system/person#Administrator"))
    assert outcome.role == "admin" and outcome.user is not None and outcome.user.role == Role.ADMIN


def test_an_existing_account_with_the_same_email_is_never_taken_over(session: Session) -> None:
    programme = factories.programme(session)
    admin = factories.user(session, Role.ADMIN, email="boss@example.org")
    platform = _platform(session, programme.id)
    outcome = launch.handle_launch(
        session, platform, _claims("x", LIS + "membership#Instructor", email="boss@example.org", name="Not The Boss")
    )
    assert outcome.user is not None and outcome.user.id != admin.id
    assert outcome.user.email.endswith("@lti.invalid") and outcome.user.role == Role.AUTHOR
    again = launch.handle_launch(session, platform, _claims("x", LIS + "membership#Instructor"))
    assert again.user is not None and again.user.id == outcome.user.id  # the same LMS account, the same person


def test_anyone_else_is_a_learner(session: Session) -> None:
    programme = factories.programme(session)
    platform = _platform(session, programme.id)
    for roles in ([LIS + "membership#Learner"], [LIS + "membership/Instructor#TeachingAssistant"], []):
        outcome = launch.handle_launch(session, platform, _claims(f"s{len(roles)}", *roles))
        assert outcome.role == "learner" and outcome.user is None and outcome.learner is not None
        assert outcome.learner.agent["account"]["homePage"] == "https://lms.example.org"


def test_one_lms_course_through_two_registrations_is_one_capcourse_course(session: Session) -> None:
    programme = factories.programme(session)
    first = launch.handle_launch(session, _platform(session, programme.id), _claims("t", LIS + "membership#Instructor"))
    second = launch.handle_launch(
        session, _platform(session, programme.id), _claims("t", LIS + "membership#Instructor")
    )
    assert first.course is not None and second.course is not None and first.course.id == second.course.id
