"""capcourse: capability frameworks, course mapping and curriculum coverage.

The application is built by :func:`create_app`; nothing here touches the
database, so importing the package (or starting the server) never runs a query.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, redirect, url_for
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy.orm import configure_mappers
from werkzeug.wrappers import Response

# Installed before any model or view module is imported: aware UTC timestamps on
# every timezone column, and flask-smorest's argument parser behind the input guards.
from capcourse import guards, timestamps  # noqa: F401
from capcourse.config import load_config

#: The one place the version is written (setup.cfg reads it).
__version__ = "0.2.0"

logger = logging.getLogger(__name__)

#: The domain packages, lowest layer first; each registers its own API, pages and
#: commands in ``init_app`` (imported there, so importing a package stays cheap).
DOMAINS = (
    "frameworks",
    "catalogue",
    "mapping",
    "accounts",
    "records",
    "statements",
    "lrs",
    "delivery",
    "coverage",
    "versions",
    "cohorts",
    "launches",
    "packages",
    "case",
    "demo",
    "lti",
    "suggest",
    "ops",
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build and configure a capcourse application.

    :param config: settings that override the environment-derived defaults
        (tests pass a database URL here, for example).
    :returns: the configured Flask application.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, config))

    from capcourse import extensions, headers, models, outbound  # noqa: F401  (models: complete metadata)
    from capcourse.errors import register_error_handlers
    from capcourse.server import serve

    extensions.init_app(app)
    outbound.init_app(app)
    headers.init_app(app)
    guards.init_app(app, extensions.api_of(app))
    for name in DOMAINS:
        importlib.import_module(f"capcourse.{name}").init_app(app)
    # Interactive API docs: Swagger UI's files come from the flask-swagger-ui package, not a CDN.
    app.register_blueprint(
        get_swaggerui_blueprint("/api/docs", "/api/openapi.json", config={"app_name": "capcourse API"}),
        name="api_docs_ui",
    )
    register_error_handlers(app)
    app.cli.add_command(serve)
    # Every model is imported by now: relate the mappers here, once per process, so a web
    # worker's first request does not pay for it (a tenth of a second, no query).
    configure_mappers()

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("framework_pages.framework_list"))

    return app
