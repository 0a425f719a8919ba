"""Users: passwords hashed, first admin printed once, CLI."""

from __future__ import annotations

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import delete
from sqlalchemy.orm import Session

from capcourse.accounts.models import ApiKey, Role, User
from capcourse.accounts.services import authenticate_user, create_user, ensure_first_admin
from capcourse.errors import ConflictError, InvalidInputError, UnauthorizedError
from tests import factories

pytestmark = pytest.mark.db


def test_passwords_are_hashed_with_scrypt(session: Session) -> None:
    person = create_user(session, "Ada@Example.org", "Ada", Role.AUTHOR, "a long enough password")
    assert person.email == "ada@example.org"
    assert person.password_hash.startswith("scrypt:")
    assert "a long enough password" not in person.password_hash
    assert authenticate_user(session, "ada@example.org", "a long enough password").id == person.id
    with pytest.raises(UnauthorizedError):
        authenticate_user(session, "ada@example.org", "wrong")


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [("not-an-email", "a long enough password", InvalidInputError), ("x@example.org", "short", InvalidInputError)],
)
def test_bad_users_are_refused(session: Session, email: str, password: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        create_user(session, email, "X", Role.AUTHOR, password)


def test_emails_are_unique(session: Session) -> None:
    person = factories.user(session)
    with pytest.raises(ConflictError):
        create_user(session, person.email.upper(), "Again", Role.AUTHOR, factories.PASSWORD)


def test_first_admin_only_on_an_empty_install(session: Session, runner: FlaskCliRunner) -> None:
    session.execute(delete(ApiKey))
    session.execute(delete(User))
    session.commit()
    result = runner.invoke(args=["users", "ensure-admin"])
    assert result.exit_code == 0
    assert "A first administrator was created" in result.output
    password = result.output.split("password: ")[1].split()[0]
    assert len(password) >= 12
    assert authenticate_user(session, "admin@capcourse.invalid", password).role == Role.ADMIN
    again = runner.invoke(args=["users", "ensure-admin"])
    assert "A first administrator" not in again.output
    assert "Sign in at" in again.output
    assert ensure_first_admin(session) is None


def test_cli_creates_users_and_sets_passwords(runner: FlaskCliRunner) -> None:
    created = runner.invoke(
        args=["users", "create", "--email", "lena@example.org", "--name", "Lena", "--role", "lead"],
        input="a long enough password\na long enough password\n",
    )
    assert created.exit_code == 0, created.output
    short = runner.invoke(args=["users", "set-password", "lena@example.org", "--password", "short"])
    assert short.exit_code != 0
    assert "too short" in short.output
    changed = runner.invoke(args=["users", "set-password", "lena@example.org", "--password", "another long password"])
    assert changed.exit_code == 0, changed.output


def test_personal_keys_need_their_user(runner: FlaskCliRunner, session: Session) -> None:
    refused = runner.invoke(args=["keys", "create", "--name", "x", "--role", "author"])
    assert refused.exit_code != 0
    assert "name the user" in refused.output
    person = factories.user(session)
    created = runner.invoke(args=["keys", "create", "--name", "x", "--role", "author", "--user", person.email])
    assert created.exit_code == 0, created.output
