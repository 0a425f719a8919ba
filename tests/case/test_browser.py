"""An administrator imports a third-party CASE package in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.case.standards import FIXTURES
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def admin(session: Session) -> None:
        create_user(session, "admin@example.org", "Ada Admin", Role.ADMIN, PASSWORD)

    with scratch_app(tmp_path_factory.mktemp("case"), "case", admin) as app, live_server(app) as url:
        yield url


def test_an_admin_uploads_a_package_reads_the_report_and_confirms(served: str, tmp_path: Path) -> None:
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=served)
        page: Any = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill("admin@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        page.goto("/frameworks")
        page.get_by_role("link", name="Import a CASE package").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Import a CASE package")
        page.get_by_label("Package file").set_input_files(str(FIXTURES / "opensalt-SequenceNumberFramework.json"))
        page.get_by_role("button", name="Preview the import").click()

        expect(page.get_by_role("heading", name="What importing Sequence Number Test changes")).to_be_visible()
        expect(page.locator("dd.change-items")).to_have_text("2 added, 0 changed, 0 removed")
        expect(page.locator("ul.warnings")).to_contain_text("not RFC 4122")
        page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sequence Number Test")
        expect(page.locator(".flash-info")).to_contain_text("Sequence Number Test: created")
        # The publisher's order: the second item added comes first.
        expect(page.locator("li.node").first).to_contain_text("SNT.2")
        expect(page.locator("dd.case-export")).to_contain_text("Download as CASE 1.1")
        page.screenshot(path=str(tmp_path / "imported.png"), full_page=True)
        context.close()
        browser.close()
