"""Mappings from modules and activities to framework items, with their history."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API and pages with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.mapping.pages import pages
    from capcourse.mapping.views import blp

    register_api(app, blp)
    app.register_blueprint(pages)
