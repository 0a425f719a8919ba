"""``capcourse case``: export frameworks as CASE packages, import packages from files or URLs."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from capcourse.case.export import V1P0, V1P1, export_package
from capcourse.case.fetch import too_large
from capcourse.case.importing import ImportOutcome, PackageError, parse_package, plan_import, report, run_import
from capcourse.case.views import read_url
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.frameworks.services import get_framework_by_key_or_id

#: Who the mapping history names when the command line removes a mapping.
COMMAND_LINE = Principal(role=Role.ADMIN, name="capcourse case import (command line)")


@click.group("case", cls=AppGroup)
def case_cli() -> None:
    """1EdTech CASE packages: export and import frameworks."""


@case_cli.command("export")
@click.argument("framework")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE, not stdout.")
@click.option("--case-version", type=click.Choice([V1P1, V1P0]), default=V1P1, show_default=True, help="CASE version.")
@click.option(
    "--strict",
    is_flag=True,
    help="Properties CASE does not define, which an imported package carried, go into extensions (1.1) or are "
    "left out (1.0), so 1EdTech's schema accepts the export; without it they stay where they were.",
)
def export(framework: str, output: str | None, case_version: str, strict: bool) -> None:
    """Export FRAMEWORK (key or identifier) as a CASE CFPackage (JSON)."""
    try:
        found = get_framework_by_key_or_id(db.session(), framework)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    package = export_package(db.session(), found, current_app.config["CAPCOURSE_BASE_URL"], case_version, strict=strict)
    text = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(
            f"{found.key}: {len(package['CFItems'])} items, {len(package['CFAssociations'])} associations "
            f"written to {output} (CASE {case_version})."
        )
    else:
        click.echo(text, nl=False)


def _say(outcome: ImportOutcome) -> None:
    summary = report(outcome)
    items, associations = summary["items"], summary["associations"]
    click.echo(f"{summary['title']} ({summary['key']}, {summary['framework_id']}): {summary['status']}")
    click.echo(
        f"  items +{items['added']} ~{items['changed']} -{items['removed']}; "
        f"associations +{associations['added']} ~{associations['changed']} -{associations['removed']}; "
        f"{summary['external_references']} external reference(s)"
    )
    for entry in summary["items_removed"]:
        click.echo(f"  removed: {entry['label']}")
    for mapping in summary["mappings_removed"]:
        click.echo(f"  mapping removed: {mapping['target']} → {mapping['item']} ({mapping['depth']})")
    for warning in summary["warnings"]:
        click.echo(f"  warning: {warning}")


@case_cli.command("import")
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--confirm", is_flag=True, help="Apply an update of a framework that programmes map to.")
def import_(source: str, dry_run: bool, confirm: bool) -> None:
    """Import a CASE package from a FILE or an https URL (creates or updates the framework).

    An update of a framework that programmes map to is only reported until it
    is run again with --confirm; mappings to items it removes are then removed
    and kept in the mapping history.
    """
    limit = int(current_app.config["CAPCOURSE_CASE_MAX_BYTES"])
    try:
        if "://" in source:
            raw = read_url(source, limit)
        else:
            path = Path(source)
            if not path.is_file():
                raise click.ClickException(f"No file {source}.")
            if path.stat().st_size > limit:
                raise too_large(path.stat().st_size, limit)
            raw = path.read_bytes()
        plan = plan_import(db.session(), parse_package(raw))
        if plan.needs_confirmation and not (confirm or dry_run):
            _say(ImportOutcome("preview", plan, plan.framework_values["key"], plan.framework_values["title"], source))
            raise click.ClickException(
                f"{plan.framework_values['title']!r} has {plan.mappings} mapping(s): nothing was written. "
                "Check the changes above and run again with --confirm."
            )
        outcome = run_import(db.session(), plan, COMMAND_LINE, source, confirm=confirm or None, dry_run=dry_run)
    except PackageError as error:
        db.session.rollback()
        problems = "\n".join(f"  {path}: {' '.join(messages)}" for path, messages in (error.errors or {}).items())
        raise click.ClickException(f"{error.message}\n{problems}") from error
    except CapcourseError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    _say(outcome)
    if outcome.status in ("created", "updated"):
        db.session.commit()
    else:
        db.session.rollback()
        if dry_run:
            click.echo("Dry run: nothing was written.")
