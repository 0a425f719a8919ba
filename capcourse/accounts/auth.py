"""Authenticating API requests by key, and guarding endpoints by role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from capcourse.accounts.access import Principal, principal_for_key
from capcourse.accounts.models import Role
from capcourse.accounts.services import authenticate_key
from capcourse.errors import ForbiddenError, UnauthorizedError
from capcourse.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def current_principal() -> Principal:
    """Who made this API request (inside :func:`require_role`)."""
    return cast(Principal, g.principal)


def require_role(*roles: Role) -> Callable[[F], F]:
    """Let a request through only with a live API key of one of ``roles``.

    The key comes as ``Authorization: Bearer <key>``. 401 without a valid key,
    403 with a key of another role. Programme-level rules are checked by the
    services (:mod:`capcourse.accounts.access`).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not plain.strip():
                raise UnauthorizedError("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
            key = authenticate_key(db.session(), plain.strip())
            if key.role not in roles:
                raise ForbiddenError(
                    f"An API key with the role {key.role!r} may not do this; it needs {' or '.join(roles)}."
                )
            g.principal = principal_for_key(key)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


#: Roles of people (and their keys): everything but machine integrations.
PEOPLE = (Role.ADMIN, Role.LEAD, Role.AUTHOR)
