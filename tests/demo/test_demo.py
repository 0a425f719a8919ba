"""The demo programme."""

from __future__ import annotations

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import xapi
from capcourse.records.models import Completion, StoredStatement

pytestmark = pytest.mark.db


def test_demo_load_once_with_learners_and_statements(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(args=["demo", "load", "--learners", "5"])
    assert result.exit_code == 0, result.output
    assert "Coverage dashboard: http://capcourse.test/programmes/" in result.output
    completions = session.scalar(select(func.count()).select_from(Completion))
    assert completions and completions > 10
    statement = session.scalars(select(StoredStatement)).first()
    assert xapi.validate_statement(statement.statement) == []
    again = runner.invoke(args=["demo", "load"])
    assert "exists already" in again.output
    assert session.scalar(select(func.count()).select_from(Completion)) == completions
    assert "no demo loaded" in runner.invoke(args=["demo", "load", "--if-empty"]).output
