"""Suggestions on the pages where people map: a module's or activity's page, and the curriculum-area links.

The catalogue's page and the areas page sit below this package, so they show
the panels through template globals this package registers
(``suggestion_panel`` and ``area_suggestions``); without this package the
pages simply have no panel.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.models import Role
from capcourse.accounts.pages import page_principal
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Module
from capcourse.catalogue.pages import activity_detail, module_detail, refuse
from capcourse.errors import CapcourseError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.frameworks.services import get_item
from capcourse.mapping.models import Depth
from capcourse.packages.settings import settings_from
from capcourse.suggest import services
from capcourse.suggest.documents import KINDS, document_text

pages = Blueprint("suggest_pages", __name__)

#: How many suggestions a page shows.
SHOWN = 8


def suggestion_panel(kind: str, target: Module | Activity, can_edit: bool) -> Markup:
    """The "Suggested items" panel of a module's or activity's page."""
    principal = page_principal()
    extra = g.get("suggestion_text")
    try:
        found = services.for_target(db.session(), principal, target, SHOWN, extra_text=extra, package_dir=package_dir())
    except CapcourseError as error:
        return Markup(render_template("suggest/_panel.html", error=error.message, kind=kind, target=target))
    return Markup(
        render_template(
            "suggest/_panel.html",
            suggestions=found,
            kind=kind,
            target=target,
            can_edit=can_edit,
            depths=[d.value for d in Depth],
            document=g.get("suggestion_document"),
            kinds=", ".join(KINDS),
        )
    )


def area_suggestions(item: Item) -> list[services.Suggestion]:
    """Suggested curriculum areas for an item on the areas page (none when it has no areas to choose from)."""
    try:
        return services.areas_for_item(db.session(), item.id, 2)
    except CapcourseError:
        return []


def _target(kind: str, target_id: uuid.UUID) -> Module | Activity:
    reader = catalogue.module_for_read if kind == "module" else catalogue.activity_for_read
    return reader(db.session(), page_principal(), target_id)


def _page(kind: str, target_id: uuid.UUID) -> str:
    page: str = module_detail(target_id) if kind == "module" else activity_detail(target_id)
    return page


def _back(kind: str, target_id: uuid.UUID) -> Response:
    if kind == "module":
        url = url_for("catalogue_pages.module_detail", module_id=target_id, _anchor="suggestions-heading")
    else:
        url = url_for("catalogue_pages.activity_detail", activity_id=target_id, _anchor="suggestions-heading")
    return redirect(url, 303)


def _form_uuid(name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.form.get(name, ""))
    except ValueError as error:
        raise InvalidInputError(f"The form sent no valid {name}.") from error


def _form_rank() -> tuple[int | None, float | None]:
    rank = request.form.get("rank", "")
    try:
        score = float(request.form.get("score", ""))
    except ValueError:
        score = None
    if score is not None and not -100 <= score <= 100:
        score = None
    return (int(rank) if rank.isdigit() and 0 < int(rank) <= services.MAX_LIMIT else None), score


@pages.post("/<any(module, activity):kind>s/<uuid:target_id>/suggestions/confirm")
@login_required
def confirm(kind: str, target_id: uuid.UUID) -> Response | tuple[str, int]:
    """Map the target to a suggested item, at the chosen depth."""
    target = _target(kind, target_id)
    try:
        rank, score = _form_rank()
        mapping = services.confirm_mapping(
            db.session(),
            page_principal(),
            target,
            _form_uuid("item_id"),
            request.form.get("depth", ""),
            rank=rank,
            score=score,
        )
    except CapcourseError as error:
        return refuse(error, lambda: _page(kind, target_id))
    db.session.commit()
    flash(f"Mapped {target.title!r} to {mapping.item.code or 'the item'} ({mapping.depth}), as suggested.", "info")
    return _back(kind, target_id)


@pages.post("/<any(module, activity):kind>s/<uuid:target_id>/suggestions/reject")
@login_required
def reject(kind: str, target_id: uuid.UUID) -> Response | tuple[str, int]:
    """Turn a suggested item down: it is not suggested for this target again."""
    target = _target(kind, target_id)
    try:
        rank, score = _form_rank()
        row = services.reject_mapping(
            db.session(), page_principal(), target, _form_uuid("item_id"), rank=rank, score=score
        )
    except CapcourseError as error:
        return refuse(error, lambda: _page(kind, target_id))
    db.session.commit()
    flash(f"{row.item.code or 'The item'} will not be suggested for {target.title!r} again.", "info")
    return _back(kind, target_id)


@pages.post("/<any(module, activity):kind>s/<uuid:target_id>/suggestions/document")
@login_required
def from_document(kind: str, target_id: uuid.UUID) -> tuple[str, int] | str:
    """Suggest from an uploaded document (or pasted text) as well: the page again, nothing stored."""
    target = _target(kind, target_id)
    try:
        access.programme_for_read(db.session(), page_principal(), catalogue.programme_of(target).id)
        upload = request.files.get("document")
        pasted = request.form.get("text", "").strip()
        if upload is not None and upload.filename:
            text = document_text(upload.filename, upload.read(services.MAX_EXTRA_TEXT * 4 + 1))
            label = upload.filename
        elif pasted:
            text, label = pasted, "the pasted text"
        else:
            raise InvalidInputError("Choose a document or paste some text to suggest from.")
        if not text.strip():
            raise InvalidInputError(f"{label} has no text to suggest from.")
    except CapcourseError as error:
        return refuse(error, lambda: _page(kind, target_id))
    g.suggestion_text = text[: services.MAX_EXTRA_TEXT]
    g.suggestion_document = label
    return _page(kind, target_id)


@pages.post("/frameworks/items/<uuid:item_id>/area-suggestions/<any(confirm, reject):action>")
@login_required
def area_decision(item_id: uuid.UUID, action: str) -> Response | tuple[str, int]:
    """An admin confirms (adds as a confirmed link) or rejects a suggested curriculum area."""
    from capcourse.frameworks.area_pages import area_links

    if current_user.role != Role.ADMIN:
        abort(403, "Only administrators change curriculum-area links.")
    item = get_item(db.session(), item_id)
    actor = page_principal().name
    try:
        area_id = _form_uuid("area_id")
        if action == "confirm":
            services.confirm_area(db.session(), actor, item.id, area_id)
        else:
            services.reject_area(db.session(), actor, item.id, area_id)
    except CapcourseError as error:
        return refuse(error, lambda: area_links(item.framework_id))
    db.session.commit()
    area = db.session.get(Item, area_id)
    name = area.full_statement if area else "the area"
    flash(
        f"{item.code}: {name} {'added as a confirmed link' if action == 'confirm' else 'will not be suggested again'}.",
        "info",
    )
    return redirect(
        url_for("framework_pages.area_links", framework_id=item.framework_id, _anchor=f"item-{item.id}"), 303
    )


def package_dir() -> Path:
    """Where this app stores SCORM packages: the services read their metadata there."""
    return settings_from(current_app.config).folder
