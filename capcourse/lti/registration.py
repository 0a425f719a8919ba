"""LTI Dynamic Registration (LTI-DR 1.0): an LMS registers capcourse from a URL an admin made.

The admin makes a one-time registration URL (it names the programme the LMS's
courses will belong to) and pastes it into the LMS. The LMS opens it with its
``openid_configuration`` URL and a ``registration_token``; capcourse reads the
configuration, posts its own (built by pylti1p3next's
:class:`~pylti1p3.dynamic_registration.DynamicRegistration`) to the platform's
registration endpoint, and records the platform with the client id and
deployment id it answers. Both requests go through :mod:`capcourse.outbound`,
as the URLs come from a browser: nothing inside the network is reached unless
``CAPCOURSE_OUTBOUND_ALLOW`` lists it.
"""

from __future__ import annotations

import logging
import secrets
import typing as t
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from pylti1p3.dynamic_registration import DynamicRegistration
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal, programme_for_read
from capcourse.accounts.models import Role
from capcourse.errors import BadRequestError, CapcourseError, InvalidInputError
from capcourse.lti import services
from capcourse.lti.advantage import AGS_SCOPES, NRPS_SCOPE
from capcourse.lti.models import LtiPlatform
from capcourse.lti.tool import DatabaseStorage
from capcourse.outbound import Guard, OutboundRefusedError, guarded_client
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

#: How long a registration URL works.
REGISTRATION_LIFETIME = timedelta(days=7)
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
#: Canvas's extension of the tool configuration: which personal data launches carry (developerdocs.instructure.com, Registration).
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"


class RegistrationError(CapcourseError):
    """The platform's side of the registration failed (its configuration or its answer)."""

    status_code = 502


def make_registration_url(
    session: Session, principal: Principal, base_url: str, programme_id: uuid.UUID | None
) -> tuple[str, t.Any]:
    """A one-time registration URL for an LMS admin to paste; returns it and when it expires."""
    services.require_admin(principal)
    if programme_id is not None:
        programme_for_read(session, principal, programme_id)
    token = secrets.token_urlsafe(24)
    seconds = int(REGISTRATION_LIFETIME.total_seconds())
    DatabaseStorage(session).set_value(
        f"register-{token}",
        {"programme_id": str(programme_id) if programme_id else None, "by": principal.name},
        seconds,
    )
    return f"{base_url}/lti/register/{token}", utcnow() + REGISTRATION_LIFETIME


def registration_offer(session: Session, token: str) -> dict[str, t.Any]:
    """What a registration URL was made for.

    :raises BadRequestError: unknown, used or expired.
    """
    offer = DatabaseStorage(session).get_value(f"register-{token}")
    if not isinstance(offer, dict):
        raise BadRequestError(
            "This registration URL is unknown, used already or expired: ask a capcourse admin for a new one."
        )
    return offer


class CapcourseRegistration(DynamicRegistration):
    """capcourse's tool configuration, as LTI-DR wants it."""

    client_name = "capcourse"
    description = "Capability frameworks, curriculum mapping and coverage for professional-development programmes."

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    def get_initiate_login_uri(self) -> str:
        return self.urls["login_url"]

    def get_jwks_uri(self) -> str:
        return self.urls["jwks_url"]

    def get_redirect_uris(self) -> list[str]:
        return [self.urls["launch_url"]]

    def get_domain(self) -> str:
        return self.urls["domain"]

    def get_target_link_uri(self) -> str:
        return self.urls["launch_url"]

    def get_logo_uri(self) -> str:
        return self.urls["logo_url"]

    def get_scopes(self) -> list[str]:
        return [NRPS_SCOPE, *AGS_SCOPES]

    def get_claims(self) -> list[str]:
        return ["iss", "sub", "name", "given_name", "family_name", "email"]

    def get_messages(self) -> list[dict[str, t.Any]]:
        # Canvas reads the placements (where a message can start); other platforms ignore them.
        return [
            {
                "type": "LtiResourceLinkRequest",
                "target_link_uri": self.urls["launch_url"],
                "label": "capcourse",
                "placements": ["course_navigation"],
            },
            {
                "type": "LtiDeepLinkingRequest",
                "target_link_uri": self.urls["launch_url"],
                "label": "capcourse: add views and capabilities",
                "placements": ["link_selection", "assignment_selection"],
            },
        ]

    def lti_registration_data(self) -> dict[str, t.Any]:
        data = super().lti_registration_data()
        # Canvas sends no name or email unless the tool asks for its "public" privacy level
        # (it defaults to anonymous); capcourse names learners and authors after them.
        data[TOOL_CONFIGURATION][CANVAS_PRIVACY_LEVEL] = "public"
        return data


