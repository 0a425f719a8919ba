"""What the ``/xapi`` operations answer when they succeed, for the OpenAPI document.

The xAPI resources answer in xAPI's shapes (statements, documents of any
media type, ``multipart/mixed`` with attachments), not through marshmallow
schemas, so their success answers are declared here as OpenAPI responses:
``@blp.doc(responses=…)``. Errors are every API's error shape (``default``).
"""

from __future__ import annotations

from typing import Any

_VERSION_HEADER = {
    "X-Experience-API-Version": {
        "description": "The xAPI version of the answer (1.0.3).",
        "schema": {"type": "string", "example": "1.0.3"},
    }
}
_CONSISTENT_THROUGH = {
    "X-Experience-API-Consistent-Through": {
        "description": "Every statement stored before this moment is in the answers of queries (Communication 2.1.3).",
        "schema": {"type": "string", "format": "date-time"},
    }
}
_ETAG = {
    "ETag": {"description": "The document's version, for If-Match and If-None-Match.", "schema": {"type": "string"}}
}
_LAST_MODIFIED = {"Last-Modified": {"description": "When the document last changed.", "schema": {"type": "string"}}}
_IRI = {"type": "string", "description": "An IRI."}


def _json(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        "headers": {**_VERSION_HEADER, **(headers or {})},
    }


ABOUT = {
    "200": _json(
        "The xAPI versions this LRS speaks, and its extensions (none).",
        {
            "type": "object",
            "required": ["version"],
            "properties": {
                "version": {"type": "array", "items": {"type": "string"}, "example": ["1.0.3"]},
                "extensions": {"type": "object"},
            },
        },
    )
}

STATEMENTS_POST = {
    "200": _json(
        "The ids of the statements, in the order sent (ids the LRS gave included).",
        {"type": "array", "items": {"type": "string", "format": "uuid"}},
        _CONSISTENT_THROUGH,
    )
}

STATEMENTS_PUT = {
    "204": {"description": "The statement is stored.", "headers": {**_VERSION_HEADER, **_CONSISTENT_THROUGH}}
}

_STATEMENT_RESULT = {
    "type": "object",
    "description": (
        "With statementId or voidedStatementId: that Statement. Otherwise a StatementResult: "
        "`statements` (in the format asked for) and `more`, the URL of the next page or empty."
    ),
    "properties": {
        "statements": {"type": "array", "items": {"type": "object"}},
        "more": {"type": "string"},
    },
}

STATEMENTS_GET = {
    "200": {
        "description": "A Statement or a StatementResult; with attachments=true, multipart/mixed with the "
        "attachments' data after the JSON part.",
        "content": {
            "application/json": {"schema": _STATEMENT_RESULT},
            "multipart/mixed": {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {**_VERSION_HEADER, **_CONSISTENT_THROUGH},
    }
}


def document_get(name: str, key: str) -> dict[str, Any]:
    """GET of a document resource: one document with ``key``, the ids stored without it."""
    return {
        "200": {
            "description": (
                f"With {key}: the {name} document as stored, in its own media type (with ETag and "
                f"Last-Modified). Without it: the {key}s stored (since the `since` moment), a JSON array of strings."
            ),
            "content": {
                "application/json": {"schema": {"description": f"The {key}s (array of strings), or a JSON document."}},
                "*/*": {"schema": {"type": "string", "format": "binary"}},
            },
            "headers": {**_VERSION_HEADER, **_ETAG, **_LAST_MODIFIED},
        }
    }


def document_stored(name: str) -> dict[str, Any]:
    """PUT or POST of a document resource."""
    return {"204": {"description": f"The {name} document is stored.", "headers": {**_VERSION_HEADER, **_ETAG}}}


def document_deleted(name: str) -> dict[str, Any]:
    """DELETE of a document resource."""
    return {
        "204": {"description": f"The {name} document(s) are deleted (or were not there).", "headers": _VERSION_HEADER}
    }


ACTIVITY = {
    "200": _json(
        "The Activity, its definition merged from every statement that gave one.",
        {
            "type": "object",
            "required": ["objectType", "id"],
            "properties": {
                "objectType": {"type": "string", "enum": ["Activity"]},
                "id": _IRI,
                "definition": {"type": "object"},
            },
        },
    )
}

_IDENTIFIERS = {"type": "array", "items": {"type": "string"}}
AGENT = {
    "200": _json(
        "The Person object: every name and identifier of the Agent, each as an array.",
        {
            "type": "object",
            "required": ["objectType"],
            "properties": {
                "objectType": {"type": "string", "enum": ["Person"]},
                "name": _IDENTIFIERS,
                "mbox": _IDENTIFIERS,
                "mbox_sha1sum": _IDENTIFIERS,
                "openid": _IDENTIFIERS,
                "account": {"type": "array", "items": {"type": "object"}},
            },
        },
    )
}
