"""The State, Activity Profile and Agent Profile resources' documents (xAPI Communication 2.2-2.7, 3.1).

A document is any content under a key (stateId or profileId) in a scope: an
activity and agent (and registration) for State, an activity for Activity
Profile, an agent for Agent Profile. PUT replaces, POST merges JSON objects one
level deep, and ETags (hex SHA-1, quoted) guard against lost updates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capcourse.errors import BadRequestError, ConflictError, NotFoundError, PreconditionFailedError
from capcourse.lrs.models import Document, DocumentKind
from capcourse.timestamps import utcnow

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Scope:
    """Which documents a request speaks of: kind, activity, agent key and registration ("" when not used)."""

    kind: DocumentKind
    activity_id: str = ""
    agent_key: str = ""
    registration_key: str = ""

    @property
    def digest(self) -> str:
        text = "\n".join((self.kind.value, self.activity_id, self.agent_key, self.registration_key))
        return hashlib.sha256(text.encode()).hexdigest()

    def where(self) -> list[Any]:
        return [Document.scope_digest == self.digest]


def _fit(text: str, size: int) -> str:
    """``text``, or its digest when longer than the column (the scope digest is what lookups use)."""
    return text if len(text) <= size else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _digest(document_id: str) -> str:
    return hashlib.sha256(document_id.encode()).hexdigest()


@dataclass(frozen=True)
class Preconditions:
    """The request's If-Match and If-None-Match, as sent (quotes and all)."""

    if_match: str | None = None
    if_none_match: str | None = None


def etag_of(content: bytes) -> str:
    """Hex SHA-1 of a document's content (Communication 3.1)."""
    return hashlib.sha1(content).hexdigest()


def is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == JSON_TYPE


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()}


def _check(existing: Document | None, preconditions: Preconditions, *, must_say: bool) -> None:
    """RFC 2616 If-Match / If-None-Match; with ``must_say``, an overwrite must send one of them (409 otherwise)."""
    if preconditions.if_match is not None:
        tags = _tags(preconditions.if_match)
        if existing is None or ("*" not in tags and existing.etag not in tags):
            raise PreconditionFailedError("If-Match does not match the document's current ETag; it was not changed.")
    if preconditions.if_none_match is not None:
        tags = _tags(preconditions.if_none_match)
        if existing is not None and ("*" in tags or existing.etag in tags):
            raise PreconditionFailedError("If-None-Match: the document exists already; it was not changed.")
    if must_say and preconditions.if_match is None and preconditions.if_none_match is None:
        # A client MUST send one of them to PUT a profile document (Communication 3.1): 409 when the
        # document exists (the spec's words for that case), 400 for the broken rule otherwise.
        if existing is not None:
            raise ConflictError(
                "The document exists: send If-Match with its ETag to overwrite it (xAPI Communication 3.1)."
            )
        raise BadRequestError(
            "Send If-None-Match: * to create this document, or If-Match with its ETag to replace it "
            "(xAPI Communication 3.1)."
        )


def find(session: Session, scope: Scope, document_id: str) -> Document | None:
    """The document with this key in this scope, if any."""
    return session.scalar(select(Document).where(*scope.where(), Document.document_digest == _digest(document_id)))


def get(session: Session, scope: Scope, document_id: str) -> Document:
    """:raises NotFoundError: no such document."""
    document = find(session, scope, document_id)
    if document is None:
        raise NotFoundError(f"No document {document_id!r} here.")
    return document


def ids(session: Session, scope: Scope, since: datetime | None) -> list[str]:
    """The keys of the scope's documents, those changed after ``since`` only when given."""
    sql = select(Document.document_id).where(*scope.where())
    if since is not None:
        sql = sql.where(Document.updated_at > since)
    return list(session.scalars(sql.order_by(Document.document_id)))


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequestError(f"{what} is declared application/json but is not JSON.") from error
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} must be a JSON object to be merged.")
    return value


def put(
    session: Session,
    scope: Scope,
    document_id: str,
    content: bytes,
    content_type: str,
    preconditions: Preconditions,
    *,
    must_say: bool,
) -> Document:
    """Store ``content`` under ``document_id``, replacing what was there.

    :param must_say: the resource requires If-Match or If-None-Match to overwrite (the profile resources).
    :raises PreconditionFailedError: If-Match or If-None-Match fails.
    :raises ConflictError: ``must_say`` and neither header on an existing document.
    """
    existing = find(session, scope, document_id)
    _check(existing, preconditions, must_say=must_say)
    return _write(session, scope, document_id, existing, content, content_type)


def post(
    session: Session, scope: Scope, document_id: str, content: bytes, content_type: str, preconditions: Preconditions
) -> Document:
    """Merge a JSON object into the document (top-level properties replaced), or store it if there is none.

    :raises BadRequestError: either side is not a JSON object declared application/json.
    :raises PreconditionFailedError: If-Match or If-None-Match fails.
    """
    existing = find(session, scope, document_id)
    _check(existing, preconditions, must_say=False)
    if is_json(content_type):
        posted = _json_object(content, "The posted document")
    elif existing is not None:
        raise BadRequestError("Only application/json documents can be merged by POST; this one is not JSON.")
    if existing is None:
        return _write(session, scope, document_id, None, content, content_type)
    if not is_json(existing.content_type):
        raise BadRequestError("The stored document is not application/json, so a POST cannot merge into it.")
    merged = {**_json_object(existing.content, "The stored document"), **posted}
    return _write(session, scope, document_id, existing, json.dumps(merged).encode(), JSON_TYPE)


def _write(
    session: Session, scope: Scope, document_id: str, existing: Document | None, content: bytes, content_type: str
) -> Document:
    document = existing or Document(
        scope_digest=scope.digest,
        document_digest=_digest(document_id),
        kind=scope.kind.value,
        activity_id=scope.activity_id,
        agent_key=_fit(scope.agent_key, 600),
        registration_key=scope.registration_key,
        document_id=document_id,
    )
    document.content = content
    document.content_type = content_type
    document.etag = etag_of(content)
    document.updated_at = utcnow()
    if existing is not None:
        session.flush()
        return document
    try:
        with session.begin_nested():
            session.add(document)
    except IntegrityError as error:  # another request created the same document meanwhile
        raise ConflictError(
            f"The document {document_id!r} was created by another request meanwhile; read it and send again."
        ) from error
    return document


def remove(session: Session, scope: Scope, document_id: str | None, preconditions: Preconditions) -> None:
    """Delete one document, or every document of the scope when ``document_id`` is None.

    :raises PreconditionFailedError: If-Match does not match the document.
    """
    if document_id is None:
        session.execute(delete(Document).where(*scope.where()))
        return
    existing = find(session, scope, document_id)
    if preconditions.if_match is not None:
        _check(existing, Preconditions(if_match=preconditions.if_match), must_say=False)
    if existing is not None:
        session.delete(existing)
    session.flush()
