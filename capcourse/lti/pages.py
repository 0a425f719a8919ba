"""The LTI endpoints an LMS calls (login initiation, launch, JWKS, deep linking) and the admins' page.

Responses to a platform's browser carry their own Content-Security-Policy:
``frame-ancestors`` names only registered platforms (the launch's own platform
once it is known), and no inline script runs. The launch page needs no cookie:
state and nonce are kept server-side, and staff continue into capcourse
through a one-time link that opens a new window, where the sign-in cookie is
first-party.
"""

from __future__ import annotations

import logging
import secrets
import typing as t
import uuid
from typing import Any

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import login_required, login_user
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy import select
from werkzeug.wrappers import Response

from capcourse.accounts.models import User
from capcourse.accounts.pages import page_principal
from capcourse.catalogue.models import Course, Module, Programme
from capcourse.errors import CapcourseError, ForbiddenError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.lti import advantage, keys, launch, registration, services
from capcourse.lti.models import LtiLineItem, LtiPlatform
from capcourse.lti.tool import (
    LAUNCH_LIFETIME_SECONDS,
    LOGIN_LIFETIME,
    DatabaseStorage,
    DatabaseToolConf,
    ToolLaunch,
    ToolLogin,
    current_request,
    purge_expired,
    request_param,
)
from capcourse.outbound import Guard, parse_allow

logger = logging.getLogger(__name__)

pages = Blueprint("lti_pages", __name__, static_folder="static", static_url_path="/lti/static")

DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
#: How long the one-time link from a launch page into capcourse works.
ENTER_LIFETIME_SECONDS = 300


class LaunchRefusedError(CapcourseError):
    """An LTI message failed a check (signature, audience, nonce, expiry, deployment …)."""

    status_code = 403


def base_url() -> str:
    return str(current_app.config["CAPCOURSE_BASE_URL"]).rstrip("/")


def tool_urls() -> dict[str, str]:
    """What an LMS admin types in: capcourse's login, launch, keys and registration URLs."""
    root = base_url()
    return {
        "login_url": f"{root}/lti/login",
        "launch_url": f"{root}/lti/launch",
        "jwks_url": f"{root}/lti/jwks",
        "deep_link_url": f"{root}/lti/launch",
        "registration_url": f"{root}/lti/register/…",
        "domain": root.split("://", 1)[-1],
        "logo_url": f"{root}/lti/static/capcourse.svg",
    }


def _all_platform_origins() -> list[str]:
    origins: list[str] = []
    for platform in db.session.scalars(select(LtiPlatform)):
        origins += [o for o in services.platform_origins(platform) if o not in origins]
    return origins


@pages.after_request
def _frame_policy(response: Response) -> Response:
    """LTI pages may be framed by registered platforms only; no inline script, no plugins."""
    # The admins' pages (/admin/lti) keep the site's policy: never framed.
    if not request.path.startswith("/lti/") or request.path.startswith("/lti/static/") or request.path == "/lti/jwks":
        return response
    frame = getattr(g, "lti_frame_origins", None)
    if frame is None:
        try:
            frame = _all_platform_origins()
        except Exception:
            db.session.rollback()
            frame = []
    forms = " ".join(["'self'", *getattr(g, "lti_form_origins", [])])
    ancestors = " ".join(["'self'", *frame])
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'none'; form-action {forms}; frame-ancestors {ancestors}"
    )
    return response


def framing_origins(platform: LtiPlatform, claims: dict[str, Any]) -> list[str]:
    """Who may frame the answer to a launch: the platform's registered origins, and the origins its signed
    claims name (a Canvas school's own domain is not its issuer's: it shows in ``return_url``)."""
    origins = services.platform_origins(platform)
    presentation = claims.get(launch.PRESENTATION)
    tool_platform = claims.get(launch.CLAIM + "tool_platform")
    settings = claims.get(DEEP_LINKING)
    for url in (
        presentation.get("return_url") if isinstance(presentation, dict) else None,
        tool_platform.get("url") if isinstance(tool_platform, dict) else None,
        settings.get("deep_link_return_url") if isinstance(settings, dict) else None,
    ):
        origin = _origin(str(url)) if isinstance(url, str) and url.startswith(("https://", "http://")) else None
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def _refuse(error: Exception) -> LaunchRefusedError:
    db.session.rollback()
    logger.info("LTI message refused: %s", error)
    return LaunchRefusedError(f"The LMS launch was refused: {error}")


