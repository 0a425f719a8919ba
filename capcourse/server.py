"""``capcourse serve``: the web app under gunicorn, with the delivery worker as a process of its own.

``flask run`` stays for development. In production (and ``make run``) gunicorn's
arbiter runs several web workers, each with a few threads, restarts a worker
that dies, and restarts them all gracefully on ``SIGHUP``; the delivery worker
runs beside them as one process (``capcourse delivery run``), never one per web
worker, and so does the poster of LMS gradebook scores (``capcourse lti scores
run``); both are stopped with the server.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication

from capcourse.delivery.services import endpoints
from capcourse.ops.metrics import child_exit, prepare_multiprocess

logger = logging.getLogger(__name__)


class WebServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from code: each worker builds its own app (no connections shared across a fork)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 25.1+ opens a control socket at ~/.gunicorn/gunicorn.ctl: one path for every instance the same
        # user runs (two web instances take it from each other), and read-only under the sample units'
        # ProtectSystem=strict. capcourse is managed by signals (SIGHUP reloads, SIGTERM stops), so it opens none.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        app = self.factory()
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
    """Serve the web app with gunicorn; deliver statements and gradebook scores in processes beside it."""
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

    def stop_background(_arbiter: Any) -> None:
        for process in background:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in background:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    from capcourse import create_app

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # gthread keeps connections alive (an LMS posting batch after batch reuses one).
        "worker_class": "gthread",
        "keepalive": 5,
        "graceful_timeout": 30,
        "timeout": 120,
        "accesslog": None,
        "on_exit": stop_background,
        "child_exit": child_exit,
        "proc_name": "capcourse",
    }
    try:
        WebServer(create_app, options).run()
    finally:
        stop_background(None)
