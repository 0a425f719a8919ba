"""REST API of the crosswalk editor: ``/api/v1/crosswalks`` and ``/api/v1/associations``.

Reading is open, as the frameworks are; admins and leads change crosswalks (API key of either role).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from capcourse.accounts.auth import current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.errors import InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Association, Framework, Item

blp = Blueprint(
    "crosswalks",
    __name__,
    url_prefix="/api/v1",
    description="Crosswalks: associations between the items of two frameworks, with type, strength, provenance "
    "and a note; reviewed, edited, imported and exported by admins and leads.",
)

EDITORS = (Role.ADMIN, Role.LEAD)
EDITOR_DOC: dict[str, Any] = {"security": [{"apiKey": []}]}


class CrosswalkEndSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    statement = fields.String(required=True, metadata={"description": "Its short name, else its statement."})
    framework_id = fields.UUID(required=True)
    framework_key = fields.String(required=True)


class CrosswalkAssociationSchema(Schema):
    id = fields.UUID(required=True)
    association_type = fields.String(required=True, metadata={"description": "The CASE association type."})
    origin = fields.Nested(CrosswalkEndSchema, required=True)
    destination = fields.Nested(CrosswalkEndSchema, required=True)
    strength = fields.Float(allow_none=True, metadata={"description": "0 to 1; null when not stated."})
    provenance = fields.String(required=True, metadata={"description": "published, inferred, suggested or confirmed."})
    qualifier = fields.String(allow_none=True, metadata={"description": "The source's own hedge, verbatim."})
    note = fields.String(allow_none=True, metadata={"description": "Why the link exists."})
    managed_by = fields.String(
        allow_none=True,
        metadata={"description": "seed (a framework's data), icon-legend, crosswalk (a shipped crosswalk) or null."},
    )
    editable = fields.Boolean(
        required=True, metadata={"description": "False for links shipped with a framework's data or the icon legend."}
    )
    counted = fields.Boolean(
        required=True, metadata={"description": "Coverage counts it by default (published or confirmed)."}
    )
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    updated_by = fields.String(allow_none=True)
    last_change = fields.DateTime(required=True)
    reviewed_by = fields.String(allow_none=True, metadata={"description": "Who confirmed it."})
    reviewed_at = fields.DateTime(allow_none=True)


class CrosswalkFrameworkSchema(Schema):
    id = fields.UUID(required=True)
    key = fields.String(required=True)
    title = fields.String(required=True)
    version = fields.String(allow_none=True)


class CrosswalkCountsSchema(Schema):
    published = fields.Integer(required=True)
    inferred = fields.Integer(required=True)
    suggested = fields.Integer(required=True)
    confirmed = fields.Integer(required=True)


class CrosswalkSummarySchema(Schema):
    left = fields.Nested(CrosswalkFrameworkSchema, required=True)
    right = fields.Nested(CrosswalkFrameworkSchema, required=True)
    counts = fields.Nested(CrosswalkCountsSchema, required=True)
    total = fields.Integer(required=True)


class CrosswalkSchema(Schema):
    left = fields.Nested(CrosswalkFrameworkSchema, required=True)
    right = fields.Nested(CrosswalkFrameworkSchema, required=True)
    associations = fields.List(fields.Nested(CrosswalkAssociationSchema), required=True)


class CrosswalkArgsSchema(Schema):
    provenance = fields.List(
        fields.String(validate=validate.OneOf(crosswalks.PROVENANCES)),
        load_default=None,
        metadata={"description": "Only links of these provenances (repeat the parameter for several)."},
    )
    item = fields.UUID(load_default=None, metadata={"description": "Only links touching this item."})


class CrosswalkLinkInputSchema(Schema):
    origin_item_id = fields.UUID(required=True, metadata={"description": "An item of either framework."})
    destination_item_id = fields.UUID(required=True, metadata={"description": "An item of the other framework."})
    type = fields.String(
        load_default="isRelatedTo", metadata={"description": "A CASE association type but isChildOf, or ext:…"}
    )
    strength = fields.Float(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=1), metadata={"description": "0 to 1."}
    )
    provenance = fields.String(load_default="confirmed", validate=validate.OneOf(crosswalks.PROVENANCES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=crosswalks.NOTE_MAX))


class CrosswalkLinkChangeSchema(Schema):
    type = fields.String(metadata={"description": "A CASE association type but isChildOf, or ext:…"})
    strength = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    provenance = fields.String(validate=validate.OneOf(crosswalks.PROVENANCES))
    note = fields.String(allow_none=True, validate=validate.Length(max=crosswalks.NOTE_MAX))


class CrosswalkDeleteArgsSchema(Schema):
    note = fields.String(
        load_default=None,
        validate=validate.Length(max=crosswalks.NOTE_MAX),
        metadata={"description": "Why (kept with a removed shipped link)."},
    )


class CrosswalkImportSchema(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    removed = fields.Integer(required=True)


def framework_ref(framework: Framework) -> dict[str, Any]:
    return {"id": framework.id, "key": framework.key, "title": framework.title, "version": framework.version}


def _end(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "code": item.code,
        "statement": item.abbreviated_statement or item.full_statement,
        "framework_id": item.framework_id,
        "framework_key": item.framework.key,
    }


def association_dict(association: Association) -> dict[str, Any]:
    assert association.destination is not None
    return {
        "id": association.id,
        "association_type": association.association_type,
        "origin": _end(association.origin),
        "destination": _end(association.destination),
        "strength": association.strength,
        "provenance": association.provenance,
        "qualifier": association.qualifier,
        "note": association.notes,
        "managed_by": association.managed_by,
        "editable": crosswalks.editable(association),
        "counted": association.provenance in crosswalks.COUNTED,
        "created_by": association.created_by,
        "created_at": association.created_at,
        "updated_by": association.updated_by,
        "last_change": association.last_change,
        "reviewed_by": association.reviewed_by,
        "reviewed_at": association.reviewed_at,
    }


def _result(result: crosswalks.ImportResult) -> dict[str, int]:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "removed": result.removed,
    }


def _base_url() -> str:
    return str(current_app.config["CAPCOURSE_BASE_URL"])


@blp.route("/crosswalks")
class Crosswalks(MethodView):
    @blp.response(200, CrosswalkSummarySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every pair of frameworks with links between them, counted by provenance."""
        return [
            {
                "left": framework_ref(s.left),
                "right": framework_ref(s.right),
                "counts": {p: s.counts.get(p, 0) for p in crosswalks.PROVENANCES},
                "total": s.total,
            }
            for s in crosswalks.list_crosswalks(db.session())
        ]


