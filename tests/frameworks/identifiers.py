"""Every identifier capcourse publishes for its shipped frameworks, as plain data.

The identifiers are read from what capcourse really publishes: the CASE package
each shipped framework exports as after ``capcourse frameworks sync`` (document,
items, the tree's ``isChildOf`` links and every other association, item types,
licence and association groupings), plus a sample of the deterministic xAPI
statement ids. ``tests/frameworks/identifiers.json`` is the committed snapshot
that ``test_identifiers.py`` compares them with.

The snapshot changes only when a framework or item is *added* (a rename is the
bug it exists to catch). Rewrite it then with::

    .venv/bin/python -m tests.frameworks.identifiers
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import xapi
from capcourse.case.export import export_package
from capcourse.frameworks.models import Framework
from capcourse.frameworks.seed_data import load_seed_data

SNAPSHOT = Path(__file__).with_name("identifiers.json")

#: Fixed inputs of the statement ids capcourse derives (records/services.py):
#: a completion's statement from its completion id, an attainment's from
#: programme, learner and item. A retry must produce the id it produced before.
XAPI_SAMPLES: dict[str, tuple[str, ...]] = {
    "completion 00000000-0000-4000-8000-000000000001": ("completion", "00000000-0000-4000-8000-000000000001"),
    "completion 6b0c2f8e-3d0a-4c58-9a57-2f4f1a0d9e11": ("completion", "6b0c2f8e-3d0a-4c58-9a57-2f4f1a0d9e11"),
    "attainment 00000000-…-0001, 00000000-…-0007, a5f5d84e-…-3c1c8e1c9a10": (
        "attainment",
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000007",
        "a5f5d84e-5bd3-5b5c-9f0a-3c1c8e1c9a10",
    ),
}


def _key(node: dict[str, Any], keys: dict[str, str]) -> str:
    """``<framework key>:<item key>``, ``<framework key>`` or the URI a link points to."""
    return keys.get(node["identifier"], node["identifier"])


def published_identifiers(session: Session) -> dict[str, Any]:
    """Every shipped framework's identifiers by stable key, and the xAPI samples."""
    shipped = [f.key for f in load_seed_data().frameworks]
    frameworks = session.scalars(select(Framework).where(Framework.key.in_(shipped))).all()
    assert sorted(f.key for f in frameworks) == sorted(shipped), "sync the shipped frameworks first"
    packages = {f.key: export_package(session, f, "http://capcourse.test") for f in frameworks}
    # Names for every node, across frameworks: associations cross them.
    keys: dict[str, str] = {}
    for key, package in packages.items():
        keys[package["CFDocument"]["identifier"]] = key
        for item in package["CFItems"]:
            keys[item["identifier"]] = f"{key}:{item['extensions']['capcourse']['key']}"
    out: dict[str, Any] = {"frameworks": {}}
    for key in sorted(packages):
        package = packages[key]
        definitions = package.get("CFDefinitions", {})
        associations: dict[str, str] = {}
        for association in package["CFAssociations"]:
            name = (
                f"{association['associationType']} {_key(association['originNodeURI'], keys)}"
                f" -> {_key(association['destinationNodeURI'], keys)}"
            )
            assert name not in associations, f"two associations named {name}"
            associations[name] = association["identifier"]
        out["frameworks"][key] = {
            "document": package["CFDocument"]["identifier"],
            "items": {keys[i["identifier"]]: i["identifier"] for i in package["CFItems"]},
            "associations": dict(sorted(associations.items())),
            "item_types": {t["title"]: t["identifier"] for t in definitions.get("CFItemTypes", [])},
            "licences": {t["title"]: t["identifier"] for t in definitions.get("CFLicenses", [])},
            "association_groupings": {
                t["title"]: t["identifier"] for t in definitions.get("CFAssociationGroupings", [])
            },
        }
    out["xapi_statement_ids"] = {name: xapi.statement_id(*parts) for name, parts in XAPI_SAMPLES.items()}
    return out


def flatten(snapshot: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"frameworks/<key>/items/<item>": identifier, …}``: one line per identifier."""
    out: dict[str, str] = {}
    for name, value in snapshot.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{name}/")
        else:
            out[f"{prefix}{name}"] = value
    return out


def _write() -> None:
    """Sync the shipped frameworks into a scratch SQLite database and write the snapshot."""
    from capcourse.extensions import db
    from tests.conftest import make_app, make_database, migrate_and_sync

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(make_database(Path(folder), "identifiers"))
        migrate_and_sync(app)
        with app.app_context(), Session(db.engine) as session:
            snapshot = published_identifiers(session)
            db.engine.dispose()
    for value in flatten(snapshot).values():
        uuid.UUID(value)
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(flatten(snapshot))} identifiers to {SNAPSHOT}")


if __name__ == "__main__":
    _write()
