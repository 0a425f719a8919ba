"""WCAG 2.2 AA in headless Chromium: axe-core (npm, tests/js) on one page of every kind, keyboard-only walks
through mapping and coverage, and a visible focus.

axe-core is installed by ``make scorm-again`` (``npm ci --prefix tests/js``); without it the tests are skipped
with a note (CI sets CAPCOURSE_REQUIRE_BROWSER=1 to fail instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.demo.services import load_demo
from capcourse.records.services import CompletionInput, record_completion
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
ADMIN = "ada.admin@example.org"
#: The WCAG 2.0, 2.1 and 2.2 A and AA rules of axe-core.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SKIPPED = (".csv", ".xlsx", ".json", ".zip", "/export", "format=", "/logout", "/api/", "/ims/", "download=")
#: Pages of one kind differ only by their identifiers: one of each is checked.
IDENTIFIER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=/)\d+(?=/|$)")


def require_axe() -> str:
    if not AXE.exists():
        message = (
            "axe-core is not installed in tests/js/node_modules: run `make scorm-again` (npm ci --prefix tests/js)"
        )
        if os.environ.get("CAPCOURSE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def prepare(session: Session) -> None:
        create_user(session, ADMIN, "Ada Admin", Role.ADMIN, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=6)
        # A kept record, so the kept-records page has a row to check.
        record_completion(
            session,
            CompletionInput(
                agent=xapi.agent_from_email("kim@example.org", "Kim"),
                activity_ref="https://lms.example.org/unknown/1",
                outcome="passed",
                occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
                idempotency_key="a11y-1",
                source="api",
            ),
            "http://capcourse.test",
            (),
        )

    with scratch_app(tmp_path_factory.mktemp("a11y"), "a11y", prepare) as app, live_server(app) as url:
        yield url


def _sign_in(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/programmes")


def _axe(page: Any, script: str) -> list[dict[str, Any]]:
    """Serious and critical WCAG A/AA violations on the page, as axe-core reports them.

    Once the page has loaded: a click that submits a form returns when the next page's document
    arrives, and run before its style sheet applied, axe-core found the header's links too small
    to touch (a CI run of tests/versions/test_browser.py).
    """
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=script)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_or_critical_violation_on_any_page(served: str) -> None:
    """Every kind of page reachable by links from the main ones, signed in as an admin (who sees every form),
    plus the sign-in page and the pages behind a form: axe-core finds no serious or critical violation."""
    executable = require_chromium()
    script = require_axe()
    from playwright.sync_api import Error, sync_playwright

    found: dict[str, list[dict[str, Any]]] = {}
    checked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        # axe-core is injected as a script of the test's own: the page's CSP is for the page's scripts.
        context = browser.new_context(base_url=served, bypass_csp=True)
        page = context.new_page()
        page.goto("/login")
        found["/login"] = _axe(page, script)
        checked.append("/login")
        _sign_in(page)

        kinds: set[str] = set()
        queue = ["/programmes", "/frameworks", "/search?q=supervision", "/admin/users", "/admin/keys", "/admin/pending"]
        while queue and len(kinds) < 80:
            path = queue.pop(0)
            kind = IDENTIFIER.sub("{id}", urlsplit(path).path)
            if kind in kinds:
                continue
            kinds.add(kind)
            try:
                response = page.goto(path)
            except Error:
                continue  # a download, not a page
            if (
                response is None
                or response.status >= 400
                or "text/html" not in response.headers.get("content-type", "")
            ):
                continue
            checked.append(path)
            found[path] = _axe(page, script)
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
                parts = urlsplit(href)
                if parts.netloc or not parts.path.startswith("/") or any(s in href for s in SKIPPED):
                    continue
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        # Views behind a choice: the cohort heat map showing achievements, a matrix cell.
        for extra in ("show=achieved",):
            cohort = next((p for p in checked if urlsplit(p).path.endswith("/cohort")), None)
            if cohort:
                page.goto(f"{urlsplit(cohort).path}?{extra}")
                found[f"{cohort}?{extra}"] = _axe(page, script)
        browser.close()
    assert len(checked) >= 20, checked
    problems = {path: v for path, v in found.items() if v}
    assert problems == {}, problems


def _focus_is_visible(page: Any) -> bool:
    return bool(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return false;
                const style = getComputedStyle(el);
                return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
                    || style.boxShadow !== 'none';
            }"""
        )
    )


def _tab_to(page: Any, selector: str, limit: int = 400) -> None:
    """Press Tab until the element matching ``selector`` has the focus, checking the focus is visible each time."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        assert _focus_is_visible(page), page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_mapping_and_coverage(served: str) -> None:
    """Without a mouse: map an item from a module page, then open a matrix cell of the coverage dashboard.
    Every focused element shows a visible focus indicator."""
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page(base_url=served)
        _sign_in(page)
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
        page.get_by_role("link", name="Leading change").first.click()
        page.get_by_role("link", name="Working with partners").first.click()
        module_url = page.url
        page.goto(module_url)

        # Skip link first: it lands on the main content.
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to content"
        assert _focus_is_visible(page)

        # Filter the tree, tick an item, save: all by keyboard.
        _tab_to(page, "[data-mapping-form] input[type=search], [data-mapping-form] input[type=text]")
        page.keyboard.type("multi-agency partners")
        _tab_to(page, "[data-mapping-form] input[type=checkbox]:not([disabled])")
        page.keyboard.press("Space")
        assert page.evaluate("() => document.activeElement.checked")
        _tab_to(page, "[data-mapping-form] button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url(module_url)
        expect(page.locator("ul.chips li").first).to_be_visible()

        # Coverage: reach a matrix cell by Tab and open it with Enter.
        page.goto(page.url)
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").first.click()
        page.get_by_role("link", name="Coverage dashboard").click()
        page.get_by_label("Framework", exact=True).select_option(
            label="Leadership Capability Framework — Pathway 1: Practice Supervisors"
        )
        page.get_by_role("button", name="Show").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        _tab_to(page, "table.matrix td.matrix-cell a")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("h1")).to_contain_text("×")
        browser.close()
