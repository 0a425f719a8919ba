"""The framework browser in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import CHROMIUM_ARGS, live_server, require_chromium, script_held
from tests.conftest import scratch_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_app(tmp_path_factory.mktemp("browser"), "browser") as app, live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def page(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=served)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def test_a_programme_lead_browses_a_framework(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.get_by_role("heading", name="Capability frameworks")).to_be_visible()
    page.get_by_role("link", name="Leadership Capability Framework — Pathway 1: Practice Supervisors").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leadership Capability Framework")
    expect(page.get_by_role("heading", name="Icon legend")).to_be_visible()

    # Filtering the tree keeps matching items and their ancestors visible.
    page.get_by_label("Filter the tree").fill("emotional labour")
    expect(page.locator(".filter-status")).to_have_text("1 matching item")
    match = page.locator("li.node.match")
    expect(match).to_have_count(1)
    expect(match).to_be_visible()
    expect(match).to_contain_text("Instigates conversations around the emotional labour of social work")
    hidden = page.locator("li.node[hidden]")
    assert hidden.count() > 60

    page.get_by_label("Filter the tree").fill("")
    expect(page.locator("li.node[hidden]")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "framework.png"), full_page=True)

    # Into an item and its associations.
    page.get_by_role("link", name="LCF.EC.1.a").click()
    expect(page.get_by_role("heading", name="Associations")).to_be_visible()
    expect(page.locator("table.associations")).to_contain_text("High quality supervision")
    expect(page.locator("table.associations")).to_contain_text("inferred")


def test_a_filter_typed_before_the_tree_script_runs_applies_when_it_runs(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto("/frameworks")
    page.get_by_role("link", name="Leadership Capability Framework — Pathway 1: Practice Supervisors").click()
    with script_held(page, "**/static/tree.js"):
        page.get_by_label("Filter the tree").fill("emotional labour")
        expect(page.get_by_label("Filter the tree")).to_have_value("emotional labour")
        assert page.locator("li.node.match").count() == 0
    expect(page.locator(".filter-status")).to_have_text("1 matching item")
    expect(page.locator("li.node.match")).to_contain_text("emotional labour of social work")


def test_search_from_the_header(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto("/frameworks")
    page.get_by_label("Search framework items").fill("anti-oppressive")
    page.keyboard.press("Enter")
    expect(page.locator(".result-count")).to_contain_text("items found")
    expect(page.locator(".results")).to_contain_text("LCF.PC.3")
