"""The crosswalk editor in headless Chromium: a lead links, confirms, edits and deletes, and coverage follows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, ProgrammeMember, Role
from capcourse.accounts.services import create_user
from capcourse.catalogue.models import Course, Module, Programme
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium, script_held
from tests.conftest import scratch_app
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

LEAD = "lee.lead@example.org"
FRONTLINE = "frontline-lcf-pathway-1"
KSS = "dfe-kss-practice-supervisors-2018"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A lead on a programme whose module is mapped to a Frontline attribute (LCF.MX.5.a, observations)."""
    ids: dict[str, str] = {}

    def prepare(session: Session) -> None:
        admin = create_user(session, "ada@example.org", "Ada Admin", Role.ADMIN, PASSWORD)
        lead = create_user(session, LEAD, "Lee Lead", Role.LEAD, PASSWORD)
        programme = Programme(title="Supervisors 2026")
        module = Module(course=Course(programme=programme, title="Supervision"), title="Observed practice")
        session.add_all([programme, module])
        session.flush()
        session.add(ProgrammeMember(programme_id=programme.id, user_id=lead.id, role=MembershipRole.LEAD))
        map_items(session, principal_for_user(admin), module, [item_id(FRONTLINE, "MX.5.a")], Depth.ASSESSED)
        ids["programme"] = str(programme.id)

    with scratch_app(tmp_path_factory.mktemp("crosswalk"), "crosswalk", prepare) as app, live_server(app) as url:
        yield url, ids["programme"]


def test_a_lead_edits_a_crosswalk_side_by_side_and_coverage_follows(served: tuple[str, str], tmp_path: Path) -> None:
    url, programme = served
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=url)
        page: Any = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(LEAD)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/programmes")

        # From the main navigation to the shipped Frontline ↔ KSS 2018 crosswalk.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Crosswalks").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Crosswalks")
        page.get_by_role(
            "link", name=re.compile(r"Pathway 1.* and Knowledge and skills statement for practice supervisors \(2018\)")
        ).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("↔ Knowledge and skills statement")
        expect(page.locator("table.crosswalk-links tbody tr")).to_have_count(75)

        # Both frameworks side by side: filter each, choose an item on each side, link them.
        left = page.locator("fieldset.crosswalk-side").nth(0)
        right = page.locator("fieldset.crosswalk-side").nth(1)
        # A filter typed before the page's script has run (it is deferred) applies when it runs.
        with script_held(page, "**/static/crosswalk.js"):
            left.get_by_label("Filter the items").fill("emotional labour")
            assert left.locator("li[data-text][hidden]").count() == 0
        expect(left.locator("[data-side-status]")).to_have_text("1 matching item")
        left.get_by_label("LCF.EC.1.a").check()
        right.get_by_label("Filter the items").fill("resilience pressured")
        expect(right.locator("li[data-text]:visible")).to_have_count(1)
        right.get_by_label("KSS-PS.7.3").check()
        new = page.locator("form.crosswalk-new")
        new.get_by_label("Type").select_option("exactMatchOf")
        new.get_by_label("Strength (0 to 1)").fill("0.8")
        new.get_by_label("Note: why they correspond").fill("Both are about emotional load under pressure.")
        page.get_by_role("button", name="Link the chosen items").click()
        expect(page.locator(".flash-info")).to_have_text("Link saved.")
        made = page.locator("table.crosswalk-links tr", has_text="Both are about emotional load under pressure.")
        expect(made).to_contain_text("exactMatchOf")
        expect(made).to_contain_text("confirmed")
        expect(made).to_contain_text("made by Lee Lead")

        # The same link again is refused with the reason, and nothing is added.
        left.get_by_label("LCF.EC.1.a").check()
        right.get_by_label("KSS-PS.7.3").check()
        new.get_by_label("Type").select_option("exactMatchOf")
        page.get_by_role("button", name="Link the chosen items").click()
        expect(page.locator(".flash-error")).to_contain_text("exists already")
        expect(page.locator("table.crosswalk-links tbody tr")).to_have_count(76)

        # Review: confirm the suggested link behind the programme's mapping, then edit its note.
        page.get_by_label("Show").select_option("review")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("table.crosswalk-links tbody tr")).to_have_count(75)
        page.get_by_role("button", name="Confirm LCF.MX.5.a isRelatedTo KSS-PS.2.2 (2018)").click()
        expect(page.locator(".flash-info")).to_have_text("Link confirmed: coverage counts it.")
        expect(page.locator("table.crosswalk-links tbody tr")).to_have_count(74)  # still showing what is to review
        page.get_by_label("Show").select_option("all")
        page.get_by_role("button", name="Show").click()
        row = page.locator("table.crosswalk-links tr", has_text="LCF.MX.5.a").filter(has_text="KSS-PS.2.2")
        expect(row).to_contain_text("confirmed by Lee Lead")
        row.get_by_text("Edit").click()
        row.get_by_label("Note").fill("Observation and feedback, in both.")
        row.get_by_role("button", name="Save").click()
        expect(page.locator(".flash-info")).to_have_text("Link changed.")
        expect(page.locator("table.crosswalk-links")).to_contain_text("Observation and feedback, in both.")
        page.screenshot(path=str(tmp_path / "crosswalk.png"), full_page=True)

        # Delete the link made above.
        page.get_by_role("button", name="Delete LCF.EC.1.a exactMatchOf KSS-PS.7.3 (2018)").click()
        expect(page.locator(".flash-info")).to_have_text("Link deleted.")
        expect(page.locator("table.crosswalk-links tbody tr")).to_have_count(75)

        # Suggested equivalents of one item: reject one, accept the best; both are recorded.
        left.get_by_role("link", name="equivalents of LCF.MX.1", exact=True).click()
        suggestions = page.locator("#suggestions")
        expect(suggestions.get_by_role("heading")).to_contain_text("Likely equivalents of LCF.MX.1")
        expect(suggestions.locator("tbody tr").first).to_contain_text("KSS-PS.1.1")
        second = suggestions.locator("tbody tr").nth(1).locator("td").nth(1).locator(".code").inner_text()
        suggestions.get_by_role("button", name=f"Reject {second}", exact=True).click()
        expect(page.locator(".flash-info")).to_have_text("Suggestion rejected: it will rank lower.")
        expect(page.locator("#suggestions tbody tr").first).to_contain_text("KSS-PS.1.1")
        page.locator("#suggestions").get_by_role("button", name="Accept KSS-PS.1.1 (2018) as an equivalent").click()
        expect(page.locator(".flash-info")).to_have_text("Link saved.")
        accepted = page.locator("table.crosswalk-links tr", has_text="LCF.MX.1 ").filter(has_text="KSS-PS.1.1")
        expect(accepted.first).to_contain_text("confirmed")

        # Coverage of KSS 2018: the Frontline mapping shows as implied through the confirmed link.
        page.goto(f"/programmes/{programme}/coverage?framework={framework_id(KSS)}")
        implied = page.locator("section[aria-labelledby=implied-heading]")
        expect(implied.locator("tbody tr")).to_have_count(1)
        expect(implied).to_contain_text("LCF.MX.5.a")
        expect(implied).to_contain_text("implied: assessed")
        # The toggle: the lead includes suggested links too, and the page says what it counts.
        implied.get_by_label("suggested").check()
        implied.get_by_role("button", name="Apply").click()
        expect(page.get_by_label("suggested")).to_be_checked()
        expect(page.locator(".implied-status")).to_contain_text("suggested")
        context.close()
        browser.close()
