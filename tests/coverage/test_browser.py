"""A programme lead on the coverage dashboard, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.demo.services import load_demo
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def demo(session: Session) -> None:
        create_user(session, "admin@example.org", "Ada Admin", Role.ADMIN, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=10)

    with scratch_app(tmp_path_factory.mktemp("coverage"), "coverage", demo) as app, live_server(app) as url:
        yield url


def test_a_lead_finds_gaps_drills_into_a_cell_and_exports(served: str, tmp_path: Path) -> None:
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=served, accept_downloads=True)
        page: Any = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill("admin@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
        page.get_by_role("link", name="Coverage dashboard").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Coverage of")
        page.get_by_label("Framework", exact=True).select_option(
            label="Leadership Capability Framework — Pathway 1: Practice Supervisors"
        )
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name="Capabilities × curriculum areas")).to_be_visible()
        expect(page.get_by_role("heading", name="Gaps")).to_be_visible()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        cell = page.locator("table.matrix td.matrix-cell a").first
        cell.click()
        expect(page.locator("h1")).to_contain_text("×")
        expect(page.locator("table tbody tr").first).to_be_visible()

        page.go_back()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download XLSX").click()
        saved = tmp_path / "coverage.xlsx"
        download.value.save_as(saved)
        assert saved.stat().st_size > 1000

        # The cohort view: one intake of the demo, then one learner's evidence.
        page.get_by_role("link", name="Pathway 1, 2026 cohort").first.click()
        page.get_by_role("link", name="Cohort evidence").click()
        page.get_by_label("Cohort", exact=True).select_option(label="Autumn 2026 intake (5)")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_text("5 learners in the cohort")).to_be_visible()
        expect(page.locator("table.cohort tbody tr")).to_have_count(5)
        page.screenshot(path=str(tmp_path / "cohort.png"), full_page=True)
        # Learners in natural order: Demo learner 1, 2, 3 … (not 1, 10, 2).
        names = page.locator("table.cohort tbody th a").all_inner_texts()
        assert names == sorted(names, key=lambda n: int(n.rsplit(" ", 1)[1]))
        page.get_by_label("Framework", exact=True).select_option(
            label="Leadership Capability Framework — Pathway 1: Practice Supervisors"
        )
        page.get_by_label("items achieved").check()
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_text("items achieved under the capability")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download XLSX").click()
        download.value.save_as(tmp_path / "cohort.xlsx")
        from openpyxl import load_workbook

        attained = load_workbook(tmp_path / "cohort.xlsx")["attainments"]
        assert attained.max_row > 1, "the demo's learners achieved items"
        page.locator("table.cohort tbody th a").first.click()
        expect(page.locator("h1")).to_contain_text("Demo learner")
        expect(page.get_by_role("heading", name="Achieved", exact=False).first).to_be_visible()
        expect(page.get_by_role("heading", name="Pending", exact=False)).to_be_visible()
        page.screenshot(path=str(tmp_path / "learner.png"), full_page=True)
        context.close()
        browser.close()
