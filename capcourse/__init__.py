"""capcourse: capability frameworks, course mapping and curriculum coverage.

The application is built by :func:`create_app`; nothing here touches the
database, so importing the package (or starting the server) never runs a query.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, redirect, url_for
from flask_swagger_ui import get_swaggerui_blueprint
from werkzeug.wrappers import Response

# Installed before any model or view module is imported: aware UTC timestamps on
# every timezone column, and flask-smorest's argument parser behind the input guards.
from capcourse import guards, timestamps  # noqa: F401
from capcourse.config import load_config

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build and configure a capcourse application.

    :param config: settings that override the environment-derived defaults
        (tests pass a database URL here, for example).
    :returns: the configured Flask application.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, config))

    from capcourse import extensions, lti, models, outbound  # noqa: F401  (models: complete metadata)
    from capcourse.accounts import throttle
    from capcourse.accounts.cli import keys_cli, users_cli
    from capcourse.accounts.pages import pages as account_pages
    from capcourse.accounts.views import blp as accounts_api
    from capcourse.case.cli import case_cli
    from capcourse.case.pages import pages as case_pages
    from capcourse.case.views import blp as case_api
    from capcourse.case.views import provider_v1p0, provider_v1p1
    from capcourse.catalogue.pages import pages as catalogue_pages
    from capcourse.catalogue.views import blp as catalogue_api
    from capcourse.cohorts.cli import cohorts_cli
    from capcourse.cohorts.pages import pages as cohort_pages
    from capcourse.cohorts.views import blp as cohorts_api
    from capcourse.coverage.views import blp as coverage_api
    from capcourse.coverage.views import pages as coverage_pages
    from capcourse.delivery.cli import delivery_cli, serve
    from capcourse.delivery.views import blp as delivery_api
    from capcourse.delivery.views import pages as delivery_pages
    from capcourse.demo.cli import demo_cli
    from capcourse.errors import register_error_handlers
    from capcourse.frameworks.cli import frameworks_cli
    from capcourse.frameworks.pages import pages as framework_pages
    from capcourse.frameworks.views import blp as frameworks_api
    from capcourse.launches.views import blp as launches_api
    from capcourse.launches.views import runtime_blp as scorm_runtime_api
    from capcourse.mapping.pages import pages as mapping_pages
    from capcourse.mapping.views import blp as mapping_api
    from capcourse.packages.cli import scorm_cli
    from capcourse.packages.pages import pages as package_pages
    from capcourse.packages.views import blp as packages_api
    from capcourse.records.views import blp as records_api
    from capcourse.statements.views import blp as statements_api

    extensions.init_app(app)
    outbound.init_app(app)
    throttle.init_app(app)
    guards.init_app(app, extensions.api)
    for blueprint in (
        frameworks_api,
        catalogue_api,
        mapping_api,
        accounts_api,
        records_api,
        statements_api,
        delivery_api,
        coverage_api,
        cohorts_api,
        launches_api,
        scorm_runtime_api,
        packages_api,
        case_api,
        provider_v1p1,
        provider_v1p0,
    ):
        extensions.api.register_blueprint(blueprint)
        extensions.csrf.exempt(blueprint)
    # Interactive API docs: Swagger UI's files come from the flask-swagger-ui package, not a CDN.
    app.register_blueprint(
        get_swaggerui_blueprint("/api/docs", "/api/openapi.json", config={"app_name": "capcourse API"}),
        name="api_docs_ui",
    )
    app.register_blueprint(framework_pages)
    app.register_blueprint(account_pages)
    app.register_blueprint(catalogue_pages)
    app.register_blueprint(mapping_pages)
    app.register_blueprint(delivery_pages)
    app.register_blueprint(coverage_pages)
    app.register_blueprint(cohort_pages)
    app.register_blueprint(package_pages)
    app.register_blueprint(case_pages)
    lti.init_app(app)
    register_error_handlers(app)

    app.cli.add_command(frameworks_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(delivery_cli)
    app.cli.add_command(serve)
    app.cli.add_command(demo_cli)
    app.cli.add_command(cohorts_cli)
    app.cli.add_command(scorm_cli)
    app.cli.add_command(case_cli)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("framework_pages.framework_list"))

    return app
