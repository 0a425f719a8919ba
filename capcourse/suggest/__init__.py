"""Suggested mappings, equivalents and curriculum areas, and what people decided about them.

Text ranking (BM25F over stemmed words) with relevance feedback from recorded
confirmations and rejections; see :mod:`capcourse.suggest.ranking` and
``docs/suggestions.md``. Suggestions are never applied without a person.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.frameworks.crosswalk_pages import register_suggestions
    from capcourse.suggest.cli import suggest_cli
    from capcourse.suggest.crosswalk_editor import HOOKS
    from capcourse.suggest.pages import area_suggestions, pages, suggestion_panel
    from capcourse.suggest.views import blp

    register_api(app, blp)
    app.register_blueprint(pages)
    app.cli.add_command(suggest_cli)
    # The pages below this package show its panels through these (see capcourse.suggest.pages).
    app.jinja_env.globals["suggestion_panel"] = suggestion_panel
    app.jinja_env.globals["area_suggestions"] = area_suggestions
    # The crosswalk editor (capcourse.frameworks.crosswalk_pages) offers likely equivalents through these.
    register_suggestions(app, HOOKS)
