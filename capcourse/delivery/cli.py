"""``capcourse delivery`` and ``capcourse serve``."""

from __future__ import annotations

import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from werkzeug.serving import run_simple

from capcourse.delivery import services
from capcourse.delivery.services import Report
from capcourse.delivery.worker import drain_once, run_forever, start_in_process
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
    click.echo(f"Delivering every {interval} s; Ctrl+C stops.")
    stop = threading.Event()
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


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the web app with the delivery worker in the same process (the embedded default)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if services.endpoints(app.config):
        start_in_process(app)
        click.echo("Delivering statements to: " + ", ".join(services.endpoints(app.config)))
    else:
        click.echo("No LRS configured: statements stay in the embedded store at /xapi/statements.")
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
    # Not app.run(): Flask ignores it inside a CLI command (FLASK_RUN_FROM_CLI), so nothing would serve.
    run_simple(host, port, app, threaded=True)
