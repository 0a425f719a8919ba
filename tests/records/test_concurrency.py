"""Real LMS traffic on ``capcourse serve``: concurrent clients and a slow upload, no 5xx, nothing lost or doubled.

capcourse is served as ``make run`` serves it (gunicorn, several worker processes
with threads) on a database of its own: a SQLite file, or a PostgreSQL schema
when the ``db`` tests run there. Eight client threads post xAPI statements and
JSON completions at once, all of them first post for one brand-new learner at
the same moment, and an upload trickles in meanwhile. Every answer must be
below 500, and what the clients were told was stored must be in the database
exactly once. Bounded: a fixed number of requests, on loopback only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.catalogue.models import ExternalId
from capcourse.extensions import db
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Depth, Mapping, MappingProvenance
from capcourse.records.models import Completion, Learner, StoredStatement
from tests import factories
from tests.conftest import drop_database, free_port, make_app, make_database, migrate_and_sync
from tests.scorm.archives import minimal_manifest, package_around

pytestmark = pytest.mark.db

ACTIVITY = "https://lms.example.org/xapi/activities/concurrency"
CLIENTS = 8
ROUNDS = 12
XAPI = {"X-Experience-API-Version": "1.0.3"}


class Served:
    """``capcourse serve`` on a prepared database, with the keys and ids the clients need."""

    def __init__(self, url: str, app: Any, lms_key: str, admin_key: str, course_id: uuid.UUID) -> None:
        self.url, self.app, self.lms_key, self.admin_key, self.course_id = url, app, lms_key, admin_key, course_id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
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
        deadline = time.monotonic() + 120  # gunicorn's workers import the app on a busy machine
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
        server.wait(timeout=40)
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


def test_concurrent_clients_and_a_slow_upload_get_no_5xx_and_lose_nothing(served: Served) -> None:
    statuses: Counter[int] = Counter()
    stored_ids: list[str] = []
    recorded_keys: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)
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

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    uploader = threading.Thread(target=slow_upload)
    for thread in [*threads, uploader]:
        thread.start()
    for thread in [*threads, uploader]:
        thread.join(timeout=300)
    assert not failures, failures
    assert sum(statuses.values()) == CLIENTS * (1 + 2 * ROUNDS) + 1
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


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
