"""Web actions on mappings: map from the tree, change depth, remove, the course grid, history."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.pages import page_principal
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity
from capcourse.catalogue.pages import activity_detail, allowed, module_detail, refuse
from capcourse.errors import CapcourseError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.frameworks.services import get_framework
from capcourse.mapping import services
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.screen import screen_frameworks
from capcourse.naturalsort import natural_key

pages = Blueprint("mapping_pages", __name__)

HISTORY_PAGE_SIZE = 100


def _uuids(values: list[str], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError as error:
        raise InvalidInputError(f"The form sent something that is not an identifier in {field}.") from error


def _target_url(target_kind: str, target_id: uuid.UUID) -> str:
    if target_kind == "module":
        return url_for("catalogue_pages.module_detail", module_id=target_id)
    return url_for("catalogue_pages.activity_detail", activity_id=target_id)


def _version() -> int | None:
    value = request.form.get("version", "")
    return int(value) if value.isdigit() else None


@pages.post("/<any(module, activity):kind>s/<uuid:target_id>/mappings")
@login_required
def map_target(kind: str, target_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    reader = catalogue.module_for_read if kind == "module" else catalogue.activity_for_read
    target = reader(db.session(), principal, target_id)
    page = (lambda: module_detail(target_id)) if kind == "module" else (lambda: activity_detail(target_id))
    try:
        item_ids = _uuids(request.form.getlist("item_ids"), "item_ids")
        mappings = services.map_items(db.session(), principal, target, item_ids, request.form.get("depth", ""))
    except CapcourseError as error:
        return refuse(error, page)
    db.session.commit()
    flash(f"Mapped {target.title!r} to {len(mappings)} item{'s' if len(mappings) != 1 else ''}.", "info")
    return redirect(_target_url(kind, target_id), 303)


def _mapping_page(mapping: Mapping) -> tuple[str, uuid.UUID]:
    if mapping.module_id is not None:
        return "module", mapping.module_id
    assert mapping.activity_id is not None
    return "activity", mapping.activity_id


@pages.post("/mappings/<uuid:mapping_id>/depth")
@login_required
def change_depth(mapping_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    mapping = services.mapping_for_read(db.session(), principal, mapping_id)
    kind, target_id = _mapping_page(mapping)
    try:
        services.change_depth(db.session(), principal, mapping, request.form.get("depth", ""), _version())
    except CapcourseError as error:
        return refuse(
            error, (lambda: module_detail(target_id)) if kind == "module" else (lambda: activity_detail(target_id))
        )
    db.session.commit()
    flash(f"{mapping.item.code or 'Item'} is now {mapping.depth}.", "info")
    return redirect(_target_url(kind, target_id), 303)


@pages.post("/mappings/<uuid:mapping_id>/delete")
@login_required
def remove(mapping_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    mapping = services.mapping_for_read(db.session(), principal, mapping_id)
    kind, target_id = _mapping_page(mapping)
    label = mapping.item.code or mapping.item.full_statement[:60]
    try:
        services.unmap(db.session(), principal, mapping, _version())
    except CapcourseError as error:
        return refuse(
            error, (lambda: module_detail(target_id)) if kind == "module" else (lambda: activity_detail(target_id))
        )
    db.session.commit()
    flash(f"Removed the mapping to {label}; the programme's history keeps it.", "info")
    return redirect(_target_url(kind, target_id), 303)


@pages.get("/courses/<uuid:course_id>/grid")
@login_required
def grid(course_id: uuid.UUID) -> str:
    principal = page_principal()
    course = catalogue.course_for_read(db.session(), principal, course_id)
    frameworks = screen_frameworks(db.session(), course.programme)
    chosen_id = request.args.get("framework")
    framework = (
        get_framework(db.session(), uuid.UUID(chosen_id)) if chosen_id and _is_uuid(chosen_id) else frameworks[0]
    )
    types = sorted(set(db.session.scalars(select(Item.item_type).where(Item.framework_id == framework.id))))
    item_type = request.args.get("item_type") or None
    query = select(Item).where(Item.framework_id == framework.id)
    if item_type:
        query = query.where(Item.item_type == item_type)
    items = sorted(db.session.scalars(query).all(), key=lambda i: (natural_key(i.code), i.position))
    module_ids = [m.id for m in course.modules]
    mapped = {
        (m.module_id, m.item_id): m
        for m in db.session.scalars(select(Mapping).where(Mapping.module_id.in_(module_ids)))
    }
    # Activity mappings count too: a module whose activity assesses an item covers it.
    through_activities: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[str, str]]] = {}
    for module_id, item_id, title, depth in db.session.execute(
        select(Activity.module_id, Mapping.item_id, Activity.title, Mapping.depth)
        .join(Mapping, Mapping.activity_id == Activity.id)
        .where(Activity.module_id.in_(module_ids))
        .order_by(Activity.position, Activity.title)
    ):
        through_activities.setdefault((module_id, item_id), []).append((title, depth))
    highlight = request.args.get("highlight")
    return render_template(
        "mapping/grid.html",
        course=course,
        programme=course.programme,
        frameworks=frameworks,
        framework=framework,
        item_types=types,
        item_type=item_type,
        items=items,
        mapped=mapped,
        through_activities=through_activities,
        highlight=highlight,
        depths=[d.value for d in Depth],
        can_edit=allowed(access.require_content_editor, db.session(), principal, course.programme),
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pages.post("/courses/<uuid:course_id>/grid")
@login_required
def grid_save(course_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    course = catalogue.course_for_read(db.session(), principal, course_id)
    back = url_for(
        ".grid",
        course_id=course.id,
        framework=request.form.get("framework"),
        item_type=request.form.get("item_type") or None,
    )
    try:
        pairs = []
        for cell in request.form.getlist("cells"):
            module_id, _, item_id = cell.partition(":")
            pairs.append((_uuids([module_id], "cells")[0], _uuids([item_id], "cells")[0]))
        result = services.map_grid(db.session(), principal, course, pairs, request.form.get("depth", ""))
    except CapcourseError as error:
        return refuse(error, lambda: grid(course_id))
    db.session.commit()
    flash(f"Grid saved: {result.created} new, {result.updated} changed depth, {result.unchanged} unchanged.", "info")
    return redirect(back, 303)


@pages.get("/programmes/<uuid:programme_id>/history")
@login_required
def history(programme_id: uuid.UUID) -> str:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    events = db.session.scalars(services.history_query(programme).limit(HISTORY_PAGE_SIZE)).all()
    return render_template("mapping/history.html", programme=programme, events=events, limit=HISTORY_PAGE_SIZE)
