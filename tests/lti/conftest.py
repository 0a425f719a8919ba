"""capcourse served on loopback beside an LTI 1.3 platform (lti1p3platform) that launches it."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from capcourse.accounts.access import command_line_principal
from capcourse.extensions import db
from capcourse.lti import services
from tests import factories
from tests.conftest import drop_database, make_app, make_database, migrate_and_sync
from tests.lti.platform import INSTRUCTOR, LEARNER, Person, PlatformState, running_platform, start_url


@dataclass
class LtiWorld:
    app: Flask
    tool_url: str
    platform: PlatformState
    platform_id: uuid.UUID
    programme_id: uuid.UUID

    def session(self) -> Session:
        return Session(db.engine)

    def count(self, model: type) -> int:
        with self.app.app_context(), Session(db.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def launch_form(
        self, browser: requests.Session, user: str, platform: PlatformState | None = None, **params: str
    ) -> tuple[str, dict[str, str]]:
        """Start a launch at the platform and follow it to the platform's auto-posting form: (action, fields)."""
        response = browser.get(start_url(platform or self.platform, user, **params), timeout=30)
        assert response.status_code == 200, response.text
        action = unescape(re.search(r"action='([^']+)'", response.text).group(1))  # type: ignore[union-attr]
        fields = dict(re.findall(r"name='(\w+)' value='([^']*)'", response.text))
        return action, fields

    def launch(
        self, user: str, browser: requests.Session | None = None, platform: PlatformState | None = None, **params: str
    ) -> requests.Response:
        """A whole launch as a browser makes it: platform → capcourse login → platform → capcourse launch."""
        browser = browser or requests.Session()
        action, fields = self.launch_form(browser, user, platform, **params)
        return browser.post(action, data=fields, timeout=30)


def _prepare(app: Flask) -> uuid.UUID:
    with app.app_context(), Session(db.engine) as session:
        programme = factories.programme(session, "Frontline Pathway 1")
        factories.user(session, factories.Role.ADMIN, email="admin@example.org")
        return programme.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LtiWorld]:
    """capcourse (its own database) and a platform registered with it, both on loopback."""
    database = make_database(tmp_path_factory.mktemp("lti"), "lti")
    # The test platform lives on loopback, which outbound requests (dynamic registration) may then reach.
    app = make_app(database, CAPCOURSE_OUTBOUND_ALLOW="127.0.0.1")
    migrate_and_sync(app)
    programme_id = _prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    tool_url = f"http://127.0.0.1:{server.server_port}"
    app.config["CAPCOURSE_BASE_URL"] = tool_url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = PlatformState(
        tool_login_url=f"{tool_url}/lti/login",
        tool_launch_url=f"{tool_url}/lti/launch",
        tool_jwks_url=f"{tool_url}/lti/jwks",
    )
    state.people = {
        "teacher": Person("teacher", "Tess Teacher", "tess@lms.example.org", INSTRUCTOR),
        "ann": Person("ann", "Ann Learner", "ann@lms.example.org", LEARNER),
        "bob": Person("bob", "Bob Learner", "bob@lms.example.org", LEARNER),
    }
    state.courses = {"course-1": ("Supervision in practice", ["teacher", "ann", "bob"])}
    try:
        with running_platform(state):
            with app.app_context(), Session(db.engine) as session:
                platform = services.create_platform(
                    session,
                    command_line_principal(),
                    {
                        "name": "Test LMS",
                        "issuer": state.issuer,
                        "client_id": state.client_id,
                        "auth_login_url": f"{state.base_url}/authorize",
                        "auth_token_url": f"{state.base_url}/token",
                        "key_set_url": f"{state.base_url}/jwks",
                        "programme_id": programme_id,
                    },
                    [state.deployment_id],
                )
                session.commit()
                platform_id = platform.id
            yield LtiWorld(app, tool_url, state, platform_id, programme_id)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()
        drop_database(database)
