"""REST API for mappings: per module or activity, one by one, in bulk, and their history."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts import access
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.api import AUTH_DOC, etag, expected_version, select_pager
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Module
from capcourse.extensions import db
from capcourse.mapping import services
from capcourse.mapping.schemas import (
    BulkMappingSchema,
    BulkResultSchema,
    MappingCreateSchema,
    MappingEventSchema,
    MappingSchema,
    MappingUpdateSchema,
    event_dict,
    mapping_dict,
)

blp = Blueprint(
    "mapping",
    __name__,
    url_prefix="/api/v1",
    description="Mappings of modules and activities to framework items, with depth and an audit trail.",
)


def _list(target: Module | Activity) -> list[dict[str, Any]]:
    return [mapping_dict(m) for m in services.mappings_of(db.session(), target)]


def _create(body: dict[str, Any], target: Module | Activity) -> list[dict[str, Any]]:
    mappings = services.map_items(db.session(), current_principal(), target, body["item_ids"], body["depth"])
    db.session.commit()
    return [mapping_dict(m) for m in mappings]


@blp.route("/modules/<uuid:module_id>/mappings")
class ModuleMappings(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, MappingSchema(many=True))
    def get(self, module_id: uuid.UUID) -> Any:
        """The module's mappings."""
        return _list(catalogue.module_for_read(db.session(), current_principal(), module_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"409": {"description": "Already mapped to one of the items."}})
    @blp.arguments(MappingCreateSchema)
    @blp.response(201, MappingSchema(many=True))
    def post(self, body: dict[str, Any], module_id: uuid.UUID) -> Any:
        """Map the module to items at a depth: all of them, or none on any problem."""
        return _create(body, catalogue.module_for_read(db.session(), current_principal(), module_id))


@blp.route("/activities/<uuid:activity_id>/mappings")
class ActivityMappings(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, MappingSchema(many=True))
    def get(self, activity_id: uuid.UUID) -> Any:
        """The activity's mappings."""
        return _list(catalogue.activity_for_read(db.session(), current_principal(), activity_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"409": {"description": "Already mapped to one of the items."}})
    @blp.arguments(MappingCreateSchema)
    @blp.response(201, MappingSchema(many=True))
    def post(self, body: dict[str, Any], activity_id: uuid.UUID) -> Any:
        """Map the activity to items at a depth: all of them, or none on any problem."""
        return _create(body, catalogue.activity_for_read(db.session(), current_principal(), activity_id))


@blp.route("/mappings/<uuid:mapping_id>")
class MappingDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, MappingSchema)
    def get(self, mapping_id: uuid.UUID) -> Any:
        mapping = services.mapping_for_read(db.session(), current_principal(), mapping_id)
        return mapping_dict(mapping), {"ETag": etag(mapping.version)}

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"412": {"description": "Stale If-Match."}, "428": {"description": "No If-Match."}})
    @blp.arguments(MappingUpdateSchema)
    @blp.response(200, MappingSchema)
    def patch(self, body: dict[str, Any], mapping_id: uuid.UUID) -> Any:
        """Change a mapping's depth. Send If-Match."""
        principal = current_principal()
        mapping = services.mapping_for_read(db.session(), principal, mapping_id)
        services.change_depth(db.session(), principal, mapping, body["depth"], expected_version())
        db.session.commit()
        return mapping_dict(mapping), {"ETag": etag(mapping.version)}

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"412": {"description": "Stale If-Match."}, "428": {"description": "No If-Match."}})
    @blp.response(204)
    def delete(self, mapping_id: uuid.UUID) -> None:
        """Remove a mapping; the history keeps who removed it and when. Send If-Match."""
        principal = current_principal()
        mapping = services.mapping_for_read(db.session(), principal, mapping_id)
        services.unmap(db.session(), principal, mapping, expected_version())
        db.session.commit()


@blp.route("/programmes/<uuid:programme_id>/mappings/bulk")
class BulkMappings(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(BulkMappingSchema)
    @blp.response(200, BulkResultSchema)
    def post(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Map many modules and activities × many items at one depth, in one transaction.

        Existing pairs take the new depth. Nothing is written if any module,
        activity or item is unknown or outside the programme.
        """
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        result = services.bulk_map(db.session(), principal, programme, **body)
        db.session.commit()
        return result


@blp.route("/programmes/<uuid:programme_id>/mapping-history")
class MappingHistory(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, MappingEventSchema(many=True))
    @blp.paginate(select_pager(event_dict))
    def get(self, programme_id: uuid.UUID) -> Any:
        """Who changed which mapping when, newest first."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        return services.history_query(programme)
