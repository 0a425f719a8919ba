"""Web pages for programmes, courses, modules and activities."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.accounts.pages import page_principal
from capcourse.catalogue import identifiers_carried, services
from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.catalogue.schemas import (
    ContentCreateSchema,
    ContentUpdateSchema,
    MemberAddSchema,
    ProgrammeCreateSchema,
    ProgrammeUpdateSchema,
)
from capcourse.errors import CapcourseError, ForbiddenError
from capcourse.extensions import db
from capcourse.frameworks.services import list_frameworks
from capcourse.mapping.screen import mapping_screen

pages = Blueprint("catalogue_pages", __name__)


def load_form(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Validate form fields with the API's schema, so pages and API accept the same input.

    :raises FormError: with one readable sentence per invalid field.
    """
    try:
        return dict(schema.load(data))
    except ValidationError as error:
        messages = error.normalized_messages()  # type: ignore[no-untyped-call]
        raise FormError(
            "; ".join(
                f"{field.replace('_', ' ').capitalize()}: {' '.join(map(str, msgs))}"
                for field, msgs in messages.items()
            )
        ) from error


class FormError(Exception):
    """A form was filled in wrongly; the message says how, for the person."""


def allowed(check: Any, *args: Any) -> bool:
    """Whether an access check passes, for showing or hiding forms."""
    try:
        check(*args)
    except ForbiddenError:
        return False
    return True


def refuse(error: Exception, page: Callable[[], str]) -> tuple[str, int]:
    """Show the page again with the reason, as a 4xx, and write nothing."""
    db.session.rollback()
    status = error.status_code if isinstance(error, CapcourseError) else 422
    flash(error.message if isinstance(error, CapcourseError) else str(error), "error")
    return page(), int(status)


@pages.get("/programmes")
@login_required
def programme_list() -> str:
    principal = page_principal()
    programmes = db.session.scalars(
        access.readable_programmes(principal)
        .order_by(Programme.title)
        .options(selectinload(Programme.frameworks), selectinload(Programme.courses))
    ).all()
    return render_template(
        "catalogue/programmes.html",
        programmes=programmes,
        can_create=allowed(access.require_programme_creator, principal),
        frameworks=[s.framework for s in list_frameworks(db.session())],
    )


@pages.post("/programmes")
@login_required
def programme_create() -> Response | tuple[str, int]:
    principal = page_principal()
    try:
        fields = load_form(
            ProgrammeCreateSchema(),
            {
                "title": request.form.get("title", "").strip(),
                "description": request.form.get("description", "").strip() or None,
                "framework_ids": request.form.getlist("framework_ids"),
            },
        )
        programme = services.create_programme(db.session(), principal, **fields)
    except (FormError, CapcourseError) as error:
        return refuse(error, programme_list)
    db.session.commit()
    flash(f"Programme {programme.title!r} created.", "info")
    return redirect(url_for(".programme_detail", programme_id=programme.id), 303)


def _programme_context(principal: Principal, programme: Programme) -> dict[str, Any]:
    session = db.session()
    return {
        "programme": programme,
        "members": services.list_members(session, principal, programme),
        "can_edit": allowed(access.require_content_editor, session, principal, programme),
        "can_manage": allowed(access.require_programme_manager, session, principal, programme),
        "all_frameworks": [s.framework for s in list_frameworks(session)],
    }


@pages.get("/programmes/<uuid:programme_id>")
@login_required
def programme_detail(programme_id: uuid.UUID) -> str:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    services.load_contents(db.session(), programme)
    return render_template("catalogue/programme.html", **_programme_context(principal, programme))


@pages.post("/programmes/<uuid:programme_id>/courses")
@login_required
def course_create(programme_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    try:
        fields = load_form(ContentCreateSchema(), _content_form())
        course = services.create_course(db.session(), principal, programme, fields)
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: programme_detail(programme.id))
    db.session.commit()
    flash(f"Course {course.title!r} added.", "info")
    return redirect(url_for(".course_detail", course_id=course.id), 303)


@pages.post("/programmes/<uuid:programme_id>/members")
@login_required
def member_add(programme_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    target = url_for(".programme_detail", programme_id=programme.id)
    try:
        fields = load_form(
            MemberAddSchema(), {"email": request.form.get("email", "").strip(), "role": request.form.get("role", "")}
        )
        membership = services.add_member(db.session(), principal, programme, fields["email"], fields["role"])
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: programme_detail(programme.id))
    db.session.commit()
    flash(f"{membership.user.name} is now {membership.role} of this programme.", "info")
    return redirect(target, 303)


def _content_form() -> dict[str, Any]:
    return {
        "title": request.form.get("title", "").strip(),
        "description": request.form.get("description", "").strip() or None,
    }


@pages.get("/courses/<uuid:course_id>")
@login_required
def course_detail(course_id: uuid.UUID) -> str:
    principal = page_principal()
    course = services.course_for_read(db.session(), principal, course_id)
    services.load_contents(db.session(), course)
    return render_template("catalogue/course.html", course=course, **_programme_context(principal, course.programme))


@pages.post("/courses/<uuid:course_id>/modules")
@login_required
def module_create(course_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    course = services.course_for_read(db.session(), principal, course_id)
    try:
        module = services.create_module(
            db.session(), principal, course, load_form(ContentCreateSchema(), _content_form())
        )
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: course_detail(course.id))
    db.session.commit()
    flash(f"Module {module.title!r} added.", "info")
    # Back to the course: authors usually add several modules in a row.
    return redirect(url_for(".course_detail", course_id=course.id), 303)


