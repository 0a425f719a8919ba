"""Dynamic Registration with lti1p3platform's platform on loopback, then a launch from the platform so registered."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.extensions import db
from capcourse.lti.models import LtiContext, LtiPlatform
from tests import factories
from tests.lti.conftest import LtiWorld
from tests.lti.platform import INSTRUCTOR, Person, PlatformState, running_platform

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def admin(world: LtiWorld) -> dict[str, str]:
    with world.app.app_context(), Session(db.engine) as session:
        return factories.bearer(factories.api_key(session, Role.ADMIN)[1])


def _registration_url(world: LtiWorld, admin: dict[str, str]) -> str:
    made = requests.post(
        f"{world.tool_url}/api/v1/lti/registrations",
        json={"programme_id": str(world.programme_id)},
        headers=admin,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["url"])


def _offer(state: PlatformState) -> dict[str, str]:
    return {
        "openid_configuration": f"{state.base_url}/.well-known/openid-configuration?t=reg-token",
        "registration_token": "reg-token",
    }


def test_an_lms_registers_capcourse_and_an_instructor_launches_it(world: LtiWorld, admin: dict[str, str]) -> None:
    url = _registration_url(world, admin)
    assert requests.get(url, timeout=30).status_code == 200  # the page to paste the URL from
    state = PlatformState(client_id="dynamic-client", deployment_id="dynamic-deployment")
    state.people = {"prof": Person("prof", "Pat Professor", "pat@lms2.example.org", INSTRUCTOR)}
    state.courses = {"c-42": ("Leading teams", ["prof"])}
    with running_platform(state):
        page = requests.get(url, params=_offer(state), timeout=30)
        assert page.status_code == 200, page.text
        assert "capcourse is registered" in page.text and "dynamic-deployment" in page.text
        assert "/lti/static/close.js" in page.text
        assert f"frame-ancestors 'self' {state.base_url}" in page.headers["Content-Security-Policy"]
        sent = state.registrations[0]
        assert sent["initiate_login_uri"] == f"{world.tool_url}/lti/login"
        assert sent["jwks_uri"] == f"{world.tool_url}/lti/jwks"
        assert sent["redirect_uris"] == [f"{world.tool_url}/lti/launch"]
        assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in sent["scope"]
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"]
        tool = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
        messages = tool["messages"]
        assert {m["type"] for m in messages} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
        # What Canvas reads: where each message starts, and that launches carry name and email.
        assert {m["type"]: m["placements"][0] for m in messages} == {
            "LtiResourceLinkRequest": "course_navigation",
            "LtiDeepLinkingRequest": "link_selection",
        }
        assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
        assert {"name", "email"} <= set(tool["claims"])
        with world.app.app_context(), Session(db.engine) as session:
            platform = session.scalar(select(LtiPlatform).where(LtiPlatform.client_id == "dynamic-client"))
            assert platform is not None and platform.registered_by == "dynamic"
            assert platform.issuer == state.issuer and platform.key_set_url == f"{state.base_url}/jwks"
            assert [d.deployment_id for d in platform.deployments] == ["dynamic-deployment"]
            assert platform.programme_id == world.programme_id

        launched = world.launch("prof", platform=state, context="c-42", link="rl-42")
        assert launched.status_code == 200, launched.text
        assert "Pat Professor" in launched.text and "Leading teams" in launched.text
        with world.app.app_context(), Session(db.engine) as session:
            context = session.scalar(select(LtiContext).where(LtiContext.context_id == "c-42"))
            assert context is not None and context.platform.client_id == "dynamic-client"

        # The URL worked once.
        again = requests.get(url, params=_offer(state), timeout=30)
        assert again.status_code == 400 and "used already" in again.text


def test_registration_fails_cleanly(world: LtiWorld, admin: dict[str, str]) -> None:
    before = world.count(LtiPlatform)
    assert requests.get(f"{world.tool_url}/lti/register/nonsense", timeout=30).status_code == 400
    state = PlatformState(client_id="refused-client")
    with running_platform(state):
        url = _registration_url(world, admin)
        wrong_token = requests.get(url, params={**_offer(state), "registration_token": "wrong"}, timeout=30)
        assert wrong_token.status_code == 502 and "answered 401" in wrong_token.text
        bad_url = requests.get(url, params={"openid_configuration": "ftp://x"}, timeout=30)
        assert bad_url.status_code == 422
        world.app.config["CAPCOURSE_OUTBOUND_ALLOW"] = ""
        try:
            inside = requests.get(url, params=_offer(state), timeout=30)
        finally:
            world.app.config["CAPCOURSE_OUTBOUND_ALLOW"] = "127.0.0.1"
        assert inside.status_code == 502 and "could not reach" in inside.text
        # Nothing was registered, and the URL still works for a good try.
        assert world.count(LtiPlatform) == before
        assert requests.get(url, params=_offer(state), timeout=30).status_code == 200
    assert world.count(LtiPlatform) == before + 1


def test_only_admins_make_registration_urls(world: LtiWorld) -> None:
    with world.app.app_context(), Session(db.engine) as session:
        author = factories.bearer(factories.api_key(session, Role.AUTHOR)[1])
    made = requests.post(f"{world.tool_url}/api/v1/lti/registrations", json={}, headers=author, timeout=30)
    assert made.status_code == 403
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["lti", "registration-url"])
    assert result.exit_code == 0 and "/lti/register/" in result.output
