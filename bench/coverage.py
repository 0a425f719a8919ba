#!/usr/bin/env python3
"""Coverage benchmark at programme scale.

Builds a synthetic programme (2,000 modules, 4,000 activities, 20,000 mappings,
10,000 learners, 1,000,000 completions) on SQLite, and on PostgreSQL when
``CAPCOURSE_TEST_DATABASE_URL`` names one, then times the coverage report, the
gaps list and the cohort heat map through capcourse's services, each beside the
hand-written SQL aggregate that computes the same numbers (the floor), and the
dashboard pages as served. Prints each as a ratio to its floor.

Usage: .venv/bin/python bench/coverage.py [--learners 10000] [--completions 1000000]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from capcourse.accounts.models import Role  # noqa: E402
from capcourse.accounts.services import create_user  # noqa: E402
from capcourse.catalogue.models import Activity, Course, Module, Programme  # noqa: E402
from capcourse.cohorts.models import Cohort, CohortMember  # noqa: E402
from capcourse.coverage.evidence import EvidenceFilter, cohort  # noqa: E402
from capcourse.coverage.services import coverage, gap_list  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Framework, Item  # noqa: E402
from capcourse.identifiers import framework_id  # noqa: E402
from capcourse.mapping.models import Mapping  # noqa: E402
from capcourse.records import evidence  # noqa: E402
from capcourse.records.models import Completion, Learner  # noqa: E402
from tests.conftest import ScratchDatabase, drop_database, make_app, make_database, migrate_and_sync  # noqa: E402

FRONTLINE = framework_id("frontline-lcf-pathway-1")
PASSWORD = "benchmark password"


def build(session: Session, learners: int, completions: int) -> uuid.UUID:
    rng = random.Random(7)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    programme_id = uuid.uuid4()
    session.execute(
        insert(Programme), [{"id": programme_id, "title": "Benchmark", "status": "published", "version": 1}]
    )
    courses = [{"id": uuid.uuid4(), "programme_id": programme_id, "title": f"Course {c}", "status": "published",
                "position": c, "version": 1} for c in range(50)]  # fmt: skip
    session.execute(insert(Course), courses)
    modules = [{"id": uuid.uuid4(), "course_id": c["id"], "title": f"Module {c['position']}.{m}", "status": "published",
                "position": m, "version": 1} for c in courses for m in range(40)]  # fmt: skip
    session.execute(insert(Module), modules)
    activities = [{"id": uuid.uuid4(), "module_id": m["id"], "title": f"{m['title']} activity {a}", "status": "published",
                   "position": a, "version": 1} for m in modules for a in range(2)]  # fmt: skip
    session.execute(insert(Activity), activities)
    leaves = list(
        session.scalars(select(Item.id).where(Item.framework_id == FRONTLINE, Item.item_type == "Effective attribute"))
    )
    depths = ["introduced", "developed", "assessed"]
    mappings = []
    for activity in activities:
        for item in rng.sample(leaves, 5):
            mappings.append({"id": uuid.uuid4(), "programme_id": programme_id, "activity_id": activity["id"], "item_id": item,
                             "depth": rng.choice(depths), "provenance": "authored", "created_by": "bench", "created_at": now,
                             "updated_by": "bench", "updated_at": now, "version": 1})  # fmt: skip
    session.execute(insert(Mapping), mappings)
    people = [
        {"id": n + 1, "agent_key": f"mbox:bench{n}", "agent": {"mbox": f"mailto:bench{n}@example.org"},
         "name": f"Learner {n:05d}", "created_at": now}
        for n in range(learners)
    ]  # fmt: skip
    session.execute(insert(Learner), people)
    session.commit()
    chunk: list[dict[str, Any]] = []
    for n in range(completions):
        chunk.append({"id": uuid.uuid4(), "programme_id": programme_id, "learner_id": rng.randrange(learners) + 1,
                      "activity_id": activities[rng.randrange(len(activities))]["id"], "outcome": "passed",
                      "success": rng.random() < 0.85, "occurred_at": now - timedelta(minutes=n), "recorded_at": now,
                      "source": "bench", "idempotency_key": f"bench:{n}", "statement_id": uuid.uuid4()})  # fmt: skip
        if len(chunk) == 50_000:
            session.execute(insert(Completion), chunk)
            session.commit()
            chunk = []
            print(f"  … {n + 1:,} completions", flush=True)
    if chunk:
        session.execute(insert(Completion), chunk)
    session.commit()
    tidy(session)
    # Rows inserted in bulk bypass the services: fill the aggregate they would have kept.
    start = time.perf_counter()
    rows = evidence.rebuild(session, programme_id)
    session.commit()
    print(f"  evidence aggregate rebuilt: {rows:,} rows in {time.perf_counter() - start:.1f} s", flush=True)
    cohort_ids = [uuid.uuid4(), uuid.uuid4()]
    session.execute(insert(Cohort), [{"id": c, "programme_id": programme_id, "name": f"Intake {n}", "created_by": "bench",
                                      "created_at": now} for n, c in enumerate(cohort_ids)])  # fmt: skip
    session.execute(insert(CohortMember), [{"cohort_id": cohort_ids[n % 2], "learner_id": n + 1, "added_by": "bench",
                                            "added_at": now} for n in range(learners)])  # fmt: skip
    session.commit()
    return programme_id


def tidy(session: Session) -> None:
    """What a live database's autovacuum would have done after a bulk load: statistics, and on
    PostgreSQL the visibility map that lets index-only scans skip the table."""
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        tables = "completions, evidence, mappings, learners, activities, modules, cohort_members"
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.execute(text(f"VACUUM ANALYZE {tables}"))
    else:
        session.execute(text("ANALYZE"))
        session.commit()


def best_of(fn: Callable[[], Any], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


FLOOR_COVERAGE = """
SELECT m.item_id, m.depth, count(*) FROM mappings m JOIN framework_items i ON i.id = m.item_id
WHERE m.programme_id = :p AND i.framework_id = :f GROUP BY m.item_id, m.depth
"""
FLOOR_GAPS = """
SELECT i.id FROM framework_items i WHERE i.framework_id = :f
AND NOT EXISTS (SELECT 1 FROM framework_items c WHERE c.parent_id = i.id)
AND NOT EXISTS (SELECT 1 FROM mappings m WHERE m.item_id = i.id AND m.programme_id = :p)
"""
FLOOR_UNASSESSED = """
SELECT i.id FROM framework_items i WHERE i.framework_id = :f
AND NOT EXISTS (SELECT 1 FROM framework_items c WHERE c.parent_id = i.id)
AND EXISTS (SELECT 1 FROM mappings m WHERE m.item_id = i.id AND m.programme_id = :p)
AND NOT EXISTS (SELECT 1 FROM mappings m WHERE m.item_id = i.id AND m.programme_id = :p AND m.depth = 'assessed')
"""
# The per-item learner counts of the heat map, from the evidence aggregate capcourse keeps (the same source).
FLOOR_COHORT = """
SELECT e.item_id, count(*) FROM evidence e JOIN framework_items i ON i.id = e.item_id
WHERE e.programme_id = :p AND i.framework_id = :f GROUP BY e.item_id
"""
FLOOR_ONE_COHORT = """
SELECT e.item_id, count(*) FROM evidence e JOIN framework_items i ON i.id = e.item_id
JOIN cohort_members cm ON cm.learner_id = e.learner_id AND cm.cohort_id = :cohort
WHERE e.programme_id = :p AND i.framework_id = :f GROUP BY e.item_id
"""
# The same numbers straight from the completions (what a course or date filter needs): both ways to an
# item, through its activity's mappings and its module's; {where} narrows the completions.
FLOOR_FROM_COMPLETIONS = """
SELECT item_id, count(DISTINCT learner_id) FROM (
  SELECT m.item_id, c.learner_id FROM completions c JOIN activities a ON a.id = c.activity_id
  JOIN modules mo ON mo.id = a.module_id
  JOIN mappings m ON m.activity_id = c.activity_id AND m.programme_id = :p
  WHERE c.programme_id = :p AND c.success {where}
  UNION ALL
  SELECT m.item_id, c.learner_id FROM completions c JOIN activities a ON a.id = c.activity_id
  JOIN modules mo ON mo.id = a.module_id
  JOIN mappings m ON m.module_id = a.module_id AND m.programme_id = :p
  WHERE c.programme_id = :p AND c.success {where}
) found JOIN framework_items i ON i.id = found.item_id WHERE i.framework_id = :f GROUP BY item_id
"""


def run(kind: str, learners: int, completions: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="capcourse-coverage-bench-"))
    database = ScratchDatabase(f"sqlite:///{folder / 'bench.db'}") if kind == "sqlite" else make_database(folder, "cov")
    app = make_app(database, TESTING=False)
    migrate_and_sync(app)
    try:
        with app.app_context(), Session(db.engine) as session:
            print(f"\n{kind}: building {learners:,} learners and {completions:,} completions …")
            start = time.perf_counter()
            programme_id = build(session, learners, completions)
            create_user(session, "bench@example.org", "Bench", Role.ADMIN, PASSWORD)
            tidy(session)
            print(f"  built in {time.perf_counter() - start:.0f} s")
            programme = session.get(Programme, programme_id)
            framework = session.get(Framework, FRONTLINE)
            key = (lambda u: u.hex) if kind == "sqlite" else (lambda u: u)
            params = {"p": key(programme_id), "f": key(FRONTLINE)}
            report = coverage(session, programme, framework)
            first_cohort = session.scalar(select(Cohort.id).where(Cohort.programme_id == programme_id).limit(1))
            first_course = session.scalar(select(Course.id).where(Course.programme_id == programme_id).limit(1))
            week_end = datetime(2026, 11, 1, tzinfo=UTC)
            week_start = week_end - timedelta(days=7)
            one = lambda sql, **more: session.execute(text(sql), {**params, **more}).all()  # noqa: E731
            everything = FLOOR_FROM_COMPLETIONS.format(where="")
            by_course = FLOOR_FROM_COMPLETIONS.format(where="AND mo.course_id = :c")
            by_week = FLOOR_FROM_COMPLETIONS.format(where="AND c.occurred_at >= :since AND c.occurred_at <= :until")
            # SQLite keeps times as text: compare with text of the same shape.
            moment = (lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")) if kind == "sqlite" else (lambda d: d)
            saved = best_of(lambda: one(everything), runs=1)
            print(f"  (the heat map's numbers from the completions themselves: {saved * 1000:,.0f} ms)")
            rows = [
                (
                    "coverage report",
                    lambda: coverage(session, programme, framework),
                    lambda: session.execute(text(FLOOR_COVERAGE), params).all(),
                ),
                (
                    "gaps list",
                    lambda: gap_list(session, programme, framework),
                    lambda: (one(FLOOR_GAPS), one(FLOOR_UNASSESSED)),
                ),
                (
                    "cohort heat map",
                    lambda: cohort(session, report),
                    lambda: session.execute(text(FLOOR_COHORT), params).all(),
                ),
                (
                    "heat map, 1 cohort",
                    lambda: cohort(session, report, EvidenceFilter(cohort_id=first_cohort)),
                    lambda: one(FLOOR_ONE_COHORT, cohort=key(first_cohort)),
                ),
                (
                    "heat map, 1 course",
                    lambda: cohort(session, report, EvidenceFilter(course_id=first_course)),
                    lambda: one(by_course, c=key(first_course)),
                ),
                (
                    "heat map, 1 week",
                    lambda: cohort(session, report, EvidenceFilter(since=week_start, until=week_end)),
                    lambda: one(by_week, since=moment(week_start), until=moment(week_end)),
                ),
            ]
            for name, ours, floor in rows:
                ours_s, floor_s = best_of(ours), best_of(floor)
                print(
                    f"  {name:<20} capcourse {ours_s * 1000:8.1f} ms   floor {floor_s * 1000:8.1f} ms   ratio {ours_s / floor_s:5.2f}×"
                )
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": PASSWORD, "csrf_token": _token(client)})
        for name, path in (("dashboard page", f"/programmes/{programme_id}/coverage?framework={FRONTLINE}"),
                           ("cohort page", f"/programmes/{programme_id}/cohort?framework={FRONTLINE}"),
                           ("cohort page, 1 cohort", f"/programmes/{programme_id}/cohort?framework={FRONTLINE}&cohort={first_cohort}"),
                           ("learner page", f"/programmes/{programme_id}/learners/1?framework={FRONTLINE}")):  # fmt: skip
            seconds = best_of(lambda path=path: client.get(path))
            status = client.get(path).status_code
            print(f"  {name:<22} served in {seconds * 1000:8.1f} ms (HTTP {status})")
    finally:
        with app.app_context():
            db.engine.dispose()
        if kind != "sqlite":
            drop_database(database)


def _token(client: Any) -> str:
    import re

    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--completions", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    kinds = ["sqlite"] + (
        ["postgresql"] if os.environ.get("CAPCOURSE_TEST_DATABASE_URL", "").startswith("postgresql") else []
    )
    for kind in kinds:
        run(kind, args.learners, args.completions)


if __name__ == "__main__":
    main()
