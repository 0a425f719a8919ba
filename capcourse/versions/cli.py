"""``capcourse versions``: a programme's drift report between two framework versions, and applying it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
from flask.cli import AppGroup

from capcourse.accounts.access import command_line_principal
from capcourse.catalogue.models import Programme
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.frameworks.services import get_framework_by_key_or_id
from capcourse.versions import services
from capcourse.versions.schemas import report_dict


@click.group("versions", cls=AppGroup)
def versions_cli() -> None:
    """Move programmes between versions of a framework."""


def _load(programme_id: str, source: str, target: str) -> tuple[Programme, Framework, Framework]:
    session = db.session()
    try:
        programme = session.get(Programme, uuid.UUID(programme_id))
    except ValueError as error:
        raise click.BadParameter(f"{programme_id!r} is not a programme identifier.") from error
    if programme is None:
        raise click.ClickException(f"No programme has the identifier {programme_id}.")
    try:
        return programme, get_framework_by_key_or_id(session, source), get_framework_by_key_or_id(session, target)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error


@versions_cli.command("drift")
@click.argument("programme_id")
@click.option("--from", "source", required=True, help="Key or identifier of the version mapped to now.")
@click.option("--to", "target", required=True, help="Key or identifier of the version to move to.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as the API gives it.")
def drift(programme_id: str, source: str, target: str, as_json: bool) -> None:
    """Show the drift report: each mapping, what became of its item, the proposal and why."""
    programme, old, new = _load(programme_id, source, target)
    try:
        report = services.drift_report(db.session(), command_line_principal(), programme, old, new)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    if as_json:
        click.echo(json.dumps(report_dict(report), default=str, indent=1, ensure_ascii=False))
        return
    click.echo(f"{programme.title}: {services.framework_label(old)} -> {services.framework_label(new)}")
    for entry in report.entries:
        proposals = ", ".join(services.code_label(p.item, new) for p in entry.proposals) or "(keep)"
        click.echo(
            f"{entry.mapping.id}  {entry.target_kind} {entry.target_title!r}  "
            f"{services.code_label(entry.item, old)} [{entry.change}] -> {proposals}"
        )
        click.echo(f"    {entry.summary}")
    counts = ", ".join(f"{n} {change}" for change, n in report.counts.items())
    click.echo(f"{len(report.entries)} mappings: {counts}")
    click.echo(
        f"Apply with: capcourse versions apply {programme.id} --from {old.key} --to {new.key} "
        f"--confirm {report.confirm_token}"
    )


@versions_cli.command("apply")
@click.argument("programme_id")
@click.option("--from", "source", required=True, help="Key or identifier of the version mapped to now.")
@click.option("--to", "target", required=True, help="Key or identifier of the version to move to.")
@click.option("--confirm", "token", required=True, help="The confirm token the drift report printed.")
@click.option("--keep", multiple=True, help="A mapping identifier to leave on the older version (repeatable).")
@click.option("--drop", multiple=True, help="A mapping identifier to remove instead of moving (repeatable).")
@click.option(
    "--decisions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='A JSON file of decisions as the API takes them: [{"mapping_id", "action", "item_ids"}].',
)
def apply(
    programme_id: str,
    source: str,
    target: str,
    token: str,
    keep: tuple[str, ...],
    drop: tuple[str, ...],
    decisions: Path | None,
) -> None:
    """Apply the reviewed drift report in one step (mappings without a decision take the proposal)."""
    programme, old, new = _load(programme_id, source, target)
    try:
        chosen = [services.Decision(uuid.UUID(m), services.Action.KEEP) for m in keep]
        chosen += [services.Decision(uuid.UUID(m), services.Action.DROP) for m in drop]
        if decisions is not None:
            for raw in json.loads(decisions.read_text(encoding="utf-8")):
                chosen.append(
                    services.Decision(
                        uuid.UUID(raw["mapping_id"]),
                        raw["action"],
                        tuple(uuid.UUID(i) for i in raw.get("item_ids", [])),
                    )
                )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise click.BadParameter(f"The decisions are not valid: {error}") from error
    try:
        move = services.apply_drift(db.session(), command_line_principal(), programme, old, new, token, chosen)
    except CapcourseError as error:
        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.errors or {}).items())
        raise click.ClickException(f"{error.message} {details}".strip()) from error
    db.session.commit()
    summary = move.summary
    click.echo(
        f"Moved {summary['moved']} mappings from {move.from_label} to {move.to_label}: {summary['created']} created, "
        f"{summary['deepened']} deepened, {summary['kept']} kept, {summary['dropped']} removed."
    )
