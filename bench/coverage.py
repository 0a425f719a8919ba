#!/usr/bin/env python3
"""Coverage benchmark at programme scale, each timing beside a floor proven to give the same numbers.

Builds a synthetic programme (50 courses, 2,000 modules, 4,000 activities, about
22,000 mappings to the Frontline framework's 36 effective attributes, 10,000
learners, 1,000,000 completions) on SQLite, and on PostgreSQL when
``CAPCOURSE_TEST_DATABASE_URL`` names one. The programme has gaps (4 attributes
nothing maps to) and taught-but-never-assessed items (4 attributes mapped only as
introduced or developed), and maps through modules as well as activities, so
every list and both evidence paths have rows to find.

Then, warm (each timed best of 3 after one untimed run), it times capcourse's
coverage report, gaps list and cohort heat map (whole programme, one cohort, one
course, one week) beside its floor: hand-written SQL that computes the same
numbers from the base tables (mappings, items, completions, cohort members),
never from capcourse's own evidence aggregate. Before timing, the script checks
that capcourse and the floor give the same numbers and stops if they do not.
The ratio is capcourse's time over the floor's: above 1, capcourse does more
than the floor (objects, roll-ups, the heat map's page of learners and their
attainments, which the floor does not compute); below 1,
it answers from the evidence aggregate it keeps at write time (that cost is in
``bench/ingest.py``). Last, the dashboard, cohort and learner pages as served.

Runs in the environment ``make run`` installs; never imports ``tests/``.

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

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from capcourse import create_app  # noqa: E402
from capcourse.accounts.models import Role  # noqa: E402
from capcourse.accounts.services import create_user  # noqa: E402
from capcourse.catalogue.models import Activity, Course, Module, Programme  # noqa: E402
from capcourse.cohorts.models import Cohort, CohortMember  # noqa: E402
from capcourse.coverage.evidence import EvidenceFilter, cohort  # noqa: E402
from capcourse.coverage.services import coverage, gap_list  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Framework, Item  # noqa: E402
from capcourse.frameworks.seed_data import load_seed_data  # noqa: E402
from capcourse.frameworks.sync import sync_frameworks  # noqa: E402
from capcourse.identifiers import framework_id  # noqa: E402
from capcourse.mapping.models import Mapping  # noqa: E402
from capcourse.records import evidence  # noqa: E402
from capcourse.records.models import Completion, Learner  # noqa: E402

FRONTLINE = framework_id("frontline-lcf-pathway-1")
PASSWORD = "benchmark password"
#: Leaves nothing maps to, and leaves mapped but never as assessed.
GAPS, UNASSESSED = 4, 4


def database(folder: Path, kind: str) -> tuple[str, dict[str, Any], str | None]:
    """URL, engine options and (on PostgreSQL) the scratch schema of an empty database."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", {}, None
    url = os.environ["CAPCOURSE_TEST_DATABASE_URL"]
    schema = f"capcourse_bench_{uuid.uuid4().hex[:8]}"
    _sql(url, f'CREATE SCHEMA "{schema}"')
    return url, {"connect_args": {"options": f"-csearch_path={schema}"}}, schema


def _sql(url: str, statement: str) -> None:
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def migrated_app(url: str, engine_options: dict[str, Any], folder: Path) -> Flask:
    """capcourse on ``url``, migrated to head, with the shipped frameworks."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SECRET_KEY": "benchmark",
            "CAPCOURSE_BASE_URL": "http://capcourse.bench",
            "CAPCOURSE_PACKAGE_DIR": str(folder / "packages"),
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        with Session(db.engine) as session:
            sync_frameworks(session, load_seed_data())
            session.commit()
    return app


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
    leaves = sorted(
        session.scalars(select(Item.id).where(Item.framework_id == FRONTLINE, Item.item_type == "Effective attribute"))
    )
    # Some leaves are never mapped (gaps), some only below "assessed" (taught, never assessed).
    unassessed = leaves[GAPS : GAPS + UNASSESSED]
    mapped = leaves[GAPS:]
    depths = ["introduced", "developed", "assessed"]
    mappings = []

    def mapping(target: str, target_id: uuid.UUID, item: uuid.UUID) -> dict[str, Any]:
        depth = rng.choice(depths[:2] if item in unassessed else depths)
        return {"id": uuid.uuid4(), "programme_id": programme_id, target: target_id, "item_id": item, "depth": depth,
                "provenance": "authored", "created_by": "bench", "created_at": now, "updated_by": "bench",
                "updated_at": now, "version": 1}  # fmt: skip

    for activity in activities:
        mappings += [mapping("activity_id", activity["id"], item) for item in rng.sample(mapped, 5)]
    # Every module maps one item itself: evidence reaches items through modules too.
    mappings += [mapping("module_id", module["id"], rng.choice(mapped)) for module in modules]
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
    """Warm: one untimed run first, then the best of ``runs``."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# Mappings by item and depth: the report's direct counts (its roll-ups are sums of them).
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
# The heat map's per-item learner counts, from the completions themselves (never from the
# evidence aggregate capcourse keeps): both ways to an item, through its activity's mappings
# and its module's; {where} narrows the completions.
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
IN_COHORT = "AND c.learner_id IN (SELECT cm.learner_id FROM cohort_members cm WHERE cm.cohort_id = :cohort)"


