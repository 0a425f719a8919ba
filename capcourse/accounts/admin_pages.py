"""Admin pages: people, API keys and the records kept for activity ids nothing carries yet."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from capcourse.accounts import admin, services
from capcourse.accounts.models import Role, User
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.catalogue.pages import refuse
from capcourse.errors import CapcourseError, InvalidInputError, NotFoundError
from capcourse.extensions import db
from capcourse.records import services as records
from capcourse.records.models import PendingRecord
from capcourse.records.settings import settings_from

pages = Blueprint("admin_pages", __name__, url_prefix="/admin")

ADMIN_ONLY = "Only administrators manage people, keys and kept records."


@pages.before_request
@login_required
def _admins_only() -> None:
    if current_user.role != Role.ADMIN:
        abort(403, ADMIN_ONLY)


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id < 2**31 else None
    if user is None:
        raise NotFoundError(f"No user has the id {user_id}.")
    return user


def _done(message: str, endpoint: str) -> Response:
    db.session.commit()
    flash(message, "info")
    return redirect(url_for(endpoint), 303)


def _attempt(action: Callable[[], str], endpoint: str, page: Callable[[], str]) -> Response | tuple[str, int]:
    try:
        message = action()
    except CapcourseError as error:
        return refuse(error, page)
    return _done(message, endpoint)


@pages.get("/")
def index() -> Response:
    return redirect(url_for(".users"))


# People


@pages.get("/users")
def users(created: dict[str, str] | None = None) -> str:
    return render_template(
        "admin/users.html", users=services.list_users(db.session()), roles=admin.PERSON_ROLES, created=created
    )


@pages.post("/users")
def user_create() -> Response | tuple[str, int] | str:
    email, name = request.form.get("email", "").strip(), request.form.get("name", "").strip()
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    generated = not password
    try:
        if role not in admin.PERSON_ROLES:
            raise InvalidInputError("Choose a role: admin, lead or author.")
        if not name:
            raise InvalidInputError("Give the person's name.")
        # Invite: with no password given, one is made and shown once, to pass on to the person.
        password = password or secrets.token_urlsafe(12)
        user = services.create_user(db.session(), email, name, role, password)
    except CapcourseError as error:
        return refuse(error, users)
    db.session.commit()
    if generated:
        return users(created={"email": user.email, "password": password})
    flash(f"{user.name} <{user.email}> can now sign in as {user.role}.", "info")
    return redirect(url_for(".users"), 303)


@pages.post("/users/<int:user_id>/role")
def user_role(user_id: int) -> Response | tuple[str, int]:
    def act() -> str:
        user = admin.set_role(db.session(), _user(user_id), request.form.get("role", ""))
        return f"{user.email} is now {user.role}."

    return _attempt(act, ".users", users)


@pages.post("/users/<int:user_id>/<any(disable, enable):action>")
def user_active(user_id: int, action: str) -> Response | tuple[str, int]:
    def act() -> str:
        user = services.set_active(db.session(), _user(user_id), action == "enable")
        return f"{user.email} {'can sign in again' if user.is_active else 'is disabled; their sessions ended'}."

    return _attempt(act, ".users", users)


# API keys


@pages.get("/keys")
def keys(created: dict[str, str] | None = None) -> str:
    return render_template(
        "admin/keys.html",
        keys=services.list_api_keys(db.session()),
        roles=list(Role),
        people=services.list_users(db.session()),
        programmes=db.session.scalars(select(Programme).order_by(Programme.title)).all(),
        created=created,
    )


def _key_programmes(role: str) -> list[uuid.UUID] | None:
    """The programmes the form limits an integration key to; ``None`` when every programme was chosen.

    :raises InvalidInputError: an integration key with neither choice, or both; an id that is not one.
    """
    chosen = request.form.getlist("programme")
    every = bool(request.form.get("all_programmes"))
    if role != Role.INTEGRATION:
        if chosen or every:
            raise InvalidInputError("Only integration keys are limited to programmes.", {"programme": ["Not here."]})
        return None
    if bool(chosen) == every:
        raise InvalidInputError(
            "An integration key reads the programmes chosen or, explicitly, every programme: choose one.",
            {"programme": ["Choose programmes or every programme."]},
        )
    try:
        return [uuid.UUID(value) for value in chosen] if chosen else None
    except ValueError as error:
        raise InvalidInputError("That is not a programme.", {"programme": ["Unknown."]}) from error


@pages.post("/keys")
def key_create() -> tuple[str, int] | str:
    email = request.form.get("email", "").strip()
    try:
        owner = services.find_user(db.session(), email) if email else None
        role = request.form.get("role", "")
        key, plain = services.create_api_key(
            db.session(), request.form.get("name", ""), role, owner, _key_programmes(role)
        )
    except CapcourseError as error:
        return refuse(error, keys)
    db.session.commit()
    # The key is shown on this response only: it is stored hashed.
    return keys(created={"name": key.name, "key": plain})


@pages.post("/keys/<prefix>/revoke")
def key_revoke(prefix: str) -> Response | tuple[str, int]:
    def act() -> str:
        key = services.revoke_api_key(db.session(), prefix)
        return f"Key {key.prefix}… ({key.name}) revoked."

    return _attempt(act, ".keys", keys)


# Records kept for activity ids nothing carries yet


def _activities() -> list[tuple[Programme, Course, Module, Activity]]:
    rows = db.session.execute(
        select(Programme, Course, Module, Activity)
        .join(Course, Course.programme_id == Programme.id)
        .join(Module, Module.course_id == Course.id)
        .join(Activity, Activity.module_id == Module.id)
        .order_by(Programme.title, Course.position, Module.position, Activity.position)
    ).all()
    return [(p, c, m, a) for p, c, m, a in rows]


@pages.get("/pending")
def pending() -> str:
    samples: dict[str, dict[str, Any]] = {}
    for record in db.session.scalars(
        select(PendingRecord).where(PendingRecord.applied_at.is_(None)).order_by(PendingRecord.received_at.desc())
    ).all()[:500]:
        samples.setdefault(record.activity_ref, {"received_at": record.received_at, "payload": record.payload})
    return render_template(
        "admin/pending.html",
        summary=records.pending_summary(db.session()),
        samples=samples,
        activities=_activities(),
    )


@pages.post("/pending/attach")
def pending_attach() -> Response | tuple[str, int]:
    """Give an activity the kept records' activity id as an external id, and record them."""

    def act() -> str:
        ref = request.form.get("activity_ref", "").strip()
        if not ref or ref not in dict(records.pending_summary(db.session())):
            raise InvalidInputError("No records are kept for that activity id.")
        try:
            activity_id = uuid.UUID(request.form.get("activity_id", ""))
        except ValueError as error:
            raise InvalidInputError("Choose the activity the records belong to.") from error
        activity = db.session.scalar(
            select(Activity).where(Activity.id == activity_id).options(selectinload(Activity.external_ids))
        )
        if activity is None:
            raise NotFoundError("No such activity.")
        programme_id = activity.module.course.programme_id
        taken = db.session.scalar(
            select(ExternalId).where(ExternalId.programme_id == programme_id, ExternalId.value == ref)
        )
        if taken is None:
            activity.external_ids.append(
                ExternalId(programme_id=programme_id, system="lms", value=ref, activity_id=activity.id)
            )
            db.session.flush()
        settings = settings_from(current_app.config)
        applied = records.apply_pending(db.session(), settings.base_url, settings.destinations)
        return f"{activity.title!r} now carries {ref}; {applied} kept record(s) recorded."

    return _attempt(act, ".pending", pending)
