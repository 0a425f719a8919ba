"""Security headers on every response.

- ``Content-Security-Policy``: scripts, styles, fonts, images and requests from
  this site only, no inline script or event handler, no plugins, no framing
  (``frame-ancestors 'none'``), forms posting only here. Page JavaScript lives
  in static files, so an injected ``<script>`` or ``onclick=`` never runs.
- ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``.
- ``X-Content-Type-Options: nosniff``: an upload served as text is never run as script.
- ``Referrer-Policy: same-origin``: identifiers in our URLs do not leak to other sites.
- ``Strict-Transport-Security`` when ``CAPCOURSE_BASE_URL`` is https.

A response that already carries a ``Content-Security-Policy`` keeps it: a view
that must be framed by named origins (LTI launches) sets its own, and then no
``X-Frame-Options`` is added to contradict it.

The Swagger UI page (from flask-swagger-ui) starts with one inline script
whose text depends on the request; it is allowed by its hash, computed from
the page as served, and nothing else inline is.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, request
from werkzeug.wrappers import Response

#: The policy of every page that does not set its own.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: A year; only the host itself (the institution's other hosts are theirs to decide).
HSTS = "max-age=31536000"
#: The blueprint name under which create_app registers Swagger UI.
API_DOCS_BLUEPRINT = "api_docs_ui"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for each inline ``<script>`` of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def _api_docs_policy(response: Response) -> str:
    hashes = " ".join(inline_script_hashes(response.get_data()))
    # Swagger UI styles its widgets with inline style elements.
    return POLICY.replace("script-src 'self'", f"script-src 'self' {hashes}").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app``."""
    hsts = str(app.config.get("CAPCOURSE_BASE_URL", "")).startswith("https://")

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if "Content-Security-Policy" not in headers:
            is_docs_page = (
                request.blueprint == API_DOCS_BLUEPRINT
                and response.mimetype == "text/html"
                and not response.direct_passthrough
            )
            headers["Content-Security-Policy"] = _api_docs_policy(response) if is_docs_page else POLICY
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
