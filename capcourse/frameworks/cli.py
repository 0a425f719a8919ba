"""``capcourse frameworks``: sync the shipped frameworks and list what is loaded."""

from __future__ import annotations

import json
from typing import TextIO

import click
from flask.cli import AppGroup

from capcourse.extensions import db
from capcourse.frameworks import areas
from capcourse.frameworks.legend import Change
from capcourse.frameworks.models import Framework
from capcourse.frameworks.seed_data import SeedDataError, load_seed_data
from capcourse.frameworks.services import list_frameworks
from capcourse.frameworks.sync import sync_frameworks


@click.group("frameworks", cls=AppGroup)
def frameworks_cli() -> None:
    """Capability frameworks shipped with capcourse."""


def _describe(change: Change) -> str:
    return f"+{change.created} ~{change.updated} -{change.deleted}"


@frameworks_cli.command("sync")
@click.option("--dry-run", is_flag=True, help="Report what would change, and change nothing.")
def sync(dry_run: bool) -> None:
    """Load the shipped frameworks into the database (safe to run again)."""
    try:
        data = load_seed_data()
    except SeedDataError as error:
        raise click.ClickException(f"The framework data is invalid: {error}") from error
    report = sync_frameworks(db.session(), data)
    for result in report.frameworks:
        if result.skipped:
            state = "skipped (imported from a CASE package: sync leaves it alone)"
        elif result.created:
            state = f"created ({result.items.created} items, {result.associations.created} associations)"
        elif result.changed:
            state = f"updated (items {_describe(result.items)}, associations {_describe(result.associations)})"
        else:
            state = "unchanged"
        click.echo(f"{result.key}: {state}")
    if report.legend_rows.changed:
        click.echo(f"icon legend rows: {_describe(report.legend_rows)}")
    if report.area_links:
        click.echo(f"curriculum-area links of the starting set: {report.area_links} changed")
    if report.crosswalk_links:
        click.echo(f"links of the shipped crosswalks: {report.crosswalk_links} changed")
    if dry_run:
        db.session.rollback()
        click.echo("Dry run: nothing was written.")
    elif report.changed:
        db.session.commit()
        click.echo(f"Synced {len(report.frameworks)} frameworks.")
    else:
        db.session.rollback()
        click.echo(f"Nothing to change: all {len(report.frameworks)} frameworks are up to date.")


@frameworks_cli.command("list")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_(output: str) -> None:
    """List the frameworks in the database with item counts by type."""
    summaries = list_frameworks(db.session())
    if output == "json":
        rows = [
            {
                "id": str(s.framework.id),
                "key": s.framework.key,
                "title": s.framework.title,
                "version": s.framework.version,
                "item_counts": s.item_counts,
                "item_total": s.item_total,
            }
            for s in summaries
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not summaries:
        click.echo("No frameworks loaded. Run `capcourse frameworks sync`.")
    for s in summaries:
        counts = ", ".join(f"{count} {kind}" for kind, count in s.item_counts.items())
        version = f" ({s.framework.version})" if s.framework.version else ""
        click.echo(f"{s.framework.key}  {s.framework.title}{version}: {counts}")


def _framework_by_key(key: str) -> Framework:
    from sqlalchemy import select

    framework: Framework | None = db.session.scalar(select(Framework).where(Framework.key == key))
    if framework is None:
        raise click.ClickException(f"No framework has the key {key!r} (see capcourse frameworks list).")
    return framework


@frameworks_cli.group("areas")
def areas_cli() -> None:
    """Curriculum areas per item: export and import the links as CSV."""


@areas_cli.command("export")
@click.argument("framework_key")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
def areas_export(framework_key: str, output: TextIO) -> None:
    """Write the framework's curriculum-area links as CSV (item, area, provenance, rationale)."""
    output.write(areas.export_csv(db.session(), _framework_by_key(framework_key)))


@areas_cli.command("import")
@click.argument("framework_key")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def areas_import(framework_key: str, csv_file: TextIO) -> None:
    """Apply a CSV of links, all or nothing (columns item, area, rationale, provenance, action)."""
    from capcourse.accounts.access import command_line_principal
    from capcourse.errors import CapcourseError

    framework = _framework_by_key(framework_key)
    try:
        result = areas.import_csv(db.session(), framework, csv_file.read(), command_line_principal().name)
    except CapcourseError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"{result.set} link(s) set, {result.removed} removed.")
