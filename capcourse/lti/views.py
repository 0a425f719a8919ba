"""REST API for LTI platforms and capcourse's LTI keys (admin keys only)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from capcourse.accounts import access
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.catalogue.models import Course
from capcourse.errors import ForbiddenError, NotFoundError
from capcourse.extensions import db
from capcourse.lti import advantage, keys, launch, registration, services
from capcourse.lti.models import LtiContext, LtiLineItem, LtiResourceLink
from capcourse.lti.pages import base_url, tool_urls
from capcourse.lti.schemas import (
    ContextSchema,
    DeploymentSchema,
    KeySchema,
    LineItemSchema,
    LineItemsInSchema,
    LinkSchema,
    LinkTargetSchema,
    PlatformSchema,
    PlatformUpdateSchema,
    RegistrationInSchema,
    RegistrationUrlSchema,
    RosterResultSchema,
    ScoreReportSchema,
    ScoreStatusSchema,
    ToolConfigurationSchema,
    context_dict,
    key_dict,
    line_item_dict,
    link_dict,
    platform_dict,
)

blp = Blueprint("lti", __name__, url_prefix="/api/v1/lti", description="LMS platforms connected by LTI 1.3 (admins).")


@blp.route("/tool")
class ToolConfiguration(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ToolConfigurationSchema)
    def get(self) -> Any:
        """The URLs an LMS administrator enters for capcourse."""
        return tool_urls()


@blp.route("/platforms")
class Platforms(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, PlatformSchema(many=True))
    def get(self) -> Any:
        """Registered platforms."""
        return [platform_dict(p) for p in services.list_platforms(db.session(), current_principal())]

    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC, responses={"409": {"description": "The issuer and client id are registered already."}})
    @blp.arguments(PlatformSchema)
    @blp.response(201, PlatformSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a platform by hand (issuer, client id, endpoints, deployments)."""
        deployments = body.pop("deployment_ids", [])
        platform = services.create_platform(db.session(), current_principal(), body, deployments)
        db.session.commit()
        return platform_dict(platform)


@blp.route("/platforms/<uuid:platform_id>")
class PlatformDetail(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, PlatformSchema)
    def get(self, platform_id: uuid.UUID) -> Any:
        """One platform."""
        return platform_dict(services.get_platform(db.session(), current_principal(), platform_id))

    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(PlatformUpdateSchema)
    @blp.response(200, PlatformSchema)
    def patch(self, body: dict[str, Any], platform_id: uuid.UUID) -> Any:
        """Change a platform: its programme (where its courses go), admin rule, name or endpoints."""
        platform = services.get_platform(db.session(), current_principal(), platform_id)
        services.update_platform(db.session(), current_principal(), platform, body)
        db.session.commit()
        return platform_dict(platform)

    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(204)
    def delete(self, platform_id: uuid.UUID) -> None:
        """Forget a platform: its launches are refused from now on."""
        platform = services.get_platform(db.session(), current_principal(), platform_id)
        services.delete_platform(db.session(), current_principal(), platform)
        db.session.commit()


