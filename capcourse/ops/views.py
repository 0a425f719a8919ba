"""``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import cache
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select, text
from werkzeug.wrappers import Response

from capcourse.errors import ForbiddenError, UnauthorizedError
from capcourse.extensions import db
from capcourse.paths import MIGRATIONS_DIR

logger = logging.getLogger(__name__)

blp = Blueprint("ops", __name__, description="Operations: liveness, readiness and Prometheus metrics.")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String()


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ready or unready"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema), required=True)


@cache
def migration_heads() -> frozenset[str]:
    """The head revisions of the migrations this code ships (read once per process)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether this instance should receive traffic, and why (database, migrations, outbox backlog)."""
    from capcourse.records.models import DeliveryState, OutboxEntry

    checks: dict[str, dict[str, Any]] = {}
    try:
        # The request's own session: nothing is written, and it is closed with the request.
        connection = db.session.connection()
        connection.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
        heads = migration_heads()
        checks["migrations"] = {
            "ok": current == heads,
            "detail": f"at {', '.join(sorted(current)) or 'nothing'}; head {', '.join(sorted(heads))}",
        }
        pending = int(
            connection.scalar(
                select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state == DeliveryState.PENDING)
            )
            or 0
        )
        limit = int(current_app.config["CAPCOURSE_READY_MAX_BACKLOG"])
        checks["outbox"] = {
            "ok": limit <= 0 or pending < limit,
            "detail": f"{pending} statements waiting for delivery; unready from {limit}",
        }
    except Exception:
        # The cause goes to the log, not to whoever asks.
        logger.warning("Readiness check: the database cannot be read", exc_info=True)
        db.session.rollback()
        if "database" not in checks:
            checks["database"] = {"ok": False, "detail": "unreachable"}
        checks.setdefault("migrations", {"ok": False, "detail": "could not be read"})
        checks.setdefault("outbox", {"ok": False, "detail": "could not be counted"})
    return all(c["ok"] for c in checks.values()), checks


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> Any:
        """Liveness: the process answers (no database query)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(
        503, schema=ReadinessSchema, description="Not ready: see checks; Retry-After says when to ask again."
    )
    def get(self) -> Any:
        """Readiness: database reachable, schema at the migrations' head, outbox backlog below its limit."""
        ok, checks = readiness()
        if ok:
            return {"status": "ready", "checks": checks}
        response = jsonify(ReadinessSchema().dump({"status": "unready", "checks": checks}))
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response


#: Headers a reverse proxy adds: a request carrying one came through a proxy, whatever its peer address.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _from_loopback() -> bool:
    """The request came straight from this machine: its socket peer is loopback and no proxy forwarded it.

    Behind a reverse proxy on the same machine every request's peer is loopback,
    so a forwarded request never counts as local, with or without ProxyFix.
    """
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.remote_addr or ""
    try:
        loopback = ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return False
    return loopback and not any(request.headers.get(name) for name in FORWARDING_HEADERS)


def metrics_allowed() -> None:
    """Who may read the metrics: the token's bearer if one is set, else local scrapers unless opened to all.

    :raises UnauthorizedError: a token is set and the request does not carry it.
    :raises ForbiddenError: no token is set, and the request is not local (nor are metrics public).
    """
    token = str(current_app.config.get("CAPCOURSE_METRICS_TOKEN") or "")
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise UnauthorizedError("Send CAPCOURSE_METRICS_TOKEN as a Bearer token to read the metrics.")
        return
    public = str(current_app.config.get("CAPCOURSE_METRICS_PUBLIC") or "").strip().lower()
    if public in ("1", "true", "yes", "on") or _from_loopback():
        return
    raise ForbiddenError(
        "The metrics are served to this machine only: scrape from it, or set CAPCOURSE_METRICS_TOKEN "
        "(or CAPCOURSE_METRICS_PUBLIC=true)."
    )


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(
        summary="Prometheus metrics",
        description=(
            "Text exposition format. With CAPCOURSE_METRICS_TOKEN set, send it as a Bearer token (401 without it); "
            "without a token, only requests from this machine that no proxy forwarded are answered (403 for others), "
            "unless CAPCOURSE_METRICS_PUBLIC=true."
        ),
        responses={"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def get(self) -> Response:
        metrics_allowed()
        from capcourse.ops.metrics import exposition

        body, content_type = exposition(current_app._get_current_object())  # type: ignore[attr-defined]
        return Response(body, content_type=content_type)
