"""The LRS client's side of the protocol: headers, auth, batches, errors.

These use httpx's in-process transport to see exactly what is sent; the
end-to-end test against a real LRS belongs to the delivery tests.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from xapi.client import LrsClient, LrsEndpoint, LrsError

ENDPOINT = LrsEndpoint("https://lrs.example.org/xapi/", "key", "secret")


def client_for(handler: object) -> LrsClient:
    return LrsClient(ENDPOINT, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_posts_a_batch_with_version_header_and_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[s["id"] for s in json.loads(request.content)])

    statements = [{"id": "a"}, {"id": "b"}]
    with client_for(handler) as client:
        assert client.post_statements(statements) == ["a", "b"]
    (request,) = seen
    assert str(request.url) == "https://lrs.example.org/xapi/statements"
    assert request.headers["X-Experience-API-Version"] == "1.0.3"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert json.loads(request.content) == statements


def test_posts_statements_already_written_as_json_as_they_are() -> None:
    """A store's text goes as it is: numbers, key order and spacing as kept, no decoding on the way."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json=[s["id"] for s in json.loads(request.content)])

    texts = ['{"id": "a", "result": {"score": {"raw": 1.50}}}', '{"verb":{"id":"v"},"id":"b"}']
    with client_for(handler) as client:
        assert client.post_serialized(texts) == ["a", "b"]
    assert seen == [b'[{"id": "a", "result": {"score": {"raw": 1.50}}},{"verb":{"id":"v"},"id":"b"}]']


@pytest.mark.parametrize(("status", "retryable"), [(409, False), (400, False), (401, False), (429, True), (503, True)])
def test_refusals_say_whether_to_retry(status: int, retryable: bool) -> None:
    with client_for(lambda request: httpx.Response(status, text="nope")) as client, pytest.raises(LrsError) as caught:
        client.post_statements([{"id": "a"}])
    assert caught.value.status == status
    assert caught.value.retryable is retryable


def test_an_unreachable_lrs_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client_for(handler) as client, pytest.raises(LrsError) as caught:
        client.post_statements([{"id": "a"}])
    assert caught.value.retryable and caught.value.status is None


def test_get_statement_from_a_statement_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"statements": [{"id": "known"}], "more": ""})

    with client_for(handler) as client:
        assert client.get_statement("known") == {"id": "known"}
        assert client.get_statement("other") is None


def test_get_statement() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["statementId"] == "known":
            return httpx.Response(200, json={"id": "known"})
        return httpx.Response(404)

    with client_for(handler) as client:
        assert client.get_statement("known") == {"id": "known"}
        assert client.get_statement("unknown") is None
