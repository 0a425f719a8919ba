"""The xAPI 1.0.3 Statements resource and About resource, under ``/xapi``.

An LMS's xAPI plugin can use ``<base URL>/xapi/`` as its LRS: HTTP Basic with
an integration API key as the password (or the username), the
``X-Experience-API-Version`` header on every request but ``/about``.
Statements arrive as JSON or as ``multipart/mixed`` with their attachments
(signed statements too); GET answers with the formats, filters and
``attachments=true`` multipart responses of Communication 2.1.3.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from werkzeug.wrappers import Response

import xapi
from capcourse import guards
from capcourse.accounts.models import Role
from capcourse.errors import BadRequestError, NotFoundError, PayloadTooLargeError
from capcourse.extensions import db, take_write_turn
from capcourse.lrs import http, multipart, openapi, retrieval, signatures
from capcourse.lrs.models import Attachment
from capcourse.records.models import StoredStatement
from capcourse.records.services import insert_for
from capcourse.records.settings import settings_from
from capcourse.statements import services
from capcourse.timestamps import utcnow

blp = Blueprint(
    "xapi_statements",
    __name__,
    url_prefix="/xapi",
    description=(
        "xAPI 1.0.3 Statements resource: point an LMS's xAPI plugin here as its LRS. "
        "HTTP Basic with an integration API key as password; X-Experience-API-Version: 1.0.3."
    ),
)

VERSION = http.VERSION
MAX_BATCH = 1000
MAX_LIMIT = 500
XAPI_DOC = {"security": [{"basicAuth": []}], "parameters": [
    {"in": "header", "name": "X-Experience-API-Version", "required": True, "schema": {"type": "string", "example": "1.0.3"}}
]}  # fmt: skip
GET_PARAMS = (
    "statementId", "voidedStatementId", "agent", "verb", "activity", "registration", "related_activities",
    "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "cursor",
)  # fmt: skip
SINGLE_PARAMS = {"statementId", "voidedStatementId", "format", "attachments"}
FORMATS = ("exact", "ids", "canonical")
MAX_CONTENT_TYPE = 300
WHOLE_NUMBER = re.compile(r"^[0-9]+$")


@blp.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Experience-API-Version"] = VERSION
    if request.path.rstrip("/").endswith("/statements"):
        # Every answer of the Statement resource, errors too (Communication 2.1.3).
        response.headers["X-Experience-API-Consistent-Through"] = xapi.timestamp(utcnow())
    return response


@blp.route("/about")
class About(MethodView):
    @blp.doc(summary="The xAPI versions this LRS speaks", responses=openapi.ABOUT)
    def get(self) -> Response:
        return jsonify({"version": [VERSION], "extensions": {}})


def _body() -> tuple[Any, dict[str, bytes]]:
    """The request's statements (parsed JSON) and its attachment data by SHA-2.

    :raises BadRequestError: not JSON or multipart/mixed, unreadable, or parts without a hash.
    """
    kind = multipart.media_type(request.headers.get("Content-Type"))
    data = request.get_data()
    if kind == "application/json":
        return _json(data), {}
    if kind != "multipart/mixed":
        raise BadRequestError(
            "Statements are sent as application/json, or as multipart/mixed with their attachments.",
            {"Content-Type": ["Unsupported."]},
        )
    parts = multipart.parse(data, request.headers["Content-Type"])
    if multipart.media_type(parts[0].content_type) != "application/json":
        raise BadRequestError("The first part of a multipart/mixed request must be the statements as application/json.")
    limit = int(current_app.config["CAPCOURSE_XAPI_ATTACHMENT_MAX_BYTES"])
    attachments: dict[str, bytes] = {}
    for index, part in enumerate(parts[1:], start=1):
        sha2 = part.headers.get("x-experience-api-hash", "").lower()
        if not sha2:
            raise BadRequestError(f"Part {index} of the multipart request has no X-Experience-API-Hash header.")
        if part.headers.get("content-transfer-encoding", "binary").lower() != "binary":
            raise BadRequestError(f"Part {index}'s Content-Transfer-Encoding must be binary.")
        if not multipart.sha2_matches(part.body, sha2):
            raise BadRequestError(f"Part {index}'s data does not match its X-Experience-API-Hash.")
        if len(part.body) > limit:
            raise PayloadTooLargeError(f"Part {index} is larger than the {limit} bytes an attachment may have.")
        attachments[sha2] = part.body
    return _json(parts[0].body), attachments


def _json(data: bytes) -> Any:
    # The request guards' decoder: too deep or a NUL character (which PostgreSQL text
    # cannot hold) is a 400 naming its JSON path. Numbers stay as sent: xAPI keeps them.
    return guards.loads(data or b"null", check_ints=False)


def _check_attachments(statements: list[Any], data: dict[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """Every attachment without a fileUrl has its data, every part belongs to one, signatures verify.

    :returns: what to keep: sha2 -> (content type, data).
    """
    wanted: dict[str, str] = {}
    for statement in statements:
        if not isinstance(statement, dict) or not isinstance(statement.get("attachments"), list):
            continue
        for attachment in statement["attachments"]:
            if not isinstance(attachment, dict) or not isinstance(attachment.get("sha2"), str):
                continue  # the validator names it
            sha2 = attachment["sha2"].lower()
            if signatures.is_signature(attachment):
                if attachment.get("contentType") != signatures.SIGNATURE_TYPE:
                    raise BadRequestError("A signature attachment's contentType must be application/octet-stream.")
                if sha2 not in data:
                    raise BadRequestError("A signed statement must send its signature (JWS) as an attachment part.")
                signatures.verify(statement, data[sha2])
            content_type = str(attachment.get("contentType", "application/octet-stream"))
            if len(content_type) > MAX_CONTENT_TYPE:
                raise BadRequestError(f"An attachment's contentType is longer than {MAX_CONTENT_TYPE} characters.")
            if sha2 in data:
                wanted[sha2] = content_type
            elif "fileUrl" not in attachment:
                raise BadRequestError(
                    f"The attachment {sha2} has no fileUrl, so its data must be sent as a part of a multipart/mixed "
                    "request.",
                    {"attachments": ["Missing data."]},
                )
    extra = set(data) - set(wanted)
    if extra:
        raise BadRequestError(f"The part with hash {sorted(extra)[0]} belongs to no attachment of the statements.")
    return {sha2: (content_type, data[sha2]) for sha2, content_type in wanted.items()}


def _keep_attachments(kept: dict[str, tuple[str, bytes]]) -> None:
    """Keep each attachment's data once per hash (a concurrent request may store the same one)."""
    if not kept:
        return
    now = utcnow()
    rows = [
        {"sha2": sha2, "content_type": content_type, "content": data, "created_at": now}
        for sha2, (content_type, data) in kept.items()
    ]
    db.session.execute(
        insert_for(db.session(), Attachment).values(rows).on_conflict_do_nothing(index_elements=["sha2"])
    )


