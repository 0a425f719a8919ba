"""URIs of frameworks and items.

Imported frameworks keep the URIs their publisher gave them; ours resolve on
this service at ``<base URL>/uri/<identifier>``.
"""

from __future__ import annotations

import uuid


def node_uri(base_url: str, identifier: uuid.UUID, stored: str | None = None) -> str:
    """The URI of a framework or item: its own if it has one, else ours."""
    return stored or f"{base_url}/uri/{identifier}"