def _storage() -> DatabaseStorage:
    return DatabaseStorage(db.session())


@pages.route("/lti/login", methods=["GET", "POST"])
def login() -> Any:
    """OIDC third-party login initiation: answer with the platform's authorisation URL, state and nonce."""
    session = db.session()
    purge_expired(session)
    conf = DatabaseToolConf(session)
    flask_request = current_request()
    if not request_param(flask_request, "iss") or not request_param(flask_request, "login_hint"):
        raise InvalidInputError("A login initiation needs iss and login_hint: start from the LMS.")
    oidc = ToolLogin(flask_request, conf, launch_data_storage=_storage())
    oidc.set_launch_data_storage(_storage())
    oidc.set_launch_data_lifetime(int(LOGIN_LIFETIME.total_seconds()))
    target = request_param(flask_request, "target_link_uri") or ""
    if target and not target.startswith(base_url() + "/"):
        raise InvalidInputError("The target_link_uri is not a capcourse address.")
    try:
        response = oidc.redirect(tool_urls()["launch_url"])
    except (OIDCException, LtiException) as error:
        raise _refuse(error) from error
    db.session.commit()
    return response


def _validated_launch() -> ToolLaunch:
    session = db.session()
    message = ToolLaunch(current_request(), DatabaseToolConf(session), launch_data_storage=_storage())
    message.set_launch_data_lifetime(LAUNCH_LIFETIME_SECONDS)
    try:
        message.validate()
    except (LtiException, OIDCException, AssertionError) as error:
        raise _refuse(error) from error
    g.lti_frame_origins = framing_origins(message.get_platform(), dict(message.get_launch_data()))
    # The state and nonce are used up whatever happens next: a replay finds them gone.
    db.session.commit()
    return message


@pages.post("/lti/launch")
def launch_view() -> Any:
    """The launch: validate the id_token, then land the person in the right place with the right rights."""
    message = _validated_launch()
    platform = message.get_platform()
    claims = dict(message.get_launch_data())
    if message.is_deep_link_launch():
        return _deep_link_chooser(message, platform, claims)
    if not message.is_resource_launch():
        raise InvalidInputError("capcourse answers resource-link and deep-linking launches only.")
    outcome = launch.handle_launch(db.session(), platform, claims)
    db.session.commit()
    _refresh_roster(outcome.context)
    if outcome.user is not None:
        enter = _enter_token(outcome.user, outcome.target)
        db.session.commit()
        presentation = claims.get(launch.PRESENTATION) or {}
        if isinstance(presentation, dict) and presentation.get("document_target") == "window":
            # A window of its own: cookies are first-party, so go straight in.
            return redirect(url_for(".enter", token=enter), 303)
        return render_template("lti/launch.html", outcome=outcome, enter=enter, launch_id=message.get_launch_id())
    db.session.commit()
    completions = launch_learner_records(outcome)
    return render_template("lti/learner.html", outcome=outcome, completions=completions)


def _refresh_roster(context: Any) -> None:
    """Bring the course's roster up to date on launch; the launch goes on whatever the platform answers."""
    if context is None or not context.memberships_url or not advantage.roster_is_stale(context):
        return
    try:
        advantage.sync_roster(db.session(), context)
        db.session.commit()
    except CapcourseError as error:
        db.session.rollback()
        logger.warning("Roster of %s not refreshed on launch: %s", context.context_id, error.message)


def launch_learner_records(outcome: launch.LaunchOutcome) -> list[Any]:
    from capcourse.records.models import Completion

    if outcome.learner is None or outcome.course is None:
        return []
    query = (
        select(Completion)
        .join(Completion.activity)
        .join(Module)
        .where(
            Completion.learner_id == outcome.learner.id,
            Module.course_id == outcome.course.id,
            Completion.voided_at.is_(None),
        )
        .order_by(Completion.occurred_at.desc())
        .limit(50)
    )
    return list(db.session.scalars(query))