@blp.route("/platforms/<uuid:platform_id>/deployments")
class Deployments(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(DeploymentSchema)
    @blp.response(201, PlatformSchema)
    def post(self, body: dict[str, Any], platform_id: uuid.UUID) -> Any:
        """Add a deployment id to a platform."""
        platform = services.get_platform(db.session(), current_principal(), platform_id)
        services.add_deployment(db.session(), current_principal(), platform, body["deployment_id"])
        db.session.commit()
        return platform_dict(platform)


@blp.route("/keys")
class Keys(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, KeySchema(many=True))
    def get(self) -> Any:
        """capcourse's signing keys (public ids only), newest first."""
        keys.active_key(db.session())
        db.session.commit()
        return [key_dict(k) for k in keys.list_keys(db.session())]


@blp.route("/keys/rotate")
class KeyRotation(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(201, KeySchema)
    def post(self) -> Any:
        """Sign with a new key from now on; the old one stays in the JWKS for a week."""
        key = keys.rotate_keys(db.session())
        db.session.commit()
        return key_dict(key)


def _may_manage(context: LtiContext) -> None:
    """Leads and authors of the course's programme (and admins) refresh rosters and make gradebook columns."""
    session = db.session()
    programme = session.get(Course, context.course_id).programme  # type: ignore[union-attr]
    try:
        access.require_content_editor(session, current_principal(), programme)
    except ForbiddenError:
        access.require_programme_manager(session, current_principal(), programme)
    # Service tokens are signed with this key, which the platform fetches from us meanwhile.
    keys.active_key(session)
    session.commit()


@blp.route("/contexts")
class Contexts(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ContextSchema(many=True))
    def get(self) -> Any:
        """LMS courses linked to capcourse courses (those of programmes you may read)."""
        return [context_dict(c) for c in advantage.list_contexts(db.session(), current_principal())]


@blp.route("/contexts/<int:context_id>/roster")
class Roster(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"502": {"description": "The platform's roster service failed."}})
    @blp.response(200, RosterResultSchema)
    def post(self, context_id: int) -> Any:
        """Fetch the LMS course's roster (NRPS) now: learners by LMS account, and the course's cohort."""
        context = advantage.context_for(db.session(), current_principal(), context_id)
        _may_manage(context)
        result = advantage.sync_roster(db.session(), context)
        db.session.commit()
        return {
            "learners": result.learners,
            "added": result.added,
            "removed": result.removed,
            "cohort_id": result.cohort.id,
        }


@blp.route("/contexts/<int:context_id>/lineitems")
class LineItems(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, LineItemSchema(many=True))
    def get(self, context_id: int) -> Any:
        """The LMS gradebook columns capcourse keeps for framework items in this course."""
        context = advantage.context_for(db.session(), current_principal(), context_id)
        lines = db.session.scalars(select(LtiLineItem).where(LtiLineItem.context_id == context.id))
        return [line_item_dict(line) for line in lines]

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"502": {"description": "The platform's gradebook refused."}})
    @blp.arguments(LineItemsInSchema)
    @blp.response(201, LineItemSchema(many=True))
    def post(self, body: dict[str, Any], context_id: int) -> Any:
        """Make a gradebook column (AGS line item) per framework item: 1 when a learner attains it."""
        context = advantage.context_for(db.session(), current_principal(), context_id)
        _may_manage(context)
        base = str(current_app.config["CAPCOURSE_BASE_URL"]).rstrip("/")
        lines = advantage.add_line_items(db.session(), current_principal(), context, body["item_ids"], base)
        db.session.commit()
        return [line_item_dict(line) for line in lines]


@blp.route("/scores")
class Scores(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ScoreStatusSchema)
    def get(self) -> Any:
        """Scores for LMS gradebooks: pending, delivered, dead."""
        return advantage.score_status(db.session())


@blp.route("/scores/deliver")
class ScoreDelivery(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ScoreReportSchema)
    def post(self) -> Any:
        """Queue new attainments as scores and post the due ones now (``capcourse lti scores run`` does it on a loop)."""
        keys.active_key(db.session())
        db.session.commit()
        report = advantage.deliver_scores(db.session())
        db.session.commit()
        return vars(report)


@blp.route("/scores/retry")
class ScoreRetry(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, ScoreStatusSchema)
    def post(self) -> Any:
        """Send dead scores again."""
        advantage.retry_dead_scores(db.session())
        db.session.commit()
        return advantage.score_status(db.session())


@blp.route("/registrations")
class Registrations(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(RegistrationInSchema)
    @blp.response(201, RegistrationUrlSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """A one-time Dynamic Registration URL to paste into an LMS (its courses go to ``programme_id``)."""
        url, expires = registration.make_registration_url(
            db.session(), current_principal(), base_url(), body["programme_id"]
        )
        db.session.commit()
        return {"url": url, "expires_at": expires}


@blp.route("/contexts/<int:context_id>/links")
class Links(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, LinkSchema(many=True))
    def get(self, context_id: int) -> Any:
        """The LMS course's links to capcourse, and what each opens."""
        context = advantage.context_for(db.session(), current_principal(), context_id)
        links = db.session.scalars(
            select(LtiResourceLink).where(LtiResourceLink.context_id == context.id).order_by(LtiResourceLink.id)
        )
        return [link_dict(link) for link in links]


@blp.route("/links/<int:link_id>")
class LinkDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(LinkTargetSchema)
    @blp.response(200, LinkSchema)
    def put(self, body: dict[str, Any], link_id: int) -> Any:
        """Tie an LMS link to what it opens; a link to an activity becomes its external id (lti-resource-link)."""
        link = db.session.get(LtiResourceLink, link_id)
        if link is None or link.context_id is None:
            raise NotFoundError(f"No LMS link has the identifier {link_id}.")
        advantage.context_for(db.session(), current_principal(), link.context_id)
        launch.aim_link(db.session(), current_principal(), link, body["target"])
        db.session.commit()
        return link_dict(link)
