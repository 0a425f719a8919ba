"""Every admin task in the browser: people, API keys, a programme and its members, an activity's external ids,
kept records, the icon legend and the curriculum-area links, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.demo.services import load_demo
from capcourse.identifiers import framework_id
from capcourse.records.services import CompletionInput, record_completion
from tests import factories
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD
from tests.pages import sign_in

FRONTLINE = framework_id("frontline-lcf-pathway-1")
LMS_REF = "https://lms.example.org/mod/quiz/view.php?id=42"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def prepare(session: Session) -> None:
        create_user(session, "admin@example.org", "Ada Admin", Role.ADMIN, PASSWORD)
        create_user(session, "ben@example.org", "Ben Author", Role.AUTHOR, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=0)
        record_completion(
            session,
            CompletionInput(
                agent=xapi.agent_from_email("kim@example.org", "Kim"),
                activity_ref=LMS_REF,
                outcome="passed",
                occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
                idempotency_key="admin-browser-1",
                source="api",
            ),
            "http://capcourse.test",
            (),
        )

    with scratch_app(tmp_path_factory.mktemp("admin"), "admin", prepare) as app, live_server(app) as url:
        yield url


@pytest.mark.browser
def test_an_admin_does_every_task_in_the_browser(served: str) -> None:
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page(base_url=served)
        page.goto("/login")
        page.get_by_label("Email").fill("admin@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        # People: invite (a password made and shown once), change role, disable, enable.
        page.get_by_role("link", name="Admin").click()
        expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
        page.get_by_label("Email").fill("cleo@example.org")
        page.get_by_label("Name").fill("Cleo Lead")
        page.get_by_role("button", name="Add person").click()
        expect(page.locator("#invite code.secret")).not_to_be_empty()
        row = page.locator("table.users tr", has_text="cleo@example.org")
        row.get_by_label("Role of cleo@example.org").select_option("lead")
        row.get_by_role("button", name="Change role").click()
        expect(page.get_by_text("cleo@example.org is now lead.")).to_be_visible()
        page.locator("table.users tr", has_text="ben@example.org").get_by_role("button", name="Disable").click()
        expect(page.locator("table.users tr", has_text="ben@example.org")).to_contain_text("disabled")
        page.locator("table.users tr", has_text="ben@example.org").get_by_role("button", name="Enable").click()
        expect(page.locator("table.users tr", has_text="ben@example.org")).to_contain_text("active")

        # API keys: created and shown once, listed, revoked.
        page.get_by_role("link", name="API keys").click()
        page.get_by_label("Name").fill("Moodle")
        page.get_by_label("Every programme (unscoped)").check()
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("#new-key code.secret").inner_text()
        assert secret.startswith("cc_") and len(secret) > 30
        page.get_by_role("link", name="API keys").click()
        assert secret not in page.content()  # shown once, stored hashed
        page.locator("table.keys tr", has_text="Moodle").get_by_role("button", name="Revoke").click()
        expect(page.locator("table.keys tr", has_text="Moodle")).to_contain_text("revoked")

        # Kept records: attach the LMS's id to an activity; the record is recorded.
        page.get_by_role("link", name="Kept records").click()
        row = page.locator("table.pending-records tr", has_text="quiz/view.php")
        row.locator("select").select_option(index=1)
        row.get_by_role("button", name="Attach").click()
        expect(page.get_by_text("1 kept record(s) recorded")).to_be_visible()
        expect(page.get_by_text("Nothing kept")).to_be_visible()

        # A programme: edit it, add a member, remove them.
        page.get_by_role("link", name="Programmes").click()
        page.get_by_role("link", name="Demo: Pathway 1, 2026 cohort").click()
        page.get_by_text("Edit this programme").click()
        page.locator("#programme-title").fill("Demo: Pathway 1, renamed")
        page.get_by_role("button", name="Save programme").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Demo: Pathway 1, renamed")
        page.get_by_label("Email of an existing user").fill("ben@example.org")
        page.get_by_role("button", name="Add to programme").click()
        page.get_by_role("button", name="Remove Ben Author from the programme").click()
        expect(page.get_by_text("Removed from the programme.")).to_be_visible()

        # An activity's external ids: add one, remove it.
        page.get_by_role("link", name="Leading supervision").first.click()
        page.get_by_role("link", name="Reflective supervision").first.click()
        page.get_by_role("link", name="Reflective supervision: reading").click()
        page.locator("#external-system").fill("moodle")
        page.locator("#external-value").fill("cm-77")
        page.get_by_role("button", name="Add identifier").click()
        expect(page.locator("table.external-ids")).to_contain_text("cm-77")
        page.get_by_role("button", name="Remove moodle: cm-77").click()
        expect(page.get_by_text("External identifiers saved.")).to_be_visible()
        expect(page.locator("table.external-ids")).not_to_contain_text("cm-77")
        expect(page.locator("table.external-ids")).to_contain_text("quiz/view.php")  # attached above

        # The icon legend, then the curriculum-area links it suggests.
        page.goto(f"/frameworks/{FRONTLINE}")
        page.get_by_text("Change the areas of 🧠").click()
        brain = page.locator("details", has_text="Change the areas of 🧠")
        brain.get_by_role("checkbox", name="Making Decisions").check()
        brain.get_by_label("Why").fill("Knowledge put to use in decisions.")
        brain.get_by_role("button", name="Save the legend of 🧠").click()
        expect(page.get_by_text("The legend of 🧠 is saved")).to_be_visible()
        page.get_by_role("link", name="Curriculum areas per item", exact=True).click()
        row = page.locator("tr", has_text="LCF.MX.2.a")
        expect(row).to_contain_text("suggested")
        row.get_by_role("button", name="Confirm LCF.MX.2.a in Making Decisions").click()
        row = page.locator("tr", has_text="LCF.MX.2.a")
        expect(row.locator(".badge", has_text="suggested")).to_have_count(0)
        row.get_by_label("Area for LCF.MX.2.a").select_option(label="Working with Partners")
        row.get_by_label("Why LCF.MX.2.a belongs to it").fill("Tools shared with partners.")
        row.get_by_role("button", name="Add an area to LCF.MX.2.a").click()
        row = page.locator("tr", has_text="LCF.MX.2.a")
        expect(row.locator("ul.links")).to_contain_text("Working with Partners")
        row.get_by_role("button", name="Remove LCF.MX.2.a from Working with Partners").click()
        expect(page.locator("tr", has_text="LCF.MX.2.a").locator("ul.links")).not_to_contain_text(
            "Working with Partners"
        )
        browser.close()


@pytest.mark.db
def test_admin_pages_are_for_admins(client: FlaskClient, session: Session) -> None:
    author = factories.user(session, Role.AUTHOR)
    assert client.get("/admin/users").status_code == 302  # to the sign-in page
    sign_in(client, author.email)
    for path in ("/admin/users", "/admin/keys", "/admin/pending"):
        assert client.get(path).status_code == 403


@pytest.mark.db
def test_admin_forms_refuse_bad_input(client: FlaskClient, session: Session) -> None:
    from tests.pages import post_form

    admin = factories.user(session, Role.ADMIN)
    sign_in(client, admin.email)
    bad_role = post_form(client, f"/admin/users/{admin.id}/role", {"role": "integration"}, "/admin/users")
    assert bad_role.status_code == 422  # type: ignore[attr-defined]
    last_admin = post_form(client, f"/admin/users/{admin.id}/disable", {}, "/admin/users")
    assert last_admin.status_code == 409  # type: ignore[attr-defined]
    nobody = post_form(client, "/admin/users/999999/disable", {}, "/admin/users")
    assert nobody.status_code == 404  # type: ignore[attr-defined]
    taken = post_form(client, "/admin/users", {"email": admin.email, "name": "Again", "role": "author"}, "/admin/users")
    assert taken.status_code == 409  # type: ignore[attr-defined]
    lead_key = post_form(client, "/admin/keys", {"name": "x", "role": "lead", "email": ""}, "/admin/keys")
    assert lead_key.status_code == 422  # type: ignore[attr-defined]
    attach = post_form(client, "/admin/pending/attach", {"activity_ref": "nope", "activity_id": "x"}, "/admin/pending")
    assert attach.status_code == 422  # type: ignore[attr-defined]


@pytest.mark.db
def test_the_users_api_changes_a_role(client: FlaskClient, session: Session) -> None:
    admin = factories.bearer(factories.api_key(session, Role.ADMIN)[1])
    person = factories.user(session, Role.AUTHOR)
    answer = client.patch(f"/api/v1/users/{person.id}", json={"role": "lead"}, headers=admin)
    assert answer.status_code == 200 and answer.json["role"] == "lead"
    assert client.patch(f"/api/v1/users/{person.id}", json={"role": "integration"}, headers=admin).status_code == 422
    assert client.patch(f"/api/v1/users/{person.id}", json={}, headers=admin).status_code == 422