def _enter_token(user: User, target: str) -> str:
    token = secrets.token_urlsafe(32)
    _storage().set_value(f"enter-{token}", {"user_id": user.id, "next": target}, ENTER_LIFETIME_SECONDS)
    return token


@pages.get("/lti/enter/<token>")
def enter(token: str) -> Response:
    """The one-time link from a launch page: sign in as the launching person and open the landing page."""
    data = _storage().pop_value(f"enter-{token}")
    user = db.session.get(User, data.get("user_id")) if isinstance(data, dict) else None
    if user is None or not user.is_active:
        db.session.rollback()
        raise LaunchRefusedError(
            "This link into capcourse is used already or expired: launch capcourse from the LMS again."
        )
    db.session.commit()
    login_user(user)
    target = str(data["next"])
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/programmes", 303)


@pages.get("/lti/jwks")
def jwks() -> Response:
    """capcourse's public keys: platforms check deep-linking responses and service tokens with them."""
    body = keys.public_jwks(db.session())
    db.session.commit()
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# Deep linking


def _deep_link_chooser(message: ToolLaunch, platform: LtiPlatform, claims: dict[str, Any]) -> Any:
    outcome = launch.handle_launch(db.session(), platform, claims)
    if outcome.user is None:
        raise ForbiddenError("Only the LMS's instructors and content developers may add capcourse items to a course.")
    db.session.commit()
    programme = db.session.get(Programme, outcome.course.programme_id) if outcome.course else None
    if programme is None:
        raise InvalidInputError("Add capcourse from inside an LMS course: this launch has no course.")
    courses = list(
        db.session.scalars(select(Course).where(Course.programme_id == programme.id).order_by(Course.position))
    )
    settings = claims.get(DEEP_LINKING) or {}
    return render_template(
        "lti/deep_link.html",
        launch_id=message.get_launch_id(),
        programme=programme,
        course=outcome.course,
        courses=courses,
        settings=settings,
        outcome=outcome,
    )


@pages.post("/lti/deep-link")
def deep_link_response() -> Any:
    """Answer a deep-linking request with the chosen items, signed with capcourse's key."""
    launch_id = request.form.get("launch_id", "")
    storage = _storage()
    session = db.session()
    if not launch_id.startswith("lti1p3-launch-") or storage.get_value(launch_id) is None:
        raise LaunchRefusedError("This choice has expired or was sent already: add capcourse from the LMS again.")
    conf = DatabaseToolConf(session)
    try:
        message = t.cast(
            ToolLaunch, ToolLaunch.from_cache(launch_id, current_request(), conf, launch_data_storage=storage)
        )
    except LtiException as error:
        raise _refuse(error) from error
    claims = dict(message.get_launch_data())
    platform = message.get_platform()
    g.lti_frame_origins = framing_origins(platform, claims)
    if launch.lti_role(claims, platform) == "learner" or not message.is_deep_link_launch():
        raise ForbiddenError("Only the LMS's instructors may add capcourse items to a course.")
    chosen = request.form.getlist("target")
    if not chosen:
        raise InvalidInputError("Choose at least one capcourse item to add.")
    resources = [_resource(session, platform, value) for value in chosen]
    settings = t.cast(dict[str, Any], claims.get(DEEP_LINKING) or {})
    if not settings.get("accept_multiple", True) and len(resources) > 1:
        raise InvalidInputError("The LMS accepts one item here: choose one.")
    deep_link = message.get_deep_link()
    jwt_value = deep_link.get_response_jwt(resources)
    return_url = str(settings.get("deep_link_return_url") or "")
    if not return_url:
        raise InvalidInputError("The LMS sent no deep_link_return_url.")
    storage.pop_value(launch_id)
    db.session.commit()
    g.lti_form_origins = [*services.platform_origins(platform), _origin(return_url)]
    return render_template("lti/deep_link_return.html", return_url=return_url, jwt=jwt_value, count=len(resources))


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _resource(session: Any, platform: LtiPlatform, value: str) -> DeepLinkResource:
    from capcourse.catalogue.models import Activity
    from capcourse.frameworks.uris import node_uri
    from capcourse.mapping.models import Mapping as ItemMapping

    parsed = launch.parse_target(value)
    if parsed is None:
        raise InvalidInputError("Choose a capcourse item.")
    view, ident = parsed
    title = {
        "course": "capcourse: this course",
        "coverage": "capcourse: coverage",
        "evidence": "capcourse: learner evidence",
    }.get(view, "")
    items: list[str] = []
    if view in ("module", "activity"):
        entity = session.get(Module if view == "module" else Activity, ident)
        programme_id = (
            entity.course.programme_id
            if isinstance(entity, Module)
            else entity.module.course.programme_id
            if entity
            else None
        )
        if entity is None or programme_id != platform.programme_id:
            raise InvalidInputError(f"No {view} {ident} in this LMS's programme.")
        title = entity.title
        column = ItemMapping.module_id if view == "module" else ItemMapping.activity_id
        mappings = session.scalars(select(ItemMapping).where(column == entity.id))
        items = [node_uri(base_url(), m.item.id, m.item.uri) for m in mappings]
    resource = DeepLinkResource().set_url(tool_urls()["launch_url"]).set_title(title)
    custom = {"capcourse_target": value}
    if items:
        # The framework items the LMS may tag its resource with (CASE URIs, space-separated).
        custom["capcourse_items"] = " ".join(items)
    resource.set_custom_params(custom)
    return resource


