"""capcourse as a Learning Record Store: what the xAPI 1.0.3 resources share beyond statements.

The document resources (State, Activity Profile, Agent Profile), the
Activities and Agents resources, statement attachments and signatures, the
statement index behind the Statement resource's filters, and the Alternate
Request Syntax. The Statement resource itself is :mod:`capcourse.statements.views`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the LRS resources and the Alternate Request Syntax on ``app``."""
    from capcourse.extensions import register_api
    from capcourse.lrs import retrieval
    from capcourse.lrs.altsyntax import AlternateRequestSyntax
    from capcourse.lrs.views import blp
    from capcourse.records.services import STORED_HOOKS

    register_api(app, blp)
    if retrieval.index_rows not in STORED_HOOKS:
        STORED_HOOKS.append(retrieval.index_rows)
    app.wsgi_app = AlternateRequestSyntax(  # type: ignore[method-assign]
        app.wsgi_app, max_bytes=int(app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024)
    )
