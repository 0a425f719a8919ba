"""Delivery status for admins: API and page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import Role
from capcourse.records.models import DeliveryState, OutboxEntry
from capcourse.records.services import store_statement
from tests import factories
from tests.factories import bearer
from tests.pages import post_form, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
def queued(session: Session) -> None:
    from datetime import UTC, datetime

    for n, state in enumerate((DeliveryState.PENDING, DeliveryState.DEAD)):
        statement = xapi.statement(
            xapi.agent_from_email("a@example.org"),
            xapi.COMPLETED,
            xapi.activity("https://example.org/a"),
            xapi.statement_id("views", str(n)),
            datetime(2026, 1, 1, tzinfo=UTC),
        )
        stored = store_statement(session, statement, "emitted", ["default"])
        session.flush()
        entry = session.query(OutboxEntry).filter_by(stored_pk=stored.pk).one()
        entry.state = state
        entry.last_error = "The LRS answered 400: bad" if state == DeliveryState.DEAD else None
    session.commit()


def test_status_dead_letters_and_retry_api(client: FlaskClient, session: Session, queued: None) -> None:
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    (row,) = client.get("/api/v1/delivery", headers=headers).json
    assert (row["destination"], row["pending"], row["dead"]) == ("default", 1, 1)
    assert row["last_error"] == "The LRS answered 400: bad"
    dead = client.get("/api/v1/delivery/dead", headers=headers).json
    assert len(dead) == 1 and dead[0]["last_error"].startswith("The LRS answered 400")
    assert client.post("/api/v1/delivery/retry", json={}, headers=headers).json == {"requeued": 1}
    assert client.get("/api/v1/delivery", headers=headers).json[0]["pending"] == 2


def test_only_admins(client: FlaskClient, session: Session) -> None:
    assert (
        client.get("/api/v1/delivery", headers=bearer(factories.api_key(session, Role.INTEGRATION)[1])).status_code
        == 403
    )
    author = factories.user(session, Role.AUTHOR)
    sign_in(client, author.email)
    assert client.get("/admin/delivery").status_code == 403


def test_admin_page(client: FlaskClient, session: Session, queued: None) -> None:
    admin = factories.user(session, Role.ADMIN)
    sign_in(client, admin.email)
    page = client.get("/admin/delivery").get_data(as_text=True)
    assert "No LRS is configured" in page
    assert "The LRS answered 400: bad" in page
    response = post_form(client, "/admin/delivery/retry", {}, "/admin/delivery")
    assert response.status_code == 303