# The admins' page


def _admin() -> Any:
    principal = page_principal()
    services.require_admin(principal)
    return principal


@pages.get("/admin/lti")
@login_required
def platforms_page() -> str:
    principal = _admin()
    platforms = services.list_platforms(db.session(), principal)
    programmes = list(db.session.scalars(select(Programme).order_by(Programme.title)))
    key_list = keys.list_keys(db.session())
    contexts = advantage.list_contexts(db.session(), principal)
    columns = {
        c.id: db.session.scalars(select(LtiLineItem).where(LtiLineItem.context_id == c.id)).all() for c in contexts
    }
    items = {c.id: _gradable_items(c) for c in contexts}
    return render_template(
        "lti/platforms.html",
        platforms=platforms,
        programmes=programmes,
        urls=tool_urls(),
        keys=key_list,
        contexts=contexts,
        columns=columns,
        items=items,
    )


def _gradable_items(context: Any) -> list[Any]:
    """The items of the frameworks of the context's programme, for the gradebook-column form."""
    course = db.session.get(Course, context.course_id)
    if course is None:
        return []
    framework_ids = [f.id for f in course.programme.frameworks]
    return list(
        db.session.scalars(
            select(Item).where(Item.framework_id.in_(framework_ids)).order_by(Item.framework_id, Item.position)
        )
    )


@pages.post("/admin/lti/contexts/<int:context_id>/roster")
@login_required
def roster_refresh(context_id: int) -> Response | tuple[str, int]:
    principal = _admin()
    keys.active_key(db.session())
    db.session.commit()
    try:
        context = advantage.context_for(db.session(), principal, context_id)
        result = advantage.sync_roster(db.session(), context)
    except CapcourseError as error:
        return _page_refusal(error)
    db.session.commit()
    flash(
        f"Roster of {context.title}: {result.learners} learners ({result.added} added, {result.removed} removed).",
        "info",
    )
    return redirect(url_for(".platforms_page"), 303)


@pages.post("/admin/lti/contexts/<int:context_id>/lineitems")
@login_required
def lineitems_add(context_id: int) -> Response | tuple[str, int]:
    principal = _admin()
    keys.active_key(db.session())
    db.session.commit()
    try:
        item_ids = [uuid.UUID(v) for v in request.form.getlist("item_ids")]
    except ValueError:
        return _page_refusal(InvalidInputError("Choose framework items from the list."))
    try:
        if not item_ids:
            raise InvalidInputError("Choose at least one framework item.")
        context = advantage.context_for(db.session(), principal, context_id)
        lines = advantage.add_line_items(db.session(), principal, context, item_ids, base_url())
    except CapcourseError as error:
        return _page_refusal(error)
    db.session.commit()
    flash(f"{len(lines)} gradebook column(s) in {context.title}.", "info")
    return redirect(url_for(".platforms_page"), 303)


