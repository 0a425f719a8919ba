"""The pylti1p3 glue: tokens cached per registration, platforms never waited on forever."""

from __future__ import annotations

from typing import Any

import requests
from pylti1p3.registration import Registration

from capcourse.lti.tool import PLATFORM_TIMEOUT, PlatformSession, ServiceConnector


def test_service_tokens_are_cached_per_client_id_not_only_per_issuer() -> None:
    one = ServiceConnector(Registration().set_issuer("https://lms.example.org").set_client_id("a"))
    two = ServiceConnector(Registration().set_issuer("https://lms.example.org").set_client_id("b"))
    scopes = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
    assert one._scope_key(scopes) != two._scope_key(scopes)


def test_platform_requests_have_a_timeout_and_ignore_environment_proxies(monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}

    def fake(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        seen.update(kwargs)
        return requests.Response()

    monkeypatch.setattr(requests.Session, "request", fake)
    session = PlatformSession()
    session.get("https://lms.example.org/jwks")
    assert seen["timeout"] == PLATFORM_TIMEOUT and session.trust_env is False
    session.get("https://lms.example.org/jwks", timeout=3)
    assert seen["timeout"] == 3
