"""Stable identifiers.

Every framework, item and association gets a UUID 5 computed from a fixed
namespace and a stable key, so two installs (or two syncs) agree on every
identifier without talking to each other. These are also the CASE identifiers
the frameworks are published under, so the namespace must never change.
"""

from __future__ import annotations

import os
import time
import uuid

#: The namespace of all capcourse identifiers (uuid5 of the project's URL in
#: the RFC 4122 URL namespace). Changing it would re-identify every framework.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/capcourse/capcourse")


def framework_id(framework_key: str) -> uuid.UUID:
    """Identifier of the framework document with this key."""
    return uuid.uuid5(NAMESPACE, f"framework:{framework_key}")


def item_id(framework_key: str, item_key: str) -> uuid.UUID:
    """Identifier of an item, from its framework's key and its own key."""
    return uuid.uuid5(NAMESPACE, f"item:{framework_key}/{item_key}")


def association_id(association_type: str, origin: uuid.UUID, destination: uuid.UUID | str) -> uuid.UUID:
    """Identifier of an association, from its type and both ends.

    :param destination: an item identifier, or the URI of an external node.
    """
    return uuid.uuid5(NAMESPACE, f"association:{association_type}:{origin}:{destination}")


def uuid7() -> uuid.UUID:
    """A new time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random bits.

    For rows written in bulk (completions): each new key lands beside the last in
    its index, where a random (version 4) key lands on a page of its own, one more
    page written per row at every commit. Unguessable still (74 random bits), and
    they tell only when they were made, which the rows record anyway. Not for xAPI
    statement ids: xAPI 1.0.3 and the LRSs that check them know versions 1 to 5.
    """
    value = (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC's variant
    return uuid.UUID(int=value)
