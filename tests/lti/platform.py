"""An LTI 1.3 platform for the tests, built on the ``lti1p3platform`` package (not written by capcourse).

lti1p3platform does the platform's protocol work: the OIDC login initiation,
checking the tool's authentication response, signing id_tokens with the
platform's key, NRPS/AGS/deep-linking claims, issuing service access tokens
(checking the tool's client assertion against capcourse's JWKS), checking
bearer tokens on its services, and checking deep-linking responses. This module
only supplies what a real LMS keeps in its database: a course roster, line
items, scores, and the links a deep link created; and serves it all over HTTP
on loopback, like an LMS would.

Dynamic Registration is not in lti1p3platform: the two small endpoints for it
here (OpenID configuration, registration) follow the LTI-DR 1.0 spec's examples.
"""

from __future__ import annotations

import json
import secrets
import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from jwcrypto.jwk import JWK
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService, TPage
from werkzeug.serving import make_server

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = [LIS + "membership#Instructor"]
LEARNER = [LIS + "membership#Learner"]


def _key_pair() -> tuple[str, str]:
    key = JWK.generate(kty="RSA", size=2048)
    return key.export_to_pem(private_key=True, password=None).decode(), key.export_to_pem().decode()


@dataclass
class Person:
    user_id: str
    name: str
    email: str
    roles: list[str]


@dataclass
class PlatformState:
    """What an LMS keeps in its database, for one test."""

    base_url: str = ""
    client_id: str = "capcourse-client"
    deployment_id: str = "deployment-1"
    tool_login_url: str = ""
    tool_launch_url: str = ""
    tool_jwks_url: str = ""
    private_key: str = ""
    public_key: str = ""
    people: dict[str, Person] = field(default_factory=dict)
    #: course id -> (title, user ids on the roster)
    courses: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: message hints issued by login initiations
    hints: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    lineitems: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    scores: list[dict[str, t.Any]] = field(default_factory=list)
    deep_link_items: list[dict[str, t.Any]] = field(default_factory=list)
    registrations: list[dict[str, t.Any]] = field(default_factory=list)
    #: Errors the platform saw (a deep link it refused, a bad token …).
    errors: list[str] = field(default_factory=list)
    fail_scores: int = 0
    #: How many times the tool fetched the platform's key set.
    jwks_requests: int = 0

    @property
    def issuer(self) -> str:
        return self.base_url


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        state: PlatformState = kwargs["state"]
        self._registration = (
            Registration()
            .set_iss(state.issuer)
            .set_client_id(state.client_id)
            .set_deployment_id(state.deployment_id)
            .set_oidc_login_url(state.tool_login_url)
            .set_launch_url(state.tool_launch_url)
            .set_deeplink_launch_url(state.tool_launch_url)
            .set_tool_key_set_url(state.tool_jwks_url)
            .set_platform_public_key(state.public_key)
            .set_platform_private_key(state.private_key)
        )

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        assert self._registration is not None
        return self._registration


class FlaskPlatformRequest(Request):
    def build_metadata(self, req: t.Any) -> TRequest:
        return {
            "method": req.method,
            "form_data": req.form.to_dict(),
            "get_data": req.args.to_dict(),
            "headers": req.headers,
            "content_type": req.content_type,
            "path": req.path,
            "json": req.get_json(silent=True),
        }


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: t.Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Response:
        return Response(status=302, headers={"Location": url})


class Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, t.Any], **kwargs: t.Any) -> Response:
        # What LMSs do: a form the browser posts to the tool (here with a button and a script).
        html = (
            "<!doctype html><html><body><form id='launch' method='post' action='{launch_url}'>"
            "<input type='hidden' name='id_token' value='{id_token}'>"
            "<input type='hidden' name='state' value='{state}'>"
            "<button type='submit'>Continue</button></form>"
            "<script>document.getElementById('launch').submit();</script></body></html>"
        ).format(**launch_data)
        return Response(html, mimetype="text/html")


def _response(result: t.Any) -> Response:
    """lti1p3platform's service answer as HTTP, the way its Django adapter (wrap_json_resp) sends it."""
    if not 200 <= result.code < 300:
        return Response(json.dumps({"error": result.message}), status=result.code, mimetype=result.media_type)
    data = result.result
    page = isinstance(data, dict) and "content" in data
    body = json.dumps(data["content"] if page else data) if data is not None else ""
    response = Response(body, status=result.code, mimetype=result.media_type)
    if page and data.get("next"):
        response.headers["Link"] = f"<{data['next']}>; rel=next"
    return response


