"""``capcourse lti``: LMS platforms and capcourse's LTI keys from the command line."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup

from capcourse.accounts.access import command_line_principal
from capcourse.accounts.cli import _fail
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.lti import keys, services
from capcourse.lti.pages import tool_urls


@click.group("lti", cls=AppGroup)
def lti_cli() -> None:
    """LMS platforms connected by LTI 1.3."""


@lti_cli.command("tool")
def tool() -> None:
    """Print the URLs an LMS administrator enters for capcourse."""
    for name, value in tool_urls().items():
        click.echo(f"{name}\t{value}")


@lti_cli.group("platforms", cls=AppGroup)
def platforms_cli() -> None:
    """Registered platforms."""


@platforms_cli.command("add")
@click.option("--name", required=True, help="e.g. 'Moodle (production)'.")
@click.option("--issuer", required=True, help="The platform's iss (Moodle: its base URL).")
@click.option("--client-id", required=True, help="The client id the platform gave capcourse.")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authentication request URL.")
@click.option("--auth-token-url", required=True, help="The platform's access token URL.")
@click.option("--key-set-url", required=True, help="The platform's public keyset (JWKS) URL.")
@click.option("--auth-audience", help="The token audience, when not the token URL.")
@click.option("--deployment", "deployments", multiple=True, help="A deployment id (repeat for several).")
@click.option("--programme", "programme_id", type=click.UUID, help="The programme its courses become part of.")
@click.option("--admins-are-admins", is_flag=True, help="The LMS's administrators become capcourse admins.")
def add(deployments: tuple[str, ...], programme_id: uuid.UUID | None, **fields: str) -> None:
    """Register a platform by hand."""
    try:
        platform = services.create_platform(
            db.session(), command_line_principal(), {**fields, "programme_id": programme_id}, deployments
        )
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Registered {platform.name!r} ({platform.id}) with {len(platform.deployments)} deployment(s).")


@platforms_cli.command("list")
def list_() -> None:
    """List platforms: id, name, issuer, client id, deployments, programme."""
    for p in services.list_platforms(db.session(), command_line_principal()):
        deployments = ",".join(d.deployment_id for d in p.deployments) or "-"
        click.echo(f"{p.id}\t{p.name}\t{p.issuer}\t{p.client_id}\t{deployments}\t{p.programme_id or '-'}")


@platforms_cli.command("set-programme")
@click.argument("platform_id", type=click.UUID)
@click.argument("programme_id", type=click.UUID)
def set_programme(platform_id: uuid.UUID, programme_id: uuid.UUID) -> None:
    """Choose the programme a platform's courses become part of."""
    principal = command_line_principal()
    try:
        platform = services.get_platform(db.session(), principal, platform_id)
        services.update_platform(db.session(), principal, platform, {"programme_id": programme_id})
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"{platform.name!r} now feeds programme {programme_id}.")


@platforms_cli.command("add-deployment")
@click.argument("platform_id", type=click.UUID)
@click.argument("deployment_id")
def add_deployment(platform_id: uuid.UUID, deployment_id: str) -> None:
    """Add a deployment id to a platform."""
    principal = command_line_principal()
    try:
        platform = services.get_platform(db.session(), principal, platform_id)
        services.add_deployment(db.session(), principal, platform, deployment_id)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Deployment {deployment_id!r} added to {platform.name!r}.")


@lti_cli.group("keys", cls=AppGroup)
def keys_cli() -> None:
    """capcourse's LTI signing keys."""


@keys_cli.command("list")
def keys_list() -> None:
    """List keys: kid, created, retired."""
    keys.active_key(db.session())
    db.session.commit()
    for key in keys.list_keys(db.session()):
        state = f"retired {key.retired_at:%Y-%m-%d}" if key.retired_at else "signs"
        click.echo(f"{key.kid}\t{key.created_at:%Y-%m-%d}\t{state}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key; the old one stays published for a week."""
    key = keys.rotate_keys(db.session())
    db.session.commit()
    click.echo(f"capcourse now signs with {key.kid}.")
