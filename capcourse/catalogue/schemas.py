"""Request and response shapes of the catalogue API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.accounts.models import MembershipRole, ProgrammeMember
from capcourse.catalogue.models import Activity, Course, Module, Programme, Status

TITLE = validate.Length(min=1, max=300)
DESCRIPTION = validate.Length(max=20000)
STATUS = validate.OneOf([s.value for s in Status])


class ExternalIdSchema(Schema):
    system = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Whose identifier: lms-activity-iri, moodle-cm-url, scorm-item …"},
    )
    value = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ProgrammeCreateSchema(Schema):
    title = fields.String(required=True, validate=TITLE)
    description = fields.String(load_default=None, allow_none=True, validate=DESCRIPTION)
    status = fields.String(load_default=Status.DRAFT.value, validate=STATUS)
    framework_ids = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "The frameworks the programme is judged against."},
    )


class ProgrammeUpdateSchema(Schema):
    title = fields.String(validate=TITLE)
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    status = fields.String(validate=STATUS)
    framework_ids = fields.List(fields.UUID(), validate=validate.Length(max=50))


class ProgrammeListArgsSchema(Schema):
    status = fields.String(load_default=None, validate=STATUS)
    q = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "Words in the title."}
    )


class FrameworkRefSchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    version = fields.String(allow_none=True)


class ProgrammeSchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    description = fields.String(allow_none=True)
    status = fields.String(required=True)
    frameworks = fields.List(fields.Nested(FrameworkRefSchema), required=True)
    version = fields.Integer(required=True, metadata={"description": "Also the ETag; send it as If-Match to change."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ContentCreateSchema(Schema):
    title = fields.String(required=True, validate=TITLE)
    description = fields.String(load_default=None, allow_none=True, validate=DESCRIPTION)
    status = fields.String(load_default=Status.DRAFT.value, validate=STATUS)
    external_ids = fields.List(fields.Nested(ExternalIdSchema), load_default=list, validate=validate.Length(max=50))


class ContentUpdateSchema(Schema):
    title = fields.String(validate=TITLE)
    description = fields.String(allow_none=True, validate=DESCRIPTION)
    status = fields.String(validate=STATUS)
    position = fields.Integer(validate=validate.Range(min=0, max=100000))
    external_ids = fields.List(fields.Nested(ExternalIdSchema), validate=validate.Length(max=50))


class ContentSchema(Schema):
    id = fields.UUID(required=True)
    iri = fields.String(required=True, metadata={"description": "Stable IRI, e.g. the xAPI activity id."})
    title = fields.String(required=True)
    description = fields.String(allow_none=True)
    status = fields.String(required=True)
    position = fields.Integer(required=True)
    external_ids = fields.List(fields.Nested(ExternalIdSchema), required=True)
    version = fields.Integer(required=True, metadata={"description": "Also the ETag; send it as If-Match to change."})
    updated_at = fields.DateTime(required=True)


class CourseSchema(ContentSchema):
    programme_id = fields.UUID(required=True)


class ModuleSchema(ContentSchema):
    course_id = fields.UUID(required=True)


class ActivitySchema(ContentSchema):
    module_id = fields.UUID(required=True)


class ContentListArgsSchema(Schema):
    status = fields.String(load_default=None, validate=STATUS)


class MemberSchema(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class MemberAddSchema(Schema):
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in MembershipRole]))


def programme_dict(programme: Programme) -> dict[str, Any]:
    return {
        "id": programme.id,
        "title": programme.title,
        "description": programme.description,
        "status": programme.status,
        "frameworks": [{"id": f.id, "title": f.title, "version": f.version} for f in programme.frameworks],
        "version": programme.version,
        "created_at": programme.created_at,
        "updated_at": programme.updated_at,
    }


def content_dict(entity: Course | Module | Activity, base_url: str) -> dict[str, Any]:
    kind = {Course: "courses", Module: "modules", Activity: "activities"}[type(entity)]
    data: dict[str, Any] = {
        "id": entity.id,
        "iri": f"{base_url}/{kind}/{entity.id}",
        "title": entity.title,
        "description": entity.description,
        "status": entity.status,
        "position": entity.position,
        "external_ids": [{"system": e.system, "value": e.value} for e in entity.external_ids],
        "version": entity.version,
        "updated_at": entity.updated_at,
    }
    if isinstance(entity, Course):
        data["programme_id"] = entity.programme_id
    elif isinstance(entity, Module):
        data["course_id"] = entity.course_id
    else:
        data["module_id"] = entity.module_id
    return data


def member_dict(membership: ProgrammeMember) -> dict[str, Any]:
    return {
        "user_id": membership.user_id,
        "email": membership.user.email,
        "name": membership.user.name,
        "role": membership.role,
    }
