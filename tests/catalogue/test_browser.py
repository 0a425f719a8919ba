"""Course authoring in a real headless Chromium: the issue's acceptance walk-through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium, script_held
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

LEAD = "lena.lead@example.org"
AUTHOR = "arun.author@example.org"
OUTSIDER = "olga.outsider@example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def people(session: Session) -> None:
        create_user(session, LEAD, "Lena Lead", Role.LEAD, PASSWORD)
        create_user(session, AUTHOR, "Arun Author", Role.AUTHOR, PASSWORD)
        create_user(session, OUTSIDER, "Olga Outsider", Role.AUTHOR, PASSWORD)

    with scratch_app(tmp_path_factory.mktemp("authoring"), "authoring", people) as app, live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(served: str) -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_as(browser: Any, served: str) -> Iterator[Any]:
    contexts = []

    def open_as(email: str) -> Any:
        context = browser.new_context(base_url=served)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_build_map_and_keep_others_out(open_as: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    lead = open_as(LEAD)
    expect(lead.get_by_role("heading", name="Programmes")).to_be_visible()
    lead.get_by_label("Title", exact=True).fill("Pathway 1, 2026 cohort")
    lead.get_by_label("Leadership Capability Framework — Pathway 1: Practice Supervisors").check()
    lead.get_by_label("Knowledge and skills statement for practice supervisors (2018)").check()
    lead.get_by_role("button", name="Create programme").click()
    expect(lead.get_by_role("heading", level=1)).to_have_text("Pathway 1, 2026 cohort")
    lead.get_by_label("Email of an existing user").fill(AUTHOR)
    lead.get_by_role("button", name="Add to programme").click()
    expect(lead.locator(".flash-info")).to_contain_text("Arun Author is now author of this programme.")

    author = open_as(AUTHOR)
    author.get_by_role("link", name="Pathway 1, 2026 cohort").click()
    # A bad form is refused with a readable message, and nothing is added.
    author.get_by_role("button", name="Add course").click()
    expect(author.locator(".flash-error")).to_contain_text("Title")
    expect(author.get_by_text("No courses yet.")).to_be_visible()

    author.get_by_label("Title", exact=True).fill("Leading supervision")
    author.get_by_role("button", name="Add course").click()
    expect(author.get_by_role("heading", level=1)).to_have_text("Leading supervision")
    for title in ("Reflective supervision", "Leading change"):
        author.get_by_label("Title", exact=True).fill(title)
        author.get_by_role("button", name="Add module").click()
        expect(author.locator(".flash-info")).to_have_text(f"Module '{title}' added.")
    author.get_by_role("link", name="Reflective supervision").click()

    # Typed before the filter's script runs (it is deferred: a slow page), the filter applies when it does.
    with script_held(author, "**/static/mapping.js"):
        author.get_by_label("Filter").fill("emotional labour")
        expect(author.get_by_label("Filter")).to_have_value("emotional labour")
        assert author.locator("li.node.match").count() == 0
    expect(author.locator("li.node.match")).to_have_count(1)
    author.reload()

    # Map to items of two frameworks, found with the filter.
    author.get_by_label("developed").check()
    author.get_by_label("Filter").fill("emotional labour")
    expect(author.locator("li.node.match")).to_have_count(1)
    author.locator("li.node.match input[type=checkbox]").check()
    author.get_by_label("Filter").fill("Emotionally intelligent practice supervision")
    author.locator("details.pane", has_text="practice supervisors").locator(
        "li.node.match input[type=checkbox]"
    ).first.check()
    author.get_by_role("button", name="Map selected items").click()
    expect(author.locator(".flash-info")).to_contain_text("Mapped 'Reflective supervision' to 2 items.")

    # The mapping persists after a reload.
    author.reload()
    chips = author.locator("ul.chips li.chip")
    expect(chips).to_have_count(2)
    expect(chips.filter(has_text="LCF.EC.1.a")).to_contain_text("developed")
    expect(chips.filter(has_text="KSS-PS.7")).to_have_count(1)
    author.screenshot(path=str(tmp_path / "mapped.png"), full_page=True)

    # Mapping an already mapped item again is impossible from the tree: it is ticked and disabled.
    author.get_by_label("Filter").fill("emotional labour")
    expect(author.locator("li.node.match input[type=checkbox]")).to_be_disabled()

    # The lead reads the history.
    lead.goto(lead.url)
    lead.get_by_role("link", name="Who mapped what, when").click()
    expect(lead.locator("table.history tbody tr")).to_have_count(2)
    expect(lead.locator("table.history")).to_contain_text("Arun Author")

    # Another author, not on the programme, sees nothing of it, even with its address.
    outsider = open_as(OUTSIDER)
    expect(outsider.get_by_text("You are not on any programme yet.")).to_be_visible()
    response = outsider.goto(author.url)
    assert response.status == 404


def test_wrong_password_is_refused_readably(open_as: Any, browser: Any, served: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=served)
    page = context.new_page()
    page.goto("/programmes")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(AUTHOR)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-error")).to_have_text("The email or password is not right.")
    context.close()
