"""Suggestions in a real headless Chromium: offered on a demo module, confirmed and rejected; areas accepted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.catalogue.models import Module
from capcourse.demo.services import load_demo
from capcourse.extensions import db
from capcourse.mapping.models import Mapping
from capcourse.suggest.models import SuggestionDecision
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

ADMIN = "ada.admin@example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    def demo(session: Session) -> None:
        create_user(session, ADMIN, "Ada Admin", Role.ADMIN, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=2)

    with scratch_app(tmp_path_factory.mktemp("suggest"), "suggest", demo) as app, live_server(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def page(served: tuple[str, Any]) -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=served[0])
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        yield page
        browser.close()


def test_suggestions_for_a_demo_module_are_confirmed_and_rejected(
    page: Any, served: tuple[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto("/programmes")
    page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
    page.get_by_role("link", name="Leading with curiosity").click()
    page.get_by_role("link", name="Bias and anti-oppressive practice").click()
    panel = page.locator("section.suggestions")
    expect(panel.get_by_role("heading", name="Suggested items")).to_be_visible()
    offered = panel.locator("li.suggestion")
    expect(offered.first).to_be_visible()
    # The module is about bias and anti-oppressive practice: an attribute that says so comes first.
    expect(offered.first).to_contain_text("anti-oppressive")
    expect(offered.first).to_contain_text("shares anti, oppressive, practice")
    panel.screenshot(path=str(tmp_path / "offered.png"))

    first = offered.first
    code = first.locator(".code").inner_text()
    first.get_by_label(f"Depth for {code}").select_option("developed")
    first.get_by_role("button", name=f"Confirm {code}").click()
    expect(page.locator(".flash-info")).to_contain_text("as suggested")
    expect(page.locator("ul.chips li.chip").filter(has_text=code)).to_contain_text("developed")
    expect(panel.locator("li.suggestion .code", has_text=code)).to_have_count(0)

    rejected_code = offered.first.locator(".code").inner_text()
    offered.first.get_by_role("button", name=f"Reject {rejected_code}").click()
    expect(page.locator(".flash-info")).to_contain_text("will not be suggested")
    page.reload()
    expect(panel.locator("li.suggestion .code", has_text=rejected_code)).to_have_count(0)

    # Suggestions from a pasted document's text.
    page.get_by_label("Or paste text").fill("Managing budgets and commissioning services across partner agencies")
    page.get_by_role("button", name="Suggest from it").click()
    expect(panel).to_contain_text("the pasted text")
    expect(offered.first).to_be_visible()

    app = served[1]
    with app.app_context(), Session(db.engine) as session:
        module = session.scalar(select(Module).where(Module.title == "Bias and anti-oppressive practice"))
        assert module is not None
        mapping = session.scalar(
            select(Mapping).where(Mapping.module_id == module.id, Mapping.provenance == "suggested-then-confirmed")
        )
        assert mapping is not None and mapping.depth == "developed"
        decisions = session.scalars(select(SuggestionDecision).where(SuggestionDecision.subject_id == module.id)).all()
        assert sorted(d.decision for d in decisions) == ["confirmed", "rejected"]
        assert all(d.actor.startswith("Ada Admin") and d.rank == 1 for d in decisions)


def test_an_admin_accepts_a_suggested_curriculum_area(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/frameworks")
    page.get_by_role("link", name="Leadership Capability Framework — Pathway 1: Practice Supervisors").first.click()
    page.get_by_role("link", name="Curriculum areas").first.click()
    row = page.locator("tr", has_text="LCF.MC.3.a")
    suggestion = row.locator(".area-suggestions li").first
    expect(suggestion).to_be_visible()
    area = suggestion.locator("strong").inner_text()
    suggestion.get_by_role("button", name=f"Accept {area} for LCF.MC.3.a").click()
    expect(page.locator(".flash-info")).to_contain_text("added as a confirmed link")
    row = page.locator("tr", has_text="LCF.MC.3.a")
    expect(row.locator("ul.links").first).to_contain_text(area)
    expect(row.locator(".area-suggestions strong", has_text=area)).to_have_count(0)
