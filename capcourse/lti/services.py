"""Registering LTI platforms and their deployments, and choosing the programme each one feeds.

Every function takes the :class:`~capcourse.accounts.access.Principal` acting
and checks it (only admins register platforms); it only flushes.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from capcourse.accounts.access import Principal, programme_for_read
from capcourse.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from capcourse.lti.models import LtiDeployment, LtiPlatform

logger = logging.getLogger(__name__)

URL_FIELDS = ("auth_login_url", "auth_token_url", "key_set_url")


def require_admin(principal: Principal) -> None:
    """:raises ForbiddenError: only admins manage LTI platforms."""
    if not principal.is_admin:
        raise ForbiddenError("Only admins may register LMS platforms.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, field: str, errors: dict[str, list[str]]) -> str:
    """An https URL (http only on this machine's loopback, for trying a platform out); else a message in ``errors``."""
    value = (value or "").strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (a malformed port raises here)
    except ValueError:
        errors[field] = ["Not a URL."]
        return value
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors[field] = ["Must be an absolute https URL."]
    elif parts.scheme == "http" and not _is_loopback(parts.hostname):
        errors[field] = ["Must use https (http only for a platform on this machine's loopback)."]
    return value


def platform_origins(platform: LtiPlatform) -> list[str]:
    """The web origins the platform's pages are served from: who may frame capcourse's LTI pages."""
    origins: list[str] = []
    for url in (platform.issuer, platform.auth_login_url):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins


def list_platforms(session: Session, principal: Principal) -> list[LtiPlatform]:
    require_admin(principal)
    # Each is listed with its deployments: loaded in one query, not one per platform.
    query = select(LtiPlatform).order_by(LtiPlatform.name, LtiPlatform.created_at)
    return list(session.scalars(query.options(selectinload(LtiPlatform.deployments))))


def get_platform(session: Session, principal: Principal, platform_id: uuid.UUID) -> LtiPlatform:
    """:raises NotFoundError: no such platform."""
    require_admin(principal)
    platform = session.get(LtiPlatform, platform_id)
    if platform is None:
        raise NotFoundError(f"No LTI platform has the identifier {platform_id}.")
    return platform


def create_platform(
    session: Session,
    principal: Principal,
    fields: Mapping[str, Any],
    deployment_ids: Sequence[str] = (),
    registered_by: str = "manual",
) -> LtiPlatform:
    """Register a platform (issuer, client id, its endpoints) with its deployments.

    :raises InvalidInputError: a missing field or a URL that is not https.
    :raises ConflictError: the issuer and client id are registered already.
    """
    require_admin(principal)
    errors: dict[str, list[str]] = {}
    name = str(fields.get("name") or "").strip()
    issuer = str(fields.get("issuer") or "").strip()
    client_id = str(fields.get("client_id") or "").strip()
    if not name:
        errors["name"] = ["Required."]
    if not issuer:
        errors["issuer"] = ["Required: the platform's iss."]
    if not client_id:
        errors["client_id"] = ["Required: the client id the platform gave capcourse."]
    urls = {f: check_url(str(fields.get(f) or ""), f, errors) for f in URL_FIELDS}
    audience = str(fields.get("auth_audience") or "").strip() or None
    deployments = [d.strip() for d in deployment_ids if d and d.strip()]
    if errors:
        raise InvalidInputError("The platform has invalid fields: see errors.", errors)
    taken = session.scalar(
        select(LtiPlatform.id).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )
    if taken is not None:
        raise ConflictError(
            f"A platform with issuer {issuer} and client id {client_id} is registered already.",
            {"client_id": ["Already registered for this issuer."]},
        )
    programme_id = fields.get("programme_id")
    if programme_id is not None:
        programme_for_read(session, principal, programme_id)
    platform = LtiPlatform(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_audience=audience,
        programme_id=programme_id,
        admins_are_admins=bool(fields.get("admins_are_admins", False)),
        registered_by=registered_by,
        **urls,
    )
    platform.deployments = [LtiDeployment(deployment_id=d) for d in dict.fromkeys(deployments)]
    session.add(platform)
    session.flush()
    logger.info("LTI platform %r (%s, client %s) registered by %s", name, issuer, client_id, principal.name)
    return platform


def update_platform(session: Session, principal: Principal, platform: LtiPlatform, changes: Mapping[str, Any]) -> None:
    """Change a platform's name, programme, admin rule or endpoints."""
    require_admin(principal)
    errors: dict[str, list[str]] = {}
    for field in URL_FIELDS:
        if field in changes:
            setattr(platform, field, check_url(str(changes[field] or ""), field, errors))
    if errors:
        raise InvalidInputError("The platform has invalid fields: see errors.", errors)
    if "programme_id" in changes:
        if changes["programme_id"] is not None:
            programme_for_read(session, principal, changes["programme_id"])
        platform.programme_id = changes["programme_id"]
    if changes.get("name"):
        platform.name = str(changes["name"]).strip()
    if "admins_are_admins" in changes:
        platform.admins_are_admins = bool(changes["admins_are_admins"])
    session.flush()


def add_deployment(session: Session, principal: Principal, platform: LtiPlatform, deployment_id: str) -> LtiDeployment:
    """:raises ConflictError: the platform has this deployment already."""
    require_admin(principal)
    deployment_id = deployment_id.strip()
    if not deployment_id:
        raise InvalidInputError("A deployment needs its id.", {"deployment_id": ["Required."]})
    if any(d.deployment_id == deployment_id for d in platform.deployments):
        raise ConflictError(f"{platform.name!r} has the deployment {deployment_id!r} already.")
    deployment = LtiDeployment(deployment_id=deployment_id)
    platform.deployments.append(deployment)
    session.flush()
    return deployment


def delete_platform(session: Session, principal: Principal, platform: LtiPlatform) -> None:
    """Forget a platform: its launches are refused from now on; courses it created stay."""
    require_admin(principal)
    session.delete(platform)
    session.flush()
