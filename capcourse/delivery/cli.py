"""``capcourse delivery``."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from capcourse.delivery import services
from capcourse.delivery.services import Report
from capcourse.delivery.worker import drain_once, run_forever
from capcourse.extensions import db


def _say(report: Report) -> None:
    click.echo(f"delivered {report.delivered}, to retry {report.retried}, dead {report.dead}")


@click.group("delivery", cls=AppGroup)
def delivery_cli() -> None:
    """Deliver emitted xAPI statements to the configured LRSs."""


@delivery_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now and stop.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between rounds.")
def run(once: bool, interval: float) -> None:
    """Drain the outbox (several workers may run at once on PostgreSQL)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not services.endpoints(app.config):
        raise click.ClickException("No LRS is configured: set CAPCOURSE_LRS_ENDPOINT (and its credentials).")
    if once:
        _say(drain_once(app))
        return
    click.echo(f"Delivering every {interval} s; Ctrl+C or SIGTERM stops after the batch under way.")
    stop = threading.Event()
    # capcourse serve stops its delivery worker with SIGTERM: finish the batch, then go.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_forever(app, interval, stop, _say)
    except KeyboardInterrupt:
        stop.set()


@delivery_cli.command("status")
def status() -> None:
    """Per destination: pending, delivered, dead, and the latest error."""
    rows = services.status(db.session())
    if not rows:
        click.echo("Nothing has been queued for delivery.")
    for row in rows:
        click.echo(
            f"{row['destination']}: {row['pending']} pending, {row['delivered']} delivered, {row['dead']} dead"
            + (f"; last error: {row['last_error']}" if row["last_error"] else "")
        )


@delivery_cli.command("retry")
@click.option("--destination", help="Only this destination.")
def retry(destination: str | None) -> None:
    """Send dead statements again."""
    count = services.retry_dead(db.session(), destination)
    db.session.commit()
    click.echo(f"{count} statement(s) will be sent again.")
