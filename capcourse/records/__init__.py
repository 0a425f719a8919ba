"""Learning records: completions received from LMSs, and the xAPI statements they produce."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.records.views import blp

    register_api(blp)
