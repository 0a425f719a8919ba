"""Launches API (``/api/v1/launches``) and the endpoint browser players commit SCORM run-time data to.

The commit endpoint takes the launch's token two ways:

- ``POST /api/v1/launches/<token>/commit``, a capability URL: what the launch's
  ``scorm_again.lmsCommitUrl`` is, because scorm-again sends the final commit
  (``LMSFinish`` / ``Terminate``) with ``navigator.sendBeacon``, which cannot
  set headers;
- ``POST /api/v1/launches/commit`` with ``Authorization: Bearer <token>``
  (scorm-again's ``xhrHeaders``), for players that send every commit with
  ``fetch`` or XHR and want the token out of URLs.

Players run on the LMS's origin, so both answer CORS preflights; no cookie is
ever used, so any origin may commit unless ``CAPCOURSE_LAUNCH_ALLOWED_ORIGINS``
lists the allowed ones. Tokens never reach capcourse's logs: request lines
are redacted (:class:`RedactTokens`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app, request
from flask.blueprints import BlueprintSetupState
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.errors import ForbiddenError, InvalidInputError, PayloadTooLargeError, UnauthorizedError
from capcourse.extensions import db, one_write_at_a_time
from capcourse.launches import services
from capcourse.launches.schemas import (
    CommitResultSchema,
    LaunchCreateSchema,
    LaunchSchema,
    NewLaunchSchema,
    launch_dict,
    new_launch_dict,
)
from capcourse.launches.services import TERMINATE_PARAM
from capcourse.launches.settings import LaunchSettings, settings_from
from capcourse.records.schemas import learner_agent
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

blp = Blueprint(
    "launches",
    __name__,
    url_prefix="/api/v1",
    description=(
        "SCORM launches: an LMS starts one per learner and activity, and gives its token "
        "to the browser player that commits the run-time data."
    ),
)
runtime_blp = Blueprint(
    "scorm_runtime",
    __name__,
    url_prefix="/api/v1/launches",
    description=(
        "SCORM run-time data from browser players (scorm-again's lmsCommitUrl, or a flat form of cmi.* elements), "
        "authenticated by the launch's token. Passed, failed and completed attempts become completions."
    ),
)

FORM = "application/x-www-form-urlencoded"
COMMIT_BODY_DOC: dict[str, Any] = {
    "description": (
        'SCORM 1.2 or 2004 run-time data: scorm-again\'s JSON ({"cmi": {...}}, or with renderCommonCommitFields '
        '{"runtimeData": {"cmi": {...}}, ...}), or a flat form of data-model elements '
        '({"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "85"}) as JSON or '
        "application/x-www-form-urlencoded. text/plain bodies (what sendBeacon sends) are read the same way."
    ),
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
#: ``?terminate=true``: what scorm-again's ``terminateCommitParam`` adds to the commit it sends on finishing.
COMMIT_PARAMETERS = [
    {
        "in": "query",
        "name": TERMINATE_PARAM,
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
        "description": (
            "true on the commit sent on LMSFinish / Terminate: a SCORM 1.2 SCO that set no lesson_status is then "
            "completed, as the SCORM 1.2 RTE has the LMS make it."
        ),
    }
]
COMMIT_RESPONSES = {
    "401": {"description": "No or an unknown launch token (in the header), or the launch expired."},
    "403": {"description": "The page's origin is not in CAPCOURSE_LAUNCH_ALLOWED_ORIGINS."},
    "404": {"description": "Unknown commit URL."},
    "413": {"description": "The body is larger than CAPCOURSE_LAUNCH_MAX_BYTES."},
    "422": {"description": "Not SCORM run-time data, or values break the data model: errors name the elements."},
}
#: Loggers that write request paths: the development server's request log, and unexpected errors.
PATH_LOGGERS = ("werkzeug", "capcourse.errors", "capcourse.access")


def _settings() -> LaunchSettings:
    return settings_from(current_app.config)


@blp.route("/launches")
class Launches(MethodView):
    @require_role(Role.INTEGRATION, Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(LaunchCreateSchema)
    @blp.response(201, NewLaunchSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Start a launch: a learner's attempt at an activity in a browser player (integration and admin keys).

        The answer carries the launch's token once, the commit URL, and the
        settings to give scorm-again (``new Scorm12API(scorm_again)``).
        """
        settings = _settings()
        new = services.create_launch(
            db.session(),
            current_principal(),
            learner_agent(body["learner"]),
            body["activity"],
            settings,
            passing_score=body["passing_score"],
            registration=body["registration"],
            now=utcnow(),
        )
        answer = new_launch_dict(new.launch, new.token, settings.records.base_url)
        db.session.commit()
        # The token is shown once: no cache keeps it.
        return answer, {"Cache-Control": "no-store"}


@blp.route("/launches/<uuid:launch_id>")
class LaunchDetail(MethodView):
    @require_role(Role.INTEGRATION, Role.ADMIN, *PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, LaunchSchema)
    def get(self, launch_id: uuid.UUID) -> Any:
        """A launch's status: its last commit, outcome and the completions it recorded.

        Integration and admin keys see every launch; leads and authors those of their programmes.
        """
        launch = services.launch_for_read(db.session(), current_principal(), launch_id)
        completions = services.launch_completions(db.session(), launch)
        base_url = _settings().records.base_url
        return launch_dict(launch, completions, base_url, services.is_expired(launch, utcnow()))


# The commit endpoint.


