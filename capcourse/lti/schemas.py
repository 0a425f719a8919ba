"""Shapes of the LTI API: platforms, deployments, keys."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.lti.models import LtiKey, LtiPlatform


class DeploymentSchema(Schema):
    deployment_id = fields.String(required=True, validate=validate.Length(min=1, max=500))


class PlatformSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=500))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=500))
    auth_login_url = fields.String(required=True, validate=validate.Length(max=1000))
    auth_token_url = fields.String(required=True, validate=validate.Length(max=1000))
    key_set_url = fields.String(required=True, validate=validate.Length(max=1000))
    auth_audience = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=1000))
    programme_id = fields.UUID(allow_none=True, load_default=None)
    admins_are_admins = fields.Boolean(load_default=False)
    deployment_ids = fields.List(fields.String(validate=validate.Length(min=1, max=500)), load_default=list)
    registered_by = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class PlatformUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    programme_id = fields.UUID(allow_none=True)
    admins_are_admins = fields.Boolean()
    auth_login_url = fields.String(validate=validate.Length(max=1000))
    auth_token_url = fields.String(validate=validate.Length(max=1000))
    key_set_url = fields.String(validate=validate.Length(max=1000))


class KeySchema(Schema):
    kid = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    retired_at = fields.DateTime(allow_none=True)


class ToolConfigurationSchema(Schema):
    login_url = fields.String(required=True)
    launch_url = fields.String(required=True)
    jwks_url = fields.String(required=True)
    deep_link_url = fields.String(required=True)
    registration_url = fields.String(required=True)
    domain = fields.String(required=True)
    logo_url = fields.String(required=True)


def platform_dict(platform: LtiPlatform) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "key_set_url": platform.key_set_url,
        "auth_audience": platform.auth_audience,
        "programme_id": platform.programme_id,
        "admins_are_admins": platform.admins_are_admins,
        "deployment_ids": [d.deployment_id for d in platform.deployments],
        "registered_by": platform.registered_by,
        "created_at": platform.created_at,
    }


def key_dict(key: LtiKey) -> dict[str, Any]:
    return {"kid": key.kid, "created_at": key.created_at, "retired_at": key.retired_at}


class ContextSchema(Schema):
    id = fields.Integer(required=True)
    platform_id = fields.UUID(required=True)
    context_id = fields.String(required=True)
    title = fields.String(allow_none=True)
    course_id = fields.UUID(required=True)
    cohort_id = fields.UUID(allow_none=True)
    memberships_url = fields.String(allow_none=True)
    lineitems_url = fields.String(allow_none=True)
    roster_synced_at = fields.DateTime(allow_none=True)


class RosterResultSchema(Schema):
    learners = fields.Integer(required=True)
    added = fields.Integer(required=True)
    removed = fields.Integer(required=True)
    cohort_id = fields.UUID(required=True)


class LineItemsInSchema(Schema):
    item_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=200))


class LineItemSchema(Schema):
    id = fields.Integer(required=True)
    item_id = fields.UUID(required=True)
    url = fields.String(required=True)
    label = fields.String(required=True)


class ScoreReportSchema(Schema):
    queued = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    retried = fields.Integer(required=True)
    dead = fields.Integer(required=True)


class ScoreStatusSchema(Schema):
    pending = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    dead = fields.Integer(required=True)


def context_dict(context: Any) -> dict[str, Any]:
    return {k: getattr(context, k) for k in ContextSchema().fields}


def line_item_dict(line: Any) -> dict[str, Any]:
    return {"id": line.id, "item_id": line.item_id, "url": line.url, "label": line.label}


class RegistrationInSchema(Schema):
    programme_id = fields.UUID(allow_none=True, load_default=None)


class RegistrationUrlSchema(Schema):
    url = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class LinkSchema(Schema):
    id = fields.Integer(required=True)
    resource_link_id = fields.String(required=True)
    title = fields.String(allow_none=True)
    view = fields.String(allow_none=True)
    module_id = fields.UUID(allow_none=True)
    activity_id = fields.UUID(allow_none=True)


class LinkTargetSchema(Schema):
    target = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "course, coverage, evidence, module:ID or activity:ID"},
    )


def link_dict(link: Any) -> dict[str, Any]:
    return {k: getattr(link, k) for k in LinkSchema().fields}
