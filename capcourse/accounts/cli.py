"""``capcourse users`` and ``capcourse keys``: accounts from the command line."""

from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.accounts.models import Role
from capcourse.accounts.services import (
    create_api_key,
    create_user,
    ensure_first_admin,
    find_user,
    list_api_keys,
    list_users,
    revoke_api_key,
    set_active,
    set_password,
)
from capcourse.errors import CapcourseError
from capcourse.extensions import db


def _fail(error: CapcourseError) -> click.ClickException:
    details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in (error.errors or {}).items())
    return click.ClickException(f"{error.message} {details}".strip())


@click.group("users", cls=AppGroup)
def users_cli() -> None:
    """People who sign in to the web interface."""


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([Role.ADMIN.value, Role.LEAD.value, Role.AUTHOR.value]), required=True)
@click.password_option(help="At least 12 characters, not easy to guess; asked for when not given.")
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create a user."""
    try:
        user = create_user(db.session(), email, name, role, password)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Created {role} {user.email}.")


@users_cli.command("set-password")
@click.argument("email")
@click.password_option(help="At least 12 characters, not easy to guess; asked for when not given.")
def set_password_command(email: str, password: str) -> None:
    """Set a user's password (ending their sessions)."""
    try:
        set_password(db.session(), find_user(db.session(), email), password)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Password changed for {email}.")


@users_cli.command("list")
def list_users_command() -> None:
    """List users: email, role, state, name."""
    for user in list_users(db.session()):
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{user.name}")


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable a user: they cannot sign in, their sessions end and their API keys stop working."""
    try:
        set_active(db.session(), find_user(db.session(), email), False)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Disabled {email}; their sessions are ended.")


@users_cli.command("enable")
@click.argument("email")
def enable_command(email: str) -> None:
    """Enable a disabled user again."""
    try:
        set_active(db.session(), find_user(db.session(), email), True)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Enabled {email}.")


@users_cli.command("ensure-admin")
def ensure_admin_command() -> None:
    """On a new install, create the first admin and print how to sign in."""
    created = ensure_first_admin(db.session())
    login = f"{current_app.config['CAPCOURSE_BASE_URL']}/login"
    if created is None:
        click.echo(f"Sign in at {login}. Forgotten password: capcourse users set-password EMAIL")
        return
    user, password = created
    db.session.commit()
    banner = "=" * 72
    click.echo(
        f"{banner}\nA first administrator was created. Sign in at {login}\n"
        f"  email:    {user.email}\n  password: {password}\n"
        "The password is shown only now. Change it with: capcourse users set-password "
        f"{user.email}\n{banner}"
    )


@click.group("keys", cls=AppGroup)
def keys_cli() -> None:
    """API keys for machine clients and scripts."""


@keys_cli.command("create")
@click.option("--name", required=True, help="Who or what the key is for, e.g. 'Moodle production'.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--user", "email", help="The person a lead or author key acts for.")
@click.option(
    "--programme",
    "programmes",
    multiple=True,
    type=click.UUID,
    help="An integration key reads only this programme's statements and launches (repeatable).",
)
@click.option(
    "--all-programmes",
    is_flag=True,
    help="An integration key not limited to programmes: it reads every programme's records.",
)
def create(name: str, role: str, email: str | None, programmes: tuple[uuid.UUID, ...], all_programmes: bool) -> None:
    """Create a key and print it once.

    An integration key is limited to programmes (--programme) or, as an explicit choice, to none
    (--all-programmes).
    """
    if role == Role.INTEGRATION and bool(programmes) == all_programmes:
        raise click.UsageError(
            "An integration key needs --programme ID (repeatable) or, to read every programme, --all-programmes."
        )
    if role != Role.INTEGRATION and (programmes or all_programmes):
        raise click.UsageError("Only integration keys are limited to programmes.")
    try:
        user = find_user(db.session(), email) if email else None
        key, plain = create_api_key(db.session(), name, role, user, list(programmes) if programmes else None)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Created {role} key {key.prefix}… for {key.name!r}. It is shown only now; store it safely:")
    click.echo(plain)


@keys_cli.command("list")
def list_() -> None:
    """List keys (never the keys themselves)."""
    for key in list_api_keys(db.session()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        owner = f"\t{key.user.email}" if key.user else ""
        scope = ""
        if key.role == Role.INTEGRATION:
            scope = (
                "\tall programmes (unscoped)"
                if key.programme_ids is None
                else "\tprogrammes: " + ", ".join(key.programme_ids)
            )
        click.echo(f"{key.prefix}…\t{key.role}\t{state}\t{key.name}{owner}{scope}")


@keys_cli.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key whose listed prefix is PREFIX."""
    try:
        key = revoke_api_key(db.session(), prefix.rstrip("…"))
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Revoked {key.prefix}… ({key.name}).")
