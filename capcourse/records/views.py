"""REST API for completion events from LMSs without xAPI."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

import xapi
from capcourse.accounts.auth import require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.extensions import db, take_write_turn
from capcourse.records import services
from capcourse.records.schemas import (
    CompletionBatchResultSchema,
    CompletionBatchSchema,
    PendingSchema,
    learner_agent,
)
from capcourse.records.settings import settings_from

blp = Blueprint(
    "records",
    __name__,
    url_prefix="/api/v1",
    description="Completions from LMSs; each becomes an xAPI statement carrying the capability mapping.",
)


def completion_input(entry: dict[str, Any]) -> services.CompletionInput:
    agent = learner_agent(entry["learner"])
    key = (
        entry["idempotency_key"]
        or hashlib.sha256(
            "\x1f".join(
                (xapi.agent_key(agent), entry["activity"], entry["outcome"], entry["timestamp"].isoformat())
            ).encode()
        ).hexdigest()
    )
    return services.CompletionInput(
        agent=agent,
        activity_ref=entry["activity"],
        outcome=entry["outcome"],
        occurred_at=entry["timestamp"],
        idempotency_key=f"api:{key}",
        source="api",
        success=entry["success"],
        score_scaled=entry["score_scaled"],
        score_raw=entry["score_raw"],
        score_min=entry["score_min"],
        score_max=entry["score_max"],
        duration_seconds=entry["duration_seconds"],
        registration=str(entry["registration"]) if entry["registration"] else None,
    )


@blp.before_request
def _one_write_at_a_time() -> None:
    if request.endpoint == "records.Completions" and request.method == "POST":
        take_write_turn()  # a batch's parsing and checking are work too: see extensions


@blp.route("/completions")
class Completions(MethodView):
    @require_role(Role.INTEGRATION, Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(CompletionBatchSchema)
    @blp.response(200, CompletionBatchResultSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a batch of completions (integration keys).

        The whole batch is checked first; a bad entry refuses the batch with its
        index named, and nothing is recorded. Entries for activity ids nothing
        carries yet are kept (``pending``) and recorded when an author maps them.
        """
        settings = settings_from(current_app.config)
        inputs = [completion_input(entry) for entry in body["completions"]]
        outcomes = services.record_batch(db.session(), inputs, settings.base_url, settings.destinations)
        results = [
            {
                "index": index,
                "status": outcome.status,
                "completion_ids": [c.id for c in outcome.completions],
                "statement_ids": [c.statement_id for c in outcome.completions],
            }
            for index, outcome in enumerate(outcomes)
        ]
        db.session.commit()
        return {"results": results}


@blp.route("/pending-records")
class Pending(MethodView):
    # Kept records belong to no programme yet and come from every LMS: admins only.
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, PendingSchema(many=True))
    def get(self) -> Any:
        """Activity ids that completions arrived for but no activity carries yet: map them to apply the records (admins)."""
        return [{"activity": ref, "records": count} for ref, count in services.pending_summary(db.session())]
