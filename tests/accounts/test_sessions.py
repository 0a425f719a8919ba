"""Sessions end on the server: sign-out, password change and disabling void every copy of a cookie.
Failed sign-ins are throttled per account and per address; guessable passwords are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, g
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role, User
from capcourse.accounts.services import check_password_policy, set_password
from capcourse.accounts.throttle import EXTENSION
from capcourse.errors import InvalidInputError
from tests import factories
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _fresh_counts(app: Flask) -> Iterator[None]:
    """Each test starts with no failed sign-ins counted, and leaves none for others."""
    storage = app.extensions[EXTENSION].limiter.storage
    storage.reset()
    yield
    storage.reset()


def visit(client: FlaskClient, path: str = "/programmes") -> int:
    """GET ``path`` as a request of its own, and return the status.

    The test's app context is shared by its requests (the rollback fixture
    pushes it), so Flask-Login's per-request cache of the user in ``g`` would
    outlive a request; in a server each request has its own ``g``.
    """
    g.pop("_login_user", None)
    return client.get(path).status_code


def copy_of_session(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def signed_in(app: Flask, session: Session, role: Role = Role.AUTHOR) -> tuple[User, FlaskClient]:
    person = factories.user(session, role)
    client = app.test_client()
    sign_in(client, person.email)
    assert visit(client) == 200
    return person, client


def test_a_cookie_copied_before_sign_out_stops_working_after(app: Flask, session: Session) -> None:
    _, client = signed_in(app, session)
    thief = copy_of_session(app, client)
    assert visit(thief) == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/programmes")})
    assert visit(thief) == 302
    g.pop("_login_user", None)
    assert "/login" in thief.get("/programmes").headers["Location"]


def test_a_password_change_ends_every_session(app: Flask, session: Session, runner: FlaskCliRunner) -> None:
    person, client = signed_in(app, session)
    thief = copy_of_session(app, client)
    result = runner.invoke(args=["users", "set-password", person.email, "--password", "a fresh sturdy passphrase"])
    assert result.exit_code == 0, result.output
    assert visit(client) == 302
    assert visit(thief) == 302
    sign_in(client, person.email, "a fresh sturdy passphrase")
    assert visit(client) == 200


def test_disabling_ends_sessions_and_keys(app: Flask, session: Session, runner: FlaskCliRunner) -> None:
    person, client = signed_in(app, session, Role.LEAD)
    _, plain = factories.api_key(session, Role.LEAD, owner=person)
    result = runner.invoke(args=["users", "disable", person.email])
    assert result.exit_code == 0, result.output
    assert visit(client) == 302
    assert client.get("/api/v1/programmes", headers=factories.bearer(plain)).status_code == 401
    token = csrf_token(client, "/login")
    refused = client.post("/login", data={"email": person.email, "password": factories.PASSWORD, "csrf_token": token})
    assert refused.status_code == 401
    listed = runner.invoke(args=["users", "list"])
    assert f"{person.email}\tlead\tdisabled" in listed.output
    assert runner.invoke(args=["users", "enable", person.email]).exit_code == 0
    sign_in(client, person.email)


def test_the_api_disables_and_enables_users(client: FlaskClient, session: Session) -> None:
    person, other_client = signed_in(client.application, session)
    _, admin = factories.api_key(session, Role.ADMIN)
    answer = client.patch(f"/api/v1/users/{person.id}", json={"active": False}, headers=factories.bearer(admin))
    assert answer.status_code == 200, answer.json
    assert answer.json["active"] is False
    assert visit(other_client) == 302
    again = client.patch(f"/api/v1/users/{person.id}", json={"active": True}, headers=factories.bearer(admin))
    assert again.json["active"] is True
    missing = client.patch("/api/v1/users/99999999999", json={"active": False}, headers=factories.bearer(admin))
    assert missing.status_code == 404
    bad = client.patch(f"/api/v1/users/{person.id}", json={"active": "perhaps"}, headers=factories.bearer(admin))
    assert bad.status_code == 422


def test_the_last_active_admin_cannot_be_disabled(session: Session, runner: FlaskCliRunner) -> None:
    admins = session.query(User).filter(User.role == Role.ADMIN, User.disabled_at.is_(None)).all()
    for admin in admins:
        admin.disabled_at = admin.created_at
    only = factories.user(session, Role.ADMIN)
    result = runner.invoke(args=["users", "disable", only.email])
    assert result.exit_code != 0
    assert "last active admin" in result.output


def _attempt(client: FlaskClient, email: str, password: str) -> tuple[int, dict[str, str]]:
    token = csrf_token(client, "/login")
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return answer.status_code, dict(answer.headers)


def test_failed_sign_ins_are_throttled_per_account(client: FlaskClient, session: Session) -> None:
    person = factories.user(session)
    bystander = factories.user(session)
    for _ in range(5):
        assert _attempt(client, person.email, "not the password at all")[0] == 401
    status, headers = _attempt(client, person.email, factories.PASSWORD)
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    # Others signing in from the same address are not locked out by one account's limit.
    assert _attempt(client, bystander.email, factories.PASSWORD)[0] == 302


def test_failed_sign_ins_are_throttled_per_address(client: FlaskClient, session: Session) -> None:
    people = [factories.user(session) for _ in range(8)]
    failures = 0
    for person in people:
        for _ in range(4):
            status, headers = _attempt(client, person.email, "not the password at all")
            if status == 429:
                break
            failures += 1
        if status == 429:
            break
    assert failures == 30
    assert int(headers["Retry-After"]) >= 1
    # Throttled addresses are refused before any password is checked, right or wrong.
    assert _attempt(client, people[-1].email, factories.PASSWORD)[0] == 429


def test_a_success_clears_the_accounts_failures(client: FlaskClient, session: Session) -> None:
    person = factories.user(session)
    for _ in range(4):
        _attempt(client, person.email, "not the password at all")
    assert _attempt(client, person.email, factories.PASSWORD)[0] == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/programmes")})
    for _ in range(4):
        assert _attempt(client, person.email, "not the password at all")[0] == 401


@pytest.mark.parametrize(
    "password",
    [
        " " * 12,
        "password1234",
        "Password123!",
        "qwertyuiopasdf",
        "aaaaaaaaaaaaaaaa",
        "123456789012",
        "iloveyou2026",
        "ada.lovelace@example.org",
    ],
)
def test_guessable_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInputError, match="too easy to guess") as refused:
        check_password_policy(password, ["ada.lovelace@example.org", "Ada Lovelace"])
    assert refused.value.errors is not None and "password" in refused.value.errors


def test_passphrases_pass(session: Session) -> None:
    check_password_policy("correct horse battery staple")
    check_password_policy("Tr0ub4dor&3 and more")
    person = factories.user(session)
    set_password(session, person, "the quiet orchard in late autumn")


def test_the_api_and_cli_refuse_guessable_passwords(
    client: FlaskClient, session: Session, runner: FlaskCliRunner
) -> None:
    _, admin = factories.api_key(session, Role.ADMIN)
    body = {"email": "weak@example.org", "name": "Weak", "role": "author", "password": "Password123!"}
    answer = client.post("/api/v1/users", json=body, headers=factories.bearer(admin))
    assert answer.status_code == 422
    assert "too easy to guess" in answer.json["message"]
    result = runner.invoke(
        args=["users", "create", "--email", "w@example.org", "--name", "W", "--role", "author", "--password", " " * 12]
    )
    assert result.exit_code != 0
    assert "too easy to guess" in result.output


def _change(client: FlaskClient, current: str, new: str, confirm: str | None = None) -> int:
    token = csrf_token(client, "/account/password")
    data = {"current_password": current, "new_password": new, "confirm_password": confirm or new, "csrf_token": token}
    g.pop("_login_user", None)
    return client.post("/account/password", data=data).status_code


def test_people_change_their_own_password_and_other_sessions_end(app: Flask, session: Session) -> None:
    person, client = signed_in(app, session)
    thief = copy_of_session(app, client)
    assert _change(client, "not my password at all", "a brand new passphrase here") == 401
    assert _change(client, factories.PASSWORD, "password1234") == 422
    assert _change(client, factories.PASSWORD, "a brand new passphrase here", "something else entirely") == 422
    assert visit(thief) == 200  # nothing changed yet
    assert _change(client, factories.PASSWORD, "a brand new passphrase here") == 302
    assert visit(client) == 200  # this browser stays signed in
    assert visit(thief) == 302  # every other copy of the session has ended
    g.pop("_login_user", None)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/programmes")})
    sign_in(client, person.email, "a brand new passphrase here")


def test_the_password_page_needs_a_signed_in_person(client: FlaskClient) -> None:
    assert client.get("/account/password").status_code == 302
