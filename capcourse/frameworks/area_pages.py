"""The page where people see, and admins edit, which curriculum areas each item belongs to."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from capcourse.accounts.models import Role
from capcourse.accounts.pages import page_principal
from capcourse.catalogue.pages import refuse
from capcourse.errors import CapcourseError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks import areas, legend, services
from capcourse.frameworks.models import Framework, Item
from capcourse.frameworks.pages import framework_detail, pages


def _admin() -> str:
    if current_user.role != Role.ADMIN:
        abort(403, "Only administrators change curriculum-area links.")
    return page_principal().name


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError as error:
        raise InvalidInputError(f"Choose a valid {field}.") from error


def _leaves(framework: Framework, linked: set[uuid.UUID]) -> list[Item]:
    """The items an area link is about, in tree order: the leaves, and any other item already linked."""
    found: list[Item] = []

    def walk(nodes: list[services.TreeNode]) -> None:
        for node in nodes:
            if not node.children or node.item.id in linked:
                found.append(node.item)
            walk(node.children)

    walk(services.item_tree(db.session(), framework))
    return found


@pages.get("/frameworks/<uuid:framework_id>/areas")
@login_required
def area_links(framework_id: uuid.UUID) -> str:
    framework = services.get_framework(db.session(), framework_id)
    links = areas.list_links(db.session(), framework)
    by_item: dict[uuid.UUID, list[areas.AreaLink]] = {}
    for link in links:
        by_item.setdefault(link.item_id, []).append(link)
    choices = areas.area_choices(db.session(), framework)
    return render_template(
        "frameworks/areas.html",
        framework=framework,
        items=_leaves(framework, set(by_item)),
        by_item=by_item,
        areas=choices,
        counts={a.id: sum(1 for link in links if link.area_item_id == a.id) for a in choices},
        is_admin=current_user.role == Role.ADMIN,
        provenances=areas.LINK_PROVENANCES,
    )


def _back(framework_id: uuid.UUID, item_id: uuid.UUID | None = None) -> Response:
    anchor = f"item-{item_id}" if item_id else None
    return redirect(url_for("framework_pages.area_links", framework_id=framework_id, _anchor=anchor), 303)


@pages.post("/frameworks/<uuid:framework_id>/areas")
@login_required
def area_link_add(framework_id: uuid.UUID) -> Response | tuple[str, int]:
    actor = _admin()
    framework = services.get_framework(db.session(), framework_id)
    try:
        item = _uuid(request.form.get("item_id"), "item")
        areas.set_link(
            db.session(),
            framework,
            item,
            _uuid(request.form.get("area_id"), "curriculum area"),
            request.form.get("rationale", ""),
            actor,
            request.form.get("provenance") or "confirmed",
        )
    except CapcourseError as error:
        return refuse(error, lambda: area_links(framework_id))
    db.session.commit()
    flash("Curriculum-area link saved.", "info")
    return _back(framework_id, item)


@pages.post("/frameworks/<uuid:framework_id>/areas/<uuid:link_id>/<any(confirm, remove):action>")
@login_required
def area_link_change(framework_id: uuid.UUID, link_id: uuid.UUID, action: str) -> Response | tuple[str, int]:
    actor = _admin()
    framework = services.get_framework(db.session(), framework_id)
    try:
        link = areas.get_link(db.session(), framework, link_id)
        item = link.item_id
        if action == "confirm":
            areas.confirm_link(db.session(), link, actor)
        else:
            areas.remove_link(db.session(), link, actor)
    except CapcourseError as error:
        return refuse(error, lambda: area_links(framework_id))
    db.session.commit()
    flash("Link confirmed." if action == "confirm" else "Link removed.", "info")
    return _back(framework_id, item)


@pages.post("/frameworks/<uuid:framework_id>/areas/import")
@login_required
def area_link_import(framework_id: uuid.UUID) -> Response | tuple[str, int]:
    actor = _admin()
    framework = services.get_framework(db.session(), framework_id)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInputError("Choose a CSV file to import.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInputError("The CSV is not UTF-8.") from error
        result = areas.import_csv(db.session(), framework, text, actor)
    except CapcourseError as error:
        return refuse(error, lambda: area_links(framework_id))
    db.session.commit()
    flash(f"Imported: {result.set} link(s) set, {result.removed} removed.", "info")
    return _back(framework_id)


@pages.post("/frameworks/<uuid:framework_id>/icon-legend")
@login_required
def icon_legend_set(framework_id: uuid.UUID) -> Response | tuple[str, int]:
    """Set the areas an icon stands for (admin): confirmed in the legend, suggested as area links."""
    actor = _admin()
    framework = services.get_framework(db.session(), framework_id)
    icon = request.form.get("icon", "")
    try:
        chosen = [_uuid(value, "area") for value in request.form.getlist("areas")]
        if not request.form.get("rationale", "").strip():
            raise InvalidInputError("Say why the icon stands for these areas.")
        legend.set_icon_areas(db.session(), framework, icon, chosen, request.form["rationale"].strip(), actor)
    except CapcourseError as error:
        return refuse(error, lambda: framework_detail(framework_id))
    db.session.commit()
    flash(f"The legend of {icon} is saved; items marked with it got suggested area links.", "info")
    return redirect(url_for("framework_pages.framework_detail", framework_id=framework_id), 303)
