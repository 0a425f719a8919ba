"""REST API for user accounts (admins only)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from capcourse.accounts.admin import set_role
from capcourse.accounts.auth import require_role
from capcourse.accounts.models import Role, User
from capcourse.accounts.schemas import UserCreateSchema, UserSchema, UserUpdateSchema, user_dict
from capcourse.accounts.services import create_user, set_active
from capcourse.api import AUTH_DOC, select_pager
from capcourse.errors import NotFoundError
from capcourse.extensions import db

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="People who sign in (admin keys only).")


@blp.route("/users")
class Users(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(select_pager(user_dict))
    def get(self) -> Any:
        """List users."""
        return select(User).order_by(User.email)

    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC, responses={"409": {"description": "The email is taken."}})
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a user who signs in with email and password (at least 12 characters, not easy to guess)."""
        user = create_user(db.session(), body["email"], body["name"], body["role"], body["password"])
        db.session.commit()
        return user_dict(user)


@blp.route("/users/<int:user_id>")
class UserResource(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(**AUTH_DOC, responses={"409": {"description": "The last active admin cannot be disabled."}})
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, body: dict[str, Any], user_id: int) -> Any:
        """Disable or enable a user, or change their role. Disabling ends their sessions at once and refuses their
        API keys; a new role ends their sessions too."""
        # Ids are 32-bit in the database: a larger one names nobody (and must not reach the query).
        user = db.session.get(User, user_id) if user_id < 2**31 else None
        if user is None:
            raise NotFoundError(f"No user has the id {user_id}.")
        if "role" in body:
            set_role(db.session(), user, body["role"])
        if "active" in body:
            set_active(db.session(), user, body["active"])
        db.session.commit()
        return user_dict(user)
