"""Shipped identifiers never change: they are the CASE identifiers other systems hold.

Compares every identifier capcourse publishes for its shipped frameworks (and a
sample of its deterministic xAPI statement ids) with the committed snapshot
``identifiers.json``. A change of namespace, of a key, or of the way an
identifier is derived fails here with the list of what moved.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from capcourse.frameworks.seed_data import load_seed_data
from tests.frameworks.identifiers import SNAPSHOT, flatten, published_identifiers

pytestmark = pytest.mark.db


def test_every_published_identifier_is_the_one_shipped_before(session: Session) -> None:
    pinned = flatten(json.loads(SNAPSHOT.read_text(encoding="utf-8")))
    now = flatten(published_identifiers(session))
    changed = [
        f"{name}: {pinned[name]} is now {now[name]}"
        for name in sorted(pinned.keys() & now.keys())
        if pinned[name] != now[name]
    ]
    gone = [f"{name}: {pinned[name]}" for name in sorted(pinned.keys() - now.keys())]
    new = [f"{name}: {now[name]}" for name in sorted(now.keys() - pinned.keys())]
    problems = []
    if changed:
        problems.append(f"{len(changed)} identifier(s) changed (every install and CASE consumer holds the old ones):")
        problems += changed
    if gone:
        problems.append(f"{len(gone)} identifier(s) no longer published:")
        problems += gone
    if new:
        problems.append(
            f"{len(new)} new identifier(s) not pinned yet (if they are meant, run "
            "`.venv/bin/python -m tests.frameworks.identifiers` and commit identifiers.json):"
        )
        problems += new
    assert not problems, "\n".join(problems)


def test_the_snapshot_pins_every_kind_of_identifier() -> None:
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    frameworks = snapshot["frameworks"]
    assert len(frameworks) == 8
    shipped = sum(len(f.items) for f in load_seed_data().frameworks)
    assert sum(len(f["items"]) for f in frameworks.values()) == shipped
    # Every item has its isChildOf link; the rest are replacedBy, precedes, the CLF links, the legend.
    assert sum(len(f["associations"]) for f in frameworks.values()) > shipped
    assert all(f["item_types"] for f in frameworks.values())
    assert sum(len(f["licences"]) for f in frameworks.values()) >= 2
    assert any(f["association_groupings"] for f in frameworks.values())
    assert len(snapshot["xapi_statement_ids"]) == 3
