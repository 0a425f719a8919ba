"""Login → launch end to end against lti1p3platform on loopback; bad tokens refused with nothing changed."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import requests
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import ProgrammeMember, User
from capcourse.catalogue.models import Course, ExternalId
from capcourse.extensions import db
from capcourse.lti.models import LtiAccount, LtiContext, LtiResourceLink
from capcourse.records.models import Learner
from tests.lti.conftest import LtiWorld

pytestmark = pytest.mark.db

WATCHED = (User, Course, Learner, LtiAccount, LtiContext, LtiResourceLink, ProgrammeMember, ExternalId)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _header(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def _resign(world: LtiWorld, token: str, key: str | None = None, **changes: Any) -> str:
    body = {**_claims(token), **changes}
    return jwt.encode(
        body, key or world.platform.private_key, algorithm="RS256", headers={"kid": _header(token)["kid"]}
    )


def _counts(world: LtiWorld) -> dict[str, int]:
    return {model.__name__: world.count(model) for model in WATCHED}


def test_instructor_launch_lands_as_author_of_the_lms_course(world: LtiWorld) -> None:
    response = world.launch("teacher", context="course-1", link="link-a")
    assert response.status_code == 200, response.text
    assert "Tess Teacher" in response.text and "author" in response.text
    assert "Supervision in practice" in response.text
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {world.platform.base_url}" in policy
    assert "script-src 'self'" in policy
    with world.app.app_context(), Session(db.engine) as session:
        context = session.scalar(select(LtiContext).where(LtiContext.context_id == "course-1"))
        assert context is not None
        course = session.get(Course, context.course_id)
        assert course is not None and course.programme_id == world.programme_id
        assert course.title == "Supervision in practice"
        account = session.scalar(select(LtiAccount).where(LtiAccount.subject == "teacher"))
        assert account is not None and account.user_id is not None
        user = session.get(User, account.user_id)
        assert user is not None and user.email == "tess@lms.example.org" and user.role == "author"
        member = session.scalar(select(ProgrammeMember).where(ProgrammeMember.user_id == user.id))
        assert member is not None and member.role == "author" and member.programme_id == world.programme_id
        assert context.memberships_url == f"{world.platform.base_url}/memberships/course-1"
        assert context.lineitems_url == f"{world.platform.base_url}/lineitems/course-1"


def test_the_launch_page_signs_in_through_a_one_time_link(world: LtiWorld) -> None:
    browser = requests.Session()
    response = world.launch("teacher", browser, context="course-1", link="link-a")
    enter = response.text.split('href="/lti/enter/')[1].split('"')[0]
    opened = browser.get(f"{world.tool_url}/lti/enter/{enter}", timeout=30)
    assert opened.status_code == 200
    assert opened.url.startswith(f"{world.tool_url}/courses/")
    assert "Tess Teacher" in opened.text  # signed in, no password asked
    again = requests.get(f"{world.tool_url}/lti/enter/{enter}", timeout=30)
    assert again.status_code == 403 and "used already or expired" in again.text


def test_a_window_launch_goes_straight_in(world: LtiWorld) -> None:
    response = world.launch("teacher", context="course-1", link="link-a", target="window")
    assert response.status_code == 200
    assert response.url.startswith(f"{world.tool_url}/courses/")
    assert "Sign out" in response.text


def test_learner_launch_becomes_a_learner_with_the_lms_account(world: LtiWorld) -> None:
    response = world.launch("ann", context="course-1", link="link-a")
    assert response.status_code == 200, response.text
    assert "Your progress" in response.text
    with world.app.app_context(), Session(db.engine) as session:
        learner = session.scalar(select(Learner).where(Learner.name == "Ann Learner"))
        assert learner is not None
        assert learner.agent["account"] == {"homePage": world.platform.issuer, "name": "ann"}
        account = session.scalar(select(LtiAccount).where(LtiAccount.subject == "ann"))
        assert account is not None and account.user_id is None and account.learner_id == learner.id


def _fresh(world: LtiWorld) -> tuple[requests.Session, str, dict[str, str]]:
    browser = requests.Session()
    action, fields = world.launch_form(browser, "teacher", context="course-refused", link="link-refused")
    return browser, action, fields


def _refused(world: LtiWorld, data: dict[str, str], reason: str) -> None:
    before = _counts(world)
    response = requests.post(f"{world.tool_url}/lti/launch", data=data, timeout=30)
    assert response.status_code == 403, response.text
    assert "The LMS launch was refused" in response.text
    assert reason in response.text
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    assert _counts(world) == before


def test_a_token_signed_with_another_key_is_refused(world: LtiWorld) -> None:
    _, _, fields = _fresh(world)
    stranger = JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None).decode()
    _refused(
        world, {**fields, "id_token": _resign(world, fields["id_token"], stranger)}, "Signature verification failed"
    )


def test_a_token_for_another_audience_is_refused(world: LtiWorld) -> None:
    _, _, fields = _fresh(world)
    _refused(
        world, {**fields, "id_token": _resign(world, fields["id_token"], aud="another-tool")}, "Registration not found"
    )


def test_an_expired_token_is_refused(world: LtiWorld) -> None:
    _, _, fields = _fresh(world)
    past = int(time.time()) - 3600
    token = _resign(world, fields["id_token"], iat=past - 60, exp=past)
    _refused(world, {**fields, "id_token": token}, "expired")


def test_an_unknown_deployment_is_refused(world: LtiWorld) -> None:
    _, _, fields = _fresh(world)
    token = _resign(world, fields["id_token"], **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "other"})
    _refused(world, {**fields, "id_token": token}, "deployment ID")


def test_a_replayed_launch_is_refused(world: LtiWorld) -> None:
    browser, action, fields = _fresh(world)
    assert browser.post(action, data=fields, timeout=30).status_code == 200
    _refused(world, fields, "state is unknown, used already or expired")


def test_a_reused_nonce_is_refused(world: LtiWorld) -> None:
    browser, action, old = _fresh(world)
    assert browser.post(action, data=old, timeout=30).status_code == 200
    _, _, new = _fresh(world)
    # The new login's state with the old token (and its nonce): the nonce was issued for another login.
    _refused(world, {**new, "id_token": old["id_token"]}, "nonce")


def test_a_launch_without_state_or_token_is_refused(world: LtiWorld) -> None:
    _refused(world, {}, "id_token")
    _refused(world, {"id_token": "not.a.jwt"}, "")


def test_login_initiation_from_an_unknown_platform_is_refused(world: LtiWorld) -> None:
    response = requests.get(
        f"{world.tool_url}/lti/login",
        params={
            "iss": "https://unknown.example.org",
            "login_hint": "x",
            "target_link_uri": f"{world.tool_url}/lti/launch",
        },
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 403 and "Could not find registration details" in response.text
    missing = requests.get(f"{world.tool_url}/lti/login", timeout=30, allow_redirects=False)
    assert missing.status_code == 422 and "iss and login_hint" in missing.text


def test_jwks_publishes_the_signing_key(world: LtiWorld) -> None:
    keys = requests.get(f"{world.tool_url}/lti/jwks", timeout=30).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in keys)


def test_the_school_domain_a_signed_return_url_names_may_frame_the_launch(world: LtiWorld) -> None:
    # Canvas: the issuer is canvas.instructure.com, the page framing capcourse is the school's own domain.
    response = world.launch(
        "teacher", context="course-1", link="link-a", return_url="https://school.example.org/courses/1"
    )
    assert response.status_code == 200
    assert "https://school.example.org" in response.headers["Content-Security-Policy"]


def test_the_admins_pages_keep_the_sites_own_policy(world: LtiWorld) -> None:
    page = requests.get(f"{world.tool_url}/admin/lti", timeout=30, allow_redirects=False)
    assert world.platform.base_url not in page.headers.get("Content-Security-Policy", "")


def test_odd_but_signed_claims_get_a_clear_answer(world: LtiWorld) -> None:
    _, _, fields = _fresh(world)
    token = _resign(world, fields["id_token"], sub="x" * 300)
    response = requests.post(f"{world.tool_url}/lti/launch", data={**fields, "id_token": token}, timeout=30)
    assert response.status_code == 422 and "longer than LTI" in response.text
    _, _, fields = _fresh(world)
    roles = [{"not": "a role"}, "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    token = _resign(world, fields["id_token"], **{"https://purl.imsglobal.org/spec/lti/claim/roles": roles})
    response = requests.post(f"{world.tool_url}/lti/launch", data={**fields, "id_token": token}, timeout=30)
    assert response.status_code in (200, 403), response.text  # a learner, or refused by pylti1p3: never a 500
