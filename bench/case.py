#!/usr/bin/env python3
"""CASE benchmark: export and import of a framework of 20,000 items and 40,000 associations.

Builds a synthetic CASE 1.1 package (200 branches of 99 items; every item's
``isChildOf``, a ``precedes`` chain along each branch, and links to items of a
framework capcourse does not hold), then on SQLite, and on PostgreSQL when
``CAPCOURSE_TEST_DATABASE_URL`` names one:

- imports it into an empty database (parse, validate, plan, write, commit),
  beside ``json.loads`` of the same bytes as the floor;
- imports it again (nothing changes: validation and comparison only);
- exports it (``export_package`` and ``json.dumps``), beside ``json.dumps`` of
  the package alone as the floor;

and prints each with its ratio to the floor, measured in the same run.

Usage: .venv/bin/python bench/case.py [--branches 200] [--per-branch 99]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from capcourse.accounts.access import Principal  # noqa: E402
from capcourse.accounts.models import Role  # noqa: E402
from capcourse.case.export import export_package  # noqa: E402
from capcourse.case.importing import import_package  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Framework  # noqa: E402
from tests.conftest import ScratchDatabase, drop_database, make_app, make_database, migrate_and_sync  # noqa: E402

NAMESPACE = uuid.UUID("0b5e7f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
BASE = "https://case.example.org/uri"
STAMP = "2026-01-01T00:00:00+00:00"
BENCH = Principal(role=Role.ADMIN, name="bench/case.py")


def ident(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def link(name: str, title: str) -> dict[str, str]:
    return {"title": title, "identifier": ident(name), "uri": f"{BASE}/{ident(name)}"}


def association(
    name: str, kind: str, origin: dict[str, str], destination: dict[str, str], **more: Any
) -> dict[str, Any]:
    return {
        "identifier": ident(name),
        "uri": f"{BASE}/{ident(name)}",
        "associationType": kind,
        "originNodeURI": origin,
        "destinationNodeURI": destination,
        "lastChangeDateTime": STAMP,
        **more,
    }


def synthetic(branches: int, per_branch: int) -> dict[str, Any]:
    """A package of ``branches × (1 + per_branch)`` items and twice as many associations."""
    document = {
        "identifier": ident("doc"),
        "uri": f"{BASE}/{ident('doc')}",
        "caseVersion": "1.1",
        "creator": "bench/case.py",
        "title": "Synthetic framework",
        "lastChangeDateTime": STAMP,
    }
    doc_link = {"title": document["title"], "identifier": document["identifier"], "uri": document["uri"]}
    items: list[dict[str, Any]] = []
    associations: list[dict[str, Any]] = []
    for b in range(branches):
        code = f"S.{b + 1}"
        items.append(
            {
                "identifier": ident(code),
                "uri": f"{BASE}/{ident(code)}",
                "fullStatement": f"Branch {b + 1} of the synthetic framework",
                "humanCodingScheme": code,
                "CFItemType": "Branch",
                "lastChangeDateTime": STAMP,
            }
        )
        associations.append(association(f"tree:{code}", "isChildOf", link(code, code), doc_link, sequenceNumber=b + 1))
        previous = None
        for n in range(per_branch):
            child = f"{code}.{n + 1}"
            items.append(
                {
                    "identifier": ident(child),
                    "uri": f"{BASE}/{ident(child)}",
                    "fullStatement": f"Statement {n + 1} of branch {b + 1}: a learner can do a thing well.",
                    "humanCodingScheme": child,
                    "CFItemType": "Statement",
                    "educationLevel": ["13"],
                    "lastChangeDateTime": STAMP,
                }
            )
            associations.append(
                association(f"tree:{child}", "isChildOf", link(child, child), link(code, code), sequenceNumber=n + 1)
            )
            if previous is not None:
                associations.append(
                    association(f"precedes:{child}", "precedes", link(previous, previous), link(child, child))
                )
            previous = child
        # Two links per branch to a framework capcourse does not hold.
        for n in (1, 2):
            associations.append(
                association(
                    f"external:{code}.{n}",
                    "isRelatedTo",
                    link(f"{code}.{n}", f"{code}.{n}"),
                    {"title": f"Elsewhere {b}.{n}", "identifier": ident(f"elsewhere:{b}.{n}"),
                     "uri": f"https://registry.example.net/items/{ident(f'elsewhere:{b}.{n}')}"},
                )
            )  # fmt: skip
    return {"CFDocument": document, "CFItems": items, "CFAssociations": associations}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(fn: Callable[[], Any], runs: int = 3) -> float:
    return min(timed(fn)[0] for _ in range(runs))


def line(name: str, ours: float, floor_name: str, floor: float) -> None:
    print(f"  {name:<34} {ours:7.2f} s   {floor_name:<12} {floor * 1000:7.1f} ms   ratio {ours / floor:6.1f}×")


def run(kind: str, package: dict[str, Any], raw: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="capcourse-case-bench-"))
    database = (
        ScratchDatabase(f"sqlite:///{folder / 'bench.db'}") if kind == "sqlite" else make_database(folder, "case")
    )
    app = make_app(database, TESTING=False)
    migrate_and_sync(app)
    try:
        with app.app_context(), Session(db.engine) as session:
            session.execute(delete(Framework))
            session.commit()
            print(f"\n{kind}:")
            loads = best_of(lambda: json.loads(raw))

            def first_import() -> Any:
                outcome = import_package(session, raw, BENCH, "bench")
                session.commit()
                return outcome

            seconds, outcome = timed(first_import)
            assert outcome.status == "created", outcome.status
            line("import (new framework)", seconds, "json.loads", loads)
            seconds, again = timed(lambda: import_package(session, raw, BENCH, "bench"))
            assert again.status == "unchanged", again.status
            session.rollback()
            line("import again (nothing changes)", seconds, "json.loads", loads)

            framework = session.get(Framework, uuid.UUID(package["CFDocument"]["identifier"]))
            assert framework is not None
            exported = export_package(session, framework, "http://bench.test")
            assert len(exported["CFItems"]) == len(package["CFItems"])
            assert len(exported["CFAssociations"]) == len(package["CFAssociations"])
            dumps = best_of(lambda: json.dumps(exported))
            export = best_of(lambda: json.dumps(export_package(session, framework, "http://bench.test")))
            line("export (package + json.dumps)", export, "json.dumps", dumps)
    finally:
        with app.app_context():
            db.engine.dispose()
        if kind != "sqlite":
            drop_database(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--per-branch", type=int, default=99)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    package = synthetic(args.branches, args.per_branch)
    raw = json.dumps(package).encode()
    print(
        f"CASE benchmark: {len(package['CFItems']):,} items, {len(package['CFAssociations']):,} associations, "
        f"{len(raw) / 1e6:.1f} MB of JSON"
    )
    kinds = ["sqlite"] + (
        ["postgresql"] if os.environ.get("CAPCOURSE_TEST_DATABASE_URL", "").startswith("postgresql") else []
    )
    for kind in kinds:
        run(kind, package, raw)


if __name__ == "__main__":
    main()
