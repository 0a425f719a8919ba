"""``capcourse keys``: API keys from the command line."""

from __future__ import annotations

import click

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key, list_api_keys, revoke_api_key
from capcourse.errors import CapcourseError
from capcourse.extensions import db


@click.group("keys")
def keys_cli() -> None:
    """Create, list and revoke API keys."""


@keys_cli.command("create")
@click.option("--name", required=True, help="Who or what the key is for, e.g. 'Moodle production'.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
def create(name: str, role: str) -> None:
    """Create a key and print it once."""
    key, plain = create_api_key(db.session(), name, role)
    db.session.commit()
    click.echo(f"Created {role} key {key.prefix}… for {key.name!r}. It is shown only now; store it safely:")
    click.echo(plain)


@keys_cli.command("list")
def list_() -> None:
    """List keys (never the keys themselves)."""
    for key in list_api_keys(db.session()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.prefix}…\t{key.role}\t{state}\t{key.name}")


@keys_cli.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key whose listed prefix is PREFIX."""
    try:
        key = revoke_api_key(db.session(), prefix.rstrip("…"))
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Revoked {key.prefix}… ({key.name}).")
