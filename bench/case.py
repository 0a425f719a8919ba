#!/usr/bin/env python3
"""CASE benchmark: export and import of a framework of 20,000 items and 40,000 associations.

Builds a synthetic CASE 1.1 package (200 branches of 99 items; every item's
``isChildOf``, a ``precedes`` chain along each branch, and links to items of a
framework capcourse does not hold), then, on a database of its own (SQLite in
a temporary folder, or the PostgreSQL ``--database-url`` names, in a schema of
its own):

- imports it into an empty database (read, normalise, validate, plan, write,
  commit), beside ``json.loads`` of the same bytes as the floor (the import
  itself reads the bytes with orjson);
- imports it again (nothing changes: reading and comparison only);
- exports it as the API and the provider do (``export_json``: the package
  built, then written by orjson), beside ``json.dumps`` of the package alone
  as the floor;

and prints each with its ratio to the floor, measured in the same run. Every
figure is the best of ``--runs`` warm runs, ours and the floor's alike (the
first import of each run goes into a database the previous run emptied).
The targets are on wall-clock time; the CPU time of this process (best of the
same runs) is printed beside it, because on a busy shared machine it varies far
less between runs. On SQLite it is the whole work (the database runs in this
process); on PostgreSQL it leaves out the server's.

Runs in the environment ``make run`` installs (no test tools): the app, its
migrations and the shipped frameworks come from capcourse's own functions.
``CAPCOURSE_CASE_MAX_BYTES`` is raised to the package's size for the run.

Usage: .venv/bin/python bench/case.py [--branches 200] [--per-branch 99] [--runs 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import delete  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from capcourse import create_app  # noqa: E402
from capcourse.accounts.access import Principal  # noqa: E402
from capcourse.accounts.models import Role  # noqa: E402
from capcourse.case.export import export_json, export_package  # noqa: E402
from capcourse.case.importing import import_package  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Framework  # noqa: E402
from capcourse.frameworks.seed_data import load_seed_data  # noqa: E402
from capcourse.frameworks.sync import sync_frameworks  # noqa: E402

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


#: Wall-clock and CPU seconds of one run.
Seconds = tuple[float, float]


def timed(fn: Callable[[], Any]) -> tuple[Seconds, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), result


def best(times: Iterable[Seconds]) -> Seconds:
    """The best wall-clock time and the best CPU time of several runs."""
    walls, cpus = zip(*times, strict=True)
    return min(walls), min(cpus)


def best_of(fn: Callable[[], Any], runs: int) -> Seconds:
    return best(timed(fn)[0] for _ in range(runs))


def line(name: str, ours: Seconds, floor_name: str, floor: Seconds, target: float | None = None) -> None:
    ratio, cpu_ratio = ours[0] / floor[0], ours[1] / floor[1]
    goal = f"   (target ≤ {target:g}×: {'met' if ratio <= target else 'NOT met'})" if target else ""
    print(
        f"  {name:<34} {ours[0]:7.2f} s   {floor_name:<12} {floor[0] * 1000:7.1f} ms   ratio {ratio:6.1f}×"
        f"   CPU {ours[1]:5.2f} s / {floor[1] * 1000:5.0f} ms = {cpu_ratio:4.1f}×{goal}"
    )


@contextmanager
def database(url: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """A URL and engine options for an empty database of the benchmark's own."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="capcourse-case-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}", {}
        return
    schema = f"capcourse_bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield url, {"connect_args": {"options": f"-csearch_path={schema}"}}
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def make_app(url: str, options: dict[str, Any], max_bytes: int, folder: str) -> Flask:
    """capcourse on that database, migrated to head, with the shipped frameworks (as ``make run`` does)."""
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "CAPCOURSE_BASE_URL": "http://bench.test",
            "CAPCOURSE_CASE_MAX_BYTES": max_bytes,
            "CAPCOURSE_PACKAGE_DIR": folder,
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        with Session(db.engine) as session:
            sync_frameworks(session, load_seed_data())
            session.commit()
    return app


def run(url: str | None, package: dict[str, Any], raw: bytes, runs: int) -> None:
    identifier = uuid.UUID(package["CFDocument"]["identifier"])
    with database(url) as (database_url, options), tempfile.TemporaryDirectory() as folder:
        app = make_app(database_url, options, len(raw), folder)
        with app.app_context(), Session(db.engine) as session:
            print(f"\n{db.engine.dialect.name}:")
            loads = best_of(lambda: json.loads(raw), runs)

            def first_import() -> Seconds:
                session.execute(delete(Framework).where(Framework.id == identifier))
                session.commit()

                def imported() -> Any:
                    outcome = import_package(session, raw, BENCH, "bench")
                    session.commit()
                    return outcome

                seconds, outcome = timed(imported)
                assert outcome.status == "created", outcome.status
                return seconds

            line("import (new framework)", best(first_import() for _ in range(runs)), "json.loads", loads, 10)

            def again() -> Any:
                outcome = import_package(session, raw, BENCH, "bench")
                session.rollback()
                return outcome

            assert again().status == "unchanged"
            line("import again (nothing changes)", best_of(again, runs), "json.loads", loads)

            framework = session.get(Framework, identifier)
            assert framework is not None
            exported = export_package(session, framework, "http://bench.test")
            assert len(exported["CFItems"]) == len(package["CFItems"])
            assert len(exported["CFAssociations"]) == len(package["CFAssociations"])
            floor = best_of(lambda: json.dumps(exported), runs)
            # What the API and the provider send: the package built, then written (orjson).
            export = best_of(lambda: export_json(session, framework, "http://bench.test"), runs)
            line("export (package, written)", export, "json.dumps", floor, 3)
        with app.app_context():
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--per-branch", type=int, default=99)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="A PostgreSQL URL (a schema of its own is used).")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    package = synthetic(args.branches, args.per_branch)
    raw = json.dumps(package).encode()
    print(
        f"CASE benchmark: {len(package['CFItems']):,} items, {len(package['CFAssociations']):,} associations, "
        f"{len(raw) / 1e6:.1f} MB of JSON; best of {args.runs} warm runs"
    )
    run(args.database_url, package, raw, args.runs)


if __name__ == "__main__":
    main()
