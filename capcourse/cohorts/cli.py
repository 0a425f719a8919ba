"""``capcourse cohorts``: create cohorts and add learners from a file."""

from __future__ import annotations

import io
import uuid

import click
from flask.cli import AppGroup

from capcourse.accounts import access
from capcourse.accounts.access import command_line_principal
from capcourse.cohorts import services
from capcourse.cohorts.schemas import parse_learner_lines
from capcourse.errors import CapcourseError
from capcourse.extensions import db


@click.group("cohorts", cls=AppGroup)
def cohorts_cli() -> None:
    """Cohorts of learners."""


@cohorts_cli.command("create")
@click.argument("programme_id", type=click.UUID)
@click.argument("name")
@click.option("--description")
def create(programme_id: uuid.UUID, name: str, description: str | None) -> None:
    """Create a cohort NAME in the programme PROGRAMME_ID; prints its identifier."""
    principal = command_line_principal()
    try:
        programme = access.programme_for_read(db.session(), principal, programme_id)
        cohort = services.create_cohort(db.session(), principal, programme, name, description)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"{cohort.id}\t{cohort.name}")


@cohorts_cli.command("add-learners")
@click.argument("cohort_id", type=click.UUID)
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def add_learners(cohort_id: uuid.UUID, file: io.TextIOBase) -> None:
    """Add the learners of FILE (CSV: email[,name] per line, header optional; - for standard input)."""
    principal = command_line_principal()
    try:
        cohort = services.cohort_for_read(db.session(), principal, cohort_id)
        result = services.add_learners(db.session(), principal, cohort, parse_learner_lines(file.read()))
    except CapcourseError as error:
        lines = (error.errors or {}).get("lines")
        details = "".join(f"\n  line {n}: {' '.join(m)}" for n, m in lines.items()) if isinstance(lines, dict) else ""
        raise click.ClickException(error.message + details) from error
    db.session.commit()
    click.echo(f"Added {len(result.added)} learner(s) to {cohort.name!r}; {len(result.already)} were in it already.")


@cohorts_cli.command("list")
@click.argument("programme_id", type=click.UUID)
def list_(programme_id: uuid.UUID) -> None:
    """The cohorts of a programme: identifier, learners, name."""
    principal = command_line_principal()
    try:
        programme = access.programme_for_read(db.session(), principal, programme_id)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    for summary in services.list_cohorts(db.session(), principal, programme):
        click.echo(f"{summary.cohort.id}\t{summary.learners}\t{summary.cohort.name}")
