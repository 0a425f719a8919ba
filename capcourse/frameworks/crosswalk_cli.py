"""``capcourse crosswalks``: list, show, export, import, confirm and delete crosswalk links."""

from __future__ import annotations

import json
import uuid
from typing import BinaryIO, TextIO

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Framework
from capcourse.frameworks.services import get_framework_by_key_or_id


@click.group("crosswalks", cls=AppGroup)
def crosswalks_cli() -> None:
    """Crosswalks: the links between the items of two frameworks."""


def _framework(reference: str) -> Framework:
    try:
        return get_framework_by_key_or_id(db.session(), reference)
    except CapcourseError as error:
        raise click.ClickException(f"{error.message} (see capcourse frameworks list)") from error


def _pair(left: str, right: str) -> tuple[Framework, Framework]:
    try:
        return crosswalks.get_pair(db.session(), _framework(left).id, _framework(right).id)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error


def _actor() -> str:
    from capcourse.accounts.access import command_line_principal

    return command_line_principal().name


@crosswalks_cli.command("list")
def list_() -> None:
    """Every pair of frameworks with links between them, counted by provenance."""
    summaries = crosswalks.list_crosswalks(db.session())
    if not summaries:
        click.echo("No links between frameworks.")
    for s in summaries:
        counts = ", ".join(f"{count} {provenance}" for provenance, count in s.counts.items())
        click.echo(f"{s.left.key} ↔ {s.right.key}: {s.total} ({counts})")


@crosswalks_cli.command("show")
@click.argument("left")
@click.argument("right")
@click.option("--provenance", multiple=True, type=click.Choice(crosswalks.PROVENANCES), help="Only these (repeatable).")
def show(left: str, right: str, provenance: tuple[str, ...]) -> None:
    """The links between two frameworks (keys or identifiers), one a line."""
    left_framework, right_framework = _pair(left, right)
    for a in crosswalks.list_associations(db.session(), left_framework, right_framework, provenance or None):
        assert a.destination is not None
        strength = "" if a.strength is None else f" strength {a.strength:g}"
        origin, destination = a.origin.code or a.origin.key, a.destination.code or a.destination.key
        click.echo(f"{a.id}  {origin} {a.association_type} {destination}  [{a.provenance}{strength}]  {a.notes or ''}")


@crosswalks_cli.command("export")
@click.argument("left")
@click.argument("right")
@click.option("--format", "kind", type=click.Choice(["csv", "case"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
def export(left: str, right: str, kind: str, output: TextIO) -> None:
    """Write the crosswalk as CSV or as CASE associations (a crosswalk-only CFPackage)."""
    left_framework, right_framework = _pair(left, right)
    if kind == "csv":
        output.write(crosswalks.export_csv(db.session(), left_framework, right_framework))
    else:
        base_url = str(current_app.config["CAPCOURSE_BASE_URL"])
        package = crosswalks.export_case(db.session(), left_framework, right_framework, base_url)
        output.write(json.dumps(package, indent=2, ensure_ascii=False) + "\n")


@crosswalks_cli.command("import")
@click.argument("left")
@click.argument("right")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--format", "kind", type=click.Choice(["csv", "case"]), default=None, help="Default: case for .json files."
)
def import_(left: str, right: str, file: BinaryIO, kind: str | None) -> None:
    """Apply a CSV or a CASE package of links between two frameworks, all or nothing."""
    left_framework, right_framework = _pair(left, right)
    raw = file.read()
    kind = kind or ("case" if str(getattr(file, "name", "")).lower().endswith(".json") else "csv")
    try:
        if kind == "case":
            result = crosswalks.import_case(db.session(), left_framework, right_framework, raw, _actor())
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise click.ClickException("The CSV is not UTF-8.") from error
            result = crosswalks.import_csv(db.session(), left_framework, right_framework, text, _actor())
    except CapcourseError as error:
        db.session.rollback()
        details = "".join(f"\n  {where}: {'; '.join(map(str, what))}" for where, what in (error.errors or {}).items())
        raise click.ClickException(f"{error.message}{details}\nNothing was changed.") from error
    db.session.commit()
    click.echo(
        f"{result.created} created, {result.updated} changed, {result.unchanged} unchanged, {result.removed} removed."
    )


def _change(identifier: str, action: str) -> None:
    try:
        association = crosswalks.get_association(db.session(), uuid.UUID(identifier))
        if action == "confirm":
            crosswalks.confirm_association(db.session(), association, _actor())
        else:
            crosswalks.delete_association(db.session(), association, _actor())
    except ValueError as error:
        raise click.ClickException(f"{identifier!r} is not an association identifier.") from error
    except CapcourseError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()


@crosswalks_cli.command("confirm")
@click.argument("association_id")
def confirm(association_id: str) -> None:
    """Confirm a suggested or inferred link: coverage counts it from now on."""
    _change(association_id, "confirm")
    click.echo("Confirmed.")


@crosswalks_cli.command("delete")
@click.argument("association_id")
def delete(association_id: str) -> None:
    """Delete a link (a shipped one stays out of later syncs)."""
    _change(association_id, "delete")
    click.echo("Deleted.")
