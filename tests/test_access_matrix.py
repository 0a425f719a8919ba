"""Every route of the app × every kind of caller, against the expected status in tests/access_matrix.txt.

The callers: nobody (``none``), an LMS's ``integration`` key, an ``outsider``
(a lead, with their own programme, who is not on this one), this programme's
``author`` and ``lead``, and an ``admin``. API routes (``/api/v1``, ``/xapi``,
``/ims``) get each caller's API key; pages get each person signed in.

Routes come from ``app.url_map``: a new route without a line in the table fails
the test, and so does a line for a route that is gone. Writes are sent without
a body (and pages' forms with their CSRF token), so an allowed caller usually
gets 422: what the matrix checks is who gets past authentication, role and
programme checks (401, 403, 404 for what one may not see). After a
write that succeeded, the programme is built anew (on SQLite, the database is
copied back from a snapshot taken after set-up: building it again took 1 s, and
half the test's time), so each caller meets the same state. The permission
table in docs/security.md states the rules this checks.

Not marked ``db``: who may call what does not depend on the database, and one
run is enough for CI. After adding a route, run with ``CAPCOURSE_WRITE_ACCESS_MATRIX=1`` to write the
table, then read every changed line before committing it.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import AnyConverter, IntegerConverter, Rule, UUIDConverter

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, ProgrammeMember, Role, User
from capcourse.accounts.services import create_api_key, create_user
from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.catalogue.services import create_programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.demo.services import TITLE, load_demo
from capcourse.extensions import db
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Item
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Mapping
from tests.conftest import scratch_app
from tests.factories import PASSWORD
from tests.pages import csrf_token

TABLE = Path(__file__).with_name("access_matrix.txt")
ROLES = ("none", "integration", "outsider", "author", "lead", "admin")
PEOPLE = {"outsider": Role.LEAD, "author": Role.AUTHOR, "lead": Role.LEAD, "admin": Role.ADMIN}
API_PREFIXES = ("/api/v1/", "/xapi/", "/ims/")
BASE_URL = "http://capcourse.test"


@dataclass
class World:
    """Identifiers the URL parameters are filled with: those of the programme under test."""

    ids: dict[str, Any] = field(default_factory=dict)


def _emails(role: str) -> str:
    return f"{role}@access.example.org"


def build_programme(session: Session, world: World) -> None:
    """The demo programme (courses, mappings, cohorts, learners, completions), its lead and author."""
    old = session.scalar(select(Programme).where(Programme.title == TITLE))
    if old is not None:
        old.title = f"Earlier {uuid.uuid4()}"
        session.flush()
    programme = load_demo(session, BASE_URL, (), learners=2).programme
    for role in ("lead", "author", "bystander"):
        user = session.scalar(select(User).where(User.email == _emails(role)))
        member_role = MembershipRole.LEAD if role == "lead" else MembershipRole.AUTHOR
        session.add(ProgrammeMember(programme_id=programme.id, user_id=user.id, role=member_role))
    session.flush()
    course = session.scalars(
        select(Course).where(Course.programme_id == programme.id).order_by(Course.position)
    ).first()
    module = session.scalars(select(Module).where(Module.course_id == course.id).order_by(Module.position)).first()
    activity = session.scalars(select(Activity).where(Activity.module_id == module.id)).first()
    mapping = session.scalars(select(Mapping).where(Mapping.module_id == module.id)).first()
    cohort = session.scalars(select(Cohort).where(Cohort.programme_id == programme.id)).first()
    member = session.scalars(select(CohortMember).where(CohortMember.cohort_id == cohort.id)).first()
    framework = programme.frameworks[0]
    item = session.scalars(select(Item).where(Item.framework_id == framework.id)).first()
    # Routes about one user (disable, re-role, remove from the programme) act on a
    # bystander, never on a caller, who must stay able to sign in.
    bystander = session.scalar(select(User).where(User.email == _emails("bystander")))
    # A crosswalk link still to review, made anew each time, so confirming or deleting it works for each caller.
    left, right = crosswalks.get_pair(
        session, framework_id("frontline-lcf-pathway-1"), framework_id("dfe-kss-practice-supervisors-2018")
    )
    ends = (item_id("frontline-lcf-pathway-1", "EC.6.a"), item_id("dfe-kss-practice-supervisors-2018", "1.1"))
    old_link = crosswalks.find_link(session, "isRelatedTo", *ends)
    if old_link is not None:
        session.delete(old_link)
        session.flush()
    link = crosswalks.create_association(session, left, right, *ends, "isRelatedTo", "matrix", provenance="suggested")
    world.ids = {
        "left_id": left.id,
        "right_id": right.id,
        "association_id": link.id,
        "programme_id": programme.id,
        "course_id": course.id,
        "module_id": module.id,
        "activity_id": activity.id,
        "mapping_id": mapping.id,
        "cohort_id": cohort.id,
        "learner_id": member.learner_id,
        "framework_id": framework.id,
        "item_id": item.id,
        "sourced_id": str(item.id),
        "identifier": framework.id,
        "entity_id": item.id,
        "target_id": module.id,
        "user_id": bystander.id,
        "filename": "capcourse.css",
        "path": "index.html",
    }


@dataclass
class Callers:
    app: Flask
    keys: dict[str, str]
    clients: dict[str, FlaskClient]
    tokens: dict[str, str]
    snapshot: sqlite3.Connection | None = None

    def take_snapshot(self) -> None:
        """On SQLite, keep a copy of the database as set up, for :meth:`restore`."""
        with self.app.app_context():
            if db.engine.dialect.name != "sqlite":
                return
            if self.snapshot is not None:
                self.snapshot.close()
            self.snapshot = sqlite3.connect(":memory:")
            with db.engine.connect() as connection:
                connection.connection.driver_connection.backup(self.snapshot)

    def restore(self, world: World) -> None:
        """Put the programme back as it was set up: the snapshot's copy, else built anew."""
        with self.app.app_context():
            if self.snapshot is None:
                with Session(db.engine) as session:
                    build_programme(session, world)
                    session.commit()
                return
            with db.engine.connect() as connection:
                self.snapshot.backup(connection.connection.driver_connection)

    def sign_in(self, role: str) -> None:
        client = self.app.test_client()
        if role in PEOPLE:
            token = csrf_token(client, "/login")
            answer = client.post("/login", data={"email": _emails(role), "password": PASSWORD, "csrf_token": token})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        self.clients[role] = client
        self.tokens[role] = csrf_token(client, "/login")


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Callers, World]]:
    world = World()
    keys: dict[str, str] = {}

    def prepare(session: Session) -> None:
        users = {role: create_user(session, _emails(role), role.title(), PEOPLE[role], PASSWORD) for role in PEOPLE}
        for role, user in users.items():
            key_role = Role.ADMIN if role == "admin" else PEOPLE[role]
            keys[role] = create_api_key(session, f"{role} key", key_role, user if role != "admin" else None)[1]
        keys["integration"] = create_api_key(session, "LMS", Role.INTEGRATION)[1]
        create_user(session, _emails("bystander"), "Bystander", Role.AUTHOR, PASSWORD)
        # The outsider leads a programme of their own.
        create_programme(session, principal_for_user(users["outsider"]), "Someone else's programme")
        build_programme(session, world)

    with scratch_app(tmp_path_factory.mktemp("matrix"), "matrix", prepare) as app:
        callers = Callers(app, keys, {}, {})
        for role in ROLES:
            callers.sign_in(role)
        callers.take_snapshot()
        yield callers, world
        if callers.snapshot is not None:
            callers.snapshot.close()


