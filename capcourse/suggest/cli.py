"""``capcourse suggest``: suggestions from the command line, and confirming or rejecting them in batches."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.accounts.access import command_line_principal
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Module
from capcourse.errors import CapcourseError
from capcourse.extensions import db
from capcourse.frameworks.services import get_framework_by_key_or_id
from capcourse.mapping.models import Depth
from capcourse.packages.settings import settings_from
from capcourse.suggest import services
from capcourse.suggest.documents import document_text


@click.group("suggest", cls=AppGroup)
def suggest_cli() -> None:
    """Suggested mappings, equivalents and curriculum areas (nothing is applied without --confirm)."""


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not a valid {what} identifier.") from error


def _print(found: list[services.Suggestion], as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "rank": s.rank,
                        "score": s.score,
                        "item_id": str(s.item.id),
                        "code": s.item.code,
                        "framework": s.item.framework.key,
                        "version": s.item.framework.version,
                        "statement": s.item.abbreviated_statement or s.item.full_statement,
                        "why": s.why,
                        "linked": s.linked,
                    }
                    for s in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        click.echo("No suggestion: nothing shares words with the text.")
    for s in found:
        version = f" ({s.item.framework.version})" if s.item.framework.version else ""
        name = (s.item.abbreviated_statement or s.item.full_statement)[:90]
        linked = f" [linked: {', '.join(s.linked)}]" if s.linked else ""
        click.echo(f"{s.rank:>2}. {s.score:5.2f}  {s.item.code or s.item.id}{version}  {name}{linked}")
        click.echo(f"           {s.why}")


def _target(kind: str, target_id: str) -> Module | Activity:
    reader = catalogue.module_for_read if kind == "module" else catalogue.activity_for_read
    try:
        return reader(db.session(), command_line_principal(), _uuid(target_id, kind))
    except CapcourseError as error:
        raise click.ClickException(error.message) from error


def _target_command(kind: str) -> None:
    @suggest_cli.command(kind)
    @click.argument("target_id")
    @click.option(
        "--limit", default=services.DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, services.MAX_LIMIT)
    )
    @click.option(
        "--document",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Suggest from this document too (.txt, .md, .html, .docx).",
    )
    @click.option("--confirm", "confirm", multiple=True, help="Map to this suggested item (id or rank); repeatable.")
    @click.option("--reject", "reject", multiple=True, help="Reject this suggested item (id or rank); repeatable.")
    @click.option(
        "--depth", type=click.Choice([d.value for d in Depth]), default=Depth.INTRODUCED.value, show_default=True
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def command(
        target_id: str,
        limit: int,
        document: Path | None,
        confirm: tuple[str, ...],
        reject: tuple[str, ...],
        depth: str,
        as_json: bool,
    ) -> None:
        target = _target(kind, target_id)
        principal = command_line_principal()
        try:
            extra = document_text(document.name, document.read_bytes()) if document else None
            found = services.for_target(
                db.session(), principal, target, limit, extra_text=extra, package_dir=package_dir()
            )
            by_rank = {str(s.rank): s for s in found}

            def pick(value: str) -> tuple[uuid.UUID, services.Suggestion | None]:
                if value in by_rank:
                    return by_rank[value].item.id, by_rank[value]
                item_id = _uuid(value, "item")
                return item_id, next((s for s in found if s.item.id == item_id), None)

            for value in confirm:
                item_id, shown = pick(value)
                mapping = services.confirm_mapping(
                    db.session(),
                    principal,
                    target,
                    item_id,
                    depth,
                    rank=shown.rank if shown else None,
                    score=shown.score if shown else None,
                )
                click.echo(f"Mapped {target.title!r} to {mapping.item.code or mapping.item.id} ({depth}).")
            for value in reject:
                item_id, shown = pick(value)
                services.reject_mapping(
                    db.session(),
                    principal,
                    target,
                    item_id,
                    rank=shown.rank if shown else None,
                    score=shown.score if shown else None,
                )
                click.echo(f"Rejected {item_id} for {target.title!r}.")
        except CapcourseError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from error
        if confirm or reject:
            db.session.commit()
        else:
            _print(found, as_json)

    command.__doc__ = (
        f"Framework items likely to apply to a {kind}, best first; --confirm or --reject them (by rank or id)."
    )


_target_command("module")
_target_command("activity")


@suggest_cli.command("equivalents")
@click.argument("item_id")
@click.argument("framework")
@click.option("--limit", default=services.DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, services.MAX_LIMIT))
@click.option("--item-type", help="Only items of this type (Paragraph, Theme …).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def equivalents(item_id: str, framework: str, limit: int, item_type: str | None, as_json: bool) -> None:
    """Items of FRAMEWORK (key or id) likely equivalent to ITEM_ID, best first."""
    try:
        target = get_framework_by_key_or_id(db.session(), framework)
        found = services.equivalents(db.session(), _uuid(item_id, "item"), target.id, limit, item_type=item_type)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    _print(found, as_json)


@suggest_cli.command("areas")
@click.argument("item_id")
@click.option("--limit", default=3, show_default=True, type=click.IntRange(1, services.MAX_LIMIT))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def area_command(item_id: str, limit: int, as_json: bool) -> None:
    """Curriculum areas likely to hold ITEM_ID (a Frontline effective attribute), best first."""
    try:
        found = services.areas_for_item(db.session(), _uuid(item_id, "item"), limit)
    except CapcourseError as error:
        raise click.ClickException(error.message) from error
    _print(found, as_json)


def package_dir() -> Path:
    """Where this app stores SCORM packages: the services read their metadata there."""
    return settings_from(current_app.config).folder
