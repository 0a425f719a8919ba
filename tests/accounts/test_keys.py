"""API keys: created once, stored hashed, revocable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from psycopg.pq import TransactionStatus
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import xapi
from capcourse.accounts import auth, services
from capcourse.accounts.models import ApiKey, Role
from capcourse.accounts.services import authenticate_key, create_api_key, revoke_api_key
from capcourse.errors import InvalidInputError, UnauthorizedError
from capcourse.extensions import db
from tests import factories
from tests.conftest import drop_database, make_app, make_database, migrate_and_sync

pytestmark = pytest.mark.db


def test_key_is_stored_only_as_a_hash(session: Session) -> None:
    key, plain = create_api_key(session, "Moodle", Role.INTEGRATION)
    stored = session.scalar(select(ApiKey).where(ApiKey.id == key.id))
    assert plain not in (stored.key_hash, stored.prefix)
    assert plain.startswith(stored.prefix)
    assert authenticate_key(session, plain).id == key.id


def test_revoked_key_no_longer_authenticates(session: Session) -> None:
    key, plain = create_api_key(session, "Old", Role.ADMIN)
    revoke_api_key(session, key.prefix)
    with pytest.raises(UnauthorizedError, match="revoked"):
        authenticate_key(session, plain)


def test_unknown_role_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="Unknown role"):
        create_api_key(session, "x", "superuser")


def test_cli_creates_lists_and_revokes(runner: FlaskCliRunner) -> None:
    created = runner.invoke(args=["keys", "create", "--name", "LMS", "--role", "integration", "--all-programmes"])
    assert created.exit_code == 0, created.output
    plain = created.output.strip().splitlines()[-1]
    assert plain.startswith("cc_")
    listed = runner.invoke(args=["keys", "list"])
    assert "integration\tactive\tLMS\tall programmes (unscoped)" in listed.output
    assert plain not in listed.output
    prefix = listed.output.split("…")[0].strip().splitlines()[-1]
    revoked = runner.invoke(args=["keys", "revoke", prefix])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["keys", "list"]).output
    missing = runner.invoke(args=["keys", "revoke", "cc_nothing"])
    assert missing.exit_code != 0
    assert "No API key has the prefix" in missing.output


def test_a_keys_use_is_written_once_a_minute_after_the_request(client: FlaskClient, session: Session) -> None:
    key, plain = create_api_key(session, "lms", Role.ADMIN)
    session.commit()
    assert key.last_used_at is None
    assert client.get("/api/v1/programmes", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    session.expire_all()
    first = key.last_used_at
    assert first is not None
    # Within the minute, a second request writes nothing.
    assert client.get("/api/v1/programmes", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    session.expire_all()
    assert key.last_used_at == first
    # A refused request is not a use.
    other, other_plain = create_api_key(session, "other", Role.INTEGRATION)
    session.commit()
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {other_plain}"}).status_code == 403
    session.expire_all()
    assert other.last_used_at is None


def test_on_postgresql_a_key_is_read_outside_any_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = make_database(tmp_path, "autocommit")
    if not database.url.startswith("postgresql"):
        drop_database(database)
        pytest.skip("PostgreSQL only (CAPCOURSE_TEST_DATABASE_URL): on SQLite a read costs no round trip")
    # An app of its own: the other tests' sessions are bound to one connection, in a transaction rolled back after.
    app = make_app(database)
    try:
        migrate_and_sync(app)
        with app.app_context(), Session(db.engine) as setup:
            _, plain = create_api_key(setup, "lms", Role.INTEGRATION)
            setup.commit()
        autocommit: list[bool] = []

        def watched(session: Session, given: str, max_age: float = 0.0) -> ApiKey:
            dbapi = session.connection().connection.dbapi_connection
            autocommit.append(bool(getattr(dbapi, "autocommit", False)))
            return authenticate_key(session, given, max_age)

        monkeypatch.setattr(auth, "authenticate_key", watched)
        client = app.test_client()
        headers = factories.bearer(plain) | {"X-Experience-API-Version": "1.0.3"}
        statement = xapi.statement(
            xapi.agent_from_email("a@example.org"),
            xapi.PASSED,
            xapi.activity("https://lms.example.org/a"),
            str(uuid.uuid4()),
            datetime.now(UTC),
        )
        assert client.post("/xapi/statements", json=[statement], headers=headers).status_code == 200
        fetched = client.get(f"/xapi/statements?statementId={statement['id']}", headers=headers)
        assert fetched.status_code == 200, fetched.text
        # The second request found the key as the first read it (CAPCOURSE_API_KEY_CACHE_SECONDS).
        assert autocommit == [True]
        # The write after the key's read was a transaction of its own, committed; and the connections went
        # back to the pool as they came: what a session runs on them runs in a transaction.
        with app.app_context():
            db.session.execute(text("SELECT 1"))
            dbapi = db.session.connection().connection.dbapi_connection
            assert dbapi.info.transaction_status == TransactionStatus.INTRANS  # type: ignore[union-attr]
            db.session.rollback()
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_database(database)


class _Clock:
    """``time.monotonic`` for the key cache, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def _read(client: FlaskClient, plain: str) -> TestResponse:
    """An integration key's request: a page of statements."""
    return client.get(
        "/xapi/statements?limit=1", headers=factories.bearer(plain) | {"X-Experience-API-Version": "1.0.3"}
    )


