"""SCORM packages: import content into the catalogue, export modules and courses as packages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.packages.cli import scorm_cli
    from capcourse.packages.pages import pages
    from capcourse.packages.views import blp

    register_api(app, blp)
    app.register_blueprint(pages)
    app.cli.add_command(scorm_cli)
