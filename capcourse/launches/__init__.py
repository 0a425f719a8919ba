"""SCORM launches and their run-time data.

An LMS starts a :class:`~capcourse.launches.models.Launch` for a learner and an
activity (``POST /api/v1/launches``) and gets a token, shown once, for the
browser player (scorm-again, say) to commit the SCORM run-time data with. Each
commit is normalised by :func:`scorm.parse_runtime`; a passed, failed or
completed attempt becomes one completion per launch and outcome, recorded by
:func:`capcourse.records.services.record_completion` like every other way in.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API with ``app``."""
    from capcourse.extensions import register_api
    from capcourse.launches.views import blp, runtime_blp

    register_api(app, blp, runtime_blp)
