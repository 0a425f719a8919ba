"""pylti1p3 (the pylti1p3next release) wired to capcourse's database.

pylti1p3 does the LTI 1.3 security work: the OIDC login answer, the id_token's
format, signature (against the platform's JWKS), issuer, audience, expiry,
deployment and message claims, deep-linking response JWTs and the service
tokens of NRPS and AGS. capcourse supplies where things are kept:

- :class:`DatabaseToolConf`: registrations and deployments from ``lti_platforms``;
- :class:`DatabaseStorage`: state, nonces and launch data server-side, with an
  expiry, so a launch works without cookies (an LMS iframe in a browser that
  blocks third-party cookies); a nonce is consumed by its one check;
- :class:`ToolLaunch`: checks the state it issued (once) and that the token's
  nonce is the one issued with that state, after the signature, so a forged
  token consumes nothing; the platform's key set comes through the outbound
  guard and a cache (:mod:`capcourse.lti.jwks`).
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

import requests
from pylti1p3.contrib.flask.message_launch import FlaskMessageLaunch
from pylti1p3.contrib.flask.oidc_login import FlaskOIDCLogin
from pylti1p3.contrib.flask.request import FlaskRequest
from pylti1p3.contrib.flask.service_connector import FlaskServiceConnector
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiMessageValidationException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from capcourse.lti.jwks import platform_key_set
from capcourse.lti.keys import active_key
from capcourse.lti.models import LtiDeployment, LtiPlatform, LtiStoredValue
from capcourse.timestamps import utcnow

#: Seconds capcourse waits for a platform (its JWKS, its services) before giving up.
PLATFORM_TIMEOUT = 15.0


class PlatformSession(requests.Session):
    """The HTTP session pylti1p3 talks to platforms with: never without a timeout, never through an environment proxy."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.headers["User-Agent"] = "capcourse LTI tool"

    def request(self, method: t.Any, url: t.Any, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault("timeout", PLATFORM_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


#: How long a login's state and nonce wait for the launch.
LOGIN_LIFETIME = timedelta(minutes=10)
#: How long a launch's claims are kept (deep-linking answers, services).
LAUNCH_LIFETIME_SECONDS = 3600


def current_request() -> FlaskRequest:
    """pylti1p3's view of the Flask request being handled."""
    return FlaskRequest()  # type: ignore[no-untyped-call]


def request_param(req: FlaskRequest, key: str) -> str | None:
    """A query (GET) or form (POST) parameter of the request."""
    value = req.get_param(key)  # type: ignore[no-untyped-call]
    return str(value) if value is not None else None


class DatabaseStorage(LaunchDataStorage[t.Any]):
    """pylti1p3's launch data kept in ``lti_stored_values``, not in the session cookie."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._db = session

    def get_session_cookie_name(self) -> str | None:
        # No per-browser prefix: the state and nonce are random and checked once.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> t.Any:
        row = self._db.get(LtiStoredValue, self._prepare_key(key))
        if row is None or _aware(row.expires_at) < utcnow():
            return None
        return row.value

    def set_value(self, key: str, value: t.Any, exp: int | None = None) -> None:
        key = self._prepare_key(key)
        expires = utcnow() + (timedelta(seconds=exp) if exp else LOGIN_LIFETIME)
        row = self._db.get(LtiStoredValue, key)
        if row is None:
            self._db.add(LtiStoredValue(key=key, value=value, expires_at=expires))
        else:
            row.value, row.expires_at = value, expires
        self._db.flush()

    def check_value(self, key: str) -> bool:
        # pylti1p3 asks this for nonces only: consume it, so a replayed token is refused.
        result = self._db.execute(
            delete(LtiStoredValue).where(
                LtiStoredValue.key == self._prepare_key(key), LtiStoredValue.expires_at > utcnow()
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def pop_value(self, key: str) -> t.Any:
        """The value, removed: one use only."""
        value = self.get_value(key)
        self._db.execute(delete(LtiStoredValue).where(LtiStoredValue.key == self._prepare_key(key)))
        return value


def purge_expired(session: Session) -> None:
    """Drop launch data past its expiry (called on every login)."""
    session.execute(delete(LtiStoredValue).where(LtiStoredValue.expires_at < utcnow()))


def _aware(moment: t.Any) -> t.Any:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def registration_for(session: Session, platform: LtiPlatform) -> Registration:
    """pylti1p3's view of a platform, signing with capcourse's current key."""
    key = active_key(session)
    registration = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_key_set_url(platform.key_set_url)
        .set_tool_private_key(key.private_pem)
        .set_tool_public_key(key.public_pem)
    )
    if platform.auth_audience:
        registration.set_auth_audience(platform.auth_audience)
    return registration


class DatabaseToolConf(ToolConfAbstract[FlaskRequest]):
    """Registrations from the database; every issuer may have several client ids."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._db = session
        #: The platform the latest lookup found (the launch handler needs it).
        self.platform: LtiPlatform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> LtiPlatform | None:
        query = select(LtiPlatform).where(LtiPlatform.issuer == iss)
        if client_id:
            query = query.where(LtiPlatform.client_id == client_id)
        platforms = list(self._db.scalars(query.limit(2)))
        # Without a client id (it is optional in a login initiation) only an unambiguous issuer will do.
        return platforms[0] if len(platforms) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: t.Any, **kwargs: t.Any) -> Registration:
        return self.find_registration_by_params(iss, None, *args, **kwargs)

    def find_registration_by_params(self, iss: str, client_id: t.Any, *args: t.Any, **kwargs: t.Any) -> Registration:
        self.platform = self.find_platform(iss, client_id)
        if self.platform is None:
            return None  # type: ignore[return-value]  # pylti1p3 reports "not found"
        return registration_for(self._db, self.platform)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: t.Any, **kwargs: t.Any
    ) -> Deployment | None:
        platform = self.find_platform(iss, client_id or None)
        if platform is None:
            return None
        found = self._db.scalar(
            select(LtiDeployment.id).where(
                LtiDeployment.platform_id == platform.id, LtiDeployment.deployment_id == deployment_id
            )
        )
        return Deployment().set_deployment_id(deployment_id) if found else None


