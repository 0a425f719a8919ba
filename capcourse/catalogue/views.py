"""REST API for programmes, courses, modules and activities."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from capcourse.accounts import access
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.api import AUTH_DOC, etag, expected_version, select_pager
from capcourse.catalogue import identifiers_carried, services
from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.catalogue.schemas import (
    ActivitySchema,
    ContentCreateSchema,
    ContentListArgsSchema,
    ContentUpdateSchema,
    CourseSchema,
    MemberAddSchema,
    MemberSchema,
    ModuleSchema,
    ProgrammeCreateSchema,
    ProgrammeListArgsSchema,
    ProgrammeSchema,
    ProgrammeUpdateSchema,
    content_dict,
    member_dict,
    programme_dict,
)
from capcourse.extensions import db

blp = Blueprint(
    "catalogue",
    __name__,
    url_prefix="/api/v1",
    description="Programmes, their courses, modules and activities. Needs an API key of a person (admin, lead, author).",
)

CHANGE_RESPONSES = {
    "409": {"description": "An external identifier is taken."},
    "412": {"description": "If-Match is stale: someone else changed it; reload."},
    "428": {"description": "If-Match is missing."},
}


def _base_url() -> str:
    return str(current_app.config["CAPCOURSE_BASE_URL"])


def _apply_pending_records() -> None:
    """Records kept for activity ids nobody carried are recorded once an activity carries them."""
    identifiers_carried(current_app, db.session())


def _content(entity: Course | Module | Activity) -> tuple[dict[str, Any], dict[str, str]]:
    return content_dict(entity, _base_url()), {"ETag": etag(entity.version)}


@blp.route("/programmes")
class Programmes(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ProgrammeListArgsSchema, location="query")
    @blp.response(200, ProgrammeSchema(many=True))
    @blp.paginate(select_pager(programme_dict))
    def get(self, args: dict[str, Any]) -> Any:
        """List the programmes you may read (admins: all; others: those they are a member of)."""
        query = access.readable_programmes(current_principal())
        if args["status"]:
            query = query.where(Programme.status == args["status"])
        for word in (args["q"] or "").split():
            query = query.where(func.lower(Programme.title).contains(word.lower(), autoescape=True))
        return query.order_by(Programme.title).options(selectinload(Programme.frameworks))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ProgrammeCreateSchema)
    @blp.response(201, ProgrammeSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a programme (admins and leads; a lead becomes its lead)."""
        programme = services.create_programme(db.session(), current_principal(), **body)
        db.session.commit()
        return programme_dict(programme), {"ETag": etag(programme.version)}


