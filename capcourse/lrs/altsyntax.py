"""xAPI's Alternate Request Syntax (Communication 1.3): any request as a form POST.

A client that cannot send some methods or headers (a browser across origins)
POSTs ``?method=PUT`` (or GET, DELETE, HEAD) with an
``application/x-www-form-urlencoded`` body: header fields (Authorization,
X-Experience-API-Version, Content-Type, Content-Length, If-Match,
If-None-Match) as form fields, the document or statement as ``content``, and
the resource's parameters as the other form fields. This middleware turns such
a request back into the request it stands for before routing, so every
resource under ``/xapi`` answers it the same way.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}
HEADERS = {
    "Authorization": "HTTP_AUTHORIZATION",
    "X-Experience-API-Version": "HTTP_X_EXPERIENCE_API_VERSION",
    "If-Match": "HTTP_IF_MATCH",
    "If-None-Match": "HTTP_IF_NONE_MATCH",
}


class AlternateRequestSyntax:
    """WSGI middleware for requests under ``prefix`` that carry ``method`` in the query string."""

    def __init__(self, app: WSGIApp, prefix: str = "/xapi/", max_bytes: int = 16 * 1024 * 1024) -> None:
        self.app = app
        self.prefix = prefix
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("PATH_INFO", "")).startswith(self.prefix):
            return self.app(environ, start_response)
        query = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        if not any(name == "method" for name, _ in query):
            return self.app(environ, start_response)
        problem = self._rewrite(environ, query)
        if problem:
            return self._bad_request(problem, start_response)
        return self.app(environ, start_response)

    def _rewrite(self, environ: dict[str, Any], query: list[tuple[str, str]]) -> str | None:
        if environ.get("REQUEST_METHOD") != "POST":
            return "The alternate request syntax (a method parameter) is only for POST requests."
        if len(query) != 1:
            return (
                "With the alternate request syntax, method is the only query parameter; send the others as form fields."
            )
        method = query[0][1].upper()
        if method not in METHODS:
            return f"method must be one of {', '.join(sorted(METHODS))}."
        content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return "The alternate request syntax needs an application/x-www-form-urlencoded body."
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "Content-Length is not a number."
        if length > self.max_bytes:
            return "The request is too large."
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            return "The body is not a URL-encoded form."
        params: list[tuple[str, str]] = []
        content: bytes | None = None
        body_type = "application/json"
        for name, value in form:
            if name == "content":
                content = value.encode("utf-8")
            elif name in HEADERS:
                environ[HEADERS[name]] = value
            elif name == "Content-Type":
                body_type = value
            elif name == "Content-Length":
                continue
            else:
                params.append((name, value))
        if method in ("PUT", "POST") and content is None:
            return "The alternate request syntax sends the body as the form field content."
        body = content or b""
        environ["REQUEST_METHOD"] = method
        environ["QUERY_STRING"] = urlencode(params)
        environ["CONTENT_TYPE"] = body_type if content is not None else ""
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        return None

    @staticmethod
    def _bad_request(message: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = json.dumps({"code": 400, "status": "Bad Request", "message": message}).encode()
        start_response(
            "400 BAD REQUEST",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Experience-API-Version", "1.0.3"),
            ],
        )
        return [body]
