"""Health, readiness, metrics and logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

import xapi
from capcourse.extensions import db
from capcourse.ops.logs import JsonFormatter, RequestIdFilter
from capcourse.records.services import store_statement
from tests.conftest import ScratchDatabase, make_app, make_database

pytestmark = pytest.mark.db


def emit(session: Session, count: int, destination: str = "lrs") -> None:
    for n in range(count):
        statement = xapi.statement(
            xapi.agent_from_email(f"learner{n}@example.org"),
            xapi.COMPLETED,
            xapi.activity(f"https://capcourse.test/activities/{uuid.uuid4()}", f"Activity {n}"),
            xapi.statement_id("ops-test", str(uuid.uuid4())),
            datetime(2026, 11, 24, 12, 0, n % 60, tzinfo=UTC),
            xapi.result(completion=True, success=True),
        )
        store_statement(session, statement, "emitted", [destination])
    session.commit()


def test_healthz_answers_without_the_database(tmp_path: Path) -> None:
    app = make_app(ScratchDatabase(f"sqlite:///{tmp_path}/missing/nothing.db"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_at_head_with_a_small_backlog(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert set(response.json["checks"]) == {"database", "migrations", "outbox"}


def test_readyz_is_503_when_the_backlog_reaches_its_limit(app: Flask, client: FlaskClient, session: Session) -> None:
    emit(session, 3)
    app.config["CAPCOURSE_READY_MAX_BACKLOG"] = 3
    try:
        response = client.get("/readyz")
    finally:
        app.config["CAPCOURSE_READY_MAX_BACKLOG"] = 100_000
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.json["checks"]["outbox"]["ok"] is False
    assert response.json["checks"]["database"]["ok"] is True


def test_readyz_is_503_before_migrations_and_without_a_database(tmp_path: Path) -> None:
    database = make_database(tmp_path, "unmigrated")
    app = make_app(database)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["migrations"]["ok"] is False
    with app.app_context():
        db.engine.dispose()

    app = make_app(ScratchDatabase("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == {"ok": False, "detail": "unreachable"}


def test_metrics_expose_requests_backlog_dead_letters_and_ingest(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    emit(session, 2)
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'capcourse_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "capcourse_http_request_duration_seconds_bucket" in text
    assert 'capcourse_outbox_entries{destination="lrs",state="pending"} 2.0' in text
    assert 'capcourse_outbox_oldest_pending_seconds{destination="lrs"}' in text
    assert "capcourse_database_up 1.0" in text
    assert "# TYPE capcourse_ingested_rows_total counter" in text


def test_ingest_counts_rows_once_committed_only(database: ScratchDatabase) -> None:
    from capcourse.ops.metrics import instruments

    engine = sa.create_engine("sqlite://")
    counter = instruments().ingested.labels("completions")
    before = counter._value.get()
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE completions (id INTEGER)")
    with engine.connect() as connection:
        table = sa.table("completions", sa.column("id"))
        with connection.begin():
            connection.execute(sa.insert(table), [{"id": 1}, {"id": 2}])
        with connection.begin() as transaction:
            connection.execute(sa.insert(table), [{"id": 3}])
            transaction.rollback()
    assert counter._value.get() - before == 2


def test_metrics_are_served_to_this_machine_only_by_default(app: Flask, client: FlaskClient) -> None:
    """No token set: a direct local scrape is answered; remote callers and anything a proxy forwarded are not."""
    assert app.config["CAPCOURSE_METRICS_TOKEN"] == "" and not app.config["CAPCOURSE_METRICS_PUBLIC"]
    assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    for address in ("192.0.2.7", "10.0.0.5", "2001:db8::1", "not-an-address"):
        refused = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert refused.status_code == 403, address
        assert "this machine only" in refused.json["message"]  # JSON, as the OpenAPI document says
    # Through a reverse proxy on this machine the peer is loopback: the forwarding header gives it away.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert client.get("/metrics", headers={header: "127.0.0.1"}).status_code == 403, header


def test_metrics_behind_a_trusted_proxy_are_not_local(app: Flask) -> None:
    """With ProxyFix (CAPCOURSE_TRUSTED_PROXIES=1) the request still counts as forwarded, whatever it claims."""
    client = Client(ProxyFix(app, x_for=1, x_proto=1, x_host=1))
    # werkzeug's client (schemathesis uses it) sends no peer address at all: not local, refused as JSON.
    unknown = client.get("/metrics")
    assert unknown.status_code == 403 and unknown.json["code"] == 403
    local = {"REMOTE_ADDR": "127.0.0.1"}  # the proxy on this machine
    for forwarded in ("203.0.113.9", "127.0.0.1"):
        answer = client.get("/metrics", headers={"X-Forwarded-For": forwarded}, environ_base=local)
        assert answer.status_code == 403, forwarded
    assert client.get("/metrics", environ_base=local).status_code == 200


def test_metrics_opened_to_all_explicitly(app: Flask, client: FlaskClient) -> None:
    app.config["CAPCOURSE_METRICS_PUBLIC"] = "true"
    try:
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    finally:
        app.config["CAPCOURSE_METRICS_PUBLIC"] = ""


def test_metrics_token(app: Flask, client: FlaskClient) -> None:
    app.config["CAPCOURSE_METRICS_TOKEN"] = "s3cret-token"
    try:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        # With a token, the token decides, from anywhere: no local pass without it.
        remote = {"REMOTE_ADDR": "192.0.2.7"}
        authorised = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}, environ_base=remote)
        assert authorised.status_code == 200
        assert client.get("/metrics", environ_base=remote).status_code == 401
    finally:
        app.config["CAPCOURSE_METRICS_TOKEN"] = ""


def test_every_response_carries_a_request_id_and_logs_one_access_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="capcourse.access"):
        response = client.get("/healthz?token=do-not-log", headers={"X-Request-ID": "proxy-123"})
        other = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["X-Request-ID"] == "proxy-123"
    assert other.headers["X-Request-ID"] != "bad id with spaces"
    assert len(other.headers["X-Request-ID"]) == 32
    lines = [r for r in caplog.records if r.name == "capcourse.access"]
    assert lines[0].path == "/healthz"  # type: ignore[attr-defined]
    assert lines[0].status == 200  # type: ignore[attr-defined]
    assert "do-not-log" not in caplog.text


def test_json_formatter_writes_one_object_with_the_request_id(app: Flask) -> None:
    handler_records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("capcourse.test-json")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/x"):
            from flask import g

            g.request_id = "abc"
            logger.warning("hello %s", "world", extra={"status": 201})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in handler_records)
    assert first["message"] == "hello world"
    assert first["request_id"] == "abc"
    assert first["status"] == 201
    assert first["level"] == "WARNING"
    assert "ValueError: boom" in second["exception"]


def test_failed_statements_log_no_sql_parameters(database: ScratchDatabase, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(database, PROPAGATE_EXCEPTIONS=False)

    secret = "-".join(("scrypt$hash", "value"))  # built, so the traceback's source line does not show it

    @app.get("/api/v1/_fail")
    def fail() -> str:
        # A duplicate key: an IntegrityError, whose message would carry the parameters.
        db.session.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:s), (:s)"), {"s": secret})
        return "unreachable"

    with caplog.at_level(logging.ERROR):
        assert app.test_client().get("/api/v1/_fail").status_code == 500
    assert "alembic_version" in caplog.text
    assert secret not in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_configure_logging_installs_one_json_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    from capcourse.ops import logs

    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        logs.configure_logging("WARNING", "json")
        logs.configure_logging("WARNING", "json")
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1
        assert isinstance(added[0].formatter, JsonFormatter)
        assert getattr(added[0], "stream", None) is sys.stderr
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


MULTIPROCESS_CHILD = """
import sys
from tests.conftest import ScratchDatabase, make_app
app = make_app(ScratchDatabase(sys.argv[1]))
client = app.test_client()
for _ in range(int(sys.argv[2])):
    client.get("/healthz")
