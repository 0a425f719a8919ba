"""Request and response shapes of the users API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from capcourse.accounts.models import Role, User
from capcourse.accounts.services import MIN_PASSWORD_LENGTH


class UserCreateSchema(Schema):
    email = fields.Email(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf([Role.ADMIN, Role.LEAD, Role.AUTHOR]))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=1000))


class UserUpdateSchema(Schema):
    active = fields.Boolean(
        metadata={"description": "false disables the user: no sign-in, sessions ended, API keys refused."},
    )
    role = fields.String(
        validate=validate.OneOf(["admin", "lead", "author"]),
        metadata={"description": "A new role; the user's sessions end, so it applies from their next sign-in."},
    )

    @validates_schema
    def something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "active" not in data and "role" not in data:
            raise ValidationError("Send active, role or both.", "_schema")


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_login_at = fields.DateTime(allow_none=True)
    active = fields.Boolean(required=True)


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "active": user.is_active,
    }