def as_uuid(value: Any) -> uuid.UUID:
    """An id as SQL returns it (a UUID on PostgreSQL, 32 hex digits on SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def same(name: str, ours: Any, floor: Any) -> None:
    """Stop the benchmark when capcourse and its floor disagree: a ratio to other numbers means nothing."""
    if ours != floor:
        raise SystemExit(f"{name}: capcourse and the floor disagree\n  capcourse: {ours!r}\n  floor:     {floor!r}")


def direct(report: Any) -> dict[tuple[uuid.UUID, str], int]:
    return {(c.item.id, depth): n for c in report.items for depth, n in c.direct.items() if n}


def counted(rows: Any) -> dict[Any, int]:
    """``{item: n}`` from (item, n) rows, ``{(item, depth): n}`` from (item, depth, n) rows."""
    out: dict[Any, int] = {}
    for *key, n in rows:
        out[(as_uuid(key[0]), *key[1:]) if len(key) > 1 else as_uuid(key[0])] = int(n)
    return out


def ids(rows: Any) -> list[uuid.UUID]:
    return sorted(as_uuid(row[0]) for row in rows)


def run(kind: str, learners: int, completions: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="capcourse-coverage-bench-"))
    url, engine_options, schema = database(folder, kind)
    app = migrated_app(url, engine_options, folder)
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
            # SQLite keeps times as text: compare with text of the same shape.
            moment = (lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")) if kind == "sqlite" else (lambda d: d)
            learners_floor = FLOOR_FROM_COMPLETIONS.format
            rows: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[Any], Any], Callable[[Any], Any]]] = [
                (
                    "coverage report",
                    lambda: coverage(session, programme, framework),
                    lambda: one(FLOOR_COVERAGE),
                    direct,
                    counted,
                ),
                (
                    "gaps list",
                    lambda: gap_list(session, programme, framework),
                    lambda: (one(FLOOR_GAPS), one(FLOOR_UNASSESSED)),
                    lambda g: (sorted(i.id for i in g.gaps), sorted(i.id for i in g.taught_not_assessed)),
                    lambda f: (ids(f[0]), ids(f[1])),
                ),
                (
                    "cohort heat map",
                    lambda: cohort(session, report),
                    lambda: one(learners_floor(where="")),
                    lambda c: c.item_learners,
                    counted,
                ),
                (
                    "heat map, 1 cohort",
                    lambda: cohort(session, report, EvidenceFilter(cohort_id=first_cohort)),
                    lambda: one(learners_floor(where=IN_COHORT), cohort=key(first_cohort)),
                    lambda c: c.item_learners,
                    counted,
                ),
                (
                    "heat map, 1 course",
                    lambda: cohort(session, report, EvidenceFilter(course_id=first_course)),
                    lambda: one(learners_floor(where="AND mo.course_id = :c"), c=key(first_course)),
                    lambda c: c.item_learners,
                    counted,
                ),
                (
                    "heat map, 1 week",
                    lambda: cohort(session, report, EvidenceFilter(since=week_start, until=week_end)),
                    lambda: one(
                        learners_floor(where="AND c.occurred_at >= :since AND c.occurred_at <= :until"),
                        since=moment(week_start),
                        until=moment(week_end),
                    ),
                    lambda c: c.item_learners,
                    counted,
                ),
            ]
            # The synthetic programme has what the lists are for, and each floor gives capcourse's numbers.
            gaps = gap_list(session, programme, framework)
            same(
                "gaps and taught-not-assessed found",
                (len(gaps.gaps), len(gaps.taught_not_assessed)),
                (GAPS, UNASSESSED),
            )
            for name, ours, floor, read_ours, read_floor in rows:
                same(name, read_ours(ours()), read_floor(floor()))
            print("  every floor gives capcourse's numbers (checked before timing)")
            for name, ours, floor, _, _ in rows:
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
            status = client.get(path).status_code  # once untimed: warm, like the rest
            seconds = best_of(lambda path=path: client.get(path))
            print(f"  {name:<22} served in {seconds * 1000:8.1f} ms (HTTP {status})")
    finally:
        with app.app_context():
            db.engine.dispose()
        if schema is not None:
            _sql(url, f'DROP SCHEMA "{schema}" CASCADE')


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