if sys.argv[3] == "scrape":
    print(client.get("/metrics").get_data(as_text=True))
"""


def test_metrics_add_up_across_processes(tmp_path: Path) -> None:
    """Two processes sharing PROMETHEUS_MULTIPROC_DIR (as web workers do): a scrape of one counts both."""
    import os
    import subprocess

    from capcourse.ops.metrics import prepare_multiprocess

    url = f"sqlite:///{tmp_path}/m.db"
    environment = dict(os.environ)
    saved = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        prepare_multiprocess(tmp_path / "metrics")
        environment["PROMETHEUS_MULTIPROC_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    finally:
        if saved is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved
    run = [sys.executable, "-c", MULTIPROCESS_CHILD, url]
    subprocess.run([*run, "3", "quiet"], env=environment, check=True, capture_output=True)
    scrape = subprocess.run([*run, "2", "scrape"], env=environment, check=True, capture_output=True, text=True)
    assert 'capcourse_http_requests_total{method="GET",route="/healthz",status="200"} 5.0' in scrape.stdout


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(database: ScratchDatabase) -> None:
    from flask import request

    seen: list[str | None] = []
    for proxies in (0, 1):
        app = make_app(database, CAPCOURSE_TRUSTED_PROXIES=proxies)

        @app.get("/_peer")
        def peer() -> str:
            seen.append(request.remote_addr)
            return request.scheme

        scheme = app.test_client().get(
            "/_peer", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        )
        assert scheme.get_data(as_text=True) == ("https" if proxies else "http")
    assert seen == ["127.0.0.1", "203.0.113.7"]


GRANIAN_LOGGING_CHILD = """
import logging
from granian.log import LogLevels, configure_logging as configure_granian
from capcourse.ops.logs import configure_logging
from capcourse.server import GRANIAN_LOGGING

