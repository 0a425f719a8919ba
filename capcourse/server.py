"""``capcourse serve``: the web app under Granian, with the delivery worker as a process of its own.

``flask run`` stays for development. In production (and ``make run``) Granian's
main process runs several web worker processes, each answering on a few
threads, starts another when one dies, and replaces them all gracefully on
``SIGHUP`` (requests in flight finish); the delivery worker runs beside them as
one process (``capcourse delivery run``), never one per web worker, and so does
the poster of LMS gradebook scores (``capcourse lti scores run``); both are
stopped with the server.

Why Granian (HTTP in Rust, the app on Python threads) and not gunicorn's
threaded workers, which parse HTTP and hand each request to a thread in Python:
on a 2-core machine, one client, the same app and database, a request that
stores nothing was answered 1.2 times as fast (990/s against 810/s), one statement
from an LMS 1.15–1.25 times as fast on SQLite and PostgreSQL, and with 4 clients
1.2–1.5 times; batches of 100 statements, whose time is the app's, alike within
the runs' noise (both servers up at once, rounds alternated, 2026-12-01;
``bench/ingest.py`` prints each server's floor against Learning Locker's).
It streams request bodies to the app as gunicorn did (a 300 MB upload held
34 MB), so a slow upload still holds no transaction (see ``records``).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from granian.constants import Interfaces
from granian.server import Server

from capcourse.delivery.services import endpoints
from capcourse.ops.metrics import prepare_multiprocess

logger = logging.getLogger(__name__)

#: How long a stopping web worker may finish the requests it holds (SIGTERM, SIGHUP) before it is killed.
GRACEFUL_SECONDS = 30


class ChosenThreads(logging.Filter):
    """Drops Granian's warning that more threads than 2 × cores + 1 "seems quite high".

    They are chosen: a web worker's threads mostly wait (on the database, on a slow
    upload, on a CASE package's URL), and 8 keep a 2-core machine answering while a
    few wait. The warning on every start of ``make run`` would read as a fault.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "seems quite high" not in record.getMessage()


#: Granian's logging, merged into its own: its loggers write through the root logger (capcourse's handler).
GRANIAN_LOGGING: dict[str, Any] = {
    "filters": {"chosen_threads": {"()": ChosenThreads}},
    "loggers": {
        "_granian": {"handlers": [], "propagate": True, "filters": ["chosen_threads"]},
        "granian.access": {"handlers": [], "propagate": True},
    },
}


def web_app() -> Flask:
    """What each web worker serves (Granian calls it in the worker): the app, built from the environment.

    Each worker builds its own, so no database connection crosses a fork.
    """
    from capcourse import create_app

    app = create_app()
    freeze_start_up()
    return app


def freeze_start_up() -> None:
    """Leave what a worker made at start-up out of the garbage collector's full collections.

    The app, its models, schemas, templates and libraries are some 250,000
    objects that live as long as the worker; every full collection walked them
    all, 130–200 ms in which a request (one in 25 of an LMS's batches of 100)
    waited. Frozen, as ``gc.freeze()`` does for servers, the collections walk
    only what requests made since. Start-up's own garbage is collected first.
    """
    gc.collect()
    gc.freeze()


def worker_command(*arguments: str) -> list[str]:
    """The command line of a background worker process: ``capcourse <arguments>``."""
    return [sys.executable, "-m", "capcourse", *arguments]


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Web worker processes [CAPCOURSE_WEB_WORKERS, 2]."
)
@click.option(
    "--threads", type=click.IntRange(1, 256), default=None, help="Threads per web worker [CAPCOURSE_WEB_THREADS, 8]."
)
@click.option(
    "--no-delivery",
    is_flag=True,
    help="Start no background worker (delivery, LMS gradebook scores): run them elsewhere.",
)
def serve(host: str, port: int, workers: int | None, threads: int | None, no_delivery: bool) -> None:
    """Serve the web app with Granian; deliver statements and gradebook scores in processes beside it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    workers = workers or int(app.config["CAPCOURSE_WEB_WORKERS"])
    threads = threads or int(app.config["CAPCOURSE_WEB_THREADS"])
    # Metrics of every worker (and of the delivery process) add up in one shared folder, made before any starts.
    prepare_multiprocess(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="capcourse-metrics-"))
    background: list[subprocess.Popen[bytes]] = []
    if not no_delivery:
        if endpoints(app.config):
            background.append(subprocess.Popen(worker_command("delivery", "run"), env=os.environ.copy()))
            click.echo(f"Delivering statements to: {', '.join(endpoints(app.config))} (process {background[-1].pid})")
        else:
            click.echo("No LRS configured: statements stay in the embedded store at /xapi/statements.")
        # Attainments to the gradebooks of LMSs that launch capcourse (LTI AGS); it idles without any.
        background.append(subprocess.Popen(worker_command("lti", "scores", "run"), env=os.environ.copy()))
    click.echo(f"Serving on http://{host}:{port}/ with {workers} workers × {threads} threads (Ctrl+C to stop)")

    def stop_background() -> None:
        for process in background:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in background:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    server = Server(
        f"{__name__}:web_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        # A worker that dies is replaced.
        respawn_failed_workers=True,
        workers_kill_timeout=GRACEFUL_SECONDS,
        # Granian's own lines (workers started, stopped, respawned) go to the root logger: JSON, as capcourse's.
        log_dictconfig=GRANIAN_LOGGING,
    )
    try:
        server.serve()
    finally:
        # However serving ends (SIGTERM, Ctrl+C, a crash loop), after Granian has stopped its workers.
        stop_background()