def _target_page(principal: Principal, target: Module | Activity) -> str:
    programme = services.programme_of(target)
    context = _programme_context(principal, programme)
    return render_template(
        "catalogue/target.html",
        target=target,
        kind="module" if isinstance(target, Module) else "activity",
        screen=mapping_screen(db.session(), programme, target),
        **context,
    )


@pages.get("/modules/<uuid:module_id>")
@login_required
def module_detail(module_id: uuid.UUID) -> str:
    principal = page_principal()
    return _target_page(principal, services.module_for_read(db.session(), principal, module_id))


@pages.post("/modules/<uuid:module_id>/activities")
@login_required
def activity_create(module_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    module = services.module_for_read(db.session(), principal, module_id)
    try:
        activity = services.create_activity(
            db.session(), principal, module, load_form(ContentCreateSchema(), _content_form())
        )
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: module_detail(module.id))
    db.session.commit()
    flash(f"Activity {activity.title!r} added.", "info")
    return redirect(url_for(".module_detail", module_id=module.id), 303)


@pages.post("/<any(course, module, activity):kind>s/<uuid:entity_id>/edit")
@login_required
def content_edit(kind: str, entity_id: uuid.UUID) -> Response | tuple[str, int]:
    """Rename, describe or change the status of a course, module or activity."""
    principal = page_principal()
    entity: Course | Module | Activity
    if kind == "course":
        entity, page = services.course_for_read(db.session(), principal, entity_id), course_detail
    elif kind == "module":
        entity, page = services.module_for_read(db.session(), principal, entity_id), module_detail
    else:
        entity, page = services.activity_for_read(db.session(), principal, entity_id), activity_detail
    version = request.form.get("version", "")
    try:
        changes = load_form(ContentUpdateSchema(), {**_content_form(), "status": request.form.get("status", "")})
        if not version.isdigit():
            raise FormError("The form lost track of the version it edits; reload the page.")
        services.update_content(db.session(), principal, entity, int(version), changes)
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: page(entity_id))
    db.session.commit()
    flash(f"Saved {entity.title!r}.", "info")
    return redirect(request.path.removesuffix("/edit"), 303)


@pages.get("/activities/<uuid:activity_id>")
@login_required
def activity_detail(activity_id: uuid.UUID) -> str:
    principal = page_principal()
    return _target_page(principal, services.activity_for_read(db.session(), principal, activity_id))


@pages.post("/programmes/<uuid:programme_id>/edit")
@login_required
def programme_edit(programme_id: uuid.UUID) -> Response | tuple[str, int]:
    """Change a programme's title, description, status and frameworks (its leads and admins)."""
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    version = request.form.get("version", "")
    try:
        changes = load_form(
            ProgrammeUpdateSchema(),
            {
                "title": request.form.get("title", "").strip(),
                "description": request.form.get("description", "").strip() or None,
                "status": request.form.get("status", ""),
                "framework_ids": request.form.getlist("framework_ids"),
            },
        )
        if not version.isdigit():
            raise FormError("The form lost track of the version it edits; reload the page.")
        services.update_programme(db.session(), principal, programme, int(version), changes)
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: programme_detail(programme_id))
    db.session.commit()
    flash(f"Saved {programme.title!r}.", "info")
    return redirect(url_for(".programme_detail", programme_id=programme.id), 303)


@pages.post("/programmes/<uuid:programme_id>/members/<int:user_id>/remove")
@login_required
def member_remove(programme_id: uuid.UUID, user_id: int) -> Response | tuple[str, int]:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    try:
        services.remove_member(db.session(), principal, programme, user_id)
    except CapcourseError as error:
        return refuse(error, lambda: programme_detail(programme_id))
    db.session.commit()
    flash("Removed from the programme.", "info")
    return redirect(url_for(".programme_detail", programme_id=programme.id), 303)


@pages.post("/<any(module, activity):kind>s/<uuid:entity_id>/external-ids")
@login_required
def external_ids_edit(kind: str, entity_id: uuid.UUID) -> Response | tuple[str, int]:
    """Add or remove one external identifier (how an LMS names the module or activity); records kept for an
    identifier nobody carried are recorded once an activity carries it."""
    principal = page_principal()
    entity: Module | Activity
    if kind == "module":
        entity, page = services.module_for_read(db.session(), principal, entity_id), module_detail
    else:
        entity, page = services.activity_for_read(db.session(), principal, entity_id), activity_detail
    current = [{"system": e.system, "value": e.value} for e in entity.external_ids]
    system, value = request.form.get("system", "").strip(), request.form.get("value", "").strip()
    try:
        if request.form.get("action") == "remove":
            wanted = [e for e in current if (e["system"], e["value"]) != (system, value)]
        else:
            if not system or not value:
                raise FormError("Give both the system (e.g. moodle) and the identifier.")
            wanted = [*current, {"system": system, "value": value}]
        changes = load_form(ContentUpdateSchema(), {"external_ids": wanted})
        services.update_content(db.session(), principal, entity, entity.version, changes)
        applied = identifiers_carried(current_app, db.session())
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: page(entity_id))
    db.session.commit()
    flash(f"External identifiers saved{f'; {applied} kept record(s) recorded' if applied else ''}.", "info")
    if kind == "module":
        return redirect(url_for(".module_detail", module_id=entity.id), 303)
    return redirect(url_for(".activity_detail", activity_id=entity.id), 303)
