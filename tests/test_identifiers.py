"""Identifiers capcourse makes for rows written in bulk."""

from __future__ import annotations

import time
import uuid

from capcourse.identifiers import uuid7


def test_uuid7_is_a_version_7_uuid_ordered_by_time() -> None:
    before = time.time_ns() // 1_000_000
    made = [uuid7() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert {u.version for u in made} == {7}
    assert {u.variant for u in made} == {uuid.RFC_4122}
    assert all(before <= u.int >> 80 <= after for u in made)  # the first 48 bits are the milliseconds
    assert len(set(made)) == len(made)
    # Made in different milliseconds, they sort as made, as text (SQLite) and as bytes (PostgreSQL).
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert first.hex < second.hex
    assert first.bytes < second.bytes
