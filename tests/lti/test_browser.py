"""A launch inside an LMS iframe in real headless Chromium: cross-site, no cookies needed, framed only by the platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.access import command_line_principal
from capcourse.extensions import db
from capcourse.lti import services
from tests.browser import CHROMIUM_ARGS, require_chromium
from tests.lti.conftest import LtiWorld
from tests.lti.platform import INSTRUCTOR, LEARNER, Person, PlatformState, running_platform

pytestmark = [pytest.mark.browser, pytest.mark.db]


@pytest.fixture(scope="module")
def lms(world: LtiWorld) -> Iterator[PlatformState]:
    """A platform at http://localhost:…, another site than capcourse at http://127.0.0.1:…."""
    state = PlatformState(
        client_id="browser-client",
        tool_login_url=f"{world.tool_url}/lti/login",
        tool_launch_url=f"{world.tool_url}/lti/launch",
        tool_jwks_url=f"{world.tool_url}/lti/jwks",
    )
    state.people = {
        "tess": Person("tess", "Tess Teacher", "tess@browser.example.org", INSTRUCTOR),
        "lea": Person("lea", "Lea Learner", "lea@browser.example.org", LEARNER),
    }
    state.courses = {"b-1": ("Supervision in the browser", ["tess", "lea"])}
    with running_platform(state, host="localhost"):
        with world.app.app_context(), Session(db.engine) as session:
            services.create_platform(
                session,
                command_line_principal(),
                {
                    "name": "Browser LMS",
                    "issuer": state.issuer,
                    "client_id": state.client_id,
                    "auth_login_url": f"{state.base_url}/authorize",
                    "auth_token_url": f"{state.base_url}/token",
                    "key_set_url": f"{state.base_url}/jwks",
                    "programme_id": world.programme_id,
                },
                [state.deployment_id],
            )
            session.commit()
        yield state


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_an_instructor_launches_in_the_lms_iframe_and_opens_capcourse_signed_in(
    world: LtiWorld, lms: PlatformState, chromium: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{lms.base_url}/course?user=tess&context=b-1&link=b-link")
    tool = page.frame_locator("#tool")
    expect(tool.get_by_role("heading", level=1)).to_have_text("capcourse for Tess Teacher")
    expect(tool.locator(".lti-role")).to_contain_text("Supervision in the browser")
    page.screenshot(path=str(tmp_path / "launch.png"))
    # No capcourse cookie was needed for the launch in a third-party iframe.
    assert not [c for c in context.cookies() if c["domain"] == "127.0.0.1" and c["name"].startswith("lti1p3")]
    with context.expect_page() as opened:
        tool.get_by_role("link", name="Open Course “Supervision in the browser” in capcourse").click()
    window = opened.value
    expect(window.get_by_role("button", name="Sign out")).to_be_visible()
    expect(window.get_by_role("heading", level=1)).to_contain_text("Supervision in the browser")
    assert window.url.startswith(f"{world.tool_url}/courses/")
    context.close()


def test_a_learner_sees_their_progress_in_the_iframe(world: LtiWorld, lms: PlatformState, chromium: Any) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{lms.base_url}/course?user=lea&context=b-1&link=b-link")
    tool = page.frame_locator("#tool")
    expect(tool.get_by_role("heading", level=1)).to_have_text("Your progress in Supervision in the browser")
    context.close()


def test_a_page_of_another_origin_cannot_frame_the_launch(world: LtiWorld, lms: PlatformState, chromium: Any) -> None:
    """The same platform reached as 127.0.0.1 is not the registered origin: frame-ancestors blocks the launch page."""
    context = chromium.new_context()
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.goto(lms.base_url.replace("localhost", "127.0.0.1") + "/course?user=tess&context=b-1&link=b-link")
    page.wait_for_timeout(3000)
    frame = page.frame_locator("#tool")
    assert frame.get_by_text("capcourse for Tess Teacher").count() == 0
    assert any("frame-ancestors" in text for text in blocked), blocked
    context.close()
