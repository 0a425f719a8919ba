"""REST API for curriculum-area links: ``/api/v1/frameworks/{id}/area-links``."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from capcourse.accounts.auth import current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.errors import InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks import areas, services
from capcourse.frameworks.views import blp

ADMIN_DOC: dict[str, Any] = {"security": [{"apiKey": []}]}


class AreaLinkSchema(Schema):
    id = fields.UUID(required=True)
    item_id = fields.UUID(required=True)
    item_code = fields.String(allow_none=True)
    area_id = fields.UUID(required=True)
    area_code = fields.String(allow_none=True)
    area = fields.String(required=True, metadata={"description": "The area's name."})
    provenance = fields.String(required=True, metadata={"description": "inferred, suggested or confirmed."})
    rationale = fields.String(required=True)
    removed = fields.Boolean(required=True)
    updated_by = fields.String(required=True)
    updated_at = fields.DateTime(required=True)


class AreaLinkInputSchema(Schema):
    item_id = fields.UUID(required=True, metadata={"description": "An item of this framework."})
    area_id = fields.UUID(required=True, metadata={"description": "A curriculum area."})
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    provenance = fields.String(
        load_default="confirmed", validate=validate.OneOf([str(p) for p in areas.LINK_PROVENANCES])
    )


class AreaLinkListArgsSchema(Schema):
    include_removed = fields.Boolean(load_default=False)


class ImportResultSchema(Schema):
    set = fields.Integer(required=True)
    removed = fields.Integer(required=True)


def link_dict(link: areas.AreaLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "item_id": link.item_id,
        "item_code": link.item.code,
        "area_id": link.area_item_id,
        "area_code": link.area.code,
        "area": link.area.full_statement,
        "provenance": link.provenance,
        "rationale": link.rationale,
        "removed": link.removed,
        "updated_by": link.updated_by,
        "updated_at": link.updated_at,
    }


@blp.route("/frameworks/<uuid:framework_id>/area-links")
class AreaLinks(MethodView):
    @blp.arguments(AreaLinkListArgsSchema, location="query")
    @blp.response(200, AreaLinkSchema(many=True))
    def get(self, args: dict[str, Any], framework_id: uuid.UUID) -> list[dict[str, Any]]:
        """The curriculum areas of the framework's items: several per item, each with provenance and rationale.
        The coverage matrix uses them."""
        framework = services.get_framework(db.session(), framework_id)
        return [link_dict(link) for link in areas.list_links(db.session(), framework, args["include_removed"])]

    @require_role(Role.ADMIN)
    @blp.doc(**ADMIN_DOC)
    @blp.arguments(AreaLinkInputSchema)
    @blp.response(201, AreaLinkSchema)
    def post(self, body: dict[str, Any], framework_id: uuid.UUID) -> dict[str, Any]:
        """Link an item to a curriculum area, or change the link (admin); ``confirmed`` unless said otherwise."""
        framework = services.get_framework(db.session(), framework_id)
        link = areas.set_link(
            db.session(),
            framework,
            body["item_id"],
            body["area_id"],
            body["rationale"],
            current_principal().name,
            body["provenance"],
        )
        db.session.commit()
        return link_dict(link)


@blp.route("/frameworks/<uuid:framework_id>/area-links/<uuid:link_id>")
class AreaLinkDetail(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**ADMIN_DOC)
    @blp.response(204)
    def delete(self, framework_id: uuid.UUID, link_id: uuid.UUID) -> None:
        """Remove a link (admin). It is kept as removed, so the shipped starting set never brings it back."""
        framework = services.get_framework(db.session(), framework_id)
        areas.remove_link(db.session(), areas.get_link(db.session(), framework, link_id), current_principal().name)
        db.session.commit()


@blp.route("/frameworks/<uuid:framework_id>/area-links/<uuid:link_id>/confirm")
class AreaLinkConfirm(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**ADMIN_DOC)
    @blp.response(200, AreaLinkSchema)
    def post(self, framework_id: uuid.UUID, link_id: uuid.UUID) -> dict[str, Any]:
        """Confirm an inferred or suggested link (admin)."""
        framework = services.get_framework(db.session(), framework_id)
        link = areas.confirm_link(
            db.session(), areas.get_link(db.session(), framework, link_id), current_principal().name
        )
        db.session.commit()
        return link_dict(link)


@blp.route("/frameworks/<uuid:framework_id>/area-links.csv")
class AreaLinksCsv(MethodView):
    @blp.doc(responses={"200": {"description": "The links as CSV: item, area, provenance, rationale."}})
    def get(self, framework_id: uuid.UUID) -> Response:
        """The links as CSV, in the form the import takes."""
        framework = services.get_framework(db.session(), framework_id)
        return Response(
            areas.export_csv(db.session(), framework),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="area-links-{framework.key}.csv"'},
        )

    @require_role(Role.ADMIN)
    @blp.doc(
        **ADMIN_DOC,
        requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True},
    )
    @blp.response(200, ImportResultSchema)
    def post(self, framework_id: uuid.UUID) -> dict[str, Any]:
        """Import links from CSV (admin), all or nothing: columns ``item`` and ``area`` (code or id),
        ``rationale``, optional ``provenance`` (default confirmed) and ``action`` (set or remove)."""
        framework = services.get_framework(db.session(), framework_id)
        try:
            text = request.get_data().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInputError("The CSV is not UTF-8.") from error
        result = areas.import_csv(db.session(), framework, text, current_principal().name)
        db.session.commit()
        return {"set": result.set, "removed": result.removed}
