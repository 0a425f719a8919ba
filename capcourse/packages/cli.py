"""``capcourse scorm``: import a SCORM package into a course, export a module or course as one."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.accounts.access import command_line_principal
from capcourse.catalogue.services import course_for_read, module_for_read
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.packages import exporting
from capcourse.packages.settings import settings_from
from capcourse.packages.views import import_and_commit


@click.group("scorm", cls=AppGroup)
def scorm_cli() -> None:
    """SCORM packages: import into the catalogue, export with mappings."""


def _fail(error: CapcourseError) -> click.ClickException:
    details = [str(m) for messages in (error.errors or {}).values() if isinstance(messages, list) for m in messages]
    return click.ClickException("\n  ".join([error.message, *details[:10]]))


@scorm_cli.command("import")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "course_id", type=click.UUID, required=True, help="The course to import into.")
def import_command(package: Path, course_id: uuid.UUID) -> None:
    """Import PACKAGE (a SCORM zip) into a course; a new version of a package updates it in place."""
    principal = command_line_principal()
    try:
        course = course_for_read(db.session(), principal, course_id)
        with package.open("rb") as upload:
            report = import_and_commit(principal, course, upload)
    except CapcourseError as error:
        raise _fail(error) from error
    record = report.package
    click.echo(f"{record.title!r} ({record.scorm_version}), revision {record.revision}: package {record.id}")
    click.echo(
        f"  modules: {len(report.modules_created)} created, {len(report.modules_updated)} updated; "
        f"activities: {len(report.activities_created)} created, {len(report.activities_updated)} updated, "
        f"{len(report.activities_retired)} retired; mappings: {len(report.mappings_created)} created"
    )
    for label, lines in (
        ("not held here", report.unmatched),
        ("not applied", report.not_applied),
        ("warning", report.warnings),
    ):
        for line in lines:
            click.echo(f"  {label}: {line}")


@scorm_cli.command("export")
@click.option("--module", "module_id", type=click.UUID, help="Export this module.")
@click.option("--course", "course_id", type=click.UUID, help="Export this course.")
@click.option("--version", type=click.Choice(list(exporting.VERSIONS)), default="2004-4th", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the zip.")
def export_command(module_id: uuid.UUID | None, course_id: uuid.UUID | None, version: str, output: Path | None) -> None:
    """Export a module or a course as a SCORM package carrying its mappings."""
    if (module_id is None) == (course_id is None):
        raise click.UsageError("Give --module or --course (one of them).")
    principal, settings = command_line_principal(), settings_from(current_app.config)
    try:
        if module_id is not None:
            module = module_for_read(db.session(), principal, module_id)
            export = exporting.module_export(db.session(), module, settings, version)
        else:
            assert course_id is not None
            course = course_for_read(db.session(), principal, course_id)
            export = exporting.course_export(db.session(), course, settings, version)
    except CapcourseError as error:
        raise _fail(error) from error
    target = output or Path(export.filename)
    with target.open("wb") as destination:
        exporting.write(export, destination)
    for line in export.report_lines():
        click.echo(line)
    click.echo(f"Wrote {target} (SCORM {version}).")
