"""What every xAPI resource under ``/xapi`` shares: version header, keys, parameters, JSON errors.

xAPI (Communication 1.2, 3.2) asks the same of every resource: the
``X-Experience-API-Version`` header, 400 for a parameter the resource does not
know (names are case-sensitive), 401/403 for credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import current_app, request

import xapi
from capcourse.accounts.auth import authenticated, end_read
from capcourse.accounts.models import ApiKey, Role
from capcourse.errors import BadRequestError, ForbiddenError, UnauthorizedError

VERSION = "1.0.3"
WRITERS = (Role.INTEGRATION, Role.ADMIN)
READERS = (Role.INTEGRATION, Role.ADMIN)


def check_version() -> None:
    """:raises BadRequestError: the request names no 1.0.x version."""
    version = request.headers.get("X-Experience-API-Version")
    if not version:
        raise BadRequestError(
            "The X-Experience-API-Version header is required (1.0.3).", {"X-Experience-API-Version": ["Missing."]}
        )
    if not (version == "1.0" or version.startswith("1.0.")):
        raise BadRequestError(
            f"xAPI version {version!r} is not supported; send 1.0.3.", {"X-Experience-API-Version": ["Unsupported."]}
        )


def api_key(roles: tuple[Role, ...]) -> ApiKey:
    """The API key of the request: HTTP Basic (as password or username) or Bearer.

    :raises UnauthorizedError: no key, or not a valid one.
    :raises ForbiddenError: the key's role may not do this.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    candidates: list[str] = []
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UnauthorizedError("The Basic credentials are not valid base64.") from error
        candidates = [c for c in (password, username) if c]
    elif scheme.lower() == "bearer" and value.strip():
        candidates = [value.strip()]
    if not candidates:
        raise UnauthorizedError("Send an integration API key with HTTP Basic (as the password) or as a Bearer token.")
    key = None
    for candidate in candidates:
        try:
            key = authenticated(candidate)
            break
        except UnauthorizedError:
            continue
    if key is None:
        raise UnauthorizedError("The API key is not valid.")
    if key.role not in roles:
        raise ForbiddenError(f"An API key with the role {key.role!r} may not do this; it needs {' or '.join(roles)}.")
    end_read()  # the body is read, and the statements stored, in a transaction of their own
    return key


def authority(key: ApiKey) -> dict[str, Any]:
    """The Agent the LRS names as ``authority`` of what a key sends."""
    return {
        "objectType": "Agent",
        "name": key.name,
        "account": {"homePage": str(current_app.config["CAPCOURSE_BASE_URL"]), "name": f"api-key:{key.prefix}"},
    }


def check_params(args: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """:raises BadRequestError: a parameter the resource does not know, or one given twice (names are case-sensitive)."""
    known = set(allowed)
    unknown = sorted(name for name in args if name not in known)
    if unknown:
        raise BadRequestError(
            f"Unknown parameter {unknown[0]!r}; this resource takes {', '.join(sorted(known))}.",
            {name: ["Unknown parameter."] for name in unknown},
        )
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        for name in args:
            if len(getlist(name)) > 1:
                raise BadRequestError(f"The parameter {name!r} is given more than once.", {name: ["Repeated."]})


def required(args: Mapping[str, str], name: str) -> str:
    """:raises BadRequestError: the parameter is missing."""
    if name not in args:
        raise BadRequestError(f"The parameter {name!r} is required.", {name: ["Missing."]})
    return args[name]


def agent_param(args: Mapping[str, str], name: str = "agent") -> dict[str, Any]:
    """An Agent or identified Group given as JSON in a parameter.

    :raises BadRequestError: not JSON, or not a valid Agent.
    """
    try:
        agent = json.loads(args[name])
    except ValueError as error:
        raise BadRequestError(f"{name} must be an Agent as JSON.", {name: ["Not JSON."]}) from error
    problems = xapi.validate_agent(agent, name)
    if problems:
        raise BadRequestError(f"{name} is not a valid Agent: {problems[0]}.", {name: [str(p) for p in problems]})
    return agent  # type: ignore[no-any-return]


def agent_key_param(args: Mapping[str, str], name: str = "agent") -> str:
    """:func:`xapi.agent_key` of the Agent in a parameter; an anonymous Group has none.

    :raises BadRequestError: not an Agent or identified Group.
    """
    try:
        return xapi.agent_key(agent_param(args, name))
    except ValueError as error:
        raise BadRequestError(f"{name} must identify an Agent or Group.", {name: ["No identifier."]}) from error


def uuid_param(args: Mapping[str, str], name: str) -> uuid.UUID | None:
    """:raises BadRequestError: present but not a UUID."""
    if name not in args:
        return None
    try:
        return uuid.UUID(args[name])
    except ValueError as error:
        raise BadRequestError(f"{name} must be a UUID.", {name: ["Invalid."]}) from error


def iri_param(args: Mapping[str, str], name: str) -> str:
    """:raises BadRequestError: missing or not an IRI."""
    value = required(args, name)
    if not xapi.is_iri(value):
        raise BadRequestError(f"{name} must be an IRI.", {name: ["Invalid."]})
    return value


def time_param(args: Mapping[str, str], name: str) -> datetime | None:
    """:raises BadRequestError: present but not an ISO 8601 timestamp with a time zone."""
    if name not in args:
        return None
    try:
        value = datetime.fromisoformat(args[name].replace("Z", "+00:00"))
    except ValueError as error:
        raise BadRequestError(f"{name} must be an ISO 8601 timestamp.", {name: ["Invalid."]}) from error
    if value.tzinfo is None:
        raise BadRequestError(f"{name} needs a time zone.", {name: ["Needs a time zone."]})
    return value


def bool_param(args: Mapping[str, str], name: str) -> bool:
    """:raises BadRequestError: present but neither ``true`` nor ``false``."""
    value = args.get(name, "false")
    if value not in ("true", "false"):
        raise BadRequestError(f"{name} must be true or false.", {name: ["Invalid."]})
    return value == "true"