def _counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = services._KEY_BY_HASH.all

    def counted(session: Session, params: dict[str, str] | None = None) -> list[tuple[object, ...]]:
        reads.append(params["key_hash"] if params else "")
        return real(session, params)

    monkeypatch.setattr(services._KEY_BY_HASH, "all", counted)
    return reads


def test_an_integration_key_is_read_again_only_after_the_cache_time(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.config["CAPCOURSE_API_KEY_CACHE_SECONDS"] == 2
    clock = _Clock()
    monkeypatch.setattr(services, "time", clock)
    reads = _counted_reads(monkeypatch)
    _, plain = create_api_key(session, "lms", Role.INTEGRATION)
    session.commit()
    for _ in range(3):
        assert _read(client, plain).status_code == 200
        clock.now += 0.5
    assert len(reads) == 1
    clock.now += 1.0  # 2.5 s after the read
    assert _read(client, plain).status_code == 200
    assert len(reads) == 2
    # A wrong key is read every time (and refused): only keys found live are kept.
    for _ in range(2):
        assert _read(client, plain + "x").status_code == 401
    assert len(reads) == 4


def test_a_key_revoked_here_is_refused_at_once_and_one_revoked_elsewhere_within_the_cache_time(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(services, "time", clock)
    key, plain = create_api_key(session, "lms", Role.INTEGRATION)
    other, other_plain = create_api_key(session, "lms 2", Role.INTEGRATION)
    session.commit()
    for given in (plain, other_plain):
        assert _read(client, given).status_code == 200
    revoke_api_key(session, key.prefix)
    session.commit()
    assert _read(client, plain).status_code == 401
    # Another process (the command line, another web worker) revokes the other: the row alone changes.
    session.execute(update(ApiKey).where(ApiKey.id == other.id).values(revoked_at=datetime.now(UTC)))
    session.commit()
    assert _read(client, other_plain).status_code == 200
    clock.now += 2.0
    refused = _read(client, other_plain)
    assert refused.status_code == 401


def test_a_persons_key_is_read_at_every_request(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counted_reads(monkeypatch)
    person = factories.user(session, role=Role.ADMIN)
    _, plain = create_api_key(session, "mine", Role.ADMIN, user=person)
    session.commit()
    for _ in range(3):
        assert client.get("/api/v1/programmes", headers=factories.bearer(plain)).status_code == 200
    assert len(reads) == 3


def test_with_no_cache_time_every_request_reads_the_key(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CAPCOURSE_API_KEY_CACHE_SECONDS", 0)
    reads = _counted_reads(monkeypatch)
    _, plain = create_api_key(session, "lms", Role.INTEGRATION)
    session.commit()
    for _ in range(3):
        assert _read(client, plain).status_code == 200
    assert len(reads) == 3


def test_a_kept_key_writes_its_use_once_a_minute(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real = services.record_key_use

    def counted(session: Session, key_id: int, now: datetime) -> None:
        writes.append(key_id)
        real(session, key_id, now)

    monkeypatch.setattr(auth, "record_key_use", counted)
    key, plain = create_api_key(session, "lms", Role.INTEGRATION)
    session.commit()
    for _ in range(4):
        assert _read(client, plain).status_code == 200
    assert writes == [key.id]
