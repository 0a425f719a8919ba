"""Helpers for browser tests: a live server and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wsgi import FileWrapper

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CHROMIUM = os.environ.get("CAPCOURSE_CHROMIUM", "/usr/bin/chromium")
# Flags for a root, offline sandbox: no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> str:
    """The Chromium executable, or skip (fail in CI, where it must be present)."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        if os.environ.get("CAPCOURSE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install Debian's chromium package")
        pytest.skip(f"Chromium not found at {CHROMIUM} (install Debian's chromium package)")
    return path


@contextmanager
def script_held(page: Any, pattern: str) -> Iterator[None]:
    """Reload ``page`` with its script ``pattern`` held: the block runs before that script has.

    What a slow page does to a deferred script. At the block's end the script was asked for
    (held, so not run) and is let go, and the page finishes loading; the caller then sees what
    it did with what the block typed. Each navigation waits for the page before it to load:
    the test server leaves a file open when a navigation drops a response in flight (a
    ResourceWarning, an error here), and a route set while the page is still loading could
    catch its own request for the script and hold it for ever (the page would never load).
    """
    page.wait_for_load_state("networkidle")
    held: list[Any] = []
    # A lambda, not held.append: Playwright cannot wrap a built-in method as a handler.
    page.route(pattern, lambda route: held.append(route))
    page.reload(wait_until="commit")
    try:
        yield
        for _ in range(200):  # until the browser has asked for the script
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1, f"the page did not ask for {pattern}"
    finally:
        # Let go on failure too: a module's page fixture goes on to the next test.
        for route in held:
            route.continue_()
        page.unroute(pattern)
    page.wait_for_load_state("networkidle")  # the reload, script and all, before the caller goes on


def _files_read_at_once(app: WSGIApplication) -> WSGIApplication:
    """``app``, with files it sends read whole and closed before the server writes them.

    Werkzeug's development server closes a response only after draining the
    request socket; when Chromium drops a connection (a favicon fetch cut short
    by the next navigation), that read fails first, the open file is never
    closed, and its ResourceWarning fails whichever test is running at the
    next garbage collection.
    """

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = app(environ, start_response)
        if not isinstance(body, FileWrapper):
            return body
        try:
            return [b"".join(body)]
        finally:
            body.close()

    return wrapped


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, _files_read_at_once(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
