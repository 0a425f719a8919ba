#!/usr/bin/env python3
"""Ingest benchmark: capcourse's statement and completion intake beside Learning Locker's.

What it measures, in one run on this machine, all on 127.0.0.1:

- the reference: Learning Locker's statement service (``xapi-statements`` from npm,
  in memory, no MongoDB or Redis; ``make learning-locker`` installs it) taking
  ``POST /xAPI/statements``;
- capcourse served as ``make run`` serves it (``capcourse serve``: Granian, its
  default workers and threads) on a fresh SQLite database, and on PostgreSQL when
  ``CAPCOURSE_BENCH_DATABASE_URL`` (or ``CAPCOURSE_TEST_DATABASE_URL``) names one,
  taking ``POST /xapi/statements`` and ``POST /api/v1/completions``.

Every statement is a ``passed`` for an activity capcourse knows by its LMS id and
maps (at depth ``assessed``) to a framework item, so the whole path runs: the
stored statement, the completion, its emitted statement, evidence, the
``achieved`` attainment (once per learner) and the outbox rows. Each point posts
fresh statements in batches of 1 and of 100, from 1 and from 4 concurrent
clients (each on one keep-alive connection, which posts one batch before the
clock starts: the steady state is timed, on both servers alike), and prints statements per second
and the ratio to the reference at the same batch size and concurrency. The reference is
measured at each point just before and just after capcourse's servers, each time on a fresh
Learning Locker (in memory it slows down as it fills, its best case is empty), and its rate is
the mean; capcourse's servers keep every earlier point's statements. The completions API has
no counterpart in an LRS, so it is set beside the reference's statement rate. Last, it times
the outbox draining into a fresh Learning Locker (every emitted statement, in batches of 100)
against the reference's own ingest rate at batch 100, and against a fresh one's rate taking
those same emitted statements (richer than the bench's: context, groupings, mappings) under
new ids.
It also prints the largest size SQLite's WAL file reached during the ingest (the
background checkpoints bound it: see the README), each server's floor: the
rate of requests that store nothing (GET of its About resource, one client), which
every request pays before its own work, and how capcourse's web workers shared the
connections of 4 clients. The kernel gives each connection to whichever worker
accepts it first, and it stays there; a worker runs its Python on one core at a time.
On a 2-core machine, statements from an LMS at batch 1 and 4 clients went through at
334/s on average when the connections landed 2+2 (6 sets of connections), 300/s at 3+1
(5) and 279/s at 4+0 (1), on one SQLite server, one set after the other: a 4-client
point moves by that much from run to run, where Learning Locker (one process) does not.

Usage: make bench, or .venv/bin/python bench/ingest.py [--statements 5000]

5,000 statements per point (1,000 at batch 1): with 2,000 (400 at batch 1) a point
took about a second and moved by ±15% between runs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, and bench/scorm.py would
# stand in for the scorm package: import capcourse's packages as installed instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import xapi  # noqa: E402
from capcourse import create_app  # noqa: E402
from capcourse.accounts.models import Role  # noqa: E402
from capcourse.accounts.services import create_api_key  # noqa: E402
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme  # noqa: E402
from capcourse.delivery.services import Policy, drain  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Item  # noqa: E402
from capcourse.mapping.models import Depth, Mapping, MappingProvenance  # noqa: E402
from xapi.client import LrsEndpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEARNING_LOCKER = ROOT / ".learning-locker" / "node_modules" / "xapi-statements" / "dist" / "server.js"
ACTIVITY = "https://lms.example.org/xapi/activities/bench"
#: The LRS capcourse's served apps are configured with: never called (they queue, and the bench drains).
NOWHERE = "http://127.0.0.1:9/xAPI"
HEADERS = {"X-Experience-API-Version": "1.0.3"}
BATCHES = (1, 100)
CLIENTS = (1, 4)
LEARNERS = 500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, headers=HEADERS, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def learning_locker() -> Iterator[str]:
    """Learning Locker's statement service in memory on a free loopback port; yields its xAPI endpoint."""
    if not LEARNING_LOCKER.exists():
        raise SystemExit(f"{LEARNING_LOCKER} is missing: run `make learning-locker` (npm) first.")
    port = free_port()
    storage = tempfile.mkdtemp(prefix="capcourse-bench-ll-")
    environment = {
        **os.environ,
        "MODELS_REPO": "memory",
        "AUTH_REPO": "test",
        "EVENTS_REPO": "test",
        "STORAGE_REPO": "local",
        "FS_LOCAL_STORAGE_DIR": storage,
        "EXPRESS_PORT": str(port),
        "WINSTON_CONSOLE_LEVEL": "error",
    }
    process = subprocess.Popen(
        ["node", "-r", str(ROOT / "scripts" / "loopback.js"), str(LEARNING_LOCKER)],
        env=environment,
        # It writes access logs under ./storage: in its own folder, never the checkout.
        cwd=storage,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}/xAPI"
        wait_for(f"{endpoint}/about", process)
        yield endpoint
    finally:
        stop(process)
        shutil.rmtree(storage, ignore_errors=True)