def _page_refusal(error: CapcourseError) -> tuple[str, int]:
    db.session.rollback()
    flash(error.message + "".join(f" {k}: {' '.join(v)}" for k, v in (error.errors or {}).items()), "error")
    return platforms_page(), int(error.status_code)


@pages.post("/admin/lti/platforms")
@login_required
def platform_create() -> Response | tuple[str, int]:
    principal = _admin()
    form = request.form
    try:
        programme = _programme_field(form.get("programme_id"))
        platform = services.create_platform(
            db.session(),
            principal,
            {
                **{k: form.get(k, "") for k in ("name", "issuer", "client_id", *services.URL_FIELDS)},
                "auth_audience": form.get("auth_audience"),
                "programme_id": programme,
                "admins_are_admins": form.get("admins_are_admins") == "on",
            },
            form.get("deployment_ids", "").replace(",", "\n").splitlines(),
        )
    except CapcourseError as error:
        return _page_refusal(error)
    db.session.commit()
    flash(f"Platform {platform.name!r} registered.", "info")
    return redirect(url_for(".platforms_page"), 303)


def _programme_field(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise InvalidInputError("Choose a programme from the list.", {"programme_id": ["Not a programme."]}) from error


@pages.post("/admin/lti/platforms/<uuid:platform_id>")
@login_required
def platform_update(platform_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = _admin()
    try:
        platform = services.get_platform(db.session(), principal, platform_id)
        if request.form.get("action") == "delete":
            services.delete_platform(db.session(), principal, platform)
            message = f"Platform {platform.name!r} removed."
        elif request.form.get("deployment_id"):
            services.add_deployment(db.session(), principal, platform, request.form["deployment_id"])
            message = f"Deployment added to {platform.name!r}."
        else:
            services.update_platform(
                db.session(),
                principal,
                platform,
                {
                    "programme_id": _programme_field(request.form.get("programme_id")),
                    "admins_are_admins": request.form.get("admins_are_admins") == "on",
                },
            )
            message = f"Platform {platform.name!r} saved."
    except CapcourseError as error:
        return _page_refusal(error)
    db.session.commit()
    flash(message, "info")
    return redirect(url_for(".platforms_page"), 303)


@pages.post("/admin/lti/keys/rotate")
@login_required
def keys_rotate() -> Response:
    _admin()
    key = keys.rotate_keys(db.session())
    db.session.commit()
    flash(f"capcourse now signs with key {key.kid}; the previous one stays published for a week.", "info")
    return redirect(url_for(".platforms_page"), 303)


# Dynamic registration


@pages.get("/lti/register/<token>")
def register(token: str) -> Any:
    """Where an LMS opens the registration URL: register with it, then tell it to close this window."""
    session = db.session()
    offer = registration.registration_offer(session, token)
    openid_configuration = request.args.get("openid_configuration", "").strip()
    if not openid_configuration:
        return render_template("lti/register.html", offer=offer, token=token, platform=None)
    g.lti_frame_origins = [_origin(openid_configuration)]
    guard = Guard(parse_allow(current_app.config.get("CAPCOURSE_OUTBOUND_ALLOW")))
    urls = tool_urls()
    platform = registration.register(
        session, token, openid_configuration, request.args.get("registration_token"), urls, guard
    )
    session.commit()
    g.lti_frame_origins = services.platform_origins(platform)
    return render_template("lti/register.html", offer=offer, token=token, platform=platform)


@pages.post("/admin/lti/registrations")
@login_required
def registration_create() -> Response | tuple[str, int]:
    principal = _admin()
    try:
        url, expires = registration.make_registration_url(
            db.session(), principal, base_url(), _programme_field(request.form.get("programme_id"))
        )
    except CapcourseError as error:
        return _page_refusal(error)
    db.session.commit()
    flash(f"Registration URL (works once, until {expires:%Y-%m-%d %H:%M} UTC): {url}", "info")
    return redirect(url_for(".platforms_page"), 303)
