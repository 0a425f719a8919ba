"""Secrets never show in a repr or a log line: LRS passwords, API keys, launch tokens, private keys.

A repr ends up in tracebacks, debugger output and log lines (``%r``), so an
object holding a secret must leave it out. Besides the known holders, every
dataclass and model of the code is scanned: a field named like a secret must be
kept out of its repr, so a new one cannot slip in unnoticed.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

import capcourse
import scorm
import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key, create_user
from capcourse.delivery.services import endpoints
from capcourse.extensions import db
from xapi.client import LrsClient, LrsEndpoint, LrsError

PASSWORD = "pa55-Wörd-that-must-not-leak"
SECRET_NAME = re.compile(r"password|secret|token|private|plain|pem$|credential", re.IGNORECASE)
#: Names that match but hold no secret: hashes (one-way; rows' reprs are checked below
#: anyway), times, URLs and ids, and a CASE import preview's confirm_token (a digest of the
#: plan, which the preview shows on purpose).
NOT_SECRET = re.compile(r"_hash$|_at$|_url$|_uri$|_id$|^public|^confirm_token$")


def test_an_lrs_endpoint_shows_no_password() -> None:
    endpoint = LrsEndpoint("https://lrs.example.org/xapi", "capcourse", PASSWORD)
    assert PASSWORD not in repr(endpoint) and PASSWORD not in str(endpoint)
    assert "capcourse" in repr(endpoint), "the rest stays readable"
    assert endpoint.password == PASSWORD


def test_configured_destinations_show_no_password() -> None:
    config = {
        "CAPCOURSE_LRS_DESTINATIONS": {"main": {"endpoint": "https://lrs.example.org/xapi", "password": PASSWORD}}
    }
    assert PASSWORD not in repr(endpoints(config))


def test_talking_to_an_lrs_logs_no_password_and_raises_none(caplog: pytest.LogCaptureFixture) -> None:
    """Every log line of every logger (httpx's and httpcore's included, at DEBUG) while an LRS refuses."""

    def refuse(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        return httpx.Response(401, json={"error": "bad credentials"})

    endpoint = LrsEndpoint("https://lrs.example.org/xapi", "capcourse", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with LrsClient(endpoint, transport=httpx.MockTransport(refuse)) as client, pytest.raises(LrsError) as refused:
        client.post_statements([{"id": "6f1c8a53-2f0e-5b63-9a39-2b7c2fb3d1a4"}])
    text = caplog.text + str(refused.value) + repr(refused.value) + repr(client.__dict__)
    assert PASSWORD not in text


def test_an_api_key_is_in_no_repr_or_log(session: Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key, plain = create_api_key(session, "Moodle", Role.INTEGRATION, None)
    session.flush()
    assert plain not in caplog.text
    assert plain not in repr(key) and key.key_hash not in repr(key)


def test_a_password_is_in_no_repr_or_log(session: Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = create_user(session, "ada@example.org", "Ada", Role.AUTHOR, PASSWORD)
    session.flush()
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(user) and user.password_hash not in repr(user)


def _modules() -> Iterator[Any]:
    for package in (capcourse, xapi, scorm):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith(".__main__"):  # runs the command line when imported
                yield importlib.import_module(info.name)


def _classes() -> list[type]:
    seen: dict[str, type] = {}
    for module in _modules():
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                seen[f"{value.__module__}.{value.__qualname__}"] = value
    return list(seen.values())


def _secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET.search(name)


def test_no_dataclass_prints_a_secret_field() -> None:
    classes = [c for c in _classes() if dataclasses.is_dataclass(c)]
    assert len(classes) > 20, "the scan found the dataclasses"
    leaking = [
        f"{c.__module__}.{c.__qualname__}.{f.name}"
        for c in classes
        for f in dataclasses.fields(c)
        if _secret(f.name) and f.repr
    ]
    assert not leaking, f"secret fields in a repr (use field(repr=False)): {leaking}"


def test_no_model_prints_a_secret_column(app_context: None) -> None:
    """Every model's repr, with every column named like a secret (or a hash of one) set to a marker."""
    models = [m.class_ for m in db.Model.registry.mappers]
    assert len(models) > 20, "the scan found the models"
    leaking = []
    for model in models:
        names = [c.key for c in model.__mapper__.column_attrs if SECRET_NAME.search(c.key) or c.key.endswith("_hash")]
        for name in names:
            marker = f"SECRET-{name}-MARKER"
            row = model(**{name: marker})
            if marker in repr(row) or marker in str(row):
                leaking.append(f"{model.__name__}.{name}")
    assert not leaking, f"secret columns in a repr: {leaking}"


def test_the_secret_key_file_is_never_readable_by_others(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated key is put in place whole and 0600 (never written first and chmod-ed after), once."""
    import os
    import stat
    from pathlib import Path

    from capcourse.config import _instance_secret_key

    seen: list[tuple[int, str]] = []
    link = os.link

    def checked_link(source: Any, target: Any) -> None:
        # The moment the key becomes visible under its name: it must be complete and private already.
        seen.append((stat.S_IMODE(os.stat(source).st_mode), Path(source).read_text()))
        link(source, target)

    monkeypatch.setattr(os, "link", checked_link)
    old_umask = os.umask(0)  # the most permissive umask must not widen it
    try:
        key = _instance_secret_key(str(tmp_path / "instance"))
    finally:
        os.umask(old_umask)
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seen == [(0o600, key)] and len(key) >= 64
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no draft left behind
    assert _instance_secret_key(str(tmp_path / "instance")) == key  # read, not made again
    assert len(seen) == 1