@blp.route("/programmes/<uuid:programme_id>")
class ProgrammeDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ProgrammeSchema)
    def get(self, programme_id: uuid.UUID) -> Any:
        """Get a programme; its ETag is its version."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        return programme_dict(programme), {"ETag": etag(programme.version)}

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ProgrammeUpdateSchema)
    @blp.response(200, ProgrammeSchema)
    def patch(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Change a programme (its leads and admins). Send If-Match."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        services.update_programme(db.session(), principal, programme, expected_version(), body)
        db.session.commit()
        return programme_dict(programme), {"ETag": etag(programme.version)}


@blp.route("/programmes/<uuid:programme_id>/members")
class Members(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, MemberSchema(many=True))
    def get(self, programme_id: uuid.UUID) -> Any:
        """Who is on the programme, as lead or author."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        return [member_dict(m) for m in services.list_members(db.session(), principal, programme)]

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(MemberAddSchema)
    @blp.response(200, MemberSchema)
    def post(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Add a user to the programme, or change their role on it (its leads and admins)."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        membership = services.add_member(db.session(), principal, programme, body["email"], body["role"])
        db.session.commit()
        return member_dict(membership)


@blp.route("/programmes/<uuid:programme_id>/members/<int:user_id>")
class Member(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(204)
    def delete(self, programme_id: uuid.UUID, user_id: int) -> None:
        """Take a user off the programme (its leads and admins)."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        services.remove_member(db.session(), principal, programme, user_id)
        db.session.commit()


def _filtered(entities: list[Any], status: str | None) -> list[dict[str, Any]]:
    return [content_dict(e, _base_url()) for e in entities if status is None or e.status == status]


@blp.route("/programmes/<uuid:programme_id>/courses")
class Courses(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ContentListArgsSchema, location="query")
    @blp.response(200, CourseSchema(many=True))
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """The programme's courses, in order."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        return _filtered(services.load_contents(db.session(), programme), args["status"])

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentCreateSchema)
    @blp.response(201, CourseSchema)
    def post(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Add a course at the end of the programme (its authors and admins)."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        course = services.create_course(db.session(), principal, programme, body)
        db.session.commit()
        return _content(course)


@blp.route("/courses/<uuid:course_id>")
class CourseDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, CourseSchema)
    def get(self, course_id: uuid.UUID) -> Any:
        return _content(services.course_for_read(db.session(), current_principal(), course_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentUpdateSchema)
    @blp.response(200, CourseSchema)
    def patch(self, body: dict[str, Any], course_id: uuid.UUID) -> Any:
        """Change a course. Send If-Match."""
        principal = current_principal()
        course = services.course_for_read(db.session(), principal, course_id)
        services.update_content(db.session(), principal, course, expected_version(), body)
        db.session.commit()
        return _content(course)


@blp.route("/courses/<uuid:course_id>/modules")
class Modules(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ContentListArgsSchema, location="query")
    @blp.response(200, ModuleSchema(many=True))
    def get(self, args: dict[str, Any], course_id: uuid.UUID) -> Any:
        """The course's modules, in order."""
        course = services.course_for_read(db.session(), current_principal(), course_id)
        return _filtered(services.load_contents(db.session(), course), args["status"])

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentCreateSchema)
    @blp.response(201, ModuleSchema)
    def post(self, body: dict[str, Any], course_id: uuid.UUID) -> Any:
        """Add a module at the end of the course."""
        principal = current_principal()
        course = services.course_for_read(db.session(), principal, course_id)
        module = services.create_module(db.session(), principal, course, body)
        db.session.commit()
        return _content(module)


@blp.route("/modules/<uuid:module_id>")
class ModuleDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ModuleSchema)
    def get(self, module_id: uuid.UUID) -> Any:
        return _content(services.module_for_read(db.session(), current_principal(), module_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentUpdateSchema)
    @blp.response(200, ModuleSchema)
    def patch(self, body: dict[str, Any], module_id: uuid.UUID) -> Any:
        """Change a module. Send If-Match."""
        principal = current_principal()
        module = services.module_for_read(db.session(), principal, module_id)
        services.update_content(db.session(), principal, module, expected_version(), body)
        db.session.commit()
        return _content(module)


@blp.route("/modules/<uuid:module_id>/activities")
class Activities(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ContentListArgsSchema, location="query")
    @blp.response(200, ActivitySchema(many=True))
    def get(self, args: dict[str, Any], module_id: uuid.UUID) -> Any:
        """The module's activities, in order."""
        module = services.module_for_read(db.session(), current_principal(), module_id)
        return _filtered(services.load_contents(db.session(), module), args["status"])

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentCreateSchema)
    @blp.response(201, ActivitySchema)
    def post(self, body: dict[str, Any], module_id: uuid.UUID) -> Any:
        """Add an activity at the end of the module."""
        principal = current_principal()
        module = services.module_for_read(db.session(), principal, module_id)
        activity = services.create_activity(db.session(), principal, module, body)
        _apply_pending_records()
        db.session.commit()
        return _content(activity)


@blp.route("/activities/<uuid:activity_id>")
class ActivityDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ActivitySchema)
    def get(self, activity_id: uuid.UUID) -> Any:
        return _content(services.activity_for_read(db.session(), current_principal(), activity_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=CHANGE_RESPONSES)
    @blp.arguments(ContentUpdateSchema)
    @blp.response(200, ActivitySchema)
    def patch(self, body: dict[str, Any], activity_id: uuid.UUID) -> Any:
        """Change an activity. Send If-Match."""
        principal = current_principal()
        activity = services.activity_for_read(db.session(), principal, activity_id)
        services.update_content(db.session(), principal, activity, expected_version(), body)
        _apply_pending_records()
        db.session.commit()
        return _content(activity)
