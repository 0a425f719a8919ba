"""The catalogue: programmes of courses, their modules and activities."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

#: Key of ``app.extensions``: what runs once an activity (new, or given external identifiers) may carry
#: identifiers it did not before, in the request's transaction. Each is given the session and answers how
#: many records it made of it. The learning records register one (records kept for an identifier nobody
#: carried are recorded once an activity carries it), so the catalogue needs no import of the layer above.
CARRIED_HOOKS = "capcourse.catalogue.carried_hooks"


def identifiers_carried(app: Flask, session: Session) -> int:
    """Run ``app``'s :data:`CARRIED_HOOKS`; how many records they made."""
    hooks: list[Callable[[Session], int]] = app.extensions.get(CARRIED_HOOKS, [])
    return sum(hook(session) for hook in hooks)


def init_app(app: Flask) -> None:
    """Register this domain's API and pages with ``app``."""
    from capcourse.catalogue.pages import pages
    from capcourse.catalogue.views import blp
    from capcourse.extensions import register_api

    register_api(app, blp)
    app.register_blueprint(pages)
