"""REST API for suggestions: items for modules and activities, equivalents, curriculum areas, decisions."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC, select_pager
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Module
from capcourse.extensions import db
from capcourse.mapping.schemas import MappingSchema, mapping_dict
from capcourse.packages.settings import settings_from
from capcourse.suggest import services
from capcourse.suggest.models import Decision, Kind
from capcourse.suggest.schemas import (
    AreaDecisionSchema,
    ConfirmMappingSchema,
    DecisionArgsSchema,
    DecisionSchema,
    EquivalentArgsSchema,
    EquivalentDecisionSchema,
    LimitArgsSchema,
    RejectSchema,
    SuggestionSchema,
    TargetArgsSchema,
    TextQuerySchema,
    decision_dict,
    suggestion_dict,
)

blp = Blueprint(
    "suggest",
    __name__,
    url_prefix="/api/v1",
    description=(
        "Suggested mappings, equivalents and curriculum areas, ranked from the texts (BM25F) and from what "
        "people confirmed and rejected before. Nothing is applied until a person confirms it."
    ),
)

NOT_FOUND = {"404": {"description": "Unknown, or not yours to see."}}


def _serialise(found: list[services.Suggestion]) -> list[dict[str, Any]]:
    base = str(current_app.config["CAPCOURSE_BASE_URL"])
    return [suggestion_dict(s, base) for s in found]


def _target(ids: dict[str, uuid.UUID]) -> Module | Activity:
    if "module_id" in ids:
        return catalogue.module_for_read(db.session(), current_principal(), ids["module_id"])
    return catalogue.activity_for_read(db.session(), current_principal(), ids["activity_id"])


# Each view serves modules and activities alike, under the identifier's own name.
def _both(suffix: str, name: str) -> Any:
    def register(view: type[MethodView]) -> type[MethodView]:
        blp.route(f"/modules/<uuid:module_id>/{suffix}", endpoint=f"module_{name}")(view)
        blp.route(f"/activities/<uuid:activity_id>/{suffix}", endpoint=f"activity_{name}")(view)
        return view

    return register


@_both("suggestions", "suggestions")
class TargetSuggestions(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(TargetArgsSchema, location="query")
    @blp.response(200, SuggestionSchema(many=True))
    def get(self, args: dict[str, Any], **ids: uuid.UUID) -> Any:
        """Framework items most likely to apply to the module or activity, best first (already mapped left out).

        From its title, description, activities and SCORM package, and the
        programme's earlier mappings and decisions.
        """
        target = _target(ids)
        return _serialise(
            services.for_target(
                db.session(),
                current_principal(),
                target,
                args["limit"],
                framework_ids=args["framework_id"],
                package_dir=package_dir(),
            )
        )

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(TextQuerySchema)
    @blp.response(200, SuggestionSchema(many=True))
    def post(self, body: dict[str, Any], **ids: uuid.UUID) -> Any:
        """The same, with more text about it (a document's, say): nothing is stored."""
        target = _target(ids)
        return _serialise(
            services.for_target(
                db.session(),
                current_principal(),
                target,
                body["limit"],
                extra_text=body["text"],
                framework_ids=body["framework_ids"],
                package_dir=package_dir(),
            )
        )


@_both("suggestions/confirm", "suggestions_confirm")
class TargetConfirm(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={**NOT_FOUND, "409": {"description": "Mapped to the item already."}})
    @blp.arguments(ConfirmMappingSchema)
    @blp.response(201, MappingSchema)
    def post(self, body: dict[str, Any], **ids: uuid.UUID) -> Any:
        """Accept a suggested item: the mapping is made (provenance suggested-then-confirmed) and the decision kept."""
        target = _target(ids)
        mapping = services.confirm_mapping(
            db.session(),
            current_principal(),
            target,
            body["item_id"],
            body["depth"],
            rank=body.get("rank"),
            score=body.get("score"),
        )
        db.session.commit()
        return mapping_dict(mapping)


@_both("suggestions/reject", "suggestions_reject")
class TargetReject(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={**NOT_FOUND, "409": {"description": "Mapped to the item: remove it instead."}})
    @blp.arguments(RejectSchema)
    @blp.response(201, DecisionSchema)
    def post(self, body: dict[str, Any], **ids: uuid.UUID) -> Any:
        """Turn a suggested item down: not offered for this module or activity again, and less for similar ones."""
        target = _target(ids)
        row = services.reject_mapping(
            db.session(), current_principal(), target, body["item_id"], rank=body.get("rank"), score=body.get("score")
        )
        db.session.commit()
        return decision_dict(row)


@blp.route("/items/<uuid:item_id>/equivalents")
class Equivalents(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(EquivalentArgsSchema, location="query")
    @blp.response(200, SuggestionSchema(many=True))
    def get(self, args: dict[str, Any], item_id: uuid.UUID) -> Any:
        """Items of another framework most likely equivalent to this one, best first.

        Ranked from the texts and earlier decisions only; ``linked`` names the
        associations that already join the two items.
        """
        return _serialise(
            services.equivalents(
                db.session(), item_id, args["framework_id"], args["limit"], item_type=args.get("item_type")
            )
        )


@blp.route("/items/<uuid:item_id>/equivalents/decisions")
class EquivalentDecisions(MethodView):
    @require_role(Role.ADMIN, Role.LEAD)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(EquivalentDecisionSchema)
    @blp.response(201, DecisionSchema)
    def post(self, body: dict[str, Any], item_id: uuid.UUID) -> Any:
        """Record that a person confirmed or rejected a suggested equivalent (the association is made elsewhere)."""
        row = services.decide_equivalent(
            db.session(), current_principal(), item_id, body["item_id"], Decision(body["decision"])
        )
        db.session.commit()
        return decision_dict(row)


@blp.route("/items/<uuid:item_id>/area-suggestions")
class AreaSuggestions(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(LimitArgsSchema, location="query")
    @blp.response(200, SuggestionSchema(many=True))
    def get(self, args: dict[str, Any], item_id: uuid.UUID) -> Any:
        """Curriculum areas most likely to hold the item (areas it is linked to already left out)."""
        return _serialise(services.areas_for_item(db.session(), item_id, args["limit"]))


@blp.route("/items/<uuid:item_id>/area-suggestions/confirm")
class AreaConfirm(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(AreaDecisionSchema)
    @blp.response(201, DecisionSchema)
    def post(self, body: dict[str, Any], item_id: uuid.UUID) -> Any:
        """Accept a suggested curriculum area: a confirmed area link, and the decision kept."""
        principal = current_principal()
        services.confirm_area(db.session(), principal.name, item_id, body["area_id"], body.get("rationale"))
        row = services.decision_for(db.session(), Kind.AREA, item_id, body["area_id"])
        db.session.commit()
        return decision_dict(row)


@blp.route("/items/<uuid:item_id>/area-suggestions/reject")
class AreaReject(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC, responses=NOT_FOUND)
    @blp.arguments(AreaDecisionSchema)
    @blp.response(201, DecisionSchema)
    def post(self, body: dict[str, Any], item_id: uuid.UUID) -> Any:
        """Turn a suggested curriculum area down: not offered for the item again."""
        row = services.reject_area(db.session(), current_principal().name, item_id, body["area_id"])
        db.session.commit()
        return decision_dict(row)


@blp.route("/suggestion-decisions")
class Decisions(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(DecisionArgsSchema, location="query")
    @blp.response(200, DecisionSchema(many=True))
    @blp.paginate(select_pager(decision_dict))
    def get(self, args: dict[str, Any]) -> Any:
        """Every confirmation and rejection of a suggestion, newest first."""
        kind = args.get("kind")
        return services.decisions_query(Kind(kind) if kind else None)


def package_dir() -> Path:
    """Where this app stores SCORM packages: the services read their metadata there."""
    return settings_from(current_app.config).folder
