"""Helpers for page tests: sign in through the real form, with its CSRF token."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.factories import PASSWORD


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def post_form(client: FlaskClient, path: str, data: dict[str, object], token_from: str) -> object:
    """Post a form the way a browser does: with the token of the page that shows it."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)})
