"""Real LMS traffic on ``capcourse serve``: concurrent clients, a slow upload and a slow URL import, no 5xx, nothing lost or doubled.

capcourse is served as ``make run`` serves it (Granian, several worker processes
with threads) on a database of its own: a SQLite file, or a PostgreSQL schema
when the ``db`` tests run there. Eight client threads post xAPI statements and
JSON completions at once, all of them first post for one brand-new learner at
the same moment, an upload trickles in meanwhile, and a CASE package is imported
from a publisher that trickles it out over seconds. Every answer must be
below 500, and what the clients were told was stored must be in the database
exactly once. Bounded: a fixed number of requests, on loopback only.

And, in-process, two requests of one learner held so that each misses the other's uncommitted
success: the item the two successes finish is attained all the same.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import trustme
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.catalogue.models import ExternalId
from capcourse.extensions import db
from capcourse.frameworks.models import Framework, Item
from capcourse.identifiers import item_id
from capcourse.mapping.models import Depth, Mapping, MappingProvenance
from capcourse.mapping.services import map_items
from capcourse.records.models import Attainment, Completion, Learner, StoredStatement
from tests import factories
from tests.case.standards import third_party_package
from tests.conftest import TEST_DATABASE_URL, drop_database, free_port, make_app, make_database, migrate_and_sync
from tests.scorm.archives import minimal_manifest, package_around

pytestmark = pytest.mark.db

ACTIVITY = "https://lms.example.org/xapi/activities/concurrency"
CLIENTS = 8
ROUNDS = 12
XAPI = {"X-Experience-API-Version": "1.0.3"}


#: A certificate authority of the test's own: the slow publisher's certificate, trusted by the served app.
AUTHORITY = trustme.CA()


class Served:
    """``capcourse serve`` on a prepared database, with the keys and ids the clients need."""

    def __init__(self, url: str, app: Any, lms_key: str, admin_key: str, course_id: uuid.UUID) -> None:
        self.url, self.app, self.lms_key, self.admin_key, self.course_id = url, app, lms_key, admin_key, course_id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    authority = tmp_path / "authority.pem"
    AUTHORITY.cert_pem.write_to_path(str(authority))
    database = make_database(tmp_path, "concurrency")
    app = make_app(database, TESTING=False)
    migrate_and_sync(app)
    with app.app_context(), Session(db.engine) as session:
        programme = factories.programme(session)
        course = factories.course(session, programme)
        activity = factories.activity(session, factories.module(session, course))
        session.add(ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms", value=ACTIVITY))
        item = session.scalars(sa.select(Item).order_by(Item.id).limit(1)).one()
        session.add(
            Mapping(
                programme_id=programme.id,
                activity_id=activity.id,
                item_id=item.id,
                depth=Depth.ASSESSED,
                provenance=MappingProvenance.AUTHORED,
                created_by="test",
                updated_by="test",
            )
        )
        _, lms_key = create_api_key(session, "lms", Role.INTEGRATION)
        _, admin_key = create_api_key(session, "admin", Role.ADMIN)
        course_id = course.id
        session.commit()
    environment = {
        **os.environ,
        "CAPCOURSE_DATABASE_URL": database.url,
        "CAPCOURSE_SECRET_KEY": "concurrency-test",
        "CAPCOURSE_PACKAGE_DIR": str(tmp_path / "packages"),
        # The slow CASE publisher is on loopback, which outbound requests may not reach otherwise,
        # and serves https with a certificate of the test's own authority.
        "CAPCOURSE_OUTBOUND_ALLOW": "127.0.0.1",
        "SSL_CERT_FILE": str(authority),
    }
    if database.schema:
        environment["PGOPTIONS"] = f"-csearch_path={database.schema}"
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "capcourse"),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # the web workers import the app on a busy machine
        while True:
            try:
                httpx.get(f"{url}/xapi/about", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "capcourse serve did not start"
                time.sleep(0.2)
        yield Served(url, app, lms_key, admin_key, course_id)
    finally:
        server.terminate()
        # Granian waits up to 30 s for the requests its workers hold, then stops the delivery and
        # score processes too: on a busy machine that passes 40 s.
        server.wait(timeout=90)
        with app.app_context():
            db.engine.dispose()
        drop_database(database)


def _statement(email: str) -> dict[str, Any]:
    return xapi.statement(
        xapi.agent_from_email(email),
        xapi.PASSED,
        xapi.activity(ACTIVITY, "Quiz"),
        str(uuid.uuid4()),
        datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        xapi.result(success=True, completion=True),
    )


def _completion(email: str) -> dict[str, Any]:
    return {
        "learner": {"email": email},
        "activity": ACTIVITY,
        "outcome": "passed",
        "timestamp": "2026-11-30T09:00:00+00:00",
        "idempotency_key": str(uuid.uuid4()),
    }


def _slow_body(data: bytes, pieces: int, pause: float) -> Iterator[bytes]:
    size = len(data) // pieces + 1
    for start in range(0, len(data), size):
        time.sleep(pause)
        yield data[start : start + size]


class SlowPublisher:
    """A CASE publisher on loopback (https) that sends its package in pieces over about four seconds."""

    def __init__(self, body: bytes) -> None:
        payload = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                for piece in _slow_body(payload, 20, 0.2):
                    self.wfile.write(piece)
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        AUTHORITY.issue_cert("127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/CFPackages/slow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlowPublisher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_concurrent_clients_and_a_slow_upload_get_no_5xx_and_lose_nothing(served: Served) -> None:
    statuses: Counter[int] = Counter()
    stored_ids: list[str] = []
    recorded_keys: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    newcomer = f"newcomer-{uuid.uuid4().hex[:8]}@example.org"

    def note(response: httpx.Response) -> bool:
        with lock:
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{response.request.method} {response.request.url.path}: {response.text[:300]}")
        return response.status_code < 300

    def client(n: int) -> None:
        with httpx.Client(base_url=served.url, timeout=120) as http:
            start.wait()
            # All clients at once: the first record of one new learner.
            first = _completion(newcomer)
            if note(http.post("/api/v1/completions", json={"completions": [first]}, headers=_bearer(served.lms_key))):
                with lock:
                    recorded_keys.append(first["idempotency_key"])
            for round_ in range(ROUNDS):
                emails = [f"learner{(n * ROUNDS + round_ + k) % 25}@example.org" for k in range(3)]
                batch = [_statement(e) for e in emails]
                response = http.post("/xapi/statements", json=batch, headers=XAPI, auth=("lms", served.lms_key))
                if note(response):
                    with lock:
                        stored_ids.extend(s["id"] for s in batch)
                entries = [_completion(e) for e in emails]
                response = http.post(
                    "/api/v1/completions", json={"completions": entries}, headers=_bearer(served.lms_key)
                )
                if note(response):
                    with lock:
                        recorded_keys.extend(e["idempotency_key"] for e in entries)

    def slow_upload() -> None:
        boundary = "capcourse-concurrency"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="package.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        body += package_around(minimal_manifest()) + f"\r\n--{boundary}--\r\n".encode()
        with httpx.Client(base_url=served.url, timeout=120) as http:
            start.wait()
            # About four seconds in twenty pieces, while the clients write.
            response = http.post(
                f"/api/v1/courses/{served.course_id}/packages",
                content=_slow_body(body, 20, 0.2),
                headers={
                    **_bearer(served.admin_key),
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(body)),
                },
            )
            note(response)

    package = third_party_package("Slowly published framework")

    def slow_import(publisher: SlowPublisher) -> None:
        with httpx.Client(base_url=served.url, timeout=120) as http:
            start.wait()
            response = http.post(
                "/api/v1/case/imports", params={"url": publisher.url}, headers=_bearer(served.admin_key)
            )
            note(response)
            imported.append(response.status_code)
            details.append(response.text[:500])

    imported: list[int] = []
    details: list[str] = []
    with SlowPublisher(json.dumps(package).encode()) as publisher:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        others = [threading.Thread(target=slow_upload), threading.Thread(target=slow_import, args=(publisher,))]
        start = threading.Barrier(CLIENTS + len(others))
        for thread in [*threads, *others]:
            thread.start()
        for thread in [*threads, *others]:
            thread.join(timeout=300)
    assert not failures, failures
    assert sum(statuses.values()) == CLIENTS * (1 + 2 * ROUNDS) + 2
    assert imported and imported[0] in (200, 201), details
    assert set(statuses) <= {200, 201}, statuses  # no refusal either: every request was fine

    with served.app.app_context(), Session(db.engine) as session:
        wanted = [uuid.UUID(i) for i in stored_ids]
        held = Counter(session.scalars(sa.select(StoredStatement.id).where(StoredStatement.id.in_(wanted))).all())
        assert len(held) == len(wanted) and set(held.values()) == {1}
        keys = [f"api:{k}" for k in recorded_keys]
        recorded = Counter(
            session.scalars(sa.select(Completion.idempotency_key).where(Completion.idempotency_key.in_(keys))).all()
        )
        assert len(recorded) == len(keys) and set(recorded.values()) == {1}
        # The statements' outcomes became completions too, once each.
        xapi_keys = [f"xapi:{i}" for i in stored_ids]
        assert session.scalar(
            sa.select(sa.func.count()).select_from(Completion).where(Completion.idempotency_key.in_(xapi_keys))
        ) == len(xapi_keys)
        # Eight first records of one new learner: one learner, eight completions.
        key = xapi.agent_key(xapi.agent_from_email(newcomer))
        newcomers = session.scalars(sa.select(Learner.id).where(Learner.agent_key == key)).all()
        assert len(newcomers) == 1
        # The slowly published package was imported, after its last byte arrived.
        assert session.scalar(sa.select(Framework.id).where(Framework.title == "Slowly published framework"))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_two_requests_finishing_the_two_activities_an_item_takes_at_once_attain_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learner finishes, in two requests at once, each of the two activities an item is assessed by.

    Both requests have inserted their completion and read what attaining the item takes before
    either commits (on PostgreSQL that read goes with the insert), so each misses the other's
    success; the item is attained all the same, once.
    """
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("On SQLite one request writes at a time: the second starts once the first has committed")
    from capcourse.records import services

    database = make_database(tmp_path, "attaining")
    app = make_app(database)
    try:
        migrate_and_sync(app)
        with app.app_context(), Session(db.engine) as session:
            programme = factories.programme(session)
            module = factories.module(session, factories.course(session, programme))
            activities = [factories.activity(session, module, title) for title in ("Observation", "Reflection")]
            admin = principal_for_user(factories.user(session, Role.ADMIN))
            for activity in activities:
                map_items(session, admin, activity, [item_id("frontline-lcf-pathway-1", "MC.2.a")], Depth.ASSESSED)
            lms = factories.bearer(factories.api_key(session, Role.INTEGRATION)[1])
            iris = [f"http://capcourse.test/activities/{activity.id}" for activity in activities]
            session.commit()

        def completion(iri: str, outcome: str) -> dict[str, Any]:
            return {
                "learner": {"email": "ada@example.org"},
                "activity": iri,
                "outcome": outcome,
                "timestamp": "2026-11-24T10:00:00+00:00",
                "idempotency_key": str(uuid.uuid4()),
            }

        # The learner known first: two requests creating her at once wait on each other's insert.
        known = app.test_client().post(
            "/api/v1/completions", json={"completions": [completion(iris[0], "completed")]}, headers=lms
        )
        assert known.status_code == 200, known.json
        together = threading.Barrier(2, timeout=30)
        attainments = services._attainments

        def after_both_inserts(*args: Any, **kwargs: Any) -> Any:
            together.wait()
            return attainments(*args, **kwargs)

        monkeypatch.setattr(services, "_attainments", after_both_inserts)
        answers: list[int] = []

        def post(iri: str) -> None:
            body = {"completions": [completion(iri, "passed")]}
            answers.append(app.test_client().post("/api/v1/completions", json=body, headers=lms).status_code)

        threads = [threading.Thread(target=post, args=(iri,)) for iri in iris]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert answers == [200, 200]
        with app.app_context(), Session(db.engine) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Attainment)) == 1
            achieved = session.scalars(sa.select(StoredStatement.id).where(StoredStatement.verb_id == xapi.ACHIEVED.id))
            assert len(achieved.all()) == 1
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_database(database)