@runtime_blp.before_request
def _check_origin() -> None:
    origin = request.headers.get("Origin")
    if origin and not _settings().origin_allowed(origin):
        raise ForbiddenError(
            f"Pages on {origin} may not commit SCORM run-time data here; "
            "an administrator can add the origin to CAPCOURSE_LAUNCH_ALLOWED_ORIGINS."
        )


@runtime_blp.after_request
def _cors_headers(response: Response) -> Response:
    settings = _settings()
    origin = request.headers.get("Origin")
    if settings.any_origin:
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        response.vary.add("Origin")
        if origin and settings.origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
    return response


def _preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _form(data: bytes) -> dict[str, str]:
    """A flat form of ``cmi.*`` elements, ``a=b&c=d``; an element given twice is refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInputError("The form is not UTF-8.", {"body": [str(error)]}) from None
    fields: dict[str, str] = {}
    twice: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in fields:
            twice[name] = ["Given more than once."]
        fields[name] = value
    if twice:
        raise InvalidInputError("The form gives an element more than once.", twice)
    return fields


def _runtime_body(max_bytes: int) -> Mapping[str, object] | bytes:
    """The commit's body: a flat form as a mapping, anything else as bytes for :func:`scorm.parse_runtime`."""
    too_large = PayloadTooLargeError(
        f"SCORM run-time data is at most {max_bytes} bytes here; this commit is larger.", {"body": ["Too large."]}
    )
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    # Also caps bodies sent without a Content-Length (chunked).
    request.max_content_length = max_bytes
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(data) > max_bytes:
        # Read before this view under the server's cap (the input guards read a URL-encoded form), and so
        # not capped by the line above: a chunked form commit came through whole.
        raise too_large
    # sendBeacon posts as text/plain: scorm-again's "params" format then arrives as a form.
    if request.mimetype == FORM or (request.mimetype != "application/json" and data.lstrip().startswith(b"cmi.")):
        return _form(data)
    return data


def _bearer_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise UnauthorizedError(
            "Send the launch token as 'Authorization: Bearer <token>', or commit to the launch's commit_url."
        )
    return value.strip()


def _commit(token: str, *, in_url: bool) -> dict[str, Any]:
    settings = _settings()
    # The body first, before any query: on SQLite a write request's first query takes the write lock, and a
    # player that trickles its commit in would hold it, and every other write, meanwhile.
    body = _runtime_body(settings.max_bytes)
    # scorm-again adds ?terminate=true to the commit it sends on LMSFinish / Terminate (terminateCommitParam).
    finished = request.args.get(TERMINATE_PARAM) == "true"
    with one_write_at_a_time():
        now = utcnow()
        launch = services.launch_for_token(db.session(), token, now, in_url=in_url)
        result = services.commit_runtime(db.session(), launch, body, settings, now=now, finished=finished)
        answer = {
            "result": True,
            "errorCode": 0,
            "launch_id": launch.id,
            "completion_status": result.runtime.completion_status,
            "success_status": result.runtime.success_status,
            "outcome": result.runtime.outcome.value if result.runtime.outcome else None,
            "recorded": result.recorded,
            "not_counted": result.not_counted,
            "completion_id": result.completion.id if result.completion else None,
            "statement_id": result.completion.statement_id if result.completion else None,
        }
        db.session.commit()
    return answer


@runtime_blp.route("/commit")
class BearerCommit(MethodView):
    @runtime_blp.doc(
        security=[{"launchToken": []}],
        requestBody=COMMIT_BODY_DOC,
        responses=COMMIT_RESPONSES,
        parameters=COMMIT_PARAMETERS,
        summary="Commit",
    )
    @runtime_blp.response(200, CommitResultSchema)
    def post(self) -> Any:
        """Commit SCORM run-time data with ``Authorization: Bearer <launch token>``.

        Answers ``{"result": true, "errorCode": 0, …}``, which scorm-again takes as success.
        """
        return _commit(_bearer_token(), in_url=False)

    @runtime_blp.doc(summary="CORS preflight")
    @runtime_blp.response(204)
    def options(self) -> Response:
        """CORS preflight: POST with Content-Type and Authorization from the allowed origins."""
        return _preflight()


@runtime_blp.route("/<string:token>/commit")
class UrlCommit(MethodView):
    @runtime_blp.doc(
        requestBody=COMMIT_BODY_DOC,
        responses=COMMIT_RESPONSES,
        parameters=COMMIT_PARAMETERS,
        summary="Commit (capability URL)",
    )
    @runtime_blp.response(200, CommitResultSchema)
    def post(self, token: str) -> Any:
        """Commit SCORM run-time data to the launch's ``commit_url`` (the token is in the path; no header).

        What scorm-again's ``lmsCommitUrl`` should be: its final commit goes by
        ``sendBeacon``, as ``text/plain``, without headers. Answers
        ``{"result": true, "errorCode": 0, …}``, which scorm-again takes as success.
        """
        return _commit(token, in_url=True)

    @runtime_blp.doc(summary="CORS preflight")
    @runtime_blp.response(204)
    def options(self, token: str) -> Response:
        """CORS preflight: POST with Content-Type and Authorization from the allowed origins."""
        return _preflight()


class RedactTokens(logging.Filter):
    """Replaces launch tokens in log records: the commit URL carries one, and request logs print paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = services.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(services.redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: services.redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


@runtime_blp.record_once
def _redact_tokens_in_logs(state: BlueprintSetupState) -> None:
    for name in PATH_LOGGERS:
        path_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in path_logger.filters):
            path_logger.addFilter(RedactTokens())
