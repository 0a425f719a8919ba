"""The deployment of docs/deployment.md in miniature: two web processes and two delivery workers on one PostgreSQL.

Completions are posted through both web processes at once while two delivery
workers drain the outbox into a recording LRS on loopback; every statement
capcourse emitted must reach the LRS exactly once (the LRS counts every copy it
is sent, and never answers 409, so a duplicate send cannot hide).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from tests.conftest import TEST_DATABASE_URL, drop_database, free_port, make_database

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgresql"),
        reason="several processes writing at once need PostgreSQL (set CAPCOURSE_TEST_DATABASE_URL)",
    ),
]

BASE_URL = "http://capcourse.test"
CAPCOURSE = str(Path(sys.executable).parent / "capcourse")


class RecordingLrs(ThreadingHTTPServer):
    """An xAPI statements endpoint that stores nothing but the id of every statement it is sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[str] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/xapi"


class _Handler(BaseHTTPRequestHandler):
    server: RecordingLrs

    def _answer(self, status: int, body: Any = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("X-Experience-API-Version", "1.0.3")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")

    def do_POST(self) -> None:
        body = self._body()
        statements = body if isinstance(body, list) else [body]
        ids = [str(s["id"]) for s in statements]
        with self.server.lock:
            self.server.received.extend(ids)
        self._answer(200, ids)

    def do_PUT(self) -> None:
        self._body()
        statement_id = parse_qs(urlparse(self.path).query)["statementId"][0]
        with self.server.lock:
            self.server.received.append(statement_id)
        self._answer(204)

    def do_GET(self) -> None:
        self._answer(404, {"message": "not kept"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def processes(commands: list[list[str]], environment: dict[str, str], folder: Path) -> Iterator[None]:
    started = []
    try:
        for n, command in enumerate(commands):
            log = open(folder / f"process-{n}.log", "wb")  # noqa: SIM115  (closed below)
            started.append((subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT), log))
        yield
    finally:
        for process, _ in started:
            process.terminate()
        for process, log in started:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def wait_until_up(port: int, folder: Path) -> None:
    deadline = time.monotonic() + 300  # a loaded CI machine starts slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(folder.glob("process-*.log")))
    raise AssertionError(f"nothing ready on port {port}:\n{logs}")


def test_two_web_processes_and_two_delivery_workers_deliver_every_statement_once(tmp_path: Path) -> None:
    database = make_database(tmp_path, "deploy")
    lrs = RecordingLrs()
    threading.Thread(target=lrs.serve_forever, daemon=True).start()
    environment = {
        **os.environ,
        "CAPCOURSE_DATABASE_URL": database.url,
        "PGOPTIONS": f"-csearch_path={database.schema}",
        "CAPCOURSE_SECRET_KEY": "deployment-test",
        "CAPCOURSE_BASE_URL": BASE_URL,
        "CAPCOURSE_PACKAGE_DIR": str(tmp_path / "packages"),
        "CAPCOURSE_LRS_ENDPOINT": lrs.endpoint,
        "CAPCOURSE_LRS_USERNAME": "capcourse",
        "CAPCOURSE_LRS_PASSWORD": "test",
        "CAPCOURSE_LOG_LEVEL": "WARNING",
    }
    engine = sa.create_engine(database.url, poolclass=NullPool, **database.engine_options)
    try:
        for step in (["db", "upgrade"], ["frameworks", "sync"], ["demo", "load", "--learners", "8"]):
            subprocess.run([CAPCOURSE, *step], env=environment, check=True, capture_output=True, timeout=600)
        with Session(engine) as session:
            _, key = create_api_key(session, "deployment test", Role.INTEGRATION)
            session.commit()
            activities = [str(a) for a in session.scalars(sa.text("SELECT id FROM activities ORDER BY id"))][:10]
        assert activities
        ports = [free_port(), free_port()]
        web = [
            [CAPCOURSE, "serve", "--no-delivery", "--port", str(port), "--workers", "1", "--threads", "4"]
            for port in ports
        ]
        delivery = [[CAPCOURSE, "delivery", "run", "--interval", "0.3"]] * 2
        told: list[str] = []
        errors: list[str] = []
        with processes(web + delivery, environment, tmp_path):
            for port in ports:
                wait_until_up(port, tmp_path)

            def client(n: int) -> None:
                with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
                    for batch in range(10):
                        port = ports[(n + batch) % 2]
                        body = {
                            "completions": [
                                {
                                    "learner": {"email": f"client{n}-learner{i}@example.org"},
                                    "activity": f"{BASE_URL}/activities/{activities[(batch + i) % len(activities)]}",
                                    "outcome": "passed",
                                    "success": True,
                                    "timestamp": datetime(2026, 11, 30, 9, batch, i, tzinfo=UTC).isoformat(),
                                    "idempotency_key": str(uuid.uuid4()),
                                }
                                for i in range(5)
                            ]
                        }
                        response = http.post(f"http://127.0.0.1:{port}/api/v1/completions", json=body)
                        if response.status_code >= 300:
                            errors.append(f"{response.status_code} {response.text[:300]}")
                            continue
                        for result in response.json()["results"]:
                            told.extend(result["statement_ids"])

            clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            assert not errors
            with engine.connect() as connection:
                emitted = {
                    str(i) for i in connection.scalars(sa.text("SELECT id FROM statements WHERE origin = 'emitted'"))
                }
            assert set(told) <= emitted
            assert len(told) >= 200
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not set(lrs.received) >= emitted:
                time.sleep(0.5)
            # A last moment for any duplicate still in flight to arrive.
            time.sleep(2)
        counts = Counter(lrs.received)
        assert set(counts) == emitted, f"missing {len(emitted - set(counts))}, unexpected {len(set(counts) - emitted)}"
        duplicates = {i: c for i, c in counts.items() if c > 1}
        assert not duplicates
        with engine.connect() as connection:
            states = dict(connection.execute(sa.text("SELECT state, count(*) FROM outbox GROUP BY state")).all())
        assert states == {"delivered": len(emitted)}
    finally:
        lrs.shutdown()
        lrs.server_close()
        engine.dispose()
        drop_database(database)