def _json(client: httpx.Client, method: str, url: str, token: str | None, body: t.Any = None) -> dict[str, t.Any]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = client.request(method, url, headers=headers, json=body)
    except (httpx.HTTPError, OutboundRefusedError) as error:
        raise RegistrationError(f"capcourse could not reach {urlsplit(url).netloc}: {error}") from error
    if response.status_code >= 300:
        raise RegistrationError(f"{urlsplit(url).netloc} answered {response.status_code} to the registration.")
    try:
        data = response.json()
    except ValueError as error:
        raise RegistrationError(f"{urlsplit(url).netloc} did not answer with JSON.") from error
    if not isinstance(data, dict):
        raise RegistrationError(f"{urlsplit(url).netloc} did not answer with a JSON object.")
    return data


def register(
    session: Session,
    token: str,
    openid_configuration: str,
    registration_token: str | None,
    urls: dict[str, str],
    guard: Guard,
) -> LtiPlatform:
    """Register with the platform that opened the registration URL; record it; use the URL up.

    :raises BadRequestError: the URL is unknown, used or expired, or no configuration URL was given.
    :raises RegistrationError: the platform's configuration or answer is unusable.
    """
    offer = registration_offer(session, token)
    errors: dict[str, list[str]] = {}
    services.check_url(openid_configuration, "openid_configuration", errors)
    if errors:
        raise InvalidInputError("The LMS gave no usable openid_configuration URL.", errors)
    with guarded_client(guard, httpx.Timeout(15.0), {"User-Agent": "capcourse LTI registration"}) as client:
        config = _json(client, "GET", openid_configuration, registration_token)
        missing = [
            k
            for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
            if not config.get(k)
        ]
        if missing or PLATFORM_CONFIGURATION not in config:
            raise RegistrationError(
                f"The LMS's configuration is not an LTI platform's (missing: {', '.join(missing) or PLATFORM_CONFIGURATION})."
            )
        tool = CapcourseRegistration(urls)
        answer = _json(
            client, "POST", str(config["registration_endpoint"]), registration_token, tool.lti_registration_data()
        )
    client_id = str(answer.get("client_id") or "")
    found = answer.get(TOOL_CONFIGURATION)
    tool_config: dict[str, t.Any] = found if isinstance(found, dict) else {}
    if not client_id:
        raise RegistrationError("The LMS's answer to the registration has no client_id.")
    deployment = str(tool_config.get("deployment_id") or "")
    product = (
        config[PLATFORM_CONFIGURATION].get("product_family_code")
        if isinstance(config[PLATFORM_CONFIGURATION], dict)
        else None
    )
    programme_id = uuid.UUID(offer["programme_id"]) if offer.get("programme_id") else None
    principal = Principal(role=Role.ADMIN, name=f"LTI dynamic registration ({offer.get('by')})")
    platform = services.create_platform(
        session,
        principal,
        {
            "name": f"{product or urlsplit(str(config['issuer'])).netloc} ({urlsplit(str(config['issuer'])).netloc})"[
                :200
            ],
            "issuer": str(config["issuer"]),
            "client_id": client_id,
            "auth_login_url": str(config["authorization_endpoint"]),
            "auth_token_url": str(config["token_endpoint"]),
            "key_set_url": str(config["jwks_uri"]),
            "programme_id": programme_id,
        },
        [deployment] if deployment else [],
        registered_by="dynamic",
    )
    DatabaseStorage(session).pop_value(f"register-{token}")
    logger.info("LTI platform %s registered itself (client %s, deployment %r)", platform.issuer, client_id, deployment)
    return platform
