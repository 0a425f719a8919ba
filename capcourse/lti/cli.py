"""``capcourse lti``: LMS platforms and capcourse's LTI keys from the command line."""

from __future__ import annotations

import time
import uuid

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from capcourse.accounts.access import command_line_principal
from capcourse.accounts.cli import _fail
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.lti import advantage, keys, launch, registration, services
from capcourse.lti.models import LtiResourceLink
from capcourse.lti.pages import base_url, tool_urls


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


@lti_cli.group("contexts", cls=AppGroup)
def contexts_cli() -> None:
    """LMS courses linked to capcourse courses."""


@contexts_cli.command("list")
def contexts_list() -> None:
    """List LMS courses: id, platform, LMS course id, title, capcourse course, cohort, roster refreshed."""
    for c in advantage.list_contexts(db.session(), command_line_principal()):
        synced = f"{c.roster_synced_at:%Y-%m-%d %H:%M}" if c.roster_synced_at else "-"
        click.echo(
            f"{c.id}\t{c.platform.name}\t{c.context_id}\t{c.title}\t{c.course_id}\t{c.cohort_id or '-'}\t{synced}"
        )


@lti_cli.command("roster")
@click.argument("context_ids", type=int, nargs=-1)
def roster(context_ids: tuple[int, ...]) -> None:
    """Refresh the rosters (NRPS) of the given LMS courses, or of all."""
    principal = command_line_principal()
    keys.active_key(db.session())
    db.session.commit()
    try:
        contexts = [advantage.context_for(db.session(), principal, i) for i in context_ids] if context_ids else None
    except CapcourseError as error:
        raise _fail(error) from error
    failed = False
    for context in contexts or advantage.list_contexts(db.session(), principal):
        if not context.memberships_url:
            continue
        try:
            result = advantage.sync_roster(db.session(), context)
        except CapcourseError as error:
            db.session.rollback()
            click.echo(f"{context.context_id}: {error.message}", err=True)
            failed = True
            continue
        db.session.commit()
        click.echo(f"{context.context_id}: {result.learners} learners ({result.added} added, {result.removed} removed)")
    if failed:
        raise SystemExit(1)


@lti_cli.command("lineitems")
@click.argument("context_id", type=int)
@click.argument("item_ids", type=click.UUID, nargs=-1, required=True)
def lineitems(context_id: int, item_ids: tuple[uuid.UUID, ...]) -> None:
    """Make a gradebook column in an LMS course for each framework item."""
    principal = command_line_principal()
    keys.active_key(db.session())
    db.session.commit()
    try:
        context = advantage.context_for(db.session(), principal, context_id)
        lines = advantage.add_line_items(
            db.session(), principal, context, list(item_ids), str(current_app.config["CAPCOURSE_BASE_URL"]).rstrip("/")
        )
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    for line in lines:
        click.echo(f"{line.item_id}\t{line.url}\t{line.label}")


@lti_cli.group("scores", cls=AppGroup)
def scores_cli() -> None:
    """Attainments posted to LMS gradebooks (AGS)."""


@scores_cli.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between passes.")
def scores_run(once: bool, interval: float) -> None:
    """Queue new attainments as scores and post the due ones, again and again (a worker)."""
    keys.active_key(db.session())
    db.session.commit()
    while True:
        report = advantage.deliver_scores(db.session())
        db.session.commit()
        if report.queued or report.delivered or report.retried or report.dead or once:
            click.echo(
                f"queued {report.queued}, delivered {report.delivered}, retried {report.retried}, dead {report.dead}"
            )
        if once:
            return
        time.sleep(interval)


@scores_cli.command("status")
def scores_status() -> None:
    """How many scores are pending, delivered and dead."""
    for state, count in advantage.score_status(db.session()).items():
        click.echo(f"{state}\t{count}")


@scores_cli.command("retry")
def scores_retry() -> None:
    """Send dead scores again."""
    count = advantage.retry_dead_scores(db.session())
    db.session.commit()
    click.echo(f"{count} dead score(s) queued again.")


@lti_cli.command("registration-url")
@click.option("--programme", "programme_id", type=click.UUID, help="The programme the LMS's courses become part of.")
def registration_url(programme_id: uuid.UUID | None) -> None:
    """Print a one-time Dynamic Registration URL to paste into an LMS."""
    try:
        url, expires = registration.make_registration_url(
            db.session(), command_line_principal(), base_url(), programme_id
        )
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(url)
    click.echo(f"It works once, until {expires:%Y-%m-%d %H:%M} UTC.", err=True)


@lti_cli.command("links")
@click.argument("context_id", type=int)
def links(context_id: int) -> None:
    """List an LMS course's links: id, LMS link id, title, what it opens."""
    try:
        context = advantage.context_for(db.session(), command_line_principal(), context_id)
    except CapcourseError as error:
        raise _fail(error) from error
    for link in db.session.scalars(select(LtiResourceLink).where(LtiResourceLink.context_id == context.id)):
        opens = (
            f"activity:{link.activity_id}"
            if link.activity_id
            else f"module:{link.module_id}"
            if link.module_id
            else link.view or "-"
        )
        click.echo(f"{link.id}\t{link.resource_link_id}\t{link.title or ''}\t{opens}")


@lti_cli.command("link")
@click.argument("link_id", type=int)
@click.argument("target")
def link(link_id: int, target: str) -> None:
    """Tie an LMS link to TARGET: course, coverage, evidence, module:ID or activity:ID."""
    found = db.session.get(LtiResourceLink, link_id)
    if found is None:
        raise click.ClickException(f"No LMS link has the identifier {link_id}.")
    try:
        launch.aim_link(db.session(), command_line_principal(), found, target)
    except CapcourseError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Link {found.resource_link_id!r} now opens {target}.")
