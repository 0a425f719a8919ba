"""REST API for LTI platforms and capcourse's LTI keys (admin keys only)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts.auth import current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.extensions import db
from capcourse.lti import keys, services
from capcourse.lti.pages import tool_urls
from capcourse.lti.schemas import (
    DeploymentSchema,
    KeySchema,
    PlatformSchema,
    PlatformUpdateSchema,
    ToolConfigurationSchema,
    key_dict,
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
