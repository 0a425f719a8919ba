"""The catalogue: programmes of courses, their modules and activities."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API and pages with ``app``."""
    from capcourse.catalogue.pages import pages
    from capcourse.catalogue.views import blp
    from capcourse.extensions import register_api

    register_api(app, blp)
    app.register_blueprint(pages)
