"""Capability frameworks: documents, items and the associations between them.

The model follows 1EdTech CASE (CFDocument, CFItem, CFAssociation) so that CASE
export and import are a mapping of fields, not a rewrite.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.frameworks import area_pages, area_views, crosswalk_pages, crosswalk_views  # noqa: F401  (their routes join the blueprints below)
    from capcourse.frameworks.cli import frameworks_cli
    from capcourse.frameworks.crosswalk_cli import crosswalks_cli
    from capcourse.frameworks.pages import pages
    from capcourse.frameworks.views import blp

    register_api(app, blp, crosswalk_views.blp)
    app.register_blueprint(pages)
    app.register_blueprint(crosswalk_pages.pages)
    app.cli.add_command(frameworks_cli)
    app.cli.add_command(crosswalks_cli)
