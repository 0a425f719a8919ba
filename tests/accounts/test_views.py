"""The users API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db


def test_admins_create_and_list_users(client: FlaskClient, session: Session) -> None:
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    body = {"email": "new@example.org", "name": "New Person", "role": "author", "password": "a long enough password"}
    created = client.post("/api/v1/users", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert "password" not in created.json
    assert client.post("/api/v1/users", json=body, headers=headers).status_code == 409
    listed = client.get("/api/v1/users", headers=headers).json
    assert "new@example.org" in {u["email"] for u in listed}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope", "name": "x", "role": "author", "password": "a long enough password"}, "email"),
        ({"email": "a@example.org", "name": "x", "role": "integration", "password": "a long enough password"}, "role"),
        ({"email": "a@example.org", "name": "x", "role": "author", "password": "short"}, "password"),
    ],
)
def test_bad_users_are_refused(client: FlaskClient, session: Session, body: dict[str, str], field: str) -> None:
    headers = bearer(factories.api_key(session, Role.ADMIN)[1])
    response = client.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_only_admins_manage_users(client: FlaskClient, session: Session) -> None:
    headers = bearer(factories.api_key(session, Role.LEAD)[1])
    assert client.get("/api/v1/users", headers=headers).status_code == 403
