"""Reading a CASE package's bytes: from an upload, or from an https URL.

Both stop at ``max_bytes`` (``CAPCOURSE_CASE_MAX_BYTES``) while reading, so a
huge or endless answer never fills memory. URLs must be https, and so must
every redirect: a package is what a framework's identity rests on, and over
plain http anyone on the way could rewrite it. Connections reach only public
addresses (:mod:`capcourse.outbound`), within an overall deadline, and every
failure below HTTP gets the same message, so the import cannot be used to scan
the server's network.
"""

from __future__ import annotations

import logging
import time
from typing import IO
from urllib.parse import urljoin, urlsplit

import httpx

from capcourse.errors import InvalidInputError, PayloadTooLargeError
from capcourse.outbound import Guard, Resolver, guarded_client, parse_allow, system_resolver

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


#: Seconds for the whole fetch, redirects included: a server that drips its
#: answer a byte at a time must not hold a worker for long.
DEADLINE = 60.0

#: The one message for every fetch that fails below HTTP: a refused address, a
#: name that does not resolve, a closed port, a timeout, a TLS failure. Telling
#: them apart would let whoever may import from a URL map the server's network.
UNREACHABLE = (
    "capcourse could not fetch a CASE package from {url}: the host could not be reached, did not answer in time, "
    "or is not one capcourse may fetch from (hosts inside the institution's network must be listed in "
    "CAPCOURSE_OUTBOUND_ALLOW)."
)


def _unreachable(url: str) -> InvalidInputError:
    return InvalidInputError(UNREACHABLE.format(url=url), {"url": ["Could not be fetched."]})


def fetch_package(
    url: str,
    max_bytes: int,
    transport: httpx.BaseTransport | None = None,
    timeout: float = READ_TIMEOUT,
    allow: str | None = None,
    deadline: float = DEADLINE,
    resolver: Resolver = system_resolver,
) -> bytes:
    """GET a package from an https URL, following at most a few https redirects.

    Connections go only to public addresses, or to those ``allow``
    (``CAPCOURSE_OUTBOUND_ALLOW``) lists, checked again at every redirect and on
    the connected socket (:mod:`capcourse.outbound`).

    :param transport: an httpx transport to use instead of the network (tests pass
        :class:`httpx.MockTransport`); hosts are still checked before it answers.
    :param deadline: seconds for the whole fetch, redirects and reading included.
    :raises InvalidInputError: not https, a redirect away from https, an error
        status, or :data:`UNREACHABLE` for a refused address, a network failure or
        the deadline passed.
    :raises PayloadTooLargeError: the answer is bigger than ``max_bytes``.
    """
    _require_https(url)
    first = url
    guard = Guard(allow=parse_allow(allow), resolver=resolver)
    ends = time.monotonic() + deadline
    headers = {"Accept": "application/json", "User-Agent": "capcourse CASE import"}

    def remaining() -> float:
        left = ends - time.monotonic()
        if left <= 0:
            raise httpx.TimeoutException("the fetch's deadline passed")
        return left

    try:
        with guarded_client(guard, httpx.Timeout(timeout, connect=CONNECT_TIMEOUT), headers, transport) as client:
            for _ in range(MAX_REDIRECTS + 1):
                left = remaining()
                limits = httpx.Timeout(min(timeout, left), connect=min(CONNECT_TIMEOUT, left))
                with client.stream("GET", url, timeout=limits) as response:
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
                        remaining()
                    logger.info("Fetched a CASE package of %d bytes from %s", len(body), url)
                    return bytes(body)
    except httpx.InvalidURL as error:
        raise InvalidInputError(f"{url!r} is not a valid URL: {error}.", {"url": ["Not a valid URL."]}) from error
    except httpx.HTTPError as error:
        # The detail goes to the server's log for its admins, never into the answer.
        logger.warning("CASE fetch from %s (asked for %s) failed: %s", url, first, error)
        raise _unreachable(first) from error
    raise InvalidInputError(f"{url} redirects more than {MAX_REDIRECTS} times.", {"url": ["Too many redirects."]})
