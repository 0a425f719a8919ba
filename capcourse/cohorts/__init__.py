"""Cohorts: named groups of a programme's learners, to filter learner evidence by."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.cohorts.cli import cohorts_cli
    from capcourse.cohorts.pages import pages
    from capcourse.cohorts.views import blp
    from capcourse.extensions import register_api

    register_api(app, blp)
    app.register_blueprint(pages)
    app.cli.add_command(cohorts_cli)
