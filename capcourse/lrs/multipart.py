"""multipart/mixed bodies of the Statement resource: statements with their attachments (xAPI Data 2.4.11).

Statements with attachments travel as ``multipart/mixed``: the statements as
the first part (``application/json``), then one part per attachment carrying
its raw data and an ``X-Experience-API-Hash`` header with its SHA-2.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from capcourse.errors import BadRequestError

#: Hex digest length -> hashlib algorithm (SHA-224, 256, 384, 512).
SHA2_BY_LENGTH = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}


@dataclass
class Part:
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower-cased, without parameters."""
    return (content_type or "").split(";")[0].strip().lower()


def _boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    raise BadRequestError("A multipart/mixed request needs a boundary in its Content-Type.")


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body, in order.

    :raises BadRequestError: no boundary, no parts, or no closing delimiter.
    """
    delimiter = b"--" + _boundary(content_type).encode("latin-1")
    pieces = body.split(delimiter)
    parts: list[Part] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        if piece.startswith(b"\r\n"):
            piece = piece[2:]
        elif piece.startswith(b"\n"):
            piece = piece[1:]
        if piece.endswith(b"\r\n"):
            piece = piece[:-2]
        elif piece.endswith(b"\n"):
            piece = piece[:-1]
        head, separator, content = piece.partition(b"\r\n\r\n")
        if not separator:
            head, separator, content = piece.partition(b"\n\n")
        if not separator:
            if piece.strip() == b"" or piece.startswith(b"\r\n") or not piece:
                head, content = b"", piece.lstrip(b"\r\n")
            else:
                head, content = piece, b""
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, content))
    if not closed or not parts:
        raise BadRequestError("The multipart body is not complete (no closing boundary).")
    return parts


def sha2_matches(data: bytes, sha2: str) -> bool:
    """Whether ``sha2`` (hex, any SHA-2 length) is the digest of ``data``."""
    algorithm = SHA2_BY_LENGTH.get(len(sha2))
    return algorithm is not None and hashlib.new(algorithm, data).hexdigest() == sha2.lower()


def build(json_body: bytes, attachments: Iterable[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the JSON first, then (sha2, content type, data) parts; returns (body, content type)."""
    boundary = "xapi-" + secrets.token_hex(16)
    chunks = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), json_body, b"\r\n"]
    for sha2, content_type, data in attachments:
        chunks.append(
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode()
        )
        chunks += [data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"
