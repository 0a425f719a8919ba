"""Manual registration of LTI platforms: API, ``capcourse lti``, the admins' page; keys and their rotation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.lti.models import LtiPlatform
from tests import factories
from tests.pages import post_form, sign_in

pytestmark = pytest.mark.db

MOODLE = {
    "name": "Moodle",
    "issuer": "https://moodle.example.org",
    "client_id": "abc123",
    "auth_login_url": "https://moodle.example.org/mod/lti/auth.php",
    "auth_token_url": "https://moodle.example.org/mod/lti/token.php",
    "key_set_url": "https://moodle.example.org/mod/lti/certs.php",
    "deployment_ids": ["1"],
}


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    _, plain = factories.api_key(session, Role.ADMIN)
    return factories.bearer(plain)


def test_admins_register_platforms_through_the_api(
    client: FlaskClient, session: Session, admin: dict[str, str]
) -> None:
    programme = factories.programme(session)
    created = client.post("/api/v1/lti/platforms", json={**MOODLE, "programme_id": str(programme.id)}, headers=admin)
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    assert body["deployment_ids"] == ["1"] and body["registered_by"] == "manual"
    assert body["programme_id"] == str(programme.id)
    again = client.post("/api/v1/lti/platforms", json=MOODLE, headers=admin)
    assert again.status_code == 409 and "registered already" in again.json["message"]
    second = client.post(
        "/api/v1/lti/platforms", json={**MOODLE, "client_id": "other", "deployment_ids": []}, headers=admin
    )
    assert second.status_code == 201  # several registrations of one issuer
    added = client.post(f"/api/v1/lti/platforms/{body['id']}/deployments", json={"deployment_id": "2"}, headers=admin)
    assert added.status_code == 201 and added.json["deployment_ids"] == ["1", "2"]
    duplicate = client.post(
        f"/api/v1/lti/platforms/{body['id']}/deployments", json={"deployment_id": "2"}, headers=admin
    )
    assert duplicate.status_code == 409
    listed = client.get("/api/v1/lti/platforms", headers=admin).json
    assert sorted(p["client_id"] for p in listed) == ["abc123", "other"]
    patched = client.patch(f"/api/v1/lti/platforms/{body['id']}", json={"programme_id": None}, headers=admin)
    assert patched.status_code == 200 and patched.json["programme_id"] is None
    assert client.delete(f"/api/v1/lti/platforms/{body['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/lti/platforms/{body['id']}", headers=admin).status_code == 404
    tool = client.get("/api/v1/lti/tool", headers=admin).json
    assert tool["jwks_url"] == "http://capcourse.test/lti/jwks" and tool["login_url"].endswith("/lti/login")


def test_bad_registrations_are_refused_and_change_nothing(
    client: FlaskClient, session: Session, admin: dict[str, str]
) -> None:
    plain = client.post(
        "/api/v1/lti/platforms", json={**MOODLE, "key_set_url": "http://moodle.example.org/certs"}, headers=admin
    )
    assert plain.status_code == 422 and "key_set_url" in plain.json["errors"]
    loopback = client.post(
        "/api/v1/lti/platforms", json={**MOODLE, "issuer": "x", "key_set_url": "http://127.0.0.1:9/jwks"}, headers=admin
    )
    assert loopback.status_code == 201  # http on loopback, to try a platform out
    missing = client.post("/api/v1/lti/platforms", json={"name": "x"}, headers=admin)
    assert missing.status_code == 422 and "issuer" in missing.json["errors"]["json"]
    nowhere = client.post(
        "/api/v1/lti/platforms",
        json={**MOODLE, "issuer": "y", "programme_id": "6f1c7a3e-0000-4000-8000-000000000000"},
        headers=admin,
    )
    assert nowhere.status_code == 404
    _, author_key = factories.api_key(session, Role.AUTHOR)
    forbidden = client.post("/api/v1/lti/platforms", json=MOODLE, headers=factories.bearer(author_key))
    assert forbidden.status_code == 403
    assert client.get("/api/v1/lti/platforms").status_code == 401
    assert session.scalar(select(LtiPlatform).where(LtiPlatform.issuer == MOODLE["issuer"])) is None


def test_key_rotation_keeps_the_old_key_published(client: FlaskClient, admin: dict[str, str]) -> None:
    first = client.get("/api/v1/lti/keys", headers=admin).json
    assert len(first) >= 1 and first[0]["retired_at"] is None
    rotated = client.post("/api/v1/lti/keys/rotate", headers=admin)
    assert rotated.status_code == 201 and rotated.json["kid"] != first[0]["kid"]
    kids = [k["kid"] for k in client.get("/lti/jwks").json["keys"]]
    assert rotated.json["kid"] in kids and first[0]["kid"] in kids
    listed = client.get("/api/v1/lti/keys", headers=admin).json
    assert listed[0]["kid"] == rotated.json["kid"] and listed[1]["retired_at"] is not None


def test_the_command_line_registers_and_lists(runner: FlaskCliRunner, session: Session) -> None:
    programme = factories.programme(session)
    result = runner.invoke(
        args=[
            "lti", "platforms", "add", "--name", "Canvas", "--issuer", "https://canvas.instructure.com",
            "--client-id", "10000000000001", "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "--auth-token-url", "https://sso.canvaslms.com/login/oauth2/token",
            "--key-set-url", "https://sso.canvaslms.com/api/lti/security/jwks",
            "--deployment", "1:abc", "--deployment", "2:def", "--programme", str(programme.id),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 deployment(s)" in result.output
    listed = runner.invoke(args=["lti", "platforms", "list"])
    assert "https://canvas.instructure.com\t10000000000001\t1:abc,2:def" in listed.output
    bad = runner.invoke(args=["lti", "platforms", "add", "--name", "x", "--issuer", "y", "--client-id", "z",
                              "--auth-login-url", "ftp://a", "--auth-token-url", "https://a/t", "--key-set-url", "https://a/k"])  # fmt: skip
    assert bad.exit_code != 0 and "auth_login_url" in bad.output
    rotated = runner.invoke(args=["lti", "keys", "rotate"])
    assert rotated.exit_code == 0 and "now signs with" in rotated.output
    assert "signs" in runner.invoke(args=["lti", "keys", "list"]).output
    assert "jwks_url" in runner.invoke(args=["lti", "tool"]).output


def test_admins_register_a_platform_on_the_page(client: FlaskClient, session: Session) -> None:
    admin = factories.user(session, Role.ADMIN)
    programme = factories.programme(session, "LTI programme")
    sign_in(client, admin.email)
    page = client.get("/admin/lti")
    assert page.status_code == 200 and "http://capcourse.test/lti/jwks" in page.get_data(as_text=True)
    form = {k: v for k, v in MOODLE.items() if k != "deployment_ids"}
    response = post_form(
        client,
        "/admin/lti/platforms",
        {**form, "deployment_ids": "1\n2", "programme_id": str(programme.id)},
        "/admin/lti",
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    shown = client.get("/admin/lti").get_data(as_text=True)
    assert "Platform &#39;Moodle&#39; registered." in shown and "abc123" in shown
    refused = post_form(client, "/admin/lti/platforms", {**form, "issuer": ""}, "/admin/lti")
    assert refused.status_code == 422 and "issuer" in refused.get_data(as_text=True)  # type: ignore[attr-defined]


def test_only_admins_see_the_page(client: FlaskClient, session: Session) -> None:
    author = factories.user(session, Role.AUTHOR)
    sign_in(client, author.email)
    assert client.get("/admin/lti").status_code == 403


def test_admins_make_a_registration_url_on_the_page(client: FlaskClient, session: Session) -> None:
    admin = factories.user(session, Role.ADMIN)
    sign_in(client, admin.email)
    response = post_form(client, "/admin/lti/registrations", {"programme_id": ""}, "/admin/lti")
    assert response.status_code == 303  # type: ignore[attr-defined]
    shown = client.get("/admin/lti").get_data(as_text=True)
    assert "Registration URL (works once" in shown and "http://capcourse.test/lti/register/" in shown
    refused = post_form(client, "/admin/lti/registrations", {"programme_id": "not-a-uuid"}, "/admin/lti")
    assert refused.status_code == 422  # type: ignore[attr-defined]


def test_a_malformed_url_is_a_clear_422(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.post("/api/v1/lti/platforms", json={**MOODLE, "key_set_url": "https://[::1/jwks"}, headers=admin)
    assert response.status_code == 422 and response.json["errors"]["key_set_url"] == ["Not a URL."]
    port = client.post(
        "/api/v1/lti/platforms", json={**MOODLE, "key_set_url": "https://x.org:99999/jwks"}, headers=admin
    )
    assert port.status_code == 422
