"""The xAPI document resources and the Activities and Agents resources, under ``/xapi``.

- ``/xapi/activities/state``: State (activityId, agent, registration, stateId);
- ``/xapi/activities/profile``: Activity Profile (activityId, profileId);
- ``/xapi/agents/profile``: Agent Profile (agent, profileId);
- ``/xapi/activities``: an Activity with everything statements said of it;
- ``/xapi/agents``: the Person object of an Agent.

HEAD answers wherever GET does (Flask routes it to GET and sends no body).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from capcourse.errors import BadRequestError
from capcourse.extensions import db
from capcourse.lrs import documents, http, openapi, retrieval
from capcourse.lrs.documents import Preconditions, Scope
from capcourse.lrs.models import Document, DocumentKind

blp = Blueprint(
    "xapi_documents",
    __name__,
    url_prefix="/xapi",
    description=(
        "xAPI 1.0.3 State, Activity Profile, Agent Profile, Activities and Agents resources "
        "(HTTP Basic with an integration API key; X-Experience-API-Version: 1.0.3)."
    ),
)
DOC = {"security": [{"basicAuth": []}], "parameters": [
    {"in": "header", "name": "X-Experience-API-Version", "required": True, "schema": {"type": "string", "example": "1.0.3"}}
]}  # fmt: skip
STATE_PARAMS = ("activityId", "agent", "registration", "stateId")
ACTIVITY_PROFILE_PARAMS = ("activityId", "profileId")
AGENT_PROFILE_PARAMS = ("agent", "profileId")
MAX_CONTENT_TYPE = 300


@blp.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Experience-API-Version"] = http.VERSION
    return response


def _preconditions() -> Preconditions:
    return Preconditions(request.headers.get("If-Match"), request.headers.get("If-None-Match"))


def _content() -> tuple[bytes, str]:
    content_type = request.headers.get("Content-Type") or "application/octet-stream"
    if len(content_type) > MAX_CONTENT_TYPE:
        raise BadRequestError(f"The Content-Type is longer than {MAX_CONTENT_TYPE} characters.")
    return request.get_data(), content_type


def _document_response(document: Document) -> Response:
    response = Response(document.content, status=200, content_type=document.content_type)
    response.headers["ETag"] = f'"{document.etag}"'
    response.headers["Last-Modified"] = document.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


def _no_content(document: Document | None = None) -> Response:
    response = Response(status=204)
    if document is not None:
        response.headers["ETag"] = f'"{document.etag}"'
    return response


def _begin(params: tuple[str, ...], roles: tuple[Any, ...], extra: tuple[str, ...] = ()) -> None:
    http.check_version()
    http.api_key(roles)
    http.check_params(request.args, params + extra)


def _state_scope() -> Scope:
    activity_id = http.iri_param(request.args, "activityId")
    http.required(request.args, "agent")
    agent_key = http.agent_key_param(request.args)
    registration = http.uuid_param(request.args, "registration")
    return Scope(DocumentKind.STATE, activity_id, agent_key, str(registration) if registration else "")


def _activity_scope() -> Scope:
    return Scope(DocumentKind.ACTIVITY_PROFILE, activity_id=http.iri_param(request.args, "activityId"))


def _agent_scope() -> Scope:
    http.required(request.args, "agent")
    return Scope(DocumentKind.AGENT_PROFILE, agent_key=http.agent_key_param(request.args))


def _get(scope: Scope, key_name: str) -> Response:
    if key_name in request.args:
        return _document_response(documents.get(db.session(), scope, request.args[key_name]))
    since = http.time_param(request.args, "since")
    return jsonify(documents.ids(db.session(), scope, since))


def _put(scope: Scope, key_name: str, *, must_say: bool) -> Response:
    document_id = http.required(request.args, key_name)
    content, content_type = _content()
    document = documents.put(
        db.session(), scope, document_id, content, content_type, _preconditions(), must_say=must_say
    )
    db.session.commit()
    return _no_content(document)


def _post(scope: Scope, key_name: str) -> Response:
    document_id = http.required(request.args, key_name)
    content, content_type = _content()
    document = documents.post(db.session(), scope, document_id, content, content_type, _preconditions())
    db.session.commit()
    return _no_content(document)


def _delete(scope: Scope, key_name: str, *, one_required: bool) -> Response:
    document_id = http.required(request.args, key_name) if one_required else request.args.get(key_name)
    documents.remove(db.session(), scope, document_id, _preconditions())
    db.session.commit()
    return _no_content()


@blp.route("/activities/state")
class State(MethodView):
    @blp.doc(
        **DOC,
        summary="One state document (stateId), or the stateIds stored (since)",
        responses=openapi.document_get("state", "stateId"),
    )
    def get(self) -> Response:
        _begin(STATE_PARAMS, http.READERS, ("since",))
        return _get(_state_scope(), "stateId")

    @blp.doc(**DOC, summary="Store a state document", responses=openapi.document_stored("state"))
    def put(self) -> Response:
        _begin(STATE_PARAMS, http.WRITERS)
        return _put(_state_scope(), "stateId", must_say=False)

    @blp.doc(**DOC, summary="Merge a JSON object into a state document", responses=openapi.document_stored("state"))
    def post(self) -> Response:
        _begin(STATE_PARAMS, http.WRITERS)
        return _post(_state_scope(), "stateId")

    @blp.doc(
        **DOC,
        summary="Delete a state document, or all of an activity and agent (and registration)",
        responses=openapi.document_deleted("state"),
    )
    def delete(self) -> Response:
        _begin(STATE_PARAMS, http.WRITERS)
        return _delete(_state_scope(), "stateId", one_required=False)


@blp.route("/activities/profile")
class ActivityProfile(MethodView):
    @blp.doc(
        **DOC,
        summary="One activity profile document (profileId), or the profileIds stored (since)",
        responses=openapi.document_get("activity profile", "profileId"),
    )
    def get(self) -> Response:
        _begin(ACTIVITY_PROFILE_PARAMS, http.READERS, ("since",))
        return _get(_activity_scope(), "profileId")

    @blp.doc(
        **DOC,
        summary="Store an activity profile document (If-Match or If-None-Match to overwrite)",
        responses=openapi.document_stored("activity profile"),
    )
    def put(self) -> Response:
        _begin(ACTIVITY_PROFILE_PARAMS, http.WRITERS)
        return _put(_activity_scope(), "profileId", must_say=True)

    @blp.doc(
        **DOC,
        summary="Merge a JSON object into an activity profile document",
        responses=openapi.document_stored("activity profile"),
    )
    def post(self) -> Response:
        _begin(ACTIVITY_PROFILE_PARAMS, http.WRITERS)
        return _post(_activity_scope(), "profileId")

    @blp.doc(
        **DOC, summary="Delete an activity profile document", responses=openapi.document_deleted("activity profile")
    )
    def delete(self) -> Response:
        _begin(ACTIVITY_PROFILE_PARAMS, http.WRITERS)
        return _delete(_activity_scope(), "profileId", one_required=True)


@blp.route("/agents/profile")
class AgentProfile(MethodView):
    @blp.doc(
        **DOC,
        summary="One agent profile document (profileId), or the profileIds stored (since)",
        responses=openapi.document_get("agent profile", "profileId"),
    )
    def get(self) -> Response:
        _begin(AGENT_PROFILE_PARAMS, http.READERS, ("since",))
        return _get(_agent_scope(), "profileId")

    @blp.doc(
        **DOC,
        summary="Store an agent profile document (If-Match or If-None-Match to overwrite)",
        responses=openapi.document_stored("agent profile"),
    )
    def put(self) -> Response:
        _begin(AGENT_PROFILE_PARAMS, http.WRITERS)
        return _put(_agent_scope(), "profileId", must_say=True)

    @blp.doc(
        **DOC,
        summary="Merge a JSON object into an agent profile document",
        responses=openapi.document_stored("agent profile"),
    )
    def post(self) -> Response:
        _begin(AGENT_PROFILE_PARAMS, http.WRITERS)
        return _post(_agent_scope(), "profileId")

    @blp.doc(**DOC, summary="Delete an agent profile document", responses=openapi.document_deleted("agent profile"))
    def delete(self) -> Response:
        _begin(AGENT_PROFILE_PARAMS, http.WRITERS)
        return _delete(_agent_scope(), "profileId", one_required=True)


@blp.route("/activities")
class Activities(MethodView):
    @blp.doc(**DOC, summary="An Activity with every definition statements gave it, merged", responses=openapi.ACTIVITY)
    def get(self) -> Response:
        _begin(("activityId",), http.READERS)
        activity_id = http.iri_param(request.args, "activityId")
        return jsonify(retrieval.activity(db.session(), activity_id))


@blp.route("/agents")
class Agents(MethodView):
    @blp.doc(
        **DOC, summary="The Person object for an Agent: its names and identifiers as arrays", responses=openapi.AGENT
    )
    def get(self) -> Response:
        _begin(("agent",), http.READERS)
        http.required(request.args, "agent")
        agent = http.agent_param(request.args)
        person: dict[str, Any] = {"objectType": "Person"}
        for name in ("name", "mbox", "mbox_sha1sum", "openid", "account"):
            if name in agent:
                person[name] = [agent[name]]
        return jsonify(person)
