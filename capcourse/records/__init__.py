"""Learning records: completions received from LMSs, and the xAPI statements they produce."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API with ``app``; a malformed verb table stops the start, not every request."""
    from capcourse.extensions import register_api
    from capcourse.records.verbs import verb_table
    from capcourse.records.views import blp

    verb_table(app.config.get("CAPCOURSE_XAPI_VERBS"))
    register_api(app, blp)
