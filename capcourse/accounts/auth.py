"""Guarding API endpoints by role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from capcourse.accounts.models import ApiKey, Role
from capcourse.accounts.services import authenticate
from capcourse.errors import ForbiddenError, UnauthorizedError
from capcourse.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def current_key() -> ApiKey:
    """The key that authenticated this request (inside :func:`require_role`)."""
    return cast(ApiKey, g.api_key)


def require_role(*roles: Role) -> Callable[[F], F]:
    """Let a request through only with a live API key of one of ``roles``.

    The key comes as ``Authorization: Bearer <key>``. 401 without a valid key,
    403 with a key of another role.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not plain.strip():
                raise UnauthorizedError("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
            key = authenticate(db.session(), plain.strip())
            if key.role not in roles:
                raise ForbiddenError(
                    f"An API key with the role {key.role!r} may not do this; it needs {' or '.join(roles)}."
                )
            g.api_key = key
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
