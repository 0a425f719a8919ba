"""One error hierarchy and one JSON error shape for the whole API.

Every API error is ``{"code": 404, "status": "Not Found", "message": "...",
"errors": {...}}``: ``code`` is the HTTP status, ``status`` its phrase,
``message`` a sentence for people, ``errors`` (optional) the details by field.
flask-smorest uses the same shape for the validation errors it raises, so
clients see one format whether a request failed in parsing or in a service.

One exception, because its standard says so: the CASE provider API under
``/ims/case/`` answers errors with 1EdTech's ``imsx_StatusInfo`` payload
(:func:`imsx_status_info`), built from the same errors.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from capcourse.extensions import db

logger = logging.getLogger(__name__)

#: Requests under these prefixes get JSON errors; pages get HTML.
API_PREFIXES = ("/api/", "/ims/", "/xapi/")
#: Operations endpoints, asked by probes and scrapers: JSON errors too.
MACHINE_PATHS = ("/healthz", "/readyz", "/metrics")
#: The CASE provider API: its errors are imsx_StatusInfo payloads.
CASE_PREFIX = "/ims/case/"

#: imsx_codeMinor values by reason; CASE 1.0 spells two of them without the underscore.
_CODE_MINOR = {
    "unknown_object": ("unknownobject", "unknownobject"),
    "invalid_uuid": ("invalid_uuid", "invaliduuid"),
    "invalid_selection_field": ("invalid_selection_field", "invalid_selection_field"),
    "invalid_sort_field": ("invalid_sort_field", "invalid_sort_field"),
    "unauthorised_request": ("unauthorised_request", "unauthorisedrequest"),
    "forbidden": ("forbidden", "forbidden"),
    "server_busy": ("server_busy", "server_busy"),
    "internal_server_error": ("internal_server_error", "internal_server_error"),
}
_DEFAULT_REASON = {
    400: "invalid_selection_field",
    401: "unauthorised_request",
    403: "forbidden",
    404: "unknown_object",
    429: "server_busy",
    500: "internal_server_error",
}


class CapcourseError(Exception):
    """Base of every error a service raises on purpose.

    :param message: what went wrong, in a sentence a person can act on.
    :param errors: details, usually ``{field: [messages]}``.
    """

    status_code: int = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, errors: dict[str, Any] | None = None, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        #: A machine-readable cause, for protocols whose errors carry one (CASE's imsx_codeMinor).
        self.reason = reason


class BadRequestError(CapcourseError):
    """The request breaks a protocol rule (xAPI answers these with 400)."""

    status_code = HTTPStatus.BAD_REQUEST


class InvalidInputError(CapcourseError):
    """The request is well formed but its content is not acceptable."""

    status_code = HTTPStatus.UNPROCESSABLE_ENTITY


class NotFoundError(CapcourseError):
    status_code = HTTPStatus.NOT_FOUND


class ConflictError(CapcourseError):
    status_code = HTTPStatus.CONFLICT


class PreconditionFailedError(CapcourseError):
    """The client's copy is stale: someone else changed the resource since."""

    status_code = HTTPStatus.PRECONDITION_FAILED


class PreconditionRequiredError(CapcourseError):
    """An update must say which version it changes (``If-Match``)."""

    status_code = HTTPStatus.PRECONDITION_REQUIRED


class PayloadTooLargeError(CapcourseError):
    """What was sent (or fetched) is bigger than the configured limit."""

    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnauthorizedError(CapcourseError):
    status_code = HTTPStatus.UNAUTHORIZED


class ForbiddenError(CapcourseError):
    status_code = HTTPStatus.FORBIDDEN