def _store(statements: list[Any], attachments: dict[str, bytes], key: Any) -> list[str]:
    kept = _check_attachments(statements, attachments)
    received = services.receive(db.session(), statements, http.authority(key), settings_from(current_app.config))
    _keep_attachments(kept)
    db.session.commit()
    return received.ids


@blp.before_request
def _one_write_at_a_time() -> None:
    if request.endpoint == "xapi_statements.Statements" and request.method in ("POST", "PUT"):
        take_write_turn()  # checking and storing the batch, one request at a time per process: see extensions


@blp.route("/statements")
class Statements(MethodView):
    @blp.doc(
        **XAPI_DOC,
        summary="Store one statement or an array (JSON, or multipart/mixed with attachments)",
        responses=openapi.STATEMENTS_POST,
    )
    def post(self) -> Response:
        http.check_version()
        key = http.api_key(http.WRITERS)
        http.check_params(request.args, ())
        body, attachments = _body()
        statements = body if isinstance(body, list) else [body]
        if len(statements) > MAX_BATCH:
            raise PayloadTooLargeError(f"At most {MAX_BATCH} statements per request; this one has {len(statements)}.")
        return jsonify(_store(statements, attachments, key))

    @blp.doc(
        **XAPI_DOC, summary="Store one statement under the statementId parameter", responses=openapi.STATEMENTS_PUT
    )
    def put(self) -> Response:
        http.check_version()
        key = http.api_key(http.WRITERS)
        http.check_params(request.args, ("statementId",))
        statement_id = http.uuid_param(request.args, "statementId")
        if statement_id is None:
            raise BadRequestError("PUT needs a statementId parameter that is a UUID.", {"statementId": ["Missing."]})
        body, attachments = _body()
        if not isinstance(body, dict):
            raise BadRequestError("PUT takes one statement object.")
        if "id" in body and str(body["id"]).lower() != str(statement_id):
            raise BadRequestError("The statement's id differs from statementId.", {"id": ["Must equal statementId."]})
        _store([{**body, "id": body.get("id", str(statement_id))}], attachments, key)
        return Response(status=204)

    @blp.doc(
        **XAPI_DOC,
        summary="One statement by statementId, or a filtered page of statements with `more`",
        responses=openapi.STATEMENTS_GET,
    )
    def get(self) -> Response:
        http.check_version()
        key = http.api_key(http.READERS)
        scope = _scope(key)
        args = request.args
        http.check_params(args, GET_PARAMS)
        fmt = args.get("format", "exact")
        if fmt not in FORMATS:
            raise BadRequestError("format must be exact, ids or canonical.", {"format": ["Invalid."]})
        with_attachments = http.bool_param(args, "attachments")
        accept_language = request.headers.get("Accept-Language")
        single = [name for name in ("statementId", "voidedStatementId") if name in args]
        if single:
            others = sorted(set(args) - SINGLE_PARAMS)
            if len(single) > 1 or others:
                raise BadRequestError(
                    f"{single[0]} may come only with format and attachments.",
                    {name: ["Not allowed here."] for name in (others or single)},
                )
            identifier = http.uuid_param(args, single[0])
            assert identifier is not None
            statement = _one(identifier, voided=single[0] == "voidedStatementId", scope=scope)
            definitions = retrieval.canonical_definitions(db.session(), [statement]) if fmt == "canonical" else {}
            shown = retrieval.present(statement, fmt, accept_language, definitions)
            return _result(shown, [statement], with_attachments)
        q = dataclasses.replace(_query(args), scope=scope)
        rows = retrieval.query(db.session(), q)
        more = ""
        if len(rows) > q.limit:
            rows = rows[: q.limit]
            params = {k: v for k, v in args.items() if k != "cursor"}
            more = f"{request.path}?{urlencode({**params, 'cursor': rows[-1].pk})}"
        statements = [r.statement for r in rows]
        definitions = retrieval.canonical_definitions(db.session(), statements) if fmt == "canonical" else {}
        result = {
            "statements": [retrieval.present(s, fmt, accept_language, definitions) for s in statements],
            "more": more,
        }
        return _result(result, statements, with_attachments)


