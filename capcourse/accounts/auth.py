"""Authenticating API requests by key, and guarding endpoints by role."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import after_this_request, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from capcourse.accounts.access import Principal, principal_for_key
from capcourse.accounts.models import ApiKey, Role
from capcourse.accounts.services import authenticate_key, key_use_is_stale, recent_key, record_key_use
from capcourse.errors import ForbiddenError, UnauthorizedError
from capcourse.extensions import db, will_write
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

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
            key = authenticated(plain.strip())
            if key.role not in roles:
                raise ForbiddenError(
                    f"An API key with the role {key.role!r} may not do this; it needs {' or '.join(roles)}."
                )
            g.principal = principal_for_key(key)
            end_read()
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def authenticated(plain: str) -> ApiKey:
    """The live key ``plain`` names, looked up in a reading transaction (which takes no write lock).

    An integration's key read in the last ``CAPCOURSE_API_KEY_CACHE_SECONDS`` is not read again.

    :raises UnauthorizedError: unknown, revoked or its person disabled.
    """
    will_write(False)
    session = db.session()
    max_age = current_app.config["CAPCOURSE_API_KEY_CACHE_SECONDS"]
    key = recent_key(session, plain, max_age)
    if key is None:
        bind = session.get_bind()
        if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session.in_transaction():
            # One row read, nothing written: on PostgreSQL no BEGIN and COMMIT around it, two round
            # trips of the fifteen a single statement from an LMS costs. (SQLite's reads need no
            # round trip, and its transactions are begun by capcourse itself: see extensions.)
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        key = authenticate_key(session, plain, max_age)
    note_key_use(key)
    return key


def end_read() -> None:
    """End the authentication's transaction before the view reads the body or fetches anything.

    A slow upload, or a slow URL an import fetches, then holds no transaction;
    the view's own transaction begins at its first query, and takes the write
    lock up front on SQLite when the request may write.
    """
    session = db.session()
    # None when the key was taken as read a moment ago (recent_key): nothing to end.
    if session.in_transaction():
        # The key (and its person) just read stay loaded: expiring them would read them
        # again, a query per request, in the view's transaction.
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
    will_write(request.method not in ("GET", "HEAD", "OPTIONS"))


def note_key_use(key: ApiKey) -> None:
    """Write down the key's use, at most once a minute, after the request's own transaction.

    Never in the request's transaction: a read would otherwise write, and on
    SQLite every reader would queue for the write lock. Refused requests and
    failures here change nothing the client was told.
    """
    now = utcnow()
    if not key_use_is_stale(key, now):
        return
    key_id = key.id

    @after_this_request
    def _record(response: Response) -> Response:
        if response.status_code >= 400:
            return response
        try:
            # End the request's transaction without keeping anything the view did not
            # commit itself (a view that writes has committed by now).
            db.session.rollback()
            will_write(True)
            record_key_use(db.session(), key_id, now)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            logger.warning("Could not record the use of API key %s", key_id, exc_info=True)
        return response


#: Roles of people (and their keys): everything but machine integrations.
PEOPLE = (Role.ADMIN, Role.LEAD, Role.AUTHOR)
