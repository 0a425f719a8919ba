"""The crosswalk editor: two frameworks side by side, the links between their items, and forms to change them.

Everyone signed in reads; admins and leads create, confirm, edit, delete and import.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from capcourse.accounts.pages import page_principal
from capcourse.catalogue.pages import refuse
from capcourse.errors import CapcourseError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks import crosswalks, services
from capcourse.frameworks.models import Association, Framework, Item

pages = Blueprint("crosswalk_pages", __name__)

#: What the links table can show.
SHOW = {
    "all": None,
    "review": crosswalks.TO_REVIEW,
    "counted": tuple(sorted(crosswalks.COUNTED)),
}


@dataclass(frozen=True)
class Equivalent:
    """A suggested equivalent of an item, as the editor shows it."""

    item: Item
    rank: int
    score: float
    why: str
    #: Association types already joining the two items.
    linked: list[str]


@dataclass(frozen=True)
class SuggestionHooks:
    """What a suggestion service offers the editor (frameworks sit below it, so it registers itself).

    ``equivalents(session, item_id, framework_id, limit)``: the likely equivalents of an item in the other
    framework, best first. ``decide(session, principal, item_id, other_id, decision)`` records a person's
    ``confirmed`` or ``rejected``, so later rankings learn from it.
    """

    equivalents: Callable[[Session, uuid.UUID, uuid.UUID, int], list[Equivalent]]
    decide: Callable[[Session, Principal, uuid.UUID, uuid.UUID, str], None]


HOOKS_KEY = "capcourse.crosswalk_suggestions"
SUGGESTIONS = 5


def register_suggestions(app: Flask, hooks: SuggestionHooks) -> None:
    """Let a suggestion service offer likely equivalents on ``app``'s editor (see :class:`SuggestionHooks`)."""
    app.extensions[HOOKS_KEY] = hooks


def _hooks() -> SuggestionHooks | None:
    hooks: SuggestionHooks | None = current_app.extensions.get(HOOKS_KEY)
    return hooks


def _editor() -> str:
    if current_user.role not in (Role.ADMIN, Role.LEAD):
        abort(403, "Only administrators and leads change crosswalks.")
    return page_principal().name


