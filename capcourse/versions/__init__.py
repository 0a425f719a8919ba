"""Framework versions: drift reports that move a programme from one version of a framework to another."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages, commands and evidence rules with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.versions import evidence
    from capcourse.versions.cli import versions_cli
    from capcourse.versions.pages import pages
    from capcourse.versions.views import blp

    evidence.register()
    register_api(app, blp)
    app.register_blueprint(pages)
    app.cli.add_command(versions_cli)
