"""The delivery worker: a loop around :func:`~capcourse.delivery.services.drain`.

``capcourse delivery run`` runs it as its own process; ``capcourse serve``
(what ``make run`` starts) runs it in a thread beside the web server, so a
newcomer sees statements reach the LRS with no extra process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from capcourse.delivery.services import Policy, Report, drain, endpoints
from capcourse.extensions import db

logger = logging.getLogger(__name__)


def policy_from(app: Flask) -> Policy:
    return Policy(
        max_attempts=int(app.config["CAPCOURSE_DELIVERY_MAX_ATTEMPTS"]),
        batch_size=int(app.config["CAPCOURSE_DELIVERY_BATCH_SIZE"]),
        lease=float(app.config["CAPCOURSE_DELIVERY_LEASE_SECONDS"]),
    )


def drain_once(app: Flask) -> Report:
    """Deliver everything due now, with sessions of the worker's own."""
    with app.app_context():
        destinations = endpoints(app.config)
        if not destinations:
            return Report()

        def session_factory() -> Session:
            return Session(db.engine)

        return drain(session_factory, destinations, policy_from(app))


def run_forever(
    app: Flask, interval: float, stop: threading.Event, on_report: Callable[[Report], None] | None = None
) -> None:
    """Drain, sleep ``interval`` seconds, again, until ``stop`` is set. Errors are logged, never fatal."""
    while not stop.is_set():
        try:
            report = drain_once(app)
            if on_report and (report.delivered or report.retried or report.dead):
                on_report(report)
        except Exception:
            logger.exception("Delivery round failed; trying again in %s s", interval)
        stop.wait(interval)


def start_in_process(app: Flask, interval: float = 2.0) -> threading.Event:
    """Run the worker in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, interval, stop), name="capcourse-delivery", daemon=True)
    thread.start()
    return stop
