#!/usr/bin/env python3
"""Ingest benchmark: statements per second through ``POST /xapi/statements``.

Runs capcourse on loopback (SQLite, and PostgreSQL when
``CAPCOURSE_TEST_DATABASE_URL`` names one), posts the same statements in
batches of 1 and of 100, and prints statements per second beside a reference
LRS measured in the same run on the same machine, as a ratio. The reference is
Learning Locker's ``@learninglocker/xapi-statements`` when ``bench/node_modules``
has it (``npm install --prefix bench``), else Ralph from ``.venv-ralph``; both
run in memory or on local files on 127.0.0.1 only. Then it times delivery of
the emitted statements to that LRS.

Usage: .venv/bin/python bench/ingest.py [--statements 2000]   (make ralph first)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

import xapi  # noqa: E402
from capcourse.accounts.models import Role  # noqa: E402
from capcourse.accounts.services import create_api_key  # noqa: E402
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme  # noqa: E402
from capcourse.delivery.services import Policy, drain  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from tests.browser import live_server  # noqa: E402
from tests.conftest import ScratchDatabase, drop_database, make_app, make_database, migrate_and_sync  # noqa: E402
from tests.lrs import PASSWORD, USER, ralph  # noqa: E402
from xapi.client import LrsEndpoint  # noqa: E402

ACTIVITY = "https://lms.example.org/xapi/activities/bench"
HEADERS = {"X-Experience-API-Version": "1.0.3"}


def statements(count: int) -> list[dict[str, object]]:
    when = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    return [
        xapi.statement(
            xapi.agent_from_email(f"learner{n % 500}@example.org"),
            xapi.PASSED,
            xapi.activity(ACTIVITY, "Benchmark quiz"),
            str(uuid.uuid4()),
            when,
            xapi.result(success=True, completion=True, scaled=0.75),
        )
        for n in range(count)
    ]


def post_all(url: str, auth: tuple[str, str], items: list[dict[str, object]], batch: int) -> float:
    """Seconds to post ``items`` in batches, over one reused connection."""
    with httpx.Client(auth=auth, headers=HEADERS, timeout=60) as client:
        start = time.perf_counter()
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            response = client.post(f"{url}/statements", json=chunk if batch > 1 else chunk[0])
            if response.status_code not in (200, 204):
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        return time.perf_counter() - start


@contextmanager
def capcourse(kind: str, destination: LrsEndpoint | None) -> Iterator[tuple[str, tuple[str, str], object]]:
    folder = Path(tempfile.mkdtemp(prefix="capcourse-bench-"))
    if kind == "sqlite":
        database = ScratchDatabase(f"sqlite:///{folder / 'bench.db'}")
    else:
        database = make_database(folder, "bench")
    destinations = (
        {"bench": {"endpoint": destination.url, "username": destination.username, "password": destination.password}}
        if destination
        else {}
    )
    app = make_app(database, TESTING=False, CAPCOURSE_LRS_DESTINATIONS=destinations)
    migrate_and_sync(app)
    with app.app_context(), Session(db.engine) as session:
        programme = Programme(title="Bench")
        course = Course(programme=programme, title="Bench")
        module = Module(course=course, title="Bench")
        activity = Activity(module=module, title="Benchmark quiz")
        session.add_all([programme, course, module, activity])
        session.flush()
        session.add(ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms", value=ACTIVITY))
        _, key = create_api_key(session, "bench", Role.INTEGRATION)
        session.commit()
    try:
        with live_server(app) as url:
            yield f"{url}/xapi", ("lms", key), app
    finally:
        with app.app_context():
            db.engine.dispose()
        if kind != "sqlite":
            drop_database(database)


def measure(name: str, post: Callable[[list[dict[str, object]], int], float], count: int) -> dict[int, float]:
    rates = {}
    for batch in (1, 100):
        n = count // 10 if batch == 1 else count
        seconds = post(statements(n), batch)
        rates[batch] = n / seconds
        print(f"  {name:<28} batch {batch:>3}: {rates[batch]:8.0f} statements/s ({n} in {seconds:.2f} s)")
    return rates


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would time the terminal
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=2000)
    args = parser.parse_args()
    count = args.statements

    print(f"Ingest benchmark, {count} statements per batch size of 100 ({count // 10} one by one)\n")
    with tempfile.TemporaryDirectory() as folder, ralph(Path(folder)) as reference:
        ref_endpoint = LrsEndpoint(reference.endpoint, USER, PASSWORD)
        print("Reference LRS: Ralph (fs backend) on loopback")
        baseline = measure("Ralph", lambda items, b: post_all(reference.endpoint, (USER, PASSWORD), items, b), count)
        kinds = ["sqlite"] + (
            ["postgresql"] if os.environ.get("CAPCOURSE_TEST_DATABASE_URL", "").startswith("postgresql") else []
        )
        for kind in kinds:
            with capcourse(kind, ref_endpoint) as (url, auth, app):
                rates = measure(f"capcourse on {kind}", lambda items, b: post_all(url, auth, items, b), count)
                for batch in (1, 100):
                    print(f"  ratio capcourse/{kind} ÷ Ralph, batch {batch:>3}: {rates[batch] / baseline[batch]:.2f}×")
                with app.app_context():  # type: ignore[attr-defined]
                    start = time.perf_counter()
                    report = drain(lambda: Session(db.engine), {"bench": ref_endpoint}, Policy(batch_size=100))
                    seconds = time.perf_counter() - start
                print(
                    f"  delivery to Ralph: {report.delivered / seconds:8.0f} statements/s ({report.delivered} in {seconds:.2f} s)\n"
                )


if __name__ == "__main__":
    main()
