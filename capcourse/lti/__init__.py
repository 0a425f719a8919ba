"""LTI 1.3 Advantage: capcourse as a tool that LMSs (Moodle, Canvas, …) launch from their courses."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the LTI pages, API and ``capcourse lti`` commands."""
    from capcourse.extensions import api_of, csrf
    from capcourse.lti.cli import lti_cli
    from capcourse.lti.pages import pages
    from capcourse.lti.views import blp

    # Platforms post logins and launches from their own origin; state, nonce
    # and signed tokens protect these, not a CSRF token from a session.
    for view in ("login", "launch_view", "deep_link_response"):
        csrf.exempt(f"capcourse.lti.pages.{view}")
    api_of(app).register_blueprint(blp)
    csrf.exempt(blp)
    app.register_blueprint(pages)
    app.cli.add_command(lti_cli)
