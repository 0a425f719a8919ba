"""Security headers on every response, and pages that work under the strict CSP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.demo.services import load_demo
from capcourse.headers import POLICY, inline_script_hashes
from tests import factories
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import make_app, scratch_app
from tests.factories import PASSWORD
from tests.pages import sign_in


def assert_secured(headers: Any, policy: str = POLICY) -> None:
    assert headers["Content-Security-Policy"] == policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/frameworks",
        "/api/openapi.json",
        "/api/v1/frameworks",
        "/xapi/about",
        "/static/capcourse.css",
        "/nope",
    ],
)
def test_every_response_carries_the_headers(client: FlaskClient, path: str) -> None:
    with client.get(path) as answer:
        assert_secured(answer.headers)
        assert "Strict-Transport-Security" not in answer.headers  # the test app's base URL is http


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(part.strip().split(" ", 1) for part in POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in POLICY


def test_signed_in_pages_and_errors_carry_them(client: FlaskClient, session: Session) -> None:
    person = factories.user(session, Role.ADMIN)
    sign_in(client, person.email)
    for path in ("/programmes", "/delivery", "/frameworks/00000000-0000-0000-0000-000000000000"):
        assert_secured(client.get(path).headers)


def test_hsts_when_served_over_https(app: Flask) -> None:
    secure = make_app_like(app, CAPCOURSE_BASE_URL="https://capcourse.example.edu")
    answer = secure.test_client().get("/login", base_url="https://capcourse.example.edu")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def make_app_like(app: Flask, **settings: Any) -> Flask:
    from tests.conftest import ScratchDatabase

    database = ScratchDatabase(app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    return make_app(database, **settings)


def test_a_views_own_policy_is_kept(app: Flask) -> None:
    framed = make_app_like(app)

    @framed.get("/framed-by-a-platform")
    def framed_view() -> Any:
        return "framed", 200, {"Content-Security-Policy": "frame-ancestors https://lms.example.edu"}

    answer = framed.test_client().get("/framed-by-a-platform")
    assert answer.headers["Content-Security-Policy"] == "frame-ancestors https://lms.example.edu"
    assert "X-Frame-Options" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_docs_page_allows_only_its_own_inline_script(client: FlaskClient) -> None:
    answer = client.get("/api/docs/")
    hashes = inline_script_hashes(answer.get_data())
    assert len(hashes) == 1
    policy = answer.headers["Content-Security-Policy"]
    assert f"script-src 'self' {hashes[0]};" in policy
    assert "frame-ancestors 'none'" in policy


# --- In Chromium: no page trips the policy ----------------------------------------------------------------------

ADMIN = "ada.admin@example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def prepare(session: Session) -> None:
        create_user(session, ADMIN, "Ada Admin", Role.ADMIN, PASSWORD)
        load_demo(session, "http://capcourse.test", (), learners=6)

    with scratch_app(tmp_path_factory.mktemp("headers"), "headers", prepare) as app, live_server(app) as url:
        yield url


SKIPPED = (".csv", ".xlsx", ".json", ".zip", "/export", "format=", "/logout", "/api/")


@pytest.mark.browser
def test_pages_work_under_the_policy(served: str) -> None:
    """Sign in, then visit every page reachable by links (up to 60): no CSP violation anywhere."""
    executable = require_chromium()
    from playwright.sync_api import Error, expect, sync_playwright

    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=served)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
            ),
        )
        page.goto("/login")
        page.get_by_label("Email").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Programmes")).to_be_visible()

        seen: set[str] = set()
        queue = ["/programmes", "/frameworks", "/delivery"]
        while queue and len(seen) < 60:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            try:
                page.goto(path)
            except Error:
                continue  # a download, not a page
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
                parts = urlsplit(href)
                if parts.netloc or not parts.path.startswith("/") or any(s in href for s in SKIPPED):
                    continue
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert len(seen) >= 15, seen

        # Interactive API docs: Swagger UI renders the operations under its own hashed script.
        page.goto("/api/docs/")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        browser.close()
    assert violations == []
