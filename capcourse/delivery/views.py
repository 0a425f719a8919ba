"""REST API and admin page for delivery to the LRSs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint as PageBlueprint
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.views import MethodView
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from capcourse.accounts.auth import require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.delivery import services
from capcourse.extensions import db

blp = Blueprint("delivery", __name__, url_prefix="/api/v1", description="Delivery of emitted statements (admins).")
pages = PageBlueprint("delivery_pages", __name__)


class DestinationStatusSchema(Schema):
    destination = fields.String(required=True)
    pending = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    dead = fields.Integer(required=True)
    oldest_pending = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class DeadEntrySchema(Schema):
    statement_id = fields.UUID(required=True)
    destination = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


class RetrySchema(Schema):
    destination = fields.String(load_default=None)


class RetryResultSchema(Schema):
    requeued = fields.Integer(required=True)


@blp.route("/delivery")
class DeliveryStatus(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, DestinationStatusSchema(many=True))
    def get(self) -> Any:
        """Per LRS destination: pending, delivered and dead statements, the oldest pending, the latest error."""
        return services.status(db.session())


@blp.route("/delivery/dead")
class DeadLetters(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, DeadEntrySchema(many=True))
    def get(self) -> Any:
        """Statements that gave up, with why."""
        return [
            {
                "statement_id": e.stored.id,
                "destination": e.destination,
                "attempts": e.attempts,
                "last_error": e.last_error,
                "created_at": e.created_at,
            }
            for e in services.dead_entries(db.session())
        ]


@blp.route("/delivery/retry")
class Retry(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(RetrySchema)
    @blp.response(200, RetryResultSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Send dead statements again (all destinations, or one)."""
        count = services.retry_dead(db.session(), body["destination"])
        db.session.commit()
        return {"requeued": count}


def _admin_only() -> None:
    if current_user.role != Role.ADMIN:
        abort(403, "Only administrators see delivery.")


@pages.get("/admin/delivery")
@login_required
def delivery_page() -> str:
    _admin_only()
    return render_template(
        "delivery/status.html",
        rows=services.status(db.session()),
        dead=services.dead_entries(db.session(), limit=50),
        destinations=services.endpoints(current_app.config),
    )


@pages.post("/admin/delivery/retry")
@login_required
def retry_page() -> Response:
    _admin_only()
    count = services.retry_dead(db.session())
    db.session.commit()
    flash(f"{count} statement(s) will be sent again.", "info")
    return redirect(url_for(".delivery_page"), 303)