class ServiceConnector(FlaskServiceConnector):
    """pylti1p3's service connector, its access tokens cached per issuer *and* client id.

    pylti1p3 keys its cache by issuer and scopes only, so two registrations of
    one issuer (two client ids) would be handed each other's tokens.
    """

    def __init__(self, registration: Registration, requests_session: requests.Session | None = None) -> None:
        super().__init__(registration, requests_session or PlatformSession())

    def _scope_key(self, scopes: t.Iterable[str]) -> str:
        return f"{self._registration.get_client_id()}|{super()._scope_key(scopes)}"


class ToolLogin(FlaskOIDCLogin):
    """The OIDC login answer; the state remembers its nonce, so the launch can check they belong together."""

    def _generate_nonce(self) -> str:
        nonce = super()._generate_nonce()
        self._state_params = {**self._state_params, "nonce": nonce}
        return nonce


class ToolLaunch(FlaskMessageLaunch):
    """A launch checked signature first, then state and nonce (each usable once)."""

    def __init__(self, request: FlaskRequest, tool_config: DatabaseToolConf, **kwargs: t.Any) -> None:
        # from_cache passes None and pylti1p3's own connector: ours have the timeout and the right token cache.
        if kwargs.get("requests_session") is None:
            kwargs["requests_session"] = PlatformSession()
        if not issubclass(kwargs.get("service_connector_cls") or object, ServiceConnector):
            kwargs["service_connector_cls"] = ServiceConnector
        super().__init__(request, tool_config, **kwargs)

    def validate(self) -> ToolLaunch:
        if self._restored:
            raise LtiMessageValidationException("A restored launch can't be validated.")
        self._validated = True
        try:
            self.validate_jwt_format()
            self._validate_audience()
            self.validate_registration()
            self.validate_jwt_signature()
            self.validate_deployment()
            self.validate_state()
            self.validate_nonce()
            self.validate_message()
            self.save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self

    def fetch_public_key(self, key_set_url: str) -> t.Any:
        # Never pylti1p3's plain fetch: through the outbound guard, cached.
        return platform_key_set(key_set_url, None)

    def get_public_key(self) -> t.Tuple[str, str]:  # noqa: UP006 (pylti1p3's signature)
        registration = self._registration
        assert registration is not None
        url = registration.get_key_set_url()
        if not registration.get_key_set() and url and url.startswith(("http://", "https://")):
            kid = self._jwt.get("header", {}).get("kid")
            # The cached set, or a fresh one when it lacks the token's key (the platform rotated its keys).
            registration.set_key_set(t.cast(t.Any, platform_key_set(url, str(kid) if kid else None)))
        return super().get_public_key()

    def _validate_audience(self) -> None:
        body = self._jwt.get("body", {})
        aud = body.get("aud")
        # Several audiences: the authorised party names the one the token is for (OIDC Core 3.1.3.7).
        if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != aud[0]:
            raise LtiMessageValidationException("The id_token has several audiences and no matching azp.")

    def validate_state(self) -> ToolLaunch:
        state = request_param(self._request, "state")
        if not state:
            raise LtiMessageValidationException("The launch has no state: start it from the LMS again.")
        storage = self._session_service.data_storage
        assert isinstance(storage, DatabaseStorage)
        issued = storage.pop_value(self._session_service._get_key(state))
        if not issued:
            raise LtiMessageValidationException(
                "The launch's state is unknown, used already or expired: start it from the LMS again."
            )
        # Where the browser kept the state cookie, it must agree (it binds the login to this browser).
        cookie = self._cookie_service.get_cookie(state)
        if cookie is not None and cookie != state:
            raise LtiMessageValidationException("The launch's state does not match this browser's.")
        self._issued_nonce = issued.get("nonce") if isinstance(issued, dict) else None
        return self

    def validate_nonce(self) -> ToolLaunch:
        nonce = self._jwt.get("body", {}).get("nonce")
        if not nonce or nonce != getattr(self, "_issued_nonce", None):
            raise LtiMessageValidationException("The id_token's nonce is not the one issued for this login.")
        super().validate_nonce()
        return self

    def get_platform(self) -> LtiPlatform:
        """The platform the launch came from (after :meth:`validate`)."""
        conf = self._tool_config
        assert isinstance(conf, DatabaseToolConf) and conf.platform is not None
        return conf.platform