def statements(count: int) -> list[dict[str, Any]]:
    when = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    return [
        xapi.statement(
            xapi.agent_from_email(f"learner{n % LEARNERS}@example.org"),
            xapi.PASSED,
            xapi.activity(ACTIVITY, "Benchmark quiz"),
            str(uuid.uuid4()),
            when,
            xapi.result(success=True, completion=True, scaled=0.75),
        )
        for n in range(count)
    ]


def completions(count: int) -> list[dict[str, Any]]:
    return [
        {
            "learner": {"email": f"learner{n % LEARNERS}@example.org"},
            "activity": ACTIVITY,
            "outcome": "passed",
            "timestamp": "2026-11-24T12:00:00+00:00",
            "score_scaled": 0.75,
            "idempotency_key": str(uuid.uuid4()),
        }
        for n in range(count)
    ]


@dataclass(frozen=True)
class Target:
    """Where to post, and how a batch of items becomes a request body."""

    url: str
    auth: httpx.Auth | tuple[str, str]
    body: Callable[[list[dict[str, Any]]], Any]
    items: Callable[[int], list[dict[str, Any]]]


def post_all(
    target: Target, count: int, batch: int, clients: int, connected: Callable[[], None] | None = None
) -> float:
    """Statements per second posting ``count`` fresh items in batches from ``clients`` threads.

    :param connected: called once every client has its connection (and has posted its warm-up
        batch), before the clock starts.
    """
    items = target.items(count)
    shares = [items[n::clients] for n in range(clients)]
    # One batch per client before the clock starts, on its connection, so what is timed is the steady state:
    # a server's first requests pay once for what it compiles and caches (both servers alike).
    warm_ups = target.items(batch * clients)
    errors: list[str] = []
    warmed = threading.Barrier(clients + 1)
    barrier = threading.Barrier(clients + 1)

    def client(share: list[dict[str, Any]], warm_up: list[dict[str, Any]]) -> None:
        with httpx.Client(auth=target.auth, headers=HEADERS, timeout=120) as http:
            response = http.post(target.url, json=target.body(warm_up))
            if response.status_code not in (200, 204):
                errors.append(f"{response.status_code}: {response.text[:300]}")
            warmed.wait()
            barrier.wait()
            for i in range(0, len(share), batch):
                response = http.post(target.url, json=target.body(share[i : i + batch]))
                if response.status_code not in (200, 204):
                    errors.append(f"{response.status_code}: {response.text[:300]}")
                    return

    threads = [
        threading.Thread(target=client, args=(share, warm_ups[n * batch : (n + 1) * batch]))
        for n, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    warmed.wait()
    if connected is not None:
        connected()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{target.url} answered {errors[0]}")
    return count / seconds


def floor_rate(server: Callable[[], Any], count: int = 1000) -> float:
    """Requests per second of ``GET`` on the URL ``server()`` yields, one after the other on one connection.

    The round trip of a request that stores nothing (a server's About resource):
    what any request pays before its own work, on that server's HTTP stack.
    """
    with server() as url, httpx.Client(headers=HEADERS, timeout=30) as http:
        for _ in range(50):  # as post_all does: the steady state is timed
            http.get(url)
        start = time.perf_counter()
        for _ in range(count):
            response = http.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        return count / (time.perf_counter() - start)


@contextmanager
def learning_locker_about() -> Iterator[str]:
    """A fresh Learning Locker's About resource."""
    with learning_locker() as url:
        yield f"{url}/about"


def reference_rate(
    count: int, batch: int, clients: int, items: Callable[[int], list[dict[str, Any]]] = statements
) -> float:
    """Learning Locker's rate at one point, taking ``count`` of ``items``, on a fresh (empty) instance."""
    with learning_locker() as url:
        return post_all(Target(f"{url}/statements", ("bench", "bench"), list, items), count, batch, clients)


def count_for(batch: int, total: int) -> int:
    return total if batch > 1 else max(total // 5, 100)


def prepare(app: Any) -> str:
    """Migrate, load the frameworks, add an activity known by its LMS id and mapped; return an integration key."""
    import flask_migrate

    from capcourse.frameworks.seed_data import load_seed_data
    from capcourse.frameworks.sync import sync_frameworks

    with app.app_context():
        flask_migrate.upgrade()
        with Session(db.engine) as session:
            sync_frameworks(session, load_seed_data())
            programme = Programme(title="Bench")
            course = Course(programme=programme, title="Bench")
            module = Module(course=course, title="Bench")
            activity = Activity(module=module, title="Benchmark quiz")
            session.add_all([programme, course, module, activity])
            session.flush()
            session.add(ExternalId(programme_id=programme.id, activity_id=activity.id, system="lms", value=ACTIVITY))
            item = session.scalars(sa.select(Item).order_by(Item.id).limit(1)).one()
            session.add(
                Mapping(
                    programme_id=programme.id,
                    activity_id=activity.id,
                    item_id=item.id,
                    depth=Depth.ASSESSED,
                    provenance=MappingProvenance.AUTHORED,
                    created_by="bench",
                    updated_by="bench",
                )
            )
            _, key = create_api_key(session, "bench", Role.INTEGRATION)
            session.commit()
        db.engine.dispose()
    return key


@contextmanager
def capcourse(kind: str, reference: str) -> Iterator[tuple[str, str, Any, Callable[[], list[int] | None]]]:
    """capcourse served by ``capcourse serve`` on a fresh database.

    Yields its base URL, a key, an app on its database, and a function telling how the
    connections to it are spread over its web workers (:func:`connections_per_worker`).
    """
    folder = Path(tempfile.mkdtemp(prefix="capcourse-bench-"))
    schema = None
    environment = {**os.environ, "CAPCOURSE_SECRET_KEY": "bench", "CAPCOURSE_PACKAGE_DIR": str(folder / "packages")}
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
        options: dict[str, Any] = {}
    else:
        url = bench_database_url()
        schema = f"capcourse_bench_{secrets.token_hex(4)}"
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        options = {"connect_args": {"options": f"-csearch_path={schema}"}}
        environment["PGOPTIONS"] = f"-csearch_path={schema}"
    environment["CAPCOURSE_DATABASE_URL"] = url
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "CAPCOURSE_PACKAGE_DIR": str(folder / "packages"),
            "CAPCOURSE_LRS_DESTINATIONS": {"default": {"endpoint": reference}},
        }
    )
    key = prepare(app)
    port = free_port()
    # Delivery is timed on its own below: the served app queues, and nothing drains meanwhile.
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "capcourse"), "serve", "--port", str(port), "--no-delivery"],
        env={**environment, "CAPCOURSE_LRS_ENDPOINT": reference},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/xapi/about", server)
        yield base, key, app, lambda: connections_per_worker(server.pid, port)
    finally:
        stop(server)
        with app.app_context():
            db.engine.dispose()
        if schema:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(folder, ignore_errors=True)


