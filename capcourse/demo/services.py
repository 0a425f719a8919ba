"""Building the demo programme: courses, modules, activities, mappings, learners, completions.

Deterministic (a seeded random generator), so two installs show the same demo.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Programme
from capcourse.cohorts.services import add_learners, create_cohort
from capcourse.frameworks.models import Item
from capcourse.identifiers import framework_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.records.services import CompletionInput, record_batch

TITLE = "Demo: Pathway 1, 2026 cohort"
DEMO = Principal(role=Role.ADMIN, name="capcourse demo")
FRAMEWORKS = ("frontline-lcf-pathway-1", "dfe-kss-practice-supervisors-2018", "sssc-leadership-capabilities")
COURSES = {
    "Leading supervision": ["Reflective supervision", "Group case discussion", "Observation and feedback"],
    "Leading with curiosity": ["Values and moral purpose", "Bias and anti-oppressive practice", "Knowing your service"],
    "Leading change": ["Vision and strategy", "Innovation in practice", "Working with partners"],
}


@dataclass
class DemoResult:
    created: bool
    programme: Programme
    learners: int = 0
    completions: int = 0


def load_demo(session: Session, base_url: str, destinations: tuple[str, ...], learners: int = 40) -> DemoResult:
    """Create the demo programme unless it exists; only flushes."""
    existing = session.scalar(select(Programme).where(Programme.title == TITLE))
    if existing is not None:
        return DemoResult(False, existing)
    rng = random.Random(2026)
    programme = catalogue.create_programme(
        session,
        DEMO,
        TITLE,
        "A made-up programme to show coverage and learner evidence; delete it when you build your own.",
        "published",
        [framework_id(key) for key in FRAMEWORKS],
    )
    leaves = {
        key: list(
            session.scalars(
                select(Item)
                .where(
                    Item.framework_id == framework_id(key),
                    ~Item.id.in_(select(Item.parent_id).where(Item.parent_id.is_not(None))),
                )
                .order_by(Item.code)
            )
        )
        for key in FRAMEWORKS
    }
    activities = []
    for course_title, modules in COURSES.items():
        course = catalogue.create_course(session, DEMO, programme, {"title": course_title, "status": "published"})
        for module_title in modules:
            module = catalogue.create_module(session, DEMO, course, {"title": module_title, "status": "published"})
            map_items(session, DEMO, module, [i.id for i in rng.sample(leaves[FRAMEWORKS[1]], 2)], Depth.INTRODUCED)
            for n, kind in enumerate(("Reading", "Workshop", "Assessed task")):
                activity = catalogue.create_activity(
                    session, DEMO, module, {"title": f"{module_title}: {kind.lower()}", "status": "published"}
                )
                depth = [Depth.INTRODUCED, Depth.DEVELOPED, Depth.ASSESSED][n]
                picks = rng.sample(leaves[FRAMEWORKS[0]], 2) + rng.sample(leaves[FRAMEWORKS[2]], 1)
                map_items(session, DEMO, activity, [i.id for i in picks], depth)
                activities.append(activity)
    start = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    inputs: list[CompletionInput] = []
    agents = [
        xapi.agent_from_email(f"learner{n + 1:02d}@demo.capcourse.invalid", f"Demo learner {n + 1}")
        for n in range(learners)
    ]
    # Two intakes, so the cohort filter has something to choose between.
    half = (learners + 1) // 2
    for name, members in (("Autumn 2026 intake", agents[:half]), ("Spring 2027 intake", agents[half:])):
        add_learners(session, DEMO, create_cohort(session, DEMO, programme, name), members)
    for n, agent in enumerate(agents):
        progress = rng.uniform(0.2, 1.0)
        for index, activity in enumerate(activities):
            if index / len(activities) > progress:
                break
            passed = rng.random() < 0.85
            inputs.append(
                CompletionInput(
                    agent=agent,
                    activity_ref=f"{base_url}/activities/{activity.id}",
                    outcome="passed" if passed else "failed",
                    occurred_at=start + timedelta(days=index * 3, hours=n % 8),
                    idempotency_key=f"demo:{n}:{activity.id}",
                    source="demo",
                    score_scaled=round(rng.uniform(0.6, 1.0) if passed else rng.uniform(0.2, 0.5), 2),
                )
            )
    record_batch(session, inputs, base_url, destinations)
    session.flush()
    return DemoResult(True, programme, learners, len(inputs))


def has_programmes(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Programme)))
