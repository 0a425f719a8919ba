"""Request and response shapes of the mapping API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.mapping.models import Depth, Mapping, MappingEvent

DEPTH = validate.OneOf([d.value for d in Depth])
MAX_BULK = 500


class MappingCreateSchema(Schema):
    item_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=MAX_BULK))
    depth = fields.String(required=True, validate=DEPTH, metadata={"description": "introduced, developed or assessed."})


class MappingUpdateSchema(Schema):
    depth = fields.String(required=True, validate=DEPTH)


class BulkMappingSchema(Schema):
    module_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=MAX_BULK))
    activity_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=MAX_BULK))
    item_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=MAX_BULK))
    depth = fields.String(required=True, validate=DEPTH)


class BulkResultSchema(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True, metadata={"description": "Existing mappings given the new depth."})
    unchanged = fields.Integer(required=True)


class MappedItemSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    item_type = fields.String(required=True)
    full_statement = fields.String(required=True)
    abbreviated_statement = fields.String(allow_none=True)
    framework_id = fields.UUID(required=True)
    framework_title = fields.String(required=True)
    framework_version = fields.String(
        allow_none=True,
        metadata={"description": "The version of the item's framework: a code may name other text in another version."},
    )


class MappingSchema(Schema):
    id = fields.UUID(required=True)
    module_id = fields.UUID(allow_none=True)
    activity_id = fields.UUID(allow_none=True)
    item = fields.Nested(MappedItemSchema, required=True)
    depth = fields.String(required=True)
    provenance = fields.String(required=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_by = fields.String(required=True)
    updated_at = fields.DateTime(required=True)
    version = fields.Integer(required=True)


class MappingEventSchema(Schema):
    mapping_id = fields.UUID(required=True)
    module_id = fields.UUID(allow_none=True)
    activity_id = fields.UUID(allow_none=True)
    target_title = fields.String(required=True)
    item_id = fields.UUID(required=True)
    item_label = fields.String(required=True)
    action = fields.String(required=True, metadata={"description": "created, updated or deleted."})
    depth_before = fields.String(allow_none=True)
    depth_after = fields.String(allow_none=True)
    actor = fields.String(required=True)
    at = fields.DateTime(required=True)


def mapping_dict(mapping: Mapping) -> dict[str, Any]:
    item = mapping.item
    return {
        "id": mapping.id,
        "module_id": mapping.module_id,
        "activity_id": mapping.activity_id,
        "item": {
            "id": item.id,
            "code": item.code,
            "item_type": item.item_type,
            "full_statement": item.full_statement,
            "abbreviated_statement": item.abbreviated_statement,
            "framework_id": item.framework_id,
            "framework_title": item.framework.title,
            "framework_version": item.framework.version,
        },
        "depth": mapping.depth,
        "provenance": mapping.provenance,
        "created_by": mapping.created_by,
        "created_at": mapping.created_at,
        "updated_by": mapping.updated_by,
        "updated_at": mapping.updated_at,
        "version": mapping.version,
    }


def event_dict(event: MappingEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in MappingEventSchema().fields}
