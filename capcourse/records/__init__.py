"""Learning records: completions received from LMSs, and the xAPI statements they produce."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    """Register this domain's API with ``app``, and its hooks in the layers below (mappings, catalogue).

    A malformed verb table stops the start, not every request.
    """
    from capcourse.catalogue import CARRIED_HOOKS
    from capcourse.extensions import register_api
    from capcourse.mapping.services import MAPPED_HOOKS
    from capcourse.records.evidence import refresh_items
    from capcourse.records.verbs import verb_table
    from capcourse.records.views import blp

    verb_table(app.config.get("CAPCOURSE_XAPI_VERBS"))
    register_api(app, blp)
    # Evidence follows every change of mappings, in its transaction.
    if refresh_items not in MAPPED_HOOKS:
        MAPPED_HOOKS.append(refresh_items)
    # Records kept for an activity id nobody carried are recorded once an activity carries it.
    app.extensions.setdefault(CARRIED_HOOKS, []).append(lambda session: apply_pending_for(app, session))


def apply_pending_for(app: Flask, session: Session) -> int:
    """Record the kept records an activity of ``app``'s database now matches, with ``app``'s settings."""
    from capcourse.records.services import apply_pending
    from capcourse.records.settings import settings_from

    settings = settings_from(app.config)  # read when called: a test may change the settings after start-up
    return apply_pending(session, settings.base_url, settings.destinations)
