"""No N+1: a list of 2N rows costs the database as many queries as a list of N.

Each case fills a programme with N rows, counts the SQL statements one request
sends (SQLAlchemy's ``before_cursor_execute``), adds N more rows, and counts
again. A count that grows with N is a query per row: eager loading is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.extensions import db
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Framework, Item
from capcourse.identifiers import framework_id
from capcourse.lti import services as lti
from capcourse.mapping import services
from capcourse.mapping.models import Mapping
from capcourse.records.models import DeliveryState, Learner, OutboxEntry
from capcourse.records.services import store_statements
from tests import factories
from tests.pages import sign_in

pytestmark = pytest.mark.db

N = 5
FRONTLINE_ID = framework_id("frontline-lcf-pathway-1")
KSS_2018_ID = framework_id("dfe-kss-practice-supervisors-2018")


@contextmanager
def counted() -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@dataclass
class World:
    """A programme with a course and a module to fill, and an admin who may read it all."""

    session: Session
    programme: Programme
    course: Course
    module: Module
    headers: dict[str, str]
    n: int = 0

    def external_id(self, **target: Any) -> ExternalId:
        self.n += 1
        return ExternalId(programme_id=self.programme.id, system="lms", value=f"id-{self.n}", **target)


def add_programmes(world: World, count: int) -> None:
    frameworks = world.session.query(Framework).limit(3).all()
    for _ in range(count):
        programme = Programme(id=uuid.uuid4(), title=f"Programme {uuid.uuid4().hex[:6]}", frameworks=frameworks)
        world.session.add(programme)
        # Each with a course, so a page that counts or lists them is tested too.
        world.session.add(Course(programme=programme, title="A course"))


def add_courses(world: World, count: int) -> None:
    for _ in range(count):
        course = Course(programme=world.programme, title=f"Course {uuid.uuid4().hex[:6]}", position=99)
        world.session.add(course)
        world.session.flush()
        world.session.add(world.external_id(course_id=course.id))
        world.session.add(Module(course=course, title="A module"))


def add_modules(world: World, count: int) -> None:
    for _ in range(count):
        module = Module(course=world.course, title=f"Module {uuid.uuid4().hex[:6]}", position=99)
        world.session.add(module)
        world.session.flush()
        world.session.add(world.external_id(module_id=module.id))
        world.session.add(Activity(module=module, title="An activity"))


def add_activities(world: World, count: int) -> None:
    for _ in range(count):
        activity = Activity(module=world.module, title=f"Activity {uuid.uuid4().hex[:6]}", position=99)
        world.session.add(activity)
        world.session.flush()
        world.session.add(world.external_id(activity_id=activity.id))


def add_cohorts(world: World, count: int) -> None:
    for _ in range(count):
        email = f"mailto:{uuid.uuid4().hex}@example.org"
        learner = Learner(agent_key=email, agent={"mbox": email}, name="L")
        cohort = Cohort(programme_id=world.programme.id, name=f"Cohort {uuid.uuid4().hex[:6]}", created_by="test")
        world.session.add_all([learner, cohort])
        world.session.flush()
        world.session.add(CohortMember(cohort_id=cohort.id, learner_id=learner.id, added_by="test"))


def add_members(world: World, count: int) -> None:
    for _ in range(count):
        person = factories.user(world.session, Role.AUTHOR)
        factories.member(world.session, world.programme, person, MembershipRole.AUTHOR)


def add_mappings(world: World, count: int) -> None:
    """Mappings of the module (and so history events), to items of two frameworks."""
    taken = {m.item_id for m in world.session.scalars(select(Mapping).where(Mapping.module_id == world.module.id))}
    items = world.session.scalars(
        select(Item).where(Item.framework_id.in_(f.id for f in world.programme.frameworks), Item.id.not_in(taken))
    ).all()[:count]
    services.map_items(
        world.session, Principal(role=Role.ADMIN, name="test"), world.module, [i.id for i in items], "introduced"
    )


def add_learners(world: World, count: int) -> None:
    cohort = world.session.scalar(select(Cohort).where(Cohort.programme_id == world.programme.id))
    if cohort is None:
        cohort = Cohort(programme_id=world.programme.id, name="Autumn", created_by="test")
        world.session.add(cohort)
        world.session.flush()
    for _ in range(count):
        email = f"mailto:{uuid.uuid4().hex}@example.org"
        learner = Learner(agent_key=email, agent={"mbox": email}, name="L")
        world.session.add(learner)
        world.session.flush()
        world.session.add(CohortMember(cohort_id=cohort.id, learner_id=learner.id, added_by="test"))


def add_dead_letters(world: World, count: int) -> None:
    """Statements whose delivery gave up."""
    store_statements(world.session, factories.statements(count), "emitted", ["lrs"])
    world.session.execute(update(OutboxEntry).values(state=DeliveryState.DEAD, last_error="refused"))


def add_platforms(world: World, count: int) -> None:
    for _ in range(count):
        n = uuid.uuid4().hex[:8]
        lti.create_platform(
            world.session,
            Principal(role=Role.ADMIN, name="test"),
            {
                "name": f"Moodle {n}",
                "issuer": f"https://lms{n}.example.org",
                "client_id": n,
                **{f: f"https://lms{n}.example.org/{f}" for f in lti.URL_FIELDS},
            },
            [f"deployment-{n}", f"deployment-{n}-2"],
        )


def add_crosswalk_links(world: World, count: int) -> None:
    """Links from Frontline items to KSS 2018 items (beside the shipped suggested ones)."""
    left, right = crosswalks.get_pair(world.session, FRONTLINE_ID, KSS_2018_ID)
    taken = {
        (a.origin_item_id, a.destination_item_id) for a in crosswalks.list_associations(world.session, left, right)
    }
    origins = world.session.scalars(select(Item.id).where(Item.framework_id == FRONTLINE_ID)).all()
    destinations = world.session.scalars(select(Item.id).where(Item.framework_id == KSS_2018_ID)).all()
    free = [(o, d) for o in origins for d in destinations if (o, d) not in taken][:count]
    for origin, destination in free:
        crosswalks.create_association(world.session, left, right, origin, destination, "isRelatedTo", "test")


def add_implied(world: World, count: int) -> None:
    """Mappings to Frontline items whose crosswalk links to KSS 2018 are confirmed: coverage implied through them."""
    left, right = crosswalks.get_pair(world.session, FRONTLINE_ID, KSS_2018_ID)
    mapped = set(world.session.scalars(select(Mapping.item_id).where(Mapping.programme_id == world.programme.id)))
    links = [
        a
        for a in crosswalks.list_associations(world.session, left, right, ["suggested"])
        if a.origin_item_id not in mapped
    ]
    chosen = list(dict.fromkeys(a.origin_item_id for a in links))[:count]
    services.map_items(world.session, Principal(role=Role.ADMIN, name="test"), world.module, chosen, "developed")
    for link in links:
        if link.origin_item_id in chosen:
            crosswalks.confirm_association(world.session, link, "test")


def implied_path(world: World) -> str:
    return f"/api/v1/programmes/{world.programme.id}/coverage?framework={KSS_2018_ID}"


def cohort_page(world: World) -> str:
    return cohort_path(world).replace("/api/v1", "").removesuffix("/learners?page_size=100")


def cohort_path(world: World) -> str:
    cohort = world.session.scalar(select(Cohort).where(Cohort.programme_id == world.programme.id))
    assert cohort is not None
    return f"/api/v1/cohorts/{cohort.id}/learners?page_size=100"


@dataclass(frozen=True)
class Case:
    name: str
    add: Callable[[World, int], None]
    path: Callable[[World], str]
    page: bool = False


CASES = [
    Case("API programmes", add_programmes, lambda w: "/api/v1/programmes?page_size=100"),
    Case("API courses", add_courses, lambda w: f"/api/v1/programmes/{w.programme.id}/courses"),
    Case("API modules", add_modules, lambda w: f"/api/v1/courses/{w.course.id}/modules"),
    Case("API activities", add_activities, lambda w: f"/api/v1/modules/{w.module.id}/activities"),
    Case("API cohorts", add_cohorts, lambda w: f"/api/v1/programmes/{w.programme.id}/cohorts"),
    Case("API members", add_members, lambda w: f"/api/v1/programmes/{w.programme.id}/members"),
    Case("API module mappings", add_mappings, lambda w: f"/api/v1/modules/{w.module.id}/mappings"),
    Case(
        "API mapping history",
        add_mappings,
        lambda w: f"/api/v1/programmes/{w.programme.id}/mapping-history?page_size=100",
    ),
    Case("API cohort learners", add_learners, cohort_path),
    Case("API users", add_members, lambda w: "/api/v1/users?page_size=100"),
    Case("API dead letters", add_dead_letters, lambda w: "/api/v1/delivery/dead"),
    Case("API LTI platforms", add_platforms, lambda w: "/api/v1/lti/platforms"),
    Case("page programmes", add_programmes, lambda w: "/programmes", page=True),
    Case("page programme with its courses", add_courses, lambda w: f"/programmes/{w.programme.id}", page=True),
    Case("page course with its modules", add_modules, lambda w: f"/courses/{w.course.id}", page=True),
    Case("page module with its activities", add_activities, lambda w: f"/modules/{w.module.id}", page=True),
    Case("page cohorts", add_cohorts, lambda w: f"/programmes/{w.programme.id}/cohorts", page=True),
    Case("page cohort with its learners", add_learners, cohort_page, page=True),
    Case("page delivery", add_dead_letters, lambda w: "/admin/delivery", page=True),
    Case("page LTI platforms", add_platforms, lambda w: "/admin/lti", page=True),
    Case("page module with its mappings", add_mappings, lambda w: f"/modules/{w.module.id}", page=True),
    Case("API crosswalk", add_crosswalk_links, lambda w: f"/api/v1/crosswalks/{FRONTLINE_ID}/{KSS_2018_ID}"),
    Case("page crosswalk", add_crosswalk_links, lambda w: f"/crosswalks/{FRONTLINE_ID}/{KSS_2018_ID}", page=True),
    Case("API coverage implied through crosswalks", add_implied, implied_path),
    Case(
        "page coverage implied through crosswalks",
        add_implied,
        lambda w: implied_path(w).removeprefix("/api/v1"),
        page=True,
    ),
]


@pytest.fixture
def world(client: FlaskClient, session: Session) -> World:
    programme = factories.programme(session)
    programme.frameworks = [
        session.get(Framework, framework_id("frontline-lcf-pathway-1")),
        session.get(Framework, framework_id("sssc-leadership-capabilities")),
    ]
    course = factories.course(session, programme)
    module = factories.module(session, course)
    factories.activity(session, module)
    admin = factories.user(session, Role.ADMIN)
    factories.member(session, programme, admin, MembershipRole.LEAD)
    _, plain = factories.api_key(session, Role.ADMIN)
    sign_in(client, admin.email)
    return World(session, programme, course, module, factories.bearer(plain))


def queries_for(client: FlaskClient, world: World, case: Case) -> list[str]:
    world.session.expire_all()  # nothing cached from filling: the request loads what it shows
    with counted() as statements:
        response = client.get(case.path(world), headers={} if case.page else world.headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return statements


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_list_costs_the_same_queries_for_n_and_2n_rows(client: FlaskClient, world: World, case: Case) -> None:
    case.add(world, N)
    world.session.commit()
    queries_for(client, world, case)  # once first: what the first request of a session does once is no row's
    few = queries_for(client, world, case)
    case.add(world, N)
    world.session.commit()
    many = queries_for(client, world, case)
    assert len(many) == len(few), (
        f"{case.name}: {len(few)} queries for {N} rows, {len(many)} for {2 * N}: a query per row.\n"
        + "\n".join(f"  {s[:160]}" for s in many)
    )
