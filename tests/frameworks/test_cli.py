"""``capcourse frameworks`` commands."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskCliRunner

pytestmark = pytest.mark.db

EXPECTED_COUNTS = {
    "frontline-lcf-pathway-1": {"Capability": 4, "Effective attribute": 36, "Sub-capability": 28},
    "frontline-curriculum-areas": {"Curriculum area": 9},
    "dfe-kss-practice-supervisors-2015": {"Paragraph": 19, "Statement": 8},
    "dfe-kss-practice-supervisors-2018": {"Bullet": 22, "Statement": 8},
    "dfe-kss-practice-leaders-2015": {"Paragraph": 16, "Statement": 6},
    "dfe-kss-practice-leaders-2018": {"Paragraph": 16, "Statement": 6},
    "sssc-leadership-capabilities": {"Indicator": 66, "Leadership capability": 6, "Theme": 22},
}


def test_list_as_json_shows_counts_by_item_type(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["frameworks", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.output)}
    for key, counts in EXPECTED_COUNTS.items():
        assert rows[key]["item_counts"] == counts, key
    assert set(rows["sssc-leadership-capabilities"]) == {"id", "key", "title", "version", "item_counts", "item_total"}
    assert rows["dfe-kss-practice-supervisors-2018"]["version"] == "2018"


def test_list_as_table(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["frameworks", "list"])
    assert result.exit_code == 0
    assert "sssc-leadership-capabilities  Leadership capabilities: 66 Indicator" in result.output


def test_sync_twice_says_nothing_changed(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["frameworks", "sync"])
    assert result.exit_code == 0, result.output
    assert "Nothing to change: all 8 frameworks are up to date." in result.output
    assert result.output.count(": unchanged") == 8


def test_dry_run_writes_nothing(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["frameworks", "sync", "--dry-run"])
    assert result.exit_code == 0
    assert "Dry run: nothing was written." in result.output