@blp.route("/crosswalks/<uuid:left_id>/<uuid:right_id>")
class Crosswalk(MethodView):
    @blp.arguments(CrosswalkArgsSchema, location="query")
    @blp.response(200, CrosswalkSchema)
    @blp.alt_response(404, description="No such framework.")
    def get(self, args: dict[str, Any], left_id: uuid.UUID, right_id: uuid.UUID) -> dict[str, Any]:
        """The links between the items of two frameworks, whichever way they point, in the left one's order."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        found = crosswalks.list_associations(db.session(), left, right, args["provenance"], args["item"])
        return {
            "left": framework_ref(left),
            "right": framework_ref(right),
            "associations": [association_dict(a) for a in found],
        }

    @require_role(*EDITORS)
    @blp.doc(**EDITOR_DOC)
    @blp.arguments(CrosswalkLinkInputSchema)
    @blp.response(201, CrosswalkAssociationSchema)
    @blp.alt_response(409, description="The same link (type, origin, destination) exists already.")
    @blp.alt_response(422, description="An end outside the two frameworks, both in one, or a bad value.")
    def post(self, body: dict[str, Any], left_id: uuid.UUID, right_id: uuid.UUID) -> dict[str, Any]:
        """Link an item of one framework to an item of the other (admin or lead); ``confirmed`` unless said
        otherwise."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        association = crosswalks.create_association(
            db.session(),
            left,
            right,
            body["origin_item_id"],
            body["destination_item_id"],
            body["type"],
            current_principal().name,
            strength=body["strength"],
            provenance=body["provenance"],
            note=body["note"],
        )
        db.session.commit()
        return association_dict(association)


def _read_body(kind: str) -> bytes:
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise InvalidInputError(f"Send the {kind} as the request body.", {"body": ["Missing."]})
    return raw


@blp.route("/crosswalks/<uuid:left_id>/<uuid:right_id>.csv")
class CrosswalkCsv(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The links as CSV: origin_framework, origin, origin_statement, type, "
                "destination_framework, destination, destination_statement, strength, provenance, note.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, left_id: uuid.UUID, right_id: uuid.UUID) -> Response:
        """The crosswalk as CSV, in the form the import takes."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        return Response(
            crosswalks.export_csv(db.session(), left, right),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="crosswalk-{left.key}-{right.key}.csv"'},
        )

    @require_role(*EDITORS)
    @blp.doc(**EDITOR_DOC, requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True})
    @blp.response(200, CrosswalkImportSchema)
    @blp.alt_response(409, description="A line would change a link shipped with a framework's data.")
    @blp.alt_response(422, description="A bad line (named in the message); nothing was changed.")
    def post(self, left_id: uuid.UUID, right_id: uuid.UUID) -> dict[str, int]:
        """Import links from CSV (admin or lead), all or nothing: the export's columns (frameworks by key or id,
        items by code, key or id; ``*_statement`` columns are ignored), ``provenance`` confirmed when empty,
        and an optional ``action`` (``set`` or ``remove``)."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        try:
            text = _read_body("CSV").decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidInputError("The CSV is not UTF-8.") from error
        result = crosswalks.import_csv(db.session(), left, right, text, current_principal().name)
        db.session.commit()
        return _result(result)


