"""JSON logs, one object a line, each carrying the id of the request it belongs to.

Every request gets an id: the ``X-Request-ID`` a reverse proxy sent (when it is
a sane token) or a new one; it is answered in ``X-Request-ID`` and stamped on
every log record written while the request runs, so one request's lines can be
found across the access log, errors and the proxy's own log. One access line
per request says method, path (never the query string: it may carry tokens),
status and duration. Nothing else from the request is logged: no headers, no
bodies, and SQL parameters are hidden by the engine (``hide_parameters``).

``CAPCOURSE_LOG_FORMAT`` is ``json`` (the default) or ``text``;
``CAPCOURSE_LOG_LEVEL`` the level (``INFO``). Tests configure no handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

access_logger = logging.getLogger("capcourse.access")

#: A request id from outside is kept only if it is a short plain token.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Attributes every LogRecord has: anything else was passed in ``extra`` and is logged as a field.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    if has_request_context():
        return str(g.request_id) if "request_id" in g else None
    return None


class RequestIdFilter(logging.Filter):
    """Stamps ``request_id`` on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, request_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", form: str = "json") -> None:
    """Send every logger's records to stderr in ``form`` (once per process)."""
    root = logging.getLogger()
    if any(getattr(h, "_capcourse", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._capcourse = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter()
        if form == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())


def _start() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    if "request_id" not in g:  # refused by a before_request hook that ran first
        _start()
    response.headers["X-Request-ID"] = g.request_id
    started = g.get("request_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    access_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration * 1000, 2),
            "remote_addr": request.remote_addr,
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Request ids and the access log; a JSON handler unless testing."""
    app.before_request(_start)
    app.after_request(_finish)
    if not app.testing:
        configure_logging(
            str(app.config.get("CAPCOURSE_LOG_LEVEL", "INFO")), str(app.config.get("CAPCOURSE_LOG_FORMAT", "json"))
        )
