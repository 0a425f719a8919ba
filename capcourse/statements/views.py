"""The xAPI 1.0.3 Statements resource and About resource, under ``/xapi``.

An LMS's xAPI plugin can use ``<base URL>/xapi/`` as its LRS: HTTP Basic with
an integration API key as the password (or the username), the
``X-Experience-API-Version`` header on every request but ``/about``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

import xapi
from capcourse.accounts.auth import note_key_use
from capcourse.accounts.models import ApiKey, Role
from capcourse.accounts.services import authenticate_key
from capcourse.errors import BadRequestError, ForbiddenError, UnauthorizedError
from capcourse.extensions import db
from capcourse.frameworks.models import utcnow
from capcourse.records.models import StoredStatement
from capcourse.records.settings import settings_from
from capcourse.statements import services

blp = Blueprint(
    "xapi_statements",
    __name__,
    url_prefix="/xapi",
    description=(
        "xAPI 1.0.3 Statements resource: point an LMS's xAPI plugin here as its LRS. "
        "HTTP Basic with an integration API key as password; X-Experience-API-Version: 1.0.3."
    ),
)

VERSION = "1.0.3"
MAX_BATCH = 1000
MAX_LIMIT = 500
WRITERS = (Role.INTEGRATION, Role.ADMIN)
READERS = (Role.INTEGRATION, Role.ADMIN)
XAPI_DOC = {"security": [{"basicAuth": []}], "parameters": [
    {"in": "header", "name": "X-Experience-API-Version", "required": True, "schema": {"type": "string", "example": "1.0.3"}}
]}  # fmt: skip


@blp.after_request
def _version_header(response: Response) -> Response:
    response.headers["X-Experience-API-Version"] = VERSION
    return response


def _check_version() -> None:
    version = request.headers.get("X-Experience-API-Version")
    if not version:
        raise BadRequestError(
            "The X-Experience-API-Version header is required (1.0.3).", {"X-Experience-API-Version": ["Missing."]}
        )
    if not (version == "1.0" or version.startswith("1.0.")):
        raise BadRequestError(
            f"xAPI version {version!r} is not supported; send 1.0.3.", {"X-Experience-API-Version": ["Unsupported."]}
        )


def _key(roles: tuple[Role, ...]) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    candidates: list[str] = []
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UnauthorizedError("The Basic credentials are not valid base64.") from error
        candidates = [c for c in (password, username) if c]
    elif scheme.lower() == "bearer" and value.strip():
        candidates = [value.strip()]
    if not candidates:
        raise UnauthorizedError("Send an integration API key with HTTP Basic (as the password) or as a Bearer token.")
    key = None
    for candidate in candidates:
        try:
            key = authenticate_key(db.session(), candidate)
            break
        except UnauthorizedError:
            continue
    if key is None:
        raise UnauthorizedError("The API key is not valid.")
    if key.role not in roles:
        raise ForbiddenError(f"An API key with the role {key.role!r} may not do this; it needs {' or '.join(roles)}.")
    note_key_use(key)
    return key


def _authority(key: ApiKey) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "name": key.name,
        "account": {"homePage": str(current_app.config["CAPCOURSE_BASE_URL"]), "name": f"api-key:{key.prefix}"},
    }


def _json_body() -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError as error:
        raise BadRequestError(f"The body is not JSON: {error}.") from error


@blp.route("/about")
class About(MethodView):
    @blp.doc(summary="The xAPI versions this LRS speaks")
    def get(self) -> Response:
        return jsonify({"version": [VERSION], "extensions": {}})


@blp.route("/statements")
class Statements(MethodView):
    @blp.doc(**XAPI_DOC, summary="Store one statement or an array; returns their ids")
    def post(self) -> Response:
        _check_version()
        key = _key(WRITERS)
        body = _json_body()
        statements = body if isinstance(body, list) else [body]
        if len(statements) > MAX_BATCH:
            response = jsonify(
                {
                    "code": 413,
                    "status": "Request Entity Too Large",
                    "message": f"At most {MAX_BATCH} statements per request; this one has {len(statements)}.",
                }
            )
            response.status_code = 413
            return response
        received = services.receive(db.session(), statements, _authority(key), settings_from(current_app.config))
        db.session.commit()
        return jsonify(received.ids)

    @blp.doc(**XAPI_DOC, summary="Store one statement under the statementId parameter")
    def put(self) -> Response:
        _check_version()
        key = _key(WRITERS)
        statement_id = request.args.get("statementId", "")
        try:
            uuid.UUID(statement_id)
        except ValueError as error:
            raise BadRequestError(
                "PUT needs a statementId parameter that is a UUID.", {"statementId": ["Invalid."]}
            ) from error
        body = _json_body()
        if not isinstance(body, dict):
            raise BadRequestError("PUT takes one statement object.")
        if "id" in body and str(body["id"]).lower() != statement_id.lower():
            raise BadRequestError("The statement's id differs from statementId.", {"id": ["Must equal statementId."]})
        services.receive(
            db.session(), [{**body, "id": statement_id}], _authority(key), settings_from(current_app.config)
        )
        db.session.commit()
        return Response(status=204)

    @blp.doc(**XAPI_DOC, summary="One statement by statementId, or a filtered page of statements with `more`")
    def get(self) -> Response:
        _check_version()
        _key(READERS)
        args = request.args
        for name, voided in (("statementId", False), ("voidedStatementId", True)):
            if name in args:
                try:
                    identifier = uuid.UUID(args[name])
                except ValueError as error:
                    raise BadRequestError(f"{name} must be a UUID.", {name: ["Invalid."]}) from error
                return jsonify(services.get_statement(db.session(), identifier, voided))
        query = _query(args)
        rows: list[StoredStatement] = list(db.session.scalars(services.query_statements(query)))
        more = ""
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            params = {k: v for k, v in args.items() if k != "cursor"}
            more = f"{request.path}?{urlencode({**params, 'cursor': rows[-1].pk})}"
        response = jsonify({"statements": [r.statement for r in rows], "more": more})
        response.headers["X-Experience-API-Consistent-Through"] = xapi.timestamp(utcnow())
        return response


def _time(args: Any, name: str) -> datetime | None:
    if name not in args:
        return None
    try:
        value = datetime.fromisoformat(args[name].replace("Z", "+00:00"))
    except ValueError as error:
        raise BadRequestError(f"{name} must be an ISO 8601 timestamp.", {name: ["Invalid."]}) from error
    if value.tzinfo is None:
        raise BadRequestError(f"{name} needs a time zone.", {name: ["Needs a time zone."]})
    return value


def _query(args: Any) -> services.StatementQuery:
    agent_key = None
    if "agent" in args:
        try:
            agent_key = xapi.agent_key(json.loads(args["agent"]))
        except (ValueError, TypeError, AttributeError) as error:
            raise BadRequestError("agent must be a JSON Agent with an identifier.", {"agent": ["Invalid."]}) from error
    limit_text = args.get("limit", "100")
    if not limit_text.isdigit():
        raise BadRequestError("limit must be a whole number.", {"limit": ["Invalid."]})
    limit = int(limit_text) or MAX_LIMIT
    registration = None
    if "registration" in args:
        try:
            registration = uuid.UUID(args["registration"])
        except ValueError as error:
            raise BadRequestError("registration must be a UUID.", {"registration": ["Invalid."]}) from error
    cursor = args.get("cursor")
    if cursor is not None and not cursor.isdigit():
        raise BadRequestError("cursor is not one this LRS gave.", {"cursor": ["Invalid."]})
    return services.StatementQuery(
        agent_key=agent_key,
        verb=args.get("verb"),
        activity=args.get("activity"),
        registration=registration,
        since=_time(args, "since"),
        until=_time(args, "until"),
        ascending=args.get("ascending", "false").lower() == "true",
        limit=min(limit, MAX_LIMIT),
        after_pk=int(cursor) if cursor else None,
    )