@blp.route("/crosswalks/<uuid:left_id>/<uuid:right_id>/case")
class CrosswalkCase(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "A crosswalk-only CASE 1.1 CFPackage: a CFDocument and the CFAssociations.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CFPackage"}}},
            }
        }
    )
    def get(self, left_id: uuid.UUID, right_id: uuid.UUID) -> Response:
        """The crosswalk as CASE associations (a CFPackage without items); provenance, strength and who made
        each link travel in ``extensions.capcourse``."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        package = crosswalks.export_case(db.session(), left, right, _base_url())
        return current_app.response_class(
            current_app.json.dumps(package),
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="crosswalk-{left.key}-{right.key}.json"'},
        )

    @require_role(*EDITORS)
    @blp.doc(
        **EDITOR_DOC,
        requestBody={
            "description": "A CASE CFPackage whose CFAssociations join items of the two frameworks.",
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CFPackage"}}},
        },
    )
    @blp.response(200, CrosswalkImportSchema)
    @blp.alt_response(409, description="An association would change a link shipped with a framework's data.")
    @blp.alt_response(
        422,
        description="Not a package, or an association whose ends are not one item of each "
        "framework: errors lists them by JSON path; nothing was changed.",
    )
    def post(self, left_id: uuid.UUID, right_id: uuid.UUID) -> dict[str, int]:
        """Import CASE associations between the two frameworks (admin or lead), all or nothing. Each keeps its
        identifier, so importing again updates; without ``extensions.capcourse`` a link is ``published``."""
        left, right = crosswalks.get_pair(db.session(), left_id, right_id)
        result = crosswalks.import_case(db.session(), left, right, _read_body("CASE package"), current_principal().name)
        db.session.commit()
        return _result(result)


@blp.route("/associations/<uuid:association_id>")
class AssociationDetail(MethodView):
    @blp.response(200, CrosswalkAssociationSchema)
    @blp.alt_response(404, description="No crosswalk association has this identifier.")
    def get(self, association_id: uuid.UUID) -> dict[str, Any]:
        """One crosswalk association, with who made, changed and confirmed it."""
        return association_dict(crosswalks.get_association(db.session(), association_id))

    @require_role(*EDITORS)
    @blp.doc(**EDITOR_DOC)
    @blp.arguments(CrosswalkLinkChangeSchema)
    @blp.response(200, CrosswalkAssociationSchema)
    @blp.alt_response(409, description="Shipped with a framework's data or the icon legend, or a duplicate.")
    def patch(self, body: dict[str, Any], association_id: uuid.UUID) -> dict[str, Any]:
        """Change a link's type, strength, provenance or note (admin or lead)."""
        association = crosswalks.get_association(db.session(), association_id)
        crosswalks.update_association(db.session(), association, body, current_principal().name)
        db.session.commit()
        return association_dict(association)

    @require_role(*EDITORS)
    @blp.doc(**EDITOR_DOC)
    @blp.arguments(CrosswalkDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.alt_response(409, description="Shipped with a framework's data or the icon legend.")
    def delete(self, args: dict[str, Any], association_id: uuid.UUID) -> None:
        """Delete a link (admin or lead). A shipped crosswalk link stays out of later syncs."""
        association = crosswalks.get_association(db.session(), association_id)
        crosswalks.delete_association(db.session(), association, current_principal().name, args["note"])
        db.session.commit()


@blp.route("/associations/<uuid:association_id>/confirm")
class AssociationConfirm(MethodView):
    @require_role(*EDITORS)
    @blp.doc(**EDITOR_DOC)
    @blp.response(200, CrosswalkAssociationSchema)
    @blp.alt_response(409, description="Published or confirmed already, or read-only.")
    def post(self, association_id: uuid.UUID) -> dict[str, Any]:
        """Confirm a suggested or inferred link (admin or lead): coverage counts it from now on."""
        association = crosswalks.get_association(db.session(), association_id)
        crosswalks.confirm_association(db.session(), association, current_principal().name)
        db.session.commit()
        return association_dict(association)
