"""Real process faults in delivery, against two third-party LRSs: Learning Locker's statement service and Ralph.

Everything goes through the process boundary: the worker is ``capcourse
delivery run`` in a process of its own, the LRS is another process, and a
small TCP relay between them (this module's :class:`FaultRelay`) lets a test
pick the moment of a crash:

- the LRS is killed (SIGKILL) while a batch request is half sent to it, and
  started again;
- the worker is killed (SIGKILL) after the LRS stored its batch and answered,
  before the worker read the answer, so it never committed; a new worker starts.

Then every statement must be in the LRS exactly once, by id, and the outbox
(as ``capcourse delivery status`` reports it) all delivered. The 409 path is
tested against the same LRSs: a statement whose id the LRS holds with other
content becomes a dead letter, and the rest of its batch is delivered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy.orm import Session

import xapi
from capcourse.delivery.services import status as delivery_status
from capcourse.extensions import db
from capcourse.records.services import store_statements
from tests.conftest import ScratchDatabase, drop_database, make_app, make_database, migrate_and_sync
from tests.learning_locker import learning_locker
from tests.lrs import PASSWORD, USER, ralph  # Ralph's account; Learning Locker takes any
from xapi.client import LrsClient, LrsEndpoint

pytestmark = [pytest.mark.db, pytest.mark.lrs]

CAPCOURSE = Path(sys.executable).parent / "capcourse"
DESTINATION = "default"  # the destination CAPCOURSE_LRS_ENDPOINT configures


class Lrs(Protocol):
    port: int

    @property
    def endpoint(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def statement_ids(self) -> list[str]: ...


LRSS: dict[str, Callable[[Path], AbstractContextManager[Any]]] = {
    "learning-locker": learning_locker,
    "ralph": ralph,
}


# --- A relay that crashes things at chosen moments ---------------------------------


class FaultRelay:
    """A loopback TCP relay from the worker to the LRS that can stop one POST halfway.

    ``cut``: forward half of the first chunk of the next POST, then nothing more
    (the LRS is mid-request). ``hold``: forward the next POST whole but keep the
    LRS's answer from the worker (the LRS stored it; the worker never hears so).
    ``tripped`` is set when either happens. ``pass``: a plain relay.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.tripped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, mode: str) -> None:
        self.tripped.clear()
        self.mode = mode

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            state = {"post": False}
            threading.Thread(target=self._forward, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._backward, args=(upstream, client, state), daemon=True).start()

    def _forward(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        try:
            while chunk := client.recv(65536):
                if b"POST " in chunk:
                    state["post"] = True
                    if self.mode == "cut" and not self.tripped.is_set():
                        upstream.sendall(chunk[: len(chunk) // 2])
                        self.mode = "pass"
                        self.tripped.set()
                        return  # the rest never reaches the LRS, which waits for it, connection open
                upstream.sendall(chunk)
        except OSError:
            pass
        _shut(upstream)

    def _backward(self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        try:
            while chunk := upstream.recv(65536):
                if self.mode == "hold" and state["post"] and not self.tripped.is_set():
                    self.mode = "pass"
                    self.tripped.set()
                    return  # the answer never reaches the worker, which waits for it, connection open
                state["post"] = False
                client.sendall(chunk)
        except OSError:
            pass
        _shut(client)

    def drop_connections(self) -> None:
        with self._lock:
            for sock in self._sockets:
                _shut(sock)
            self._sockets = []

    def close(self) -> None:
        self._listener.close()
        self.drop_connections()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- capcourse, in processes of its own ----------------------------------------------


class Capcourse:
    """A migrated capcourse database, and its worker and CLI as processes."""

    def __init__(self, database: ScratchDatabase, folder: Path, lrs_url: str) -> None:
        self.database = database
        self.folder = folder
        self.app = make_app(database)
        migrate_and_sync(self.app)
        self.environment = {
            **os.environ,
            "CAPCOURSE_DATABASE_URL": database.url,
            "CAPCOURSE_SECRET_KEY": "fault-test",
            "CAPCOURSE_PACKAGE_DIR": str(folder / "packages"),
            "CAPCOURSE_LRS_ENDPOINT": lrs_url,
            "CAPCOURSE_LRS_USERNAME": USER,
            "CAPCOURSE_LRS_PASSWORD": PASSWORD,
            # A killed worker's batch is due again after its lease: seconds here, not minutes.
            "CAPCOURSE_DELIVERY_LEASE_SECONDS": "3",
        }
        if database.schema:
            self.environment["PGOPTIONS"] = f"-csearch_path={database.schema}"
        self.worker: subprocess.Popen[bytes] | None = None

    def queue(self, count: int) -> list[str]:
        """Emit ``count`` statements for the LRS, committed (as recording completions does)."""
        statements = [statement(n) for n in range(count)]
        with self.app.app_context(), Session(db.engine) as session:
            store_statements(session, statements, "emitted", [DESTINATION])
            session.commit()
        return [s["id"] for s in statements]

    def start_worker(self) -> None:
        log = (self.folder / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [str(CAPCOURSE), "delivery", "run", "--interval", "0.3"],
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill_worker(self) -> None:
        """SIGKILL, to the worker's whole process group: no batch finished, nothing committed."""
        assert self.worker is not None and self.worker.poll() is None, self.log()
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)
        self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=10)
            self.worker = None

    def status_text(self) -> str:
        """What ``capcourse delivery status`` prints."""
        done = subprocess.run(
            [str(CAPCOURSE), "delivery", "status"], env=self.environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def status(self) -> dict[str, int]:
        """``capcourse delivery status``, read: the destination's pending, delivered and dead counts."""
        found = re.search(rf"^{DESTINATION}: (\d+) pending, (\d+) delivered, (\d+) dead", self.status_text(), re.M)
        counts = map(int, found.groups()) if found else (0, 0, 0)
        return dict(zip(("pending", "delivered", "dead"), counts, strict=True))

    def counts(self) -> dict[str, int]:
        """The destination's pending, delivered and dead counts, read here (what ``status`` prints)."""
        with self.app.app_context(), Session(db.engine) as session:
            rows = [row for row in delivery_status(session) if row["destination"] == DESTINATION]
        return {state: rows[0][state] if rows else 0 for state in ("pending", "delivered", "dead")}

    def wait_for(self, delivered: int, dead: int = 0, timeout: float = 120) -> None:
        """Until all of it is settled so (and ``capcourse delivery status`` says it); fails with the
        worker's log after ``timeout`` s. Polled in this process: a CLI process a second, each
        importing the application, cost more than the delivery being waited for."""
        deadline = time.monotonic() + timeout
        expected = {"pending": 0, "delivered": delivered, "dead": dead}
        while (now := self.counts()) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"still {now} after {timeout} s; worker log:\n{self.log()}")
            time.sleep(0.2)
        assert self.status() == expected

    def pause_worker(self, paused: bool) -> None:
        """SIGSTOP or SIGCONT the worker: it sends nothing while an LRS restarts."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def log(self) -> str:
        path = self.folder / "worker.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def statement(n: int) -> dict[str, Any]:
    return xapi.statement(
        xapi.agent_from_email(f"learner{n}@example.org"),
        xapi.COMPLETED,
        xapi.activity(f"https://capcourse.test/activities/{uuid.uuid4()}", f"Activity {n}"),
        xapi.statement_id("fault-test", str(uuid.uuid4())),
        datetime(2026, 11, 24, 12, 0, n % 60, tzinfo=UTC),
        xapi.result(completion=True, success=True),
    )


@pytest.fixture(params=sorted(LRSS))
def lrs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lrs]:
    with LRSS[request.param](tmp_path / request.param) as server:
        yield server


@pytest.fixture
def relay(lrs: Lrs) -> Iterator[FaultRelay]:
    relay = FaultRelay(lrs.port)
    yield relay
    relay.close()


@contextmanager
def capcourse_on(tmp_path: Path, lrs_url: str) -> Iterator[Capcourse]:
    database = make_database(tmp_path, "faults")
    instance = Capcourse(database, tmp_path, lrs_url)
    try:
        yield instance
    finally:
        instance.stop_worker()
        with instance.app.app_context():
            db.engine.dispose()
        drop_database(database)


def test_lrs_and_worker_killed_mid_batch_every_statement_arrives_once(
    lrs: Lrs, relay: FaultRelay, tmp_path: Path
) -> None:
    with capcourse_on(tmp_path, f"http://127.0.0.1:{relay.port}/xAPI") as capcourse:
        first = capcourse.queue(30)

        # 1. The LRS dies while the worker's batch request is half sent to it.
        relay.arm("cut")
        capcourse.start_worker()
        assert relay.tripped.wait(90), capcourse.log()
        capcourse.pause_worker(True)  # so it sends nothing while the LRS is down and restarting
        lrs.stop()
        lrs.start()
        assert lrs.statement_ids() == [], "the LRS stored part of a request it never finished reading"

        # 2. The worker dies after the LRS stored its batch, before it heard so: nothing committed.
        relay.arm("hold")
        capcourse.pause_worker(False)
        assert relay.tripped.wait(90), capcourse.log()
        capcourse.kill_worker()
        relay.drop_connections()
        stored = lrs.statement_ids()
        # Failed entries come due again with jitter, one by one: the batch was some of them.
        assert stored and set(stored) <= set(first)
        assert capcourse.status()["delivered"] == 0, "the killed worker committed"

        # 3. More to send, and a new worker: the batch it sends holds ids the LRS has.
        second = capcourse.queue(20)
        capcourse.start_worker()
        capcourse.wait_for(delivered=50)
        capcourse.stop_worker()

    held = Counter(lrs.statement_ids())
    assert set(held) == set(first + second)
    assert [i for i, n in held.items() if n != 1] == [], "stored more than once"


def test_a_conflicting_id_becomes_a_dead_letter_and_the_rest_arrives(lrs: Lrs, tmp_path: Path) -> None:
    with capcourse_on(tmp_path, lrs.endpoint) as capcourse:
        # Nothing here is killed, so no lease needs to run out: with the fault tests' 3 s, a loaded machine
        # resending the refused batch one by one outlived it, and the same run claimed the batch again.
        capcourse.environment["CAPCOURSE_DELIVERY_LEASE_SECONDS"] = "120"
        ids = capcourse.queue(5)
        # The LRS already holds another statement under the id of one of ours.
        theirs = statement(99) | {"id": ids[2]}
        posted = httpx.post(
            f"{lrs.endpoint}/statements",
            json=[theirs],
            auth=(USER, PASSWORD),
            headers={"X-Experience-API-Version": "1.0.3"},
            timeout=10,
        )
        assert posted.status_code == 200, posted.text

        done = subprocess.run(
            [str(CAPCOURSE), "delivery", "run", "--once"],
            env=capcourse.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "delivered 4, to retry 0, dead 1" in done.stdout, done.stdout
        capcourse.wait_for(delivered=4, dead=1, timeout=10)
        assert "409" in capcourse.status_text()

    assert Counter(lrs.statement_ids()) == Counter(ids)
    with LrsClient(LrsEndpoint(lrs.endpoint, USER, PASSWORD)) as client:
        kept = client.get_statement(ids[2])
    assert kept is not None
    assert kept["object"]["id"] == theirs["object"]["id"], "the LRS's own statement is left as it was"
