from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from capcourse import jsoncodec
from capcourse.extensions import db
from capcourse.records.models import StoredStatement


@pytest.mark.parametrize(
    "value",
    [
        {"actor": {"name": "Zoë 学"}, "n": [1, 2.5, 1e16, -0.0, True, None]},
        {"extensions": {"https://x.example/e": 2**70}},  # beyond orjson's 64 bits
        {"text": "\ud800"},  # a lone surrogate, which JSON's \\u escapes can carry
        {1: "a non-string key"},
    ],
)
def test_dumps_writes_what_json_reads_back_as_the_standard_library_would(value: Any) -> None:
    assert json.loads(jsoncodec.dumps(value)) == json.loads(json.dumps(value))


def test_json_columns_are_written_by_it(app: Flask) -> None:
    with app.app_context():
        assert db.engine.dialect._json_serializer is jsoncodec.dumps  # type: ignore[attr-defined]
        statement = {"id": "5e8d0c4e-3f4b-4a83-9a43-7f0c3d1f2b6a", "big": 2**70, "name": "Zoë"}
        db.session.add(
            StoredStatement(id=uuid.UUID(statement["id"]), statement=statement, origin="received", verb_id="v")
        )
        db.session.commit()
        assert db.session.scalar(select(StoredStatement.statement)) == statement