def fill(rule: Rule, world: World) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if rule.endpoint == "lti_pages.static":
            values[name] = "return.js"
        elif name in world.ids:
            values[name] = world.ids[name]
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, UUIDConverter):
            values[name] = uuid.UUID(int=1)
        elif isinstance(converter, IntegerConverter):
            values[name] = 1
        else:
            values[name] = "x"
    path = rule.build(values, append_unknown=False)
    assert path is not None
    if rule.endpoint.split(".")[0] == "coverage" and "programme_id" in rule.arguments:
        # Coverage and evidence are measured against a framework: without it every caller gets 422.
        return f"{path[1]}?framework={world.ids['framework_id']}"
    if rule.endpoint.split(".")[0] in ("versions", "version_pages") and "programme_id" in rule.arguments:
        # A drift report is between two versions, its evidence on one: without them every caller gets 422.
        old, new = framework_id("dfe-kss-practice-supervisors-2015"), framework_id("dfe-kss-practice-supervisors-2018")
        return f"{path[1]}?from={old}&to={new}&framework={new}"
    return path[1]


def routes(app: Flask) -> list[tuple[str, str, Rule]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, rule))
    # Reads first, deletes last: state changes come after everything that reads it.
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    return sorted(found, key=lambda entry: (order.get(entry[0], 1), entry[1], entry[0]))