def build_platform(state: PlatformState) -> Flask:
    """The platform's web app: its pages, its LTI endpoints and its services."""
    app = Flask("test_lti_platform")

    def conf() -> PlatformConf:
        return PlatformConf(state=state)

    @app.get("/jwks")
    def jwks() -> Response:
        state.jwks_requests += 1
        platform = conf()
        platform.get_registration()
        return jsonify(platform.get_jwks())

    @app.get("/start")
    def start() -> Response:
        """A person clicks a capcourse link (or 'add activity') in a course: the login initiation."""
        user = state.people[request.args["user"]]
        hint = secrets.token_hex(8)
        state.hints[hint] = {
            "user": user.user_id,
            "context": request.args.get("context", "course-1"),
            "link": request.args.get("link"),
            "link_title": request.args.get("link_title", "capcourse"),
            "deep_link": request.args.get("deep_link") == "1",
            "custom": json.loads(request.args.get("custom", "{}")),
            "target": request.args.get("target"),
            "return_url": request.args.get("return_url"),
        }
        login = Login(FlaskPlatformRequest(request), conf())
        login.set_lti_message_hint(hint=hint)
        return t.cast(Response, login.initiate_login(user.user_id))

    @app.get("/course")
    def course_page() -> Response:
        """An LMS course page with capcourse in an iframe, as LMSs embed tools."""
        src = "/start?" + urlencode(request.args)
        html = (
            "<!doctype html><html><head><title>LMS course</title></head><body><h1>LMS course</h1>"
            f"<iframe id='tool' title='capcourse' src='{src}' width='1000' height='600'></iframe></body></html>"
        )
        return Response(html, mimetype="text/html")

    @app.get("/authorize")
    def authorize() -> Response:
        """The tool's authentication request comes back: sign and post the launch."""
        hint = state.hints[request.args["lti_message_hint"]]
        person = state.people[request.args["login_hint"]]
        message = Launch(FlaskPlatformRequest(request), conf())
        message.set_user_data(person.user_id, person.roles, person.name, person.email)
        context_title = state.courses.get(hint["context"], ("Course",))[0]
        message.set_launch_context_claim(hint["context"], context_title=context_title, context_label=hint["context"])
        message.set_nrps(f"{state.base_url}/memberships/{hint['context']}")
        message.set_ags(f"{state.base_url}/lineitems/{hint['context']}")
        if hint["target"] or hint["return_url"]:
            message.set_launch_presentation_claim(document_target=hint["target"], return_url=hint["return_url"])
        if hint["deep_link"]:
            message.set_dl(f"{state.base_url}/deep-link-return", title="Add capcourse")
        else:
            message.set_resource_link_claim(hint["link"] or "link-1", title=hint["link_title"])
        if hint["custom"]:
            message.set_custom_parameters_claim(hint["custom"])
        return t.cast(Response, message.lti_launch())

    @app.post("/token")
    def token() -> Response:
        try:
            return jsonify(conf().get_access_token(request.form.to_dict()))
        except Exception as error:
            state.errors.append(f"token: {error}")
            return jsonify({"error": "invalid_client"}), 401  # type: ignore[return-value]

    @app.post("/deep-link-return")
    def deep_link_return() -> Response:
        try:
            items = conf().validate_deeplinking_resp(request.form.to_dict())
        except Exception as error:
            state.errors.append(f"deep link: {error}")
            return Response(f"refused: {error}", status=400)
        state.deep_link_items.extend(items)
        titles = "".join(f"<li>{i.get('title')}</li>" for i in items)
        return Response(
            f"<!doctype html><h1>Added to the course</h1><ul id='added'>{titles}</ul>", mimetype="text/html"
        )

    class Roster(NamesRoleProvisioningService):
        context_id = ""

        def get_context_by_id(self) -> Context:
            return Context(id=self.context_id, label=self.context_id, title=state.courses[self.context_id][0])

        def get_member_data_page(self, **kwargs: t.Any) -> TPage:
            members = [state.people[u] for u in state.courses[self.context_id][1]]
            content = [
                {"user_id": p.user_id, "name": p.name, "email": p.email, "roles": p.roles, "status": "Active"}
                for p in members
            ]
            return {"content": content, "has_next": False, "next": None}

    @app.get("/memberships/<context_id>")
    def memberships(context_id: str) -> Response:
        service = Roster(
            FlaskPlatformRequest(request), _with_registration(conf()), f"{state.base_url}/memberships/{context_id}"
        )
        service.context_id = context_id
        return _response(service.handle_resp(service.handle_get_members))

    class Gradebook(AssignmentsGradesService):
        context_id = ""

        def find_lineitems(self, **kwargs: t.Any) -> TPage:
            items = [i for i in state.lineitems.values() if i["context"] == self.context_id]
            tag, resource = kwargs.get("tag"), kwargs.get("resource_id")
            items = [
                i
                for i in items
                if (not tag or i.get("tag") == tag) and (not resource or i.get("resourceId") == resource)
            ]
            return {"content": [_public(i) for i in items], "has_next": False, "next": None}

        def find_lineitem(self, line_item_id: str) -> t.Any:
            return _public(state.lineitems[line_item_id])

        def create_lineitem(self, creation_data: t.Any) -> t.Any:
            number = str(len(state.lineitems) + 1)
            item = {
                **creation_data,
                "id": f"{state.base_url}/lineitems/{self.context_id}/{number}",
                "context": self.context_id,
            }
            state.lineitems[number] = item
            return _public(item)

        def update_lineitem(self, update_data: t.Any) -> t.Any:
            raise NotImplementedError

        def delete_lineitem(self, line_item_id: str) -> None:
            raise NotImplementedError

        def update_score(self, line_item_id: str, score: t.Any) -> UpdateScoreStatus:
            state.scores.append({"lineitem": line_item_id, **score})
            return UpdateScoreStatus.SUCCESS

        def get_results(self, line_item_id: str, **kwargs: t.Any) -> TPage:
            raise NotImplementedError

    def gradebook(context_id: str) -> Gradebook:
        service = Gradebook(
            FlaskPlatformRequest(request), _with_registration(conf()), f"{state.base_url}/lineitems/{context_id}"
        )
        service.context_id = context_id
        return service

    @app.route("/lineitems/<context_id>", methods=["GET", "POST"])
    def lineitems(context_id: str) -> Response:
        service = gradebook(context_id)
        handler = service.handle_get_lineitems if request.method == "GET" else service.handle_create_lineitem
        return _response(service.handle_resp(handler))

    @app.post("/lineitems/<context_id>/<number>/scores")
    def scores(context_id: str, number: str) -> Response:
        if state.fail_scores > 0:
            state.fail_scores -= 1
            return Response("gradebook unavailable", status=503)
        service = gradebook(context_id)
        return _response(service.handle_resp(service.handle_update_score, line_item_id=number))

    # Dynamic registration (LTI-DR 1.0): the platform's configuration and registration endpoint.
    @app.get("/.well-known/openid-configuration")
    def openid_configuration() -> Response:
        if request.headers.get("Authorization") != "Bearer reg-token" and request.args.get("t") != "reg-token":
            return Response(status=401)
        return jsonify(
            {
                "issuer": state.issuer,
                "authorization_endpoint": f"{state.base_url}/authorize",
                "token_endpoint": f"{state.base_url}/token",
                "jwks_uri": f"{state.base_url}/jwks",
                "registration_endpoint": f"{state.base_url}/register",
                "scopes_supported": ["openid"],
                "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "lti1p3platform-test",
                    "version": "0.1.8",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
                },
            }
        )

    @app.post("/register")
    def register() -> Response:
        if request.headers.get("Authorization") != "Bearer reg-token":
            return Response(status=401)
        tool = request.get_json()
        state.registrations.append(tool)
        config = tool["https://purl.imsglobal.org/spec/lti-tool-configuration"]
        state.tool_login_url = tool["initiate_login_uri"]
        state.tool_launch_url = config["target_link_uri"]
        state.tool_jwks_url = tool["jwks_uri"]
        return jsonify(
            {
                **tool,
                "client_id": state.client_id,
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    **config,
                    "deployment_id": state.deployment_id,
                },
            }
        )

    return app


def _with_registration(platform: PlatformConf) -> PlatformConf:
    platform.get_registration()
    return platform


def _public(item: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in item.items() if k != "context"}


@contextmanager
def running_platform(state: PlatformState, host: str = "127.0.0.1") -> Iterator[PlatformState]:
    """Serve the platform on a free loopback port (in a thread) for the duration.

    :param host: the name its URLs use: ``localhost`` makes it another site than capcourse on 127.0.0.1.
    """
    state.private_key, state.public_key = _key_pair()
    server = make_server("127.0.0.1", 0, build_platform(state), threaded=True)
    state.base_url = f"http://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def start_url(state: PlatformState, user: str, **params: str) -> str:
    return f"{state.base_url}/start?{urlencode({'user': user, **params})}"
