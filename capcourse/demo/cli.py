"""``capcourse demo load``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.demo.services import has_programmes, load_demo
from capcourse.extensions import db
from capcourse.records.settings import settings_from


@click.group("demo", cls=AppGroup)
def demo_cli() -> None:
    """A demo programme with learners and completions."""


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only on an install with no programme yet (what make run does).")
@click.option("--learners", default=40, show_default=True)
def load(if_empty: bool, learners: int) -> None:
    """Create the demo programme (once)."""
    if if_empty and has_programmes(db.session()):
        click.echo("Programmes exist: no demo loaded.")
        return
    settings = settings_from(current_app.config)
    with click.progressbar(length=1, label="Building the demo programme") as bar:
        result = load_demo(db.session(), settings.base_url, settings.destinations, learners)
        bar.update(1)
    if not result.created:
        click.echo(f"The demo programme exists already: {settings.base_url}/programmes/{result.programme.id}")
        return
    db.session.commit()
    click.echo(
        f"Demo programme {result.programme.title!r}: {result.learners} learners, {result.completions} completions.\n"
        f"Coverage dashboard: {settings.base_url}/programmes/{result.programme.id}/coverage"
    )