def connections_per_worker(server_pid: int, port: int) -> list[int] | None:
    """How many connections to ``port`` each web worker of the server ``server_pid`` holds, most first.

    The kernel gives a new connection to whichever worker accepts it first, and it stays
    there: 4 keep-alive clients land 2+2, 3+1 or 4+0 on 2 workers, and a worker runs its
    Python on one core at a time. Read from Linux's ``/proc`` (None where that cannot tell).
    """
    try:
        command = Path(f"/proc/{server_pid}/cmdline").read_bytes()
        children = {
            int(pid)
            for task in Path(f"/proc/{server_pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        }
        # The web workers run the server's own command line (a background worker would not).
        workers = [pid for pid in children if Path(f"/proc/{pid}/cmdline").read_bytes() == command]
        established = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # local address (hex ip:port), state 01 = ESTABLISHED, socket inode
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    established.add(f"socket:[{fields[9]}]")
        counts = []
        for pid in workers:
            sockets = set()
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):  # closed meanwhile
                    sockets.add(os.readlink(fd))
            counts.append(len(sockets & established))
    except (OSError, ValueError, IndexError):
        return None
    return sorted(counts, reverse=True) or None


def bench_database_url() -> str:
    return os.environ.get("CAPCOURSE_BENCH_DATABASE_URL") or os.environ.get("CAPCOURSE_TEST_DATABASE_URL", "")


def row(name: str, rates: dict[tuple[int, int], float], reference: dict[tuple[int, int], float] | None) -> None:
    cells = []
    for point in ((b, c) for b in BATCHES for c in CLIENTS):
        cell = f"{rates[point]:7.0f}/s"
        if reference:
            cell += f" {rates[point] / reference[point]:5.2f}×"
        cells.append(f"{cell:>22}")
    print(f"{name:<42}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=5000, help="per point at batch 100 (a fifth at batch 1)")
    args = parser.parse_args()
    total = args.statements
    kinds = ["sqlite"] + (["postgresql"] if bench_database_url().startswith("postgresql") else [])
    print(f"Ingest benchmark: {total} statements per point at batch 100, {count_for(1, total)} at batch 1.")
    print("Ratios are against Learning Locker's xapi-statements (in memory) at the same batch size and clients.\n")
    header = "".join(f"{f'batch {b}, {c} client' + ('s' if c > 1 else ''):>22}" for b in BATCHES for c in CLIENTS)
    print(f"{'':<42}{header}")
    with ExitStack() as servers:
        targets: dict[str, Target] = {}
        apps: dict[str, Any] = {}
        bases: dict[str, str] = {}
        peaks: dict[str, Callable[[], int]] = {}
        spreads: dict[str, Callable[[], list[int] | None]] = {}
        for kind in kinds:
            base, key, app, spread = servers.enter_context(capcourse(kind, NOWHERE))
            apps[kind] = app
            bases[kind] = base
            peaks[kind] = servers.enter_context(file_peak(wal_file(app)))
            targets[f"capcourse/{kind} POST /xapi/statements"] = Target(
                f"{base}/xapi/statements", ("lms", key), list, statements
            )
            targets[f"capcourse/{kind} POST /api/v1/completions"] = Target(
                f"{base}/api/v1/completions", _bearer(key), lambda batch: {"completions": batch}, completions
            )
            spreads[f"capcourse/{kind} POST /xapi/statements"] = spread
            spreads[f"capcourse/{kind} POST /api/v1/completions"] = spread
        # Point by point, the reference just before and just after capcourse's servers, its rate the mean of
        # the two: this machine's speed drifts over minutes (a shared host). Each time on a fresh Learning
        # Locker: in memory it slows down as it fills (batch 1: 134/s empty, 59/s holding 6,000
        # statements, 16/s holding 31,000), so a reference that had taken the earlier points' statements
        # would be slower than it is; capcourse's databases keep everything from point to point.
        reference: dict[tuple[int, int], float] = {}
        rates: dict[str, dict[tuple[int, int], float]] = {name: {} for name in targets}
        spread_at: dict[str, dict[tuple[int, int], list[int] | None]] = {name: {} for name in targets}
        drift: list[float] = []
        for point in ((b, c) for b in BATCHES for c in CLIENTS):
            count = count_for(point[0], total)
            before = reference_rate(count, *point)
            for name, target in targets.items():
                seen: list[list[int] | None] = []
                rates[name][point] = post_all(
                    target, count, *point, connected=lambda seen=seen, spread=spreads[name]: seen.append(spread())
                )
                spread_at[name][point] = seen[0]
            after = reference_rate(count, *point)
            reference[point] = (before + after) / 2
            drift.append(abs(after - before) / reference[point])
        row("Learning Locker POST /xAPI/statements", reference, None)
        for name in targets:
            row(name, rates[name], reference)
        print(
            f"(Learning Locker's rate moved by up to {max(drift):.0%} between its runs before and after "
            "capcourse's at one point.)"
        )
        print(
            "Connections per web worker at 4 clients (a worker runs its Python on one core: 3+1 or 4+0 leaves "
            "a core idle part of the time; ? off Linux):"
        )
        for name in targets:
            cells = [
                ("+".join(map(str, spread_at[name][b, c] or [])) or "?") if c > 1 else ""
                for b in BATCHES
                for c in CLIENTS
            ]
            print(f"{name:<42}" + "".join(f"{cell:>22}" for cell in cells))
        # The floor of batch 1: a request that stores nothing, on each server, the reference before and after.
        before = floor_rate(learning_locker_about)
        floors = {kind: floor_rate(lambda kind=kind: nullcontext(f"{bases[kind]}/xapi/about")) for kind in kinds}
        after = floor_rate(learning_locker_about)
        floor = (before + after) / 2
        print(
            f"\nA request that stores nothing (GET about, one client, one request after the other): Learning Locker "
            f"{floor:.0f}/s ({1000 / floor:.2f} ms each)"
        )
        for kind, rate in floors.items():
            print(
                f"  {f'capcourse/{kind}:':<22}{rate:5.0f}/s ({1000 / rate:.2f} ms each), {rate / floor:.2f}×; "
                f"at batch 1, one client, that leaves {1000 / reference[1, 1] - 1000 / rate:.2f} ms per request "
                f"for capcourse's work if it is to match Learning Locker ({1000 / reference[1, 1]:.2f} ms)"
            )
        delivery_rows = []
        commits: dict[str, float] = {}
        wal_peaks = [peaks[kind]() for kind in kinds if kind == "sqlite"]
        for kind in kinds:
            app = apps[kind]
            with app.app_context(), learning_locker() as sink:
                start = time.perf_counter()
                report = drain(
                    lambda: Session(db.engine),
                    {"default": LrsEndpoint(sink, "bench", "bench")},
                    Policy(batch_size=100),
                    max_batches=100_000,
                )
                seconds = time.perf_counter() - start
                left = db.session.scalar(sa.text("SELECT count(*) FROM outbox WHERE state != 'delivered'"))
                emitted = emitted_statements(db.session)
            if left:
                raise RuntimeError(f"{left} statements were not delivered")
            # The statements capcourse emits are richer than the bench's (context, mappings): the reference
            # for delivery is also a fresh Learning Locker taking these very statements, as the one
            # delivered to took them (empty at first, filling up).
            same = reference_rate(len(emitted), 100, 1, fresh(emitted))
            delivery_rows.append((kind, report.delivered, seconds, same))
            commits[kind] = durable_commits(app)
        print()
        for kind, delivered, seconds, same in delivery_rows:
            rate = delivered / seconds
            print(
                f"Delivery from capcourse/{kind} to Learning Locker: {rate:7.0f} statements/s "
                f"({delivered} in {seconds:.2f} s), {rate / reference[100, 1]:.2f}× its own ingest at batch 100, "
                f"{rate / same:.2f}× its ingest of the same statements ({same:.0f}/s)"
            )
        for peak in wal_peaks:
            print(f"SQLite's WAL file during the ingest above: at most {peak / 1e6:.1f} MB")
        print()
        for kind, rate in commits.items():
            print(
                f"Durable commits alone on capcourse/{kind} (one row each, one client): {rate:7.0f}/s, "
                f"{rate / reference[1, 1]:.2f}× Learning Locker's batch-1 rate (in memory, nothing to commit)"
            )


def wal_file(app: Any) -> Path | None:
    """The WAL file of ``app``'s SQLite database (None on another database)."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return Path(f"{url.database}-wal") if url.get_backend_name() == "sqlite" and url.database else None


@contextmanager
def file_peak(path: Path | None, every: float = 0.02) -> Iterator[Callable[[], int]]:
    """The largest size ``path`` had so far (sampled every ``every`` seconds), as a function to call; 0 for no path."""
    largest = [0]
    if path is None:
        yield lambda: 0
        return
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            with suppress(FileNotFoundError):
                largest[0] = max(largest[0], path.stat().st_size)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: largest[0]
    finally:
        done.set()
        sampler.join()


def durable_commits(app: Any, count: int = 300) -> float:
    """Write transactions per second that insert one row and commit, one after the other, on ``app``'s database.

    What a batch of one costs the database before any of capcourse's work: one
    durable commit (an fsync of the write-ahead log on PostgreSQL; a write to
    the WAL, synced at checkpoints, on SQLite with ``synchronous=NORMAL``).
    Learning Locker in memory pays none.
    """
    with app.app_context(), db.engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE bench_commits (n INTEGER)")
        connection.commit()
        start = time.perf_counter()
        for n in range(count):
            connection.exec_driver_sql(f"INSERT INTO bench_commits (n) VALUES ({n})")
            connection.commit()
        seconds = time.perf_counter() - start
        connection.exec_driver_sql("DROP TABLE bench_commits")
        connection.commit()
    return count / seconds


def emitted_statements(session: Any) -> list[dict[str, Any]]:
    """The statements capcourse emitted (what delivery sent), as stored."""
    rows = session.execute(
        sa.text("SELECT s.statement FROM statements s JOIN outbox o ON o.stored_pk = s.pk ORDER BY o.id")
    )
    return [json.loads(value) if isinstance(value, str) else dict(value) for (value,) in rows]


def fresh(statements: list[dict[str, Any]]) -> Callable[[int], list[dict[str, Any]]]:
    """The statements under new ids (the reference holds the old ones), without what an LRS sets."""

    def items(count: int) -> list[dict[str, Any]]:
        kept = ("stored", "authority")
        return [{**{k: v for k, v in s.items() if k not in kept}, "id": str(uuid.uuid4())} for s in statements[:count]]

    return items


class _bearer(httpx.Auth):  # noqa: N801 - reads as what it is
    def __init__(self, key: str) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self.key}"
        yield request


if __name__ == "__main__":
    main()
