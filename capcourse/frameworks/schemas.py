"""Request and response shapes of the frameworks API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.frameworks.legend import LEGEND_ASSOCIATION_TYPE
from capcourse.frameworks.models import Framework, IconLegendEntry, Item
from capcourse.frameworks.services import AssociationView, FrameworkSummary, TreeNode
from capcourse.frameworks.uris import node_uri


class ItemRefSchema(Schema):
    id = fields.UUID(required=True)
    uri = fields.String(required=True)
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


class ItemSchema(ItemRefSchema):
    key = fields.String(required=True)
    parent_id = fields.UUID(allow_none=True)
    position = fields.Integer(required=True)
    language = fields.String(allow_none=True)
    stage = fields.String(
        allow_none=True, metadata={"description": "Stage or level of progression, where the source has one."}
    )
    icon = fields.String(allow_none=True, metadata={"description": "The marker the source prints beside the item."})
    notes = fields.String(allow_none=True)
    last_change = fields.DateTime(required=True)


class TreeNodeSchema(ItemSchema):
    children = fields.List(fields.Nested(lambda: TreeNodeSchema()), required=True)


class FrameworkSchema(Schema):
    id = fields.UUID(required=True, metadata={"description": "Stable CASE identifier (UUID 5)."})
    key = fields.String(required=True)
    family = fields.String(required=True, metadata={"description": "Shared by the versions of one framework."})
    uri = fields.String(required=True)
    title = fields.String(required=True)
    creator = fields.String(required=True)
    publisher = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    adoption_status = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    licence = fields.String(allow_none=True)
    licence_uri = fields.String(allow_none=True)
    official_source_url = fields.String(allow_none=True)
    source_document = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    last_change = fields.DateTime(required=True)
    item_counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    item_total = fields.Integer(required=True)


class FrameworkDetailSchema(FrameworkSchema):
    items = fields.List(fields.Nested(TreeNodeSchema), required=True, metadata={"description": "The item tree."})


class AssociationSchema(Schema):
    id = fields.UUID(allow_none=True, metadata={"description": "Null for isChildOf links that come from the tree."})
    association_type = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(["outgoing", "incoming"]))
    item = fields.Nested(ItemRefSchema, allow_none=True, metadata={"description": "The item at the other end."})
    uri = fields.String(allow_none=True, metadata={"description": "The other end, when it is outside capcourse."})
    provenance = fields.String(required=True)
    qualifier = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    derived_from_tree = fields.Boolean(required=True)


class ItemDetailSchema(ItemSchema):
    ancestors = fields.List(fields.Nested(ItemRefSchema), required=True)
    children = fields.List(fields.Nested(ItemRefSchema), required=True)
    associations = fields.List(fields.Nested(AssociationSchema), required=True)


class ItemSearchArgsSchema(Schema):
    q = fields.String(load_default=None, validate=validate.Length(max=200), metadata={"description": "Words to find."})
    framework = fields.List(
        fields.UUID(), load_default=list, metadata={"description": "Limit to these frameworks (repeatable)."}
    )
    item_type = fields.String(load_default=None, validate=validate.Length(max=100))
    stage = fields.String(load_default=None, validate=validate.Length(max=50))


class LegendAreaSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    full_statement = fields.String(required=True)


class LegendIconSchema(Schema):
    icon = fields.String(required=True)
    areas = fields.List(fields.Nested(LegendAreaSchema), required=True)
    provenance = fields.String(required=True)
    rationale = fields.String(required=True)
    updated_by = fields.String(allow_none=True)
    updated_at = fields.DateTime(required=True)
    item_count = fields.Integer(required=True, metadata={"description": "Items marked with this icon."})


class LegendSchema(Schema):
    framework_id = fields.UUID(required=True)
    association_type = fields.String(required=True)
    icons = fields.List(fields.Nested(LegendIconSchema), required=True)


class LegendUpdateSchema(Schema):
    icon = fields.String(required=True, validate=validate.Length(min=1, max=20))
    areas = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=20))
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=5000))


# Serialisers: turn domain objects into the dicts the schemas above describe.


def item_ref(item: Item, base_url: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "uri": node_uri(base_url, item.id, item.uri),
        "code": item.code,
        "item_type": item.item_type,
        "full_statement": item.full_statement,
        "abbreviated_statement": item.abbreviated_statement,
        "framework_id": item.framework_id,
        "framework_title": item.framework.title,
        "framework_version": item.framework.version,
    }


def item_dict(item: Item, base_url: str) -> dict[str, Any]:
    return item_ref(item, base_url) | {
        "key": item.key,
        "parent_id": item.parent_id,
        "position": item.position,
        "language": item.language,
        "stage": item.stage,
        "icon": item.icon,
        "notes": item.notes,
        "last_change": item.last_change,
    }


def tree_dict(node: TreeNode, base_url: str) -> dict[str, Any]:
    return item_dict(node.item, base_url) | {"children": [tree_dict(child, base_url) for child in node.children]}


def framework_dict(summary: FrameworkSummary, base_url: str) -> dict[str, Any]:
    framework: Framework = summary.framework
    return {
        "id": framework.id,
        "key": framework.key,
        "family": framework.family,
        "uri": node_uri(base_url, framework.id, framework.uri),
        "title": framework.title,
        "creator": framework.creator,
        "publisher": framework.publisher,
        "version": framework.version,
        "adoption_status": framework.adoption_status,
        "language": framework.language,
        "licence": framework.licence,
        "licence_uri": framework.licence_uri,
        "official_source_url": framework.official_source_url,
        "source_document": framework.source_document,
        "description": framework.description,
        "notes": framework.notes,
        "last_change": framework.last_change,
        "item_counts": summary.item_counts,
        "item_total": summary.item_total,
    }


def association_dict(view: AssociationView, base_url: str) -> dict[str, Any]:
    return {
        "id": view.association_id,
        "association_type": view.association_type,
        "direction": view.direction,
        "item": item_ref(view.other, base_url) if view.other is not None else None,
        "uri": view.other_uri,
        "provenance": view.provenance,
        "qualifier": view.qualifier,
        "notes": view.notes,
        "derived_from_tree": view.derived_from_tree,
    }


def legend_dict(framework: Framework, entries: list[IconLegendEntry], item_counts: dict[str, int]) -> dict[str, Any]:
    icons: dict[str, dict[str, Any]] = {}
    for entry in entries:
        icon = icons.setdefault(
            entry.icon,
            {
                "icon": entry.icon,
                "areas": [],
                "provenance": entry.provenance,
                "rationale": entry.rationale,
                "updated_by": entry.updated_by,
                "updated_at": entry.updated_at,
                "item_count": item_counts.get(entry.icon, 0),
            },
        )
        icon["areas"].append(
            {"id": entry.area.id, "code": entry.area.code, "full_statement": entry.area.full_statement}
        )
    return {"framework_id": framework.id, "association_type": LEGEND_ASSOCIATION_TYPE, "icons": list(icons.values())}