configure_logging()
configure_granian(LogLevels.info, GRANIAN_LOGGING)  # as Granian's server does when it is made
granian = logging.getLogger("_granian")
granian.info("Spawning worker-1 with PID: 4242")
granian.warning("Configuration allows spawning up to 8 Python threads, which seems quite high compared to ...")
granian.warning("Worker crash loop detected, exiting")
"""


def test_granians_own_lines_are_json_lines_on_stderr_less_the_warning_about_chosen_threads() -> None:
    """Its workers' starts and deaths read like capcourse's lines; its advice against 8 threads is not shown."""
    done = subprocess.run(
        [sys.executable, "-c", GRANIAN_LOGGING_CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("INFO", "_granian", "Spawning worker-1 with PID: 4242"),
        ("WARNING", "_granian", "Worker crash loop detected, exiting"),
    ]


def test_a_workers_start_up_objects_are_left_out_of_full_collections(tmp_path: Path) -> None:
    """A full collection walked the app's 250,000 start-up objects, 130–200 ms of a request's time."""
    child = (
        "import gc\n"
        "from capcourse.server import web_app\n"
        "assert gc.get_freeze_count() == 0\n"
        "app = web_app()\n"  # as each Granian worker calls it
        "print(gc.get_freeze_count(), any(o is app for o in gc.get_objects()))\n"
    )
    environment = {
        **os.environ,
        "CAPCOURSE_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "CAPCOURSE_SECRET_KEY": "worker-test",
        "CAPCOURSE_PACKAGE_DIR": str(tmp_path / "packages"),
    }
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=True, env=environment
    )
    frozen, app_walked = done.stdout.split()
    assert int(frozen) > 10_000  # Flask, SQLAlchemy and the rest imported before
    assert app_walked == "False"


FIRST_USE_CHILD = """
import threading
import prometheus_client
from capcourse.ops import metrics

# Two threads each hold in making a Counter until the other has reached it too: without one thread at a time,
# both make the same metrics and one registration fails. With it, the first waits in vain and goes on alone.
meeting = threading.Barrier(2, timeout=2)
made = prometheus_client.Counter


def meet_then_make(*args, **kwargs):
    try:
        meeting.wait()
    except threading.BrokenBarrierError:
        pass
    return made(*args, **kwargs)


prometheus_client.Counter = meet_then_make
errors = []


def first_request():
    try:
        metrics.instruments()
    except Exception as error:
        errors.append(repr(error))


threads = [threading.Thread(target=first_request) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""


def test_the_first_requests_of_a_new_worker_make_the_metrics_once() -> None:
    """A new web worker's threads answer their first requests at once: only one makes the metrics."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", FIRST_USE_CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
