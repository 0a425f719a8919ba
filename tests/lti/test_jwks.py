"""The platform's key set: fetched through the outbound guard, cached, fetched again when the platform rotates keys."""

from __future__ import annotations

import json

import httpx
import pytest
from jwcrypto.jwk import JWK
from pylti1p3.exception import LtiKeyException

from capcourse.lti import jwks
from capcourse.lti.jwks import KeySetCache, app_cache, fetch_key_set
from capcourse.outbound import Guard
from tests.lti.conftest import LtiWorld
from tests.lti.test_launch import WATCHED

pytestmark = pytest.mark.db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fetcher(answers: list[tuple[dict[str, object], float]]) -> tuple[list[str], object]:
    calls: list[str] = []

    def fetch(url: str) -> tuple[dict[str, object], float]:
        calls.append(url)
        return answers[min(len(calls), len(answers)) - 1]

    return calls, fetch


def test_a_key_set_is_kept_until_it_expires() -> None:
    clock = Clock()
    cache = KeySetCache(clock)
    calls, fetch = _fetcher([({"keys": [{"kid": "a"}]}, 600.0)])
    for _ in range(3):
        assert cache.key_set("https://lms.example.org/jwks", fetch, "a") == {"keys": [{"kid": "a"}]}  # type: ignore[arg-type]
    assert len(calls) == 1
    clock.now += 599
    cache.key_set("https://lms.example.org/jwks", fetch, "a")  # type: ignore[arg-type]
    assert len(calls) == 1
    clock.now += 2
    cache.key_set("https://lms.example.org/jwks", fetch, "a")  # type: ignore[arg-type]
    assert len(calls) == 2
    # Another platform's URL has its own entry.
    cache.key_set("https://other.example.org/jwks", fetch, "a")  # type: ignore[arg-type]
    assert calls[-1] == "https://other.example.org/jwks"


def test_an_unknown_kid_fetches_again_at_once_but_at_most_once_a_minute() -> None:
    clock = Clock()
    cache = KeySetCache(clock)
    calls, fetch = _fetcher(
        [({"keys": [{"kid": "old"}]}, 3600.0), ({"keys": [{"kid": "old"}, {"kid": "new"}]}, 3600.0)]
    )
    cache.key_set("u", fetch, "old")  # type: ignore[arg-type]
    # The platform rotated: the token names a key the cached set lacks, so the set is fetched again.
    assert _kids(cache.key_set("u", fetch, "new")) == ["old", "new"]  # type: ignore[arg-type]
    assert len(calls) == 2
    # Made-up kids do not make capcourse fetch again and again.
    for n in range(5):
        cache.key_set("u", fetch, f"made-up-{n}")  # type: ignore[arg-type]
    assert len(calls) == 2
    clock.now += jwks.REFRESH_INTERVAL + 1
    cache.key_set("u", fetch, "made-up-again")  # type: ignore[arg-type]
    assert len(calls) == 3


def test_the_platforms_cache_control_is_kept_within_bounds() -> None:
    clock = Clock()
    cache = KeySetCache(clock)
    calls, fetch = _fetcher([({"keys": []}, 10 * 86400.0)])
    cache.key_set("u", fetch)  # type: ignore[arg-type]
    clock.now += jwks.LONGEST_MAX_AGE + 1
    cache.key_set("u", fetch)  # type: ignore[arg-type]
    assert len(calls) == 2
    assert jwks._max_age("public, max-age=300") == 300
    assert jwks._max_age("no-store") == 0
    assert jwks._max_age("") == jwks.DEFAULT_MAX_AGE


def _kids(keys: dict[str, object]) -> list[str]:
    return [k["kid"] for k in keys["keys"]]  # type: ignore[attr-defined,index]


def _mock(handler: object) -> httpx.MockTransport:
    return httpx.MockTransport(handler)  # type: ignore[arg-type]


def test_fetching_goes_through_the_outbound_guard_with_one_message() -> None:
    answers = {
        "https://lms.example.org/jwks": httpx.Response(
            200, json={"keys": []}, headers={"Cache-Control": "max-age=120"}
        ),
        "https://lms.example.org/moved": httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/jwks"}),
        "https://lms.example.org/metadata": httpx.Response(302, headers={"Location": "http://169.254.169.254/keys"}),
        "https://lms.example.org/huge": httpx.Response(200, content=b'{"keys": ["' + b"x" * jwks.MAX_BYTES + b'"]}'),
        "https://lms.example.org/html": httpx.Response(200, text="<html>"),
        "https://lms.example.org/missing": httpx.Response(404),
        "https://lms.example.org/not-a-jwks": httpx.Response(200, json={"kid": "a"}),
    }
    transport = _mock(lambda request: answers[str(request.url)])
    assert fetch_key_set("https://lms.example.org/jwks", Guard(), transport) == ({"keys": []}, 120.0)
    for url in [
        "http://127.0.0.1:9/jwks",
        "http://[::1]/jwks",
        "http://10.0.0.8/jwks",
        "http://2130706433/jwks",
        *[u for u in answers if not u.endswith("/jwks")],
    ]:
        with pytest.raises(LtiKeyException) as refused:
            fetch_key_set(url, Guard(), transport)
        assert str(refused.value) == jwks.UNREACHABLE, url


def test_launches_share_one_fetch_and_a_rotated_key_is_fetched(world: LtiWorld) -> None:
    app_cache(world.app).forget()
    before = world.platform.jwks_requests
    for _ in range(3):
        assert world.launch("ann", context="course-1", link="link-a").status_code == 200
    assert world.platform.jwks_requests == before + 1

    # The platform rotates its key: the next token names a kid the cached set lacks.
    old = (world.platform.private_key, world.platform.public_key)
    new = JWK.generate(kty="RSA", size=2048)
    world.platform.private_key = new.export_to_pem(private_key=True, password=None).decode()
    world.platform.public_key = new.export_to_pem().decode()
    try:
        response = world.launch("ann", context="course-1", link="link-a")
        assert response.status_code == 200, response.text
        assert world.platform.jwks_requests == before + 2
        assert world.launch("ann", context="course-1", link="link-a").status_code == 200
        assert world.platform.jwks_requests == before + 2
    finally:
        world.platform.private_key, world.platform.public_key = old


def test_a_key_set_url_inside_the_network_is_not_fetched(world: LtiWorld) -> None:
    """The test platform is on loopback: without the allowance for it, its key set is out of reach."""
    app_cache(world.app).forget()
    before = world.platform.jwks_requests
    counts = {model.__name__: world.count(model) for model in WATCHED}
    world.app.config["CAPCOURSE_OUTBOUND_ALLOW"] = ""
    try:
        response = world.launch("ann", context="course-1", link="link-a")
    finally:
        world.app.config["CAPCOURSE_OUTBOUND_ALLOW"] = "127.0.0.1"
    assert response.status_code == 403, response.text
    assert "could not fetch the platform" in response.text and "127.0.0.1" not in json.dumps(
        response.text.split("<main")[-1]
    )
    assert world.platform.jwks_requests == before
    assert {model.__name__: world.count(model) for model in WATCHED} == counts
