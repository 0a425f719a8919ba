"""Phone and print layouts in headless Chromium: the navigation folds on a narrow screen, nothing but wide
tables scrolls sideways, and print keeps the tables without the controls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.demo.services import load_demo
from capcourse.identifiers import framework_id
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

ADMIN = "ada.admin@example.org"
FRONTLINE = framework_id("frontline-lcf-pathway-1")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def prepare(session: Session) -> None:
        create_user(session, ADMIN, "Ada Admin", Role.ADMIN, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=4)

    with scratch_app(tmp_path_factory.mktemp("layouts"), "layouts", prepare) as app, live_server(app) as url:
        yield url


def _sign_in(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/programmes")


def test_phone_and_print(served: str, tmp_path: Any) -> None:
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        phone = browser.new_context(base_url=served, viewport={"width": 375, "height": 740}, is_mobile=True)
        page: Any = phone.new_page()
        _sign_in(page)
        menu = page.get_by_role("button", name="Menu")
        expect(menu).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("link", name="Frameworks", exact=True)).to_be_visible()
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
        for path in ("", "/coverage", "/cohort"):
            page.goto(
                page.url.split("/programmes/")[0]
                + "/programmes/"
                + page.url.split("/programmes/")[1].split("/")[0]
                + path
            )
            # Only wide tables scroll, inside their own box: the page itself never scrolls sideways.
            wide = page.evaluate(
                """() => Array.from(document.querySelectorAll('main *'))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                                 && !e.closest('.grid-scroll, .sticky-table'))
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""
            )
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), (path, wide)
        page.screenshot(path=str(tmp_path / "phone-cohort.png"), full_page=True)
        phone.close()

        desk = browser.new_context(base_url=served)
        page = desk.new_page()
        _sign_in(page)
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
        page.get_by_role("link", name="Coverage dashboard").click()
        page.goto(page.url + f"?framework={FRONTLINE}")
        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Print")).to_be_hidden()
        expect(page.get_by_role("link", name="Download XLSX")).to_be_hidden()
        expect(page.locator("header.site")).to_be_hidden()
        expect(page.locator("table.matrix")).to_be_visible()
        expect(page.locator("table.coverage")).to_be_visible()
        # The whole table prints: no scrolling box cuts it.
        assert page.evaluate("() => getComputedStyle(document.querySelector('.sticky-table')).overflow") == "visible"
        page.pdf(path=str(tmp_path / "coverage.pdf"))
        assert (tmp_path / "coverage.pdf").stat().st_size > 10_000
        assert page.request.get("/static/favicon.svg").ok
        browser.close()
