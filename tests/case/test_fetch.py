"""Reading packages from uploads and https URLs, within the size cap."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import httpx
import pytest

from capcourse.case.fetch import fetch_package, read_stream
from capcourse.errors import InvalidInputError, PayloadTooLargeError

PACKAGE = b'{"CFDocument": {}}'


def serve(handler: object) -> httpx.MockTransport:
    return httpx.MockTransport(handler)  # type: ignore[arg-type]


def test_an_https_url_is_fetched() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PACKAGE)

    assert fetch_package("https://case.example.org/p.json", 1000, transport=serve(handler)) == PACKAGE
    assert seen[0].headers["Accept"] == "application/json"


@pytest.mark.parametrize("url", ["http://case.example.org/p.json", "ftp://case.example.org/p.json", "case.example.org"])
def test_only_https_is_fetched(url: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be requested")

    with pytest.raises(InvalidInputError, match="https only") as refused:
        fetch_package(url, 1000, transport=serve(handler))
    assert refused.value.errors == {"url": ["Must be an https:// URL."]}


def test_plain_http_is_refused_before_any_connection() -> None:
    # No transport: were a request made, it would go to the network and fail differently.
    with pytest.raises(InvalidInputError, match="over plain http anyone on the way could change it"):
        fetch_package("http://127.0.0.1:9/p.json", 1000)


def test_https_redirects_are_followed_but_not_to_http() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "/new"})
        if request.url.path == "/new":
            return httpx.Response(302, headers={"Location": "http://case.example.org/plain"})
        return httpx.Response(200, content=PACKAGE)

    assert fetch_package("https://case.example.org/final", 1000, transport=serve(handler)) == PACKAGE
    with pytest.raises(InvalidInputError, match=re.escape("redirects to 'http://case.example.org/plain'")):
        fetch_package("https://case.example.org/old", 1000, transport=serve(handler))


def test_endless_redirects_stop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": f"/r{len(str(request.url))}"})

    with pytest.raises(InvalidInputError, match="redirects more than 5 times"):
        fetch_package("https://case.example.org/r", 1000, transport=serve(handler))


def test_the_cap_stops_reading_while_streaming() -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for n in range(1000):
            sent.append(n)
            yield b"x" * 100

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    with pytest.raises(PayloadTooLargeError, match="at most 1,000 bytes"):
        fetch_package("https://case.example.org/huge", 1000, transport=serve(handler))
    # The answer was abandoned just past the cap, not read to its end.
    assert len(sent) == 11


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "5000"}, content=b"x" * 5000)

    with pytest.raises(PayloadTooLargeError, match="is 5,000 bytes"):
        fetch_package("https://case.example.org/big", 1000, transport=serve(handler))


def test_error_statuses_and_timeouts_are_clear() -> None:
    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(InvalidInputError, match="answered 404 Not Found, not a package"):
        fetch_package("https://case.example.org/p", 1000, transport=serve(missing))
    # A timeout and a refused connection read alike, so the import cannot scan ports.
    with pytest.raises(InvalidInputError, match="could not be reached, did not answer in time") as timed_out:
        fetch_package("https://case.example.org/p", 1000, transport=serve(slow))
    with pytest.raises(InvalidInputError, match="could not be reached, did not answer in time") as refused:
        fetch_package("https://case.example.org/p", 1000, transport=serve(down))
    assert timed_out.value.message == refused.value.message
    assert refused.value.errors == {"url": ["Could not be fetched."]}


def test_uploads_are_capped_too() -> None:
    assert read_stream(io.BytesIO(b"x" * 1000), 1000) == b"x" * 1000
    with pytest.raises(PayloadTooLargeError):
        read_stream(io.BytesIO(b"x" * 1001), 1000)
