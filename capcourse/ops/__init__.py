"""Running capcourse in production: health and readiness, Prometheus metrics, JSON logs.

- ``GET /healthz``: the process is up (no database query), for liveness probes.
- ``GET /readyz``: the database answers, its schema is at the migrations' head,
  and the outbox backlog is below ``CAPCOURSE_READY_MAX_BACKLOG``; 503 otherwise,
  for load balancers.
- ``GET /metrics``: Prometheus metrics (:mod:`capcourse.ops.metrics`).
- Logs: one JSON object per line with the request id (:mod:`capcourse.ops.logs`).
- Behind ``CAPCOURSE_TRUSTED_PROXIES`` reverse proxies, the client's address and
  scheme come from their ``X-Forwarded-*`` headers (sign-in throttling per address needs it).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from capcourse.ops import logs, metrics


def init_app(app: Flask) -> None:
    """Register the endpoints, the request id and access log, and the request metrics."""
    from capcourse.extensions import api_of, csrf
    from capcourse.ops.views import blp

    proxies = int(app.config.get("CAPCOURSE_TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind a reverse proxy the peer is the proxy: take the client's address,
        # scheme and host from the headers that many proxies set, and no more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    logs.init_app(app)
    metrics.init_app(app)
    api_of(app).register_blueprint(blp)
    csrf.exempt(blp)
