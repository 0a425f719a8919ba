"""Reading a CASE package's bytes: from an upload, or from an https URL.

Both stop at ``max_bytes`` (``CAPCOURSE_CASE_MAX_BYTES``) while reading, so a
huge or endless answer never fills memory. URLs must be https, and so must
every redirect: a package is what a framework's identity rests on, and over
plain http anyone on the way could rewrite it.
"""

from __future__ import annotations

import logging
from typing import IO
from urllib.parse import urljoin, urlsplit

import httpx

from capcourse.errors import InvalidInputError, PayloadTooLargeError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
#: Seconds: to connect, and between two reads of the answer.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0


def too_large(size: int | None, max_bytes: int) -> PayloadTooLargeError:
    seen = f"is {size:,} bytes" if size is not None else "is bigger than that"
    return PayloadTooLargeError(
        f"The package {seen}; capcourse reads CASE packages of at most {max_bytes:,} bytes (CAPCOURSE_CASE_MAX_BYTES).",
        {"package": [f"At most {max_bytes} bytes."]},
    )


def read_stream(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read an upload, refusing it as soon as it passes ``max_bytes``.

    :raises PayloadTooLargeError: the upload is bigger than ``max_bytes``.
    """
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(None, max_bytes)
    return data


def _require_https(url: str, what: str = "The URL") -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.netloc:
        reason = (
            "over plain http anyone on the way could change it"
            if parts.scheme.lower() == "http"
            else "it is not an https URL"
        )
        raise InvalidInputError(
            f"{what} {url!r} cannot be fetched: capcourse fetches CASE packages over https only, because {reason}.",
            {"url": ["Must be an https:// URL."]},
        )


def fetch_package(
    url: str,
    max_bytes: int,
    transport: httpx.BaseTransport | None = None,
    timeout: float = READ_TIMEOUT,
) -> bytes:
    """GET a package from an https URL, following at most a few https redirects.

    :param transport: an httpx transport to use instead of the network (tests pass
        :class:`httpx.MockTransport`).
    :raises InvalidInputError: not https, a redirect away from https, an error
        status, a timeout or a network failure.
    :raises PayloadTooLargeError: the answer is bigger than ``max_bytes``.
    """
    _require_https(url)
    limits = httpx.Timeout(timeout, connect=CONNECT_TIMEOUT)
    headers = {"Accept": "application/json", "User-Agent": "capcourse CASE import"}
    try:
        with httpx.Client(transport=transport, timeout=limits, follow_redirects=False, headers=headers) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        location = urljoin(url, response.headers.get("Location", ""))
                        _require_https(location, f"{url} redirects to")
                        url = location
                        continue
                    if response.status_code != 200:
                        raise InvalidInputError(
                            f"{url} answered {response.status_code} {response.reason_phrase}, not a package.",
                            {"url": [f"HTTP {response.status_code}."]},
                        )
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise too_large(int(declared), max_bytes)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise too_large(None, max_bytes)
                    logger.info("Fetched a CASE package of %d bytes from %s", len(body), url)
                    return bytes(body)
    except httpx.TimeoutException as error:
        raise InvalidInputError(f"{url} did not answer in time.", {"url": ["Timed out."]}) from error
    except httpx.HTTPError as error:
        raise InvalidInputError(f"{url} could not be fetched: {error}.", {"url": [str(error)]}) from error
    raise InvalidInputError(f"{url} redirects more than {MAX_REDIRECTS} times.", {"url": ["Too many redirects."]})