def error_body(status_code: int, message: str, errors: Any = None) -> dict[str, Any]:
    """Build the one JSON error shape."""
    body: dict[str, Any] = {
        "code": status_code,
        "status": HTTPStatus(status_code).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return body


def _flat_fields(errors: Any) -> list[tuple[str, str]]:
    """(field, message) pairs of an ``errors`` dict, flask-smorest's ``{"query": {...}}`` flattened."""
    pairs: list[tuple[str, str]] = []
    if not isinstance(errors, dict):
        return pairs
    for name, detail in errors.items():
        if name in ("query", "path", "json", "form") and isinstance(detail, dict):
            pairs.extend(_flat_fields(detail))
        else:
            messages = detail if isinstance(detail, list) else [detail]
            pairs.append((str(name), " ".join(map(str, messages))))
    return pairs


def imsx_status_info(
    status_code: int, message: str, errors: Any = None, reason: str | None = None, version: str = "1.1"
) -> dict[str, Any]:
    """The CASE provider API's error payload (imsx_StatusInfo), codeMajor ``failure``.

    :param reason: a key of the imsx_codeMinor values; by default one that fits the status.
    :param version: ``"1.1"`` or ``"1.0"``, whose codeMinor spellings differ.
    """
    pairs = _flat_fields(errors)
    description = message + "".join(f" {name}: {detail}" for name, detail in pairs)
    body: dict[str, Any] = {"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": description}
    reason = reason or _DEFAULT_REASON.get(status_code)
    if reason in _CODE_MINOR:
        value = _CODE_MINOR[reason][0 if version == "1.1" else 1]
        names = [name for name, _ in pairs] or ["sourcedId" if status_code == 404 else "TargetEndSystem"]
        body["imsx_codeMinor"] = {
            "imsx_codeMinorField": [{"imsx_codeMinorFieldName": n, "imsx_codeMinorFieldValue": value} for n in names]
        }
    return body


def _wants_json() -> bool:
    return (
        request.path.startswith(API_PREFIXES)
        or request.path in MACHINE_PATHS
        or request.accept_mimetypes.best == "application/json"
    )


def _respond(
    status_code: int, message: str, errors: Any = None, headers: Any = None, reason: str | None = None
) -> Response | tuple[Any, ...]:
    # A refused request changes nothing, whatever a service flushed before it failed.
    db.session.rollback()
    if request.path.startswith(CASE_PREFIX):
        # The CASE binding reports every bad parameter as 400 invalid_selection_field.
        status_code = 400 if status_code == 422 else status_code
        version = "1.0" if request.path.startswith(CASE_PREFIX + "v1p0/") else "1.1"
        response = jsonify(imsx_status_info(status_code, message, errors, reason, version))
        response.status_code = status_code
        if headers:
            response.headers.extend(headers)
        return response
    if _wants_json():
        response = jsonify(error_body(status_code, message, errors))
        response.status_code = status_code
        if headers:
            response.headers.extend(headers)
        return response
    page = render_template("error.html", code=status_code, status=HTTPStatus(status_code).phrase, message=message)
    return page, status_code, headers or {}


def _handle_capcourse_error(error: CapcourseError) -> Response | tuple[Any, ...]:
    headers = {"WWW-Authenticate": 'Bearer realm="capcourse"'} if isinstance(error, UnauthorizedError) else None
    return _respond(int(error.status_code), error.message, error.errors, headers, error.reason)


def _handle_http_exception(error: HTTPException) -> Response | tuple[Any, ...]:
    code = error.code or 500
    # flask-smorest attaches parsing errors as ``data["messages"]``.
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") if isinstance(data, dict) else None
    message = error.description or HTTPStatus(code).phrase
    if code == 422 and errors:
        message = "The request has invalid fields: see errors."
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return _respond(code, message, errors, headers)


def database_error_text(error: sa_exc.DBAPIError) -> str:
    """A database error for the log: class, SQLSTATE, first line, statement, frames; never values.

    SQL parameters are hidden by the engine (``hide_parameters``), but the
    database's own message may quote them too (PostgreSQL's ``DETAIL: Key
    (email)=(…) already exists``, or a DataError's ``invalid input …: "…"``),
    so only the first line is kept, and not even that for a DataError.
    """
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    first_line = "" if isinstance(error, sa_exc.DataError) else str(original).strip().splitlines()[0:1]
    summary = f"{type(original).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
    if first_line:
        summary += f": {first_line[0]}"
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"{summary}\n[SQL: {error.statement}]\nTraceback (most recent call last):\n{frames}"


def _handle_unexpected(error: Exception) -> Response | tuple[Any, ...]:
    if isinstance(error, sa_exc.DBAPIError):
        logger.error("Unhandled error on %s %s: %s", request.method, request.path, database_error_text(error))
    else:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _respond(500, "An unexpected error occurred; it has been logged.")


def _handle_unstorable(error: Exception) -> Response | tuple[Any, ...]:
    # The last line behind capcourse.guards: a value the database cannot hold (a
    # NUL on PostgreSQL, an integer beyond its column) or input nested past the
    # interpreter's limit is the client's fault, not ours. The guards name the
    # field; reaching here means one was missed, so it is logged for fixing.
    if isinstance(error, sa_exc.DBAPIError):
        logger.warning("Input refused late on %s %s: %s", request.method, request.path, database_error_text(error))
    else:
        logger.warning("Input refused late on %s %s: %s", request.method, request.path, type(error).__name__)
    if isinstance(error, RecursionError):
        return _respond(400, "The request is nested too deeply.")
    return _respond(400, "A value in the request cannot be stored (out of range or holding a NUL character).")


def _handle_unavailable(error: Exception) -> Response | tuple[Any, ...]:
    # The database is down, restarting, or (SQLite) held by a writer past the busy
    # timeout: the client may try again shortly, and nothing was stored.
    logger.warning("Database unavailable on %s %s: %s", request.method, request.path, type(error).__name__)
    return _respond(503, "The database is unavailable for a moment; try again shortly.", headers={"Retry-After": "5"})


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; registered after flask-smorest so these win."""
    app.register_error_handler(sa_exc.OperationalError, _handle_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, _handle_unavailable)
    app.register_error_handler(sa_exc.DataError, _handle_unstorable)
    app.register_error_handler(OverflowError, _handle_unstorable)
    app.register_error_handler(RecursionError, _handle_unstorable)
    app.register_error_handler(CapcourseError, _handle_capcourse_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
