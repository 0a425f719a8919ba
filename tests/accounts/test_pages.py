"""Signing in and out."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from tests import factories
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/programmes")
    assert response.status_code == 302
    assert "/login?next=%2Fprogrammes" in response.headers["Location"]


def test_sign_in_and_out(client: FlaskClient, session: Session) -> None:
    person = factories.user(session, Role.AUTHOR)
    sign_in(client, person.email)
    assert client.get("/programmes").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/programmes")})
    assert response.status_code == 302
    assert client.get("/programmes").status_code == 302


def test_wrong_password_is_401_and_says_so(client: FlaskClient, session: Session) -> None:
    person = factories.user(session, Role.AUTHOR)
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": person.email, "password": "wrong password!", "csrf_token": token})
    assert response.status_code == 401
    assert "The email or password is not right." in response.get_data(as_text=True)


def test_forms_without_a_csrf_token_are_refused(client: FlaskClient, session: Session) -> None:
    person = factories.user(session, Role.AUTHOR)
    response = client.post("/login", data={"email": person.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_next_never_leaves_the_site(client: FlaskClient, session: Session) -> None:
    person = factories.user(session, Role.AUTHOR)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"email": person.email, "password": factories.PASSWORD, "csrf_token": token, "next": "//evil.example"},
    )
    assert response.headers["Location"].endswith("/programmes")
