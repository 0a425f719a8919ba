"""A lead moves a programme from KSS 2015 to KSS 2018 through the drift report, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.accounts.services import create_user
from capcourse.catalogue.models import Programme
from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.services import map_items
from capcourse.records.models import Evidence
from tests import factories
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD
from tests.records.test_evidence import complete
from tests.test_accessibility import _axe, require_axe

pytestmark = pytest.mark.browser

LEAD = "lena.lead@example.org"
OLD, NEW = "dfe-kss-practice-supervisors-2015", "dfe-kss-practice-supervisors-2018"
TITLE = "Supervision programme 2024"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    def programme_on_2015(session: Session) -> None:
        lead = create_user(session, LEAD, "Lena Lead", Role.LEAD, PASSWORD)
        programme = factories.programme(session, TITLE)
        programme.frameworks.append(session.get(Framework, framework_id(OLD)))
        factories.member(session, programme, lead, MembershipRole.LEAD)
        module = factories.module(session, factories.course(session, programme), "Emotionally intelligent supervision")
        observed = factories.activity(session, module, "Observed supervision")
        admin = principal_for_user(factories.user(session, Role.ADMIN))
        map_items(session, admin, module, [item_id(OLD, "7.2")], Depth.DEVELOPED)
        map_items(session, admin, observed, [item_id(OLD, "7.3"), item_id(OLD, "1.1")], Depth.ASSESSED)
        complete(session, "ada", observed, "passed", datetime(2026, 3, 1, tzinfo=UTC))

    with (
        scratch_app(tmp_path_factory.mktemp("versions"), "versions", programme_on_2015) as app,
        live_server(app) as url,
    ):
        yield url, app


def test_a_lead_reviews_edits_and_applies_the_drift_report(served: tuple[str, Any], tmp_path: Path) -> None:
    url, app = served
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with app.app_context():
        evidence_before = sorted(
            (str(r.item_id), r.learner_id, r.completions) for r in db.session.scalars(select(Evidence))
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_context(base_url=url).new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(LEAD)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name=TITLE).click()
        page.get_by_role("link", name="Framework versions and drift").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Framework versions")
        page.get_by_label("From Knowledge and Skills for Practice Supervisors (2015) to").select_option(
            label="Knowledge and skills statement for practice supervisors (2018)"
        )
        page.get_by_role("button", name="Show the drift report").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Drift report")

        # Codes carry their version; the split shows both parts, each with the association's reason.
        split = page.locator("tr.change-split")
        expect(split).to_have_count(1)
        expect(split).to_contain_text("KSS-PS.7.2 (2015)")
        expect(split.get_by_label("KSS-PS.7.2 (2018)", exact=False)).to_be_checked()
        expect(split.get_by_label("KSS-PS.7.3 (2018)", exact=False)).to_be_checked()
        expect(split).to_contain_text("Split: the 2018 text divides")
        renumbered = page.locator("tr", has_text="KSS-PS.7.3 (2015)")
        expect(renumbered.get_by_label("KSS-PS.7.4 (2018)", exact=False)).to_be_checked()
        page.screenshot(path=str(tmp_path / "drift.png"), full_page=True)

        # Edit: the module teaches only the first part of the split; 1.1 stays on 2015.
        split.get_by_label("KSS-PS.7.3 (2018)", exact=False).uncheck()
        page.locator("tr", has_text="KSS-PS.1.1 (2015)").get_by_label("Keep on 2015").check()
        page.get_by_role("button", name="Apply the drift report").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Drift report")  # the confirmation is required
        page.get_by_label("I have reviewed these 3 mappings", exact=False).check()
        page.get_by_role("button", name="Apply the drift report").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Framework versions")
        expect(
            page.get_by_text("Moved 2 mappings from Knowledge and Skills for Practice Supervisors (2015)")
        ).to_be_visible()
        moves = page.locator("table.moves")
        expect(moves).to_contain_text("2 moved (2 created), 1 kept, 0 removed")
        carried = page.locator("table.carried").first
        expect(carried).to_contain_text("KSS-PS.7.4 (2018)")
        expect(carried).to_contain_text("KSS-PS.7.3 (2015)")

        page.get_by_role("link", name="mapping history").click()
        expect(page.locator("table.history")).to_contain_text("KSS-PS.7.2 (2015)")
        expect(page.locator("table.history")).to_contain_text("moved")
        browser.close()

    with app.app_context():
        programme = db.session.scalar(select(Programme).where(Programme.title == TITLE))
        mapped = set(db.session.scalars(select(Mapping.item_id).where(Mapping.programme_id == programme.id)))
        assert mapped == {item_id(NEW, "7.2"), item_id(NEW, "7.4"), item_id(OLD, "1.1")}
        assert (
            sorted((str(r.item_id), r.learner_id, r.completions) for r in db.session.scalars(select(Evidence)))
            == evidence_before
        )
        assert db.session.scalar(select(func.count()).select_from(Evidence)) == len(evidence_before)


def test_the_version_pages_have_no_serious_accessibility_violation(served: tuple[str, Any]) -> None:
    """axe-core (WCAG 2.2 A/AA) on the versions page, with a move and carried evidence, and on a drift report."""
    url, _ = served
    executable = require_chromium()
    script = require_axe()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_context(base_url=url, bypass_csp=True).new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(LEAD)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name=TITLE).click()
        page.get_by_role("link", name="Framework versions and drift").click()
        found = {"versions": _axe(page, script)}
        page.get_by_role("button", name="Show the drift report").first.click()
        found["drift"] = _axe(page, script)
        browser.close()
    assert found == {"versions": [], "drift": []}


def test_cohort_and_learner_pages_show_evidence_carried_from_2015(served: tuple[str, Any], tmp_path: Path) -> None:
    """Ada's 2015 work shows in the 2018 cohort and learner views, marked as carried from its 2015 item, and the
    pages keep no serious accessibility violation."""
    url, app = served
    executable = require_chromium()
    script = require_axe()
    from playwright.sync_api import expect, sync_playwright

    with app.app_context():
        programme = db.session.scalar(select(Programme).where(Programme.title == TITLE))
        assert programme is not None
        cohort_path = f"/programmes/{programme.id}/cohort?framework={framework_id(NEW)}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_context(base_url=url, bypass_csp=True).new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(LEAD)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(cohort_path)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Cohort evidence")
        section = page.get_by_role("region", name="Evidence carried from other versions")
        expect(section).to_be_visible()
        renumbered = section.locator("tr", has_text="carried from KSS-PS.7.3 (2015)")
        expect(renumbered).to_contain_text("KSS-PS.7.4 (2018)")
        expect(renumbered).to_contain_text("published")
        expect(page.locator("table.cohort .carried-mark").first).to_be_visible()
        found = {"cohort": _axe(page, script)}
        page.screenshot(path=str(tmp_path / "cohort-carried.png"), full_page=True)

        page.locator("table.cohort th a").first.click()
        carried = page.get_by_role("region", name="Evidence carried from other versions")
        expect(carried).to_be_visible()
        row = carried.locator("tr", has_text="carried from KSS-PS.7.3 (2015)")
        expect(row).to_contain_text("KSS-PS.7.4 (2018)")
        expect(row).to_contain_text("Observed supervision")
        expect(page.locator("ul.gaps")).to_contain_text("evidence carried from another version")
        found["learner"] = _axe(page, script)
        page.screenshot(path=str(tmp_path / "learner-carried.png"), full_page=True)
        browser.close()
    assert found == {"cohort": [], "learner": []}