def _scope(key: Any) -> Any:
    """An integration key limited to programmes reads only their statements (the condition), others all (None)."""
    if key.role != Role.INTEGRATION or key.programme_ids is None:
        return None
    programmes = [uuid.UUID(p) for p in key.programme_ids]
    return retrieval.programme_scope(db.session(), programmes, str(current_app.config["CAPCOURSE_BASE_URL"]))


def _one(identifier: uuid.UUID, *, voided: bool, scope: Any = None) -> dict[str, Any]:
    query = select(StoredStatement).where(StoredStatement.id == identifier)
    stored = db.session.scalar(query if scope is None else query.where(scope))
    # A voided statement only through voidedStatementId, the others only through statementId (Data 2.3.2).
    if stored is None or stored.voided != voided:
        raise NotFoundError(f"No {'voided ' if voided else ''}statement has the id {identifier}.")
    return dict(stored.statement)


def _result(body: Any, statements: list[dict[str, Any]], with_attachments: bool) -> Response:
    if not with_attachments:
        return jsonify(body)
    hashes: list[str] = []
    for statement in statements:
        for attachment in statement.get("attachments", []) if isinstance(statement, dict) else []:
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 and sha2 not in hashes:
                hashes.append(sha2)
    found = {a.sha2: a for a in db.session.scalars(select(Attachment).where(Attachment.sha2.in_(hashes)))}
    content, content_type = multipart.build(
        json.dumps(body).encode(), [(h, found[h].content_type, found[h].content) for h in hashes if h in found]
    )
    return Response(content, status=200, content_type=content_type)


def _query(args: Any) -> retrieval.Query:
    agent_key = http.agent_key_param(args) if "agent" in args else None
    for name in ("verb", "activity"):
        if name in args and not xapi.is_iri(args[name]):
            raise BadRequestError(f"{name} must be an IRI.", {name: ["Invalid."]})
    limit_text = args.get("limit", "100")
    if not WHOLE_NUMBER.match(limit_text):
        raise BadRequestError("limit must be a whole number.", {"limit": ["Invalid."]})
    # 0, or more than the server gives, means the server's largest page (Communication 2.1.3).
    limit = int(limit_text[-9:]) if len(limit_text.lstrip("0")) <= 9 else MAX_LIMIT
    limit = limit or MAX_LIMIT
    cursor = args.get("cursor")
    if cursor is not None and (not WHOLE_NUMBER.match(cursor) or len(cursor) > 18):
        raise BadRequestError("cursor is not one this LRS gave.", {"cursor": ["Invalid."]})
    return retrieval.Query(
        agent_key=agent_key,
        related_agents=http.bool_param(args, "related_agents"),
        verb=args.get("verb"),
        activity=args.get("activity"),
        related_activities=http.bool_param(args, "related_activities"),
        registration=http.uuid_param(args, "registration"),
        since=http.time_param(args, "since"),
        until=http.time_param(args, "until"),
        ascending=http.bool_param(args, "ascending"),
        limit=min(limit, MAX_LIMIT),
        after_pk=int(cursor) if cursor else None,
    )
