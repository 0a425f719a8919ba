"""The xAPI Statements resource at ``/xapi``: an LRS endpoint LMSs post to, and the embedded store."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.statements.views import blp

    register_api(app, blp)
