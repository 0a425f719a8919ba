"""Curriculum coverage: what a programme covers of a framework, how deeply, and where the gaps are."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API and pages with ``app``."""
    from capcourse.coverage.views import blp, pages
    from capcourse.extensions import register_api

    register_api(app, blp)
    app.register_blueprint(pages)
