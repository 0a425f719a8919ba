"""Signed statements (xAPI Data 2.6): a JWS over the statement, sent as an attachment.

The LRS checks what it can: the signature attachment's content type, the
JWS's form and algorithm (RS256, RS384 or RS512), that its payload is the
statement as sent (without the signature attachment), and the signature itself
against the certificate in the JWS header (``x5c``) when there is one.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.api_jws import PyJWS

import xapi
from capcourse.errors import BadRequestError

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_TYPE = "application/octet-stream"
ALGORITHMS = ("RS256", "RS384", "RS512")


def is_signature(attachment: Any) -> bool:
    return isinstance(attachment, dict) and attachment.get("usageType") == SIGNATURE_USAGE


def unsigned(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement as it was before its signature attachment was added."""
    rest = {k: v for k, v in statement.items() if k != "attachments"}
    others = [a for a in statement.get("attachments", []) if not is_signature(a)]
    if others:
        rest["attachments"] = others
    return rest


def verify(statement: dict[str, Any], token_bytes: bytes) -> None:
    """:raises BadRequestError: the JWS is malformed, uses another algorithm, signs something else, or fails."""
    try:
        token = token_bytes.decode("ascii").strip()
        header = jwt.get_unverified_header(token)
    except (UnicodeDecodeError, jwt.exceptions.DecodeError) as error:
        raise BadRequestError("The statement's signature is not a JWS in compact serialisation.") from error
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise BadRequestError(f"The statement's signature uses {algorithm!r}; xAPI allows RS256, RS384 or RS512.")
    jws = PyJWS(algorithms=list(ALGORITHMS))
    try:
        payload = jws.decode_complete(token, options={"verify_signature": False})["payload"]
        signed = json.loads(payload)
    except (jwt.exceptions.PyJWTError, ValueError, UnicodeDecodeError) as error:
        raise BadRequestError("The statement's signature does not carry the statement as JSON.") from error
    if not isinstance(signed, dict):
        raise BadRequestError("The statement's signature does not carry a statement.")
    if "x5c" in header:
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
            key = certificate.public_key()
        except (ValueError, TypeError, IndexError, KeyError, binascii.Error) as error:
            raise BadRequestError("The signature's x5c certificate cannot be read.") from error
        if not isinstance(key, rsa.RSAPublicKey):
            raise BadRequestError("The signature's certificate does not hold an RSA key.")
        try:
            jws.decode_complete(token, key=key, algorithms=[algorithm])
        except jwt.exceptions.PyJWTError as error:
            raise BadRequestError("The statement's signature does not verify with its certificate.") from error
    original = unsigned(statement)
    if "id" not in signed:
        original.pop("id", None)
    if not xapi.same_statement(signed, original):
        raise BadRequestError("The statement's signature was made over another statement.")
