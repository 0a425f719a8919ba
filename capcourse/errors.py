"""One error hierarchy and one JSON error shape for the whole API.

Every API error is ``{"code": 404, "status": "Not Found", "message": "...",
"errors": {...}}``: ``code`` is the HTTP status, ``status`` its phrase,
``message`` a sentence for people, ``errors`` (optional) the details by field.
flask-smorest uses the same shape for the validation errors it raises, so
clients see one format whether a request failed in parsing or in a service.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from capcourse.extensions import db

logger = logging.getLogger(__name__)

#: Requests under these prefixes get JSON errors; pages get HTML.
API_PREFIXES = ("/api/", "/ims/", "/xapi/")


class CapcourseError(Exception):
    """Base of every error a service raises on purpose.

    :param message: what went wrong, in a sentence a person can act on.
    :param errors: details, usually ``{field: [messages]}``.
    """

    status_code: int = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


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


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES) or request.accept_mimetypes.best == "application/json"


def _respond(status_code: int, message: str, errors: Any = None, headers: Any = None) -> Response | tuple[Any, ...]:
    # A refused request changes nothing, whatever a service flushed before it failed.
    db.session.rollback()
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
    return _respond(int(error.status_code), error.message, error.errors, headers)


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


def _handle_unexpected(error: Exception) -> Response | tuple[Any, ...]:
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _respond(500, "An unexpected error occurred; it has been logged.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; registered after flask-smorest so these win."""
    app.register_error_handler(CapcourseError, _handle_capcourse_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