def _uuid(value: str | None, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError as error:
        raise InvalidInputError(f"Choose {name}.", {name: ["Missing or not an identifier."]}) from error


def _flat(framework: Framework) -> list[tuple[Item, int]]:
    """The framework's items in tree order with their depth."""
    found: list[tuple[Item, int]] = []

    def walk(nodes: list[services.TreeNode], level: int) -> None:
        for node in nodes:
            found.append((node.item, level))
            walk(node.children, level + 1)

    walk(services.item_tree(db.session(), framework), 0)
    return found


@pages.get("/crosswalks")
@login_required
def crosswalk_index() -> str | Response:
    left, right = request.args.get("left"), request.args.get("right")
    if left or right:
        return redirect(
            url_for(
                "crosswalk_pages.crosswalk_editor",
                left_id=_uuid(left, "the framework on the left"),
                right_id=_uuid(right, "the framework on the right"),
            ),
            303,
        )
    return render_template(
        "frameworks/crosswalks.html",
        crosswalks=crosswalks.list_crosswalks(db.session()),
        frameworks=[s.framework for s in services.list_frameworks(db.session())],
        provenances=crosswalks.PROVENANCES,
    )


@pages.get("/crosswalks/<uuid:left_id>/<uuid:right_id>")
@login_required
def crosswalk_editor(left_id: uuid.UUID, right_id: uuid.UUID) -> str:
    left, right = crosswalks.get_pair(db.session(), left_id, right_id)
    suggesting, suggestions = _suggestions_for(left, right, request.args.get("suggest"))
    show = request.args.get("show", "all")
    if show not in SHOW:
        raise InvalidInputError(f"show must be all, review or counted, not {show!r}.")
    everything = crosswalks.list_associations(db.session(), left, right)
    wanted = SHOW[show]
    shown = [a for a in everything if wanted is None or a.provenance in wanted]
    link_counts: dict[uuid.UUID, int] = {}
    for association in everything:
        for end in (association.origin_item_id, association.destination_item_id):
            if end is not None:
                link_counts[end] = link_counts.get(end, 0) + 1
    return render_template(
        "frameworks/crosswalk.html",
        left=left,
        right=right,
        left_items=_flat(left),
        right_items=_flat(right),
        associations=[(a, *crosswalks.sides(a, left)) for a in shown],
        total=len(everything),
        to_review=sum(1 for a in everything if a.provenance in crosswalks.TO_REVIEW),
        link_counts=link_counts,
        show=show,
        can_edit=current_user.role in (Role.ADMIN, Role.LEAD),
        types=crosswalks.CROSSWALK_TYPES,
        provenances=crosswalks.PROVENANCES,
        editable=crosswalks.editable,
        read_only=crosswalks.READ_ONLY,
        suggesting=suggesting,
        suggestions=suggestions,
        can_suggest=_hooks() is not None,
    )


def _suggestions_for(left: Framework, right: Framework, wanted: str | None) -> tuple[Item | None, list[Equivalent]]:
    """The item whose likely equivalents were asked for (``?suggest=``), and them, from the other framework."""
    hooks = _hooks()
    if not wanted or hooks is None:
        return None, []
    item = db.session.get(Item, _uuid(wanted, "suggest"))
    if item is None or item.framework_id not in (left.id, right.id):
        raise InvalidInputError("suggest must name an item of one of the two frameworks.", {"suggest": ["Unknown."]})
    other = right if item.framework_id == left.id else left
    return item, hooks.equivalents(db.session(), item.id, other.id, SUGGESTIONS)


def _back(left_id: uuid.UUID, right_id: uuid.UUID, anchor: str | None = None) -> Response:
    show, suggest = request.form.get("show"), request.form.get("suggest")
    return redirect(
        url_for(
            "crosswalk_pages.crosswalk_editor",
            left_id=left_id,
            right_id=right_id,
            show=show if show in SHOW and show != "all" else None,
            suggest=suggest or None,
            _anchor="suggestions" if suggest else anchor,
        ),
        303,
    )


@pages.post("/crosswalks/<uuid:left_id>/<uuid:right_id>")
@login_required
def crosswalk_link(left_id: uuid.UUID, right_id: uuid.UUID) -> Response | tuple[str, int]:
    actor = _editor()
    try:
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        left_item = _uuid(request.form.get("left_item"), "an item on the left")
        right_item = _uuid(request.form.get("right_item"), "an item on the right")
        origin, destination = (
            (right_item, left_item) if request.form.get("direction") == "right-to-left" else (left_item, right_item)
        )
        association_type = request.form.get("type") or "isRelatedTo"
        suggested, hooks = request.form.get("suggest"), _hooks()
        existing = crosswalks.find_link(db.session(), association_type, origin, destination) if suggested else None
        if existing is not None:
            # Accepting a suggestion that is already a link awaiting review confirms that link.
            association = existing
            if existing.provenance in crosswalks.TO_REVIEW:
                crosswalks.confirm_association(db.session(), existing, actor)
        else:
            association = crosswalks.create_association(
                db.session(),
                left,
                right,
                origin,
                destination,
                association_type,
                actor,
                strength=request.form.get("strength"),
                provenance=request.form.get("provenance") or "confirmed",
                note=request.form.get("note"),
            )
        if suggested and hooks is not None:
            # Accepting a suggestion: the link is made (or confirmed) here, and the suggestion service learns of it.
            subject = _uuid(suggested, "suggest")
            other = right_item if subject == left_item else left_item
            hooks.decide(db.session(), page_principal(), subject, other, "confirmed")
    except CapcourseError as error:
        return refuse(error, lambda: crosswalk_editor(left_id, right_id))
    db.session.commit()
    flash("Link saved.", "info")
    return _back(left_id, right_id, f"link-{association.id}")


@pages.post("/crosswalks/<uuid:left_id>/<uuid:right_id>/suggestions/reject")
@login_required
def crosswalk_reject(left_id: uuid.UUID, right_id: uuid.UUID) -> Response | tuple[str, int]:
    """A person turns down a suggested equivalent: recorded by the suggestion service; no link is made."""
    _editor()
    try:
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        hooks = _hooks()
        if hooks is None:
            raise InvalidInputError("No suggestion service is running.")
        subject = _uuid(request.form.get("suggest"), "suggest")
        other = _uuid(request.form.get("other"), "other")
        for identifier in (subject, other):
            found = db.session.get(Item, identifier)
            if found is None or found.framework_id not in (left.id, right.id):
                raise InvalidInputError("Both items must belong to the two frameworks.")
        hooks.decide(db.session(), page_principal(), subject, other, "rejected")
    except CapcourseError as error:
        return refuse(error, lambda: crosswalk_editor(left_id, right_id))
    db.session.commit()
    flash("Suggestion rejected: it will rank lower.", "info")
    return _back(left_id, right_id)


def _sides_of(association: Association) -> tuple[uuid.UUID, uuid.UUID]:
    """The crosswalk page to go back to: the form's two frameworks, else the link's own ends."""
    assert association.destination is not None
    try:
        left, right = uuid.UUID(request.form.get("left", "")), uuid.UUID(request.form.get("right", ""))
    except ValueError:
        return association.origin.framework_id, association.destination.framework_id
    if {left, right} != {association.origin.framework_id, association.destination.framework_id}:
        return association.origin.framework_id, association.destination.framework_id
    return left, right


@pages.post("/associations/<uuid:association_id>/<any(confirm, edit, delete):action>")
@login_required
def crosswalk_change(association_id: uuid.UUID, action: str) -> Response | tuple[str, int]:
    actor = _editor()
    association = crosswalks.get_association(db.session(), association_id)
    left_id, right_id = _sides_of(association)
    try:
        if action == "confirm":
            crosswalks.confirm_association(db.session(), association, actor)
            message = "Link confirmed: coverage counts it."
        elif action == "edit":
            changes = {name: request.form.get(name, "") for name in ("type", "strength", "provenance", "note")}
            crosswalks.update_association(db.session(), association, changes, actor)
            message = "Link changed."
        else:
            crosswalks.delete_association(db.session(), association, actor, request.form.get("note"))
            message = "Link deleted."
    except CapcourseError as error:
        return refuse(error, lambda: crosswalk_editor(left_id, right_id))
    db.session.commit()
    flash(message, "info")
    return _back(left_id, right_id, None if action == "delete" else f"link-{association_id}")


@pages.post("/crosswalks/<uuid:left_id>/<uuid:right_id>/import")
@login_required
def crosswalk_import(left_id: uuid.UUID, right_id: uuid.UUID) -> Response | tuple[str, int]:
    actor = _editor()
    upload = request.files.get("file")
    try:
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        if upload is None or not upload.filename:
            raise InvalidInputError("Choose a CSV or CASE JSON file to import.", {"file": ["Missing."]})
        raw = upload.read()
        if not raw.strip():
            raise InvalidInputError("The file is empty.", {"file": ["Empty."]})
        if upload.filename.lower().endswith(".json") or raw.lstrip()[:1] == b"{":
            result = crosswalks.import_case(db.session(), left, right, raw, actor)
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise InvalidInputError("The CSV is not UTF-8.") from error
            result = crosswalks.import_csv(db.session(), left, right, text, actor)
    except CapcourseError as error:
        if error.errors:
            # The first problems by line or JSON path, so the person sees what to fix.
            details = [f"{where}: {'; '.join(map(str, what))}" for where, what in list(error.errors.items())[:3]]
            error.message = f"{error.message} ({' · '.join(details)})"
        return refuse(error, lambda: crosswalk_editor(left_id, right_id))
    db.session.commit()
    flash(
        f"Imported: {result.created} created, {result.updated} changed, {result.unchanged} unchanged, "
        f"{result.removed} removed.",
        "info",
    )
    return _back(left_id, right_id)
