"""REST API of framework versions: a programme's drift report, applying it, its moves, evidence across versions."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts import access
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.api import AUTH_DOC
from capcourse.extensions import db
from capcourse.frameworks.services import get_framework
from capcourse.versions import services
from capcourse.versions.schemas import (
    CarriedArgsSchema,
    CarriedEvidenceSchema,
    DriftApplySchema,
    DriftArgsSchema,
    DriftReportSchema,
    VersionMoveSchema,
    carried_dict,
    move_dict,
    report_dict,
)

blp = Blueprint(
    "versions",
    __name__,
    url_prefix="/api/v1",
    description="Framework versions: move a programme's mappings to another version through a reviewed drift report.",
)


@blp.route("/programmes/<uuid:programme_id>/drift")
class Drift(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"422": {"description": "The two frameworks are not versions of one framework."}})
    @blp.arguments(DriftArgsSchema, location="query")
    @blp.response(200, DriftReportSchema)
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """The drift report: every mapping to an item of ``from``, what became of the item in ``to``
        (unchanged, changed, split, merged, removed), the proposed new item(s) and why, and the
        ``confirm_token`` that applies exactly this report."""
        session = db.session()
        principal = current_principal()
        programme = access.programme_for_read(session, principal, programme_id)
        source, target = get_framework(session, args["source"]), get_framework(session, args["target"])
        return report_dict(services.drift_report(session, principal, programme, source, target))

    @require_role(*PEOPLE)
    @blp.doc(
        **AUTH_DOC,
        responses={
            "403": {"description": "Only the programme's leads and admins move it to another version."},
            "409": {"description": "The mappings changed since the report was reviewed: review it again."},
            "422": {"description": "No confirm_token, or a decision that cannot be applied; nothing changed."},
        },
    )
    @blp.arguments(DriftApplySchema)
    @blp.response(201, VersionMoveSchema)
    def post(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Apply a reviewed drift report in one step, with the lead's edits: mappings move to the newer
        items (recorded in the mapping history); learner evidence stays on the older items as it was."""
        session = db.session()
        principal = current_principal()
        programme = access.programme_for_read(session, principal, programme_id)
        source, target = get_framework(session, body["source"]), get_framework(session, body["target"])
        decisions = [services.Decision(d["mapping_id"], d["action"], tuple(d["item_ids"])) for d in body["decisions"]]
        move = services.apply_drift(session, principal, programme, source, target, body["confirm_token"], decisions)
        session.commit()
        return move_dict(move)


@blp.route("/programmes/<uuid:programme_id>/version-moves")
class Moves(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, VersionMoveSchema(many=True))
    def get(self, programme_id: uuid.UUID) -> Any:
        """The drift reports applied to the programme, newest first."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        return [move_dict(m) for m in services.moves_of(db.session(), programme)]


@blp.route("/programmes/<uuid:programme_id>/version-evidence")
class Carried(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(CarriedArgsSchema, location="query")
    @blp.response(200, CarriedEvidenceSchema(many=True))
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Evidence recorded against other versions of ``framework``, shown on the items it links to
        (read from the older items, never copied)."""
        session = db.session()
        programme = access.programme_for_read(session, current_principal(), programme_id)
        framework = get_framework(session, args["framework"])
        return [carried_dict(r) for r in services.carried_evidence(session, programme, framework)]