def call(callers: Callers, role: str, method: str, path: str) -> int:
    client = callers.clients[role]
    headers: dict[str, str] = {}
    key = callers.keys.get(role)
    if path.startswith("/xapi/"):
        headers["X-Experience-API-Version"] = "1.0.3"
    if path.startswith("/xapi/") and key:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{role}:{key}".encode()).decode()
    elif path.startswith(API_PREFIXES) and key:
        headers["Authorization"] = f"Bearer {key}"
    if method == "GET":
        with client.get(path, headers=headers) as answer:
            return answer.status_code
    if path.startswith(API_PREFIXES):
        answer = client.open(path, method=method, json={}, headers=headers)
    else:
        answer = client.open(path, method=method, data={"csrf_token": callers.tokens[role]}, headers=headers)
    with answer:
        return answer.status_code


def read_table() -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for line in TABLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        table[" ".join(parts[: -len(ROLES)])] = [int(s) for s in parts[-len(ROLES) :]]
    return table


def write_table(results: dict[str, list[int]]) -> None:
    width = max(len(route) for route in results)
    lines = [
        "# Expected status per route and caller (tests/test_access_matrix.py; rules: docs/security.md).",
        f"# {'route'.ljust(width - 2)}  {' '.join(role[:11].rjust(11) for role in ROLES)}",
    ]
    for route, statuses in results.items():
        lines.append(f"{route.ljust(width)}  {' '.join(str(s).rjust(11) for s in statuses)}")
    TABLE.write_text("\n".join(lines) + "\n")


def test_every_route_answers_every_caller_as_the_table_says(setting: tuple[Callers, World]) -> None:
    callers, world = setting
    results: dict[str, list[int]] = {}
    for method, rule_text, rule in routes(callers.app):
        statuses = []
        for role in ROLES:
            status = call(callers, role, method, fill(rule, world))
            statuses.append(status)
            if rule_text == "/logout":
                callers.sign_in(role)
            elif method != "GET" and status < 400 and rule_text != "/login":
                callers.restore(world)
        results[f"{method} {rule_text}"] = statuses
        if rule_text == "/logout":
            # Signing out ends the person's every session (in the database): what is copied
            # back from now on must know the sessions signed in again.
            callers.take_snapshot()
    server_errors = {route: s for route, s in results.items() if any(code >= 500 for code in s)}
    assert server_errors == {}
    if os.environ.get("CAPCOURSE_WRITE_ACCESS_MATRIX"):
        write_table(results)
    expected = read_table()
    missing = sorted(set(results) - set(expected))
    assert missing == [], "Routes with no line in tests/access_matrix.txt: decide who may call them"
    assert sorted(set(expected) - set(results)) == [], "Lines for routes that are gone"
    wrong = {
        route: {"expected": dict(zip(ROLES, expected[route], strict=True)), "got": dict(zip(ROLES, s, strict=True))}
        for route, s in results.items()
        if s != expected[route]
    }
    assert wrong == {}
