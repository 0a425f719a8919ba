"""Each xAPI rule the validator enforces, with the path and section it reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import xapi
from tests.shared import SHARED, shared_params
from tests.xapi.test_statements import _DELETE, _with

FIXTURES = SHARED / "fixtures" / "xapi"


def fixture_statements() -> list[tuple[str, Any]]:
    found: list[Any] = []
    for path in shared_params("fixtures/xapi", "*.json"):
        if not isinstance(path, Path):
            return [pytest.param("no-shared", None, marks=path.marks)]
        data = json.loads(path.read_text(encoding="utf-8"))
        for index, item in enumerate(data if isinstance(data, list) else [data]):
            found.append((f"{path.name}[{index}]", item))
    return found


@pytest.mark.parametrize(("name", "item"), fixture_statements())
def test_real_statements(name: str, item: Any) -> None:
    errors = xapi.validate_statement(item)
    if name.startswith("xapi-spec-cmi5-failed"):
        # Its id's variant nibble is 2, which RFC 4122 does not allow (see fixtures/xapi/SOURCES.md).
        assert [(e.path, e.section) for e in errors] == [("statement.id", "2.4.1")]
    else:
        assert errors == []


CASES = [
    ("id", "not-a-uuid", "statement.id", "UUID"),
    ("actor", _DELETE, "statement.actor", "required"),
    ("actor.mbox", "ada@example.org", "statement.actor.mbox", "mailto"),
    ("actor.mbox_sha1sum", "0" * 40, "statement.actor", "exactly one"),
    ("actor.objectType", "Person", "statement.actor.objectType", "Agent"),
    ("actor", {"objectType": "Group"}, "statement.actor.member", "anonymous Group"),
    (
        "actor",
        {"objectType": "Group", "member": [{"objectType": "Group", "member": []}]},
        "statement.actor.member[0].objectType",
        "Agents",
    ),
    ("actor", {"account": {"homePage": "lms", "name": "1"}}, "statement.actor.account.homePage", "URL"),
    ("verb", _DELETE, "statement.verb", "required"),
    ("verb.id", "completed", "statement.verb.id", "IRI"),
    ("verb.display", {"en_GB": "completed"}, "statement.verb.display.en_GB", "language tag"),
    ("object", _DELETE, "statement.object", "required"),
    ("object.id", "no scheme", "statement.object.id", "IRI"),
    ("object.objectType", "Thing", "statement.object.objectType", "Activity"),
    ("object.definition.interactionType", "essay", "statement.object.definition.interactionType", "one of"),
    ("object.definition.choices", [{"id": "a"}], "statement.object.definition", "interactionType"),
    ("object", {"objectType": "Agent", "mbox": "mailto:a@b.c", "extra": 1}, "statement.object.extra", "not a property"),
    ("object", {"objectType": "StatementRef", "id": "x"}, "statement.object.id", "UUID"),
    (
        "object",
        {
            "objectType": "SubStatement",
            "id": "6f1c8a53-2f0e-5b63-9a39-2b7c2fb3d1a4",
            "actor": {"mbox": "mailto:a@b.c"},
            "verb": {"id": "http://x.y/v"},
            "object": {"id": "http://x.y/a"},
        },
        "statement.object.id",
        "SubStatement",
    ),
    (
        "object",
        {
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:a@b.c"},
            "verb": {"id": "http://x.y/v"},
            "object": {"objectType": "SubStatement"},
        },
        "statement.object.object.objectType",
        "SubStatement",
    ),
    ("result.score.scaled", 1.5, "statement.result.score.scaled", "between -1 and 1"),
    ("result.score.raw", 11, "statement.result.score.raw", "more than max"),
    ("result.score.min", 10, "statement.result.score.min", "less than max"),
    ("result.success", "yes", "statement.result.success", "true or false"),
    ("result.duration", "90 minutes", "statement.result.duration", "ISO 8601 duration"),
    ("result.extensions", {"depth": 1}, "statement.result.extensions.depth", "IRIs"),
    ("context.registration", "abc", "statement.context.registration", "UUID"),
    (
        "context.contextActivities.parent",
        [{"objectType": "Agent"}],
        "statement.context.contextActivities.parent[0]",
        "Activity",
    ),
    ("context.language", "english language", "statement.context.language", "RFC 5646"),
    ("context.statement", {"id": "x"}, "statement.context.statement", "StatementRef"),
    ("timestamp", "24/11/2026", "statement.timestamp", "ISO 8601"),
    ("timestamp", "2026-11-24T09:30:05-00:00", "statement.timestamp", "-00:00"),
    ("timestamp", "2026-13-45T09:30:05Z", "statement.timestamp", "real date"),
    ("version", "2.0.0", "statement.version", "1.0.x"),
    ("authority", {"name": "x"}, "statement.authority", "exactly one"),
    ("stored", None, "statement.stored", "null"),
    ("colour", "red", "statement.colour", "not a property"),
    (
        "attachments",
        [{"usageType": "http://x.y/u", "display": {"en": "x"}, "contentType": "text", "length": -1, "sha2": "zz"}],
        "statement.attachments[0].length",
        "octets",
    ),
]


@pytest.mark.parametrize(("path", "value", "where", "words"), CASES, ids=[c[2] + ":" + c[3] for c in CASES])
def test_each_rule_names_the_property(path: str, value: Any, where: str, words: str) -> None:
    errors = xapi.validate_statement(_with(path, value))
    assert any(e.path == where and words in e.message for e in errors), [str(e) for e in errors]


def test_context_platform_only_with_an_activity_object() -> None:
    built = _with("object", {"objectType": "Agent", "mbox": "mailto:a@b.c"})
    built["context"]["platform"] = "Moodle"
    errors = xapi.validate_statement(built)
    assert [e.path for e in errors] == ["statement.context.platform"]


def test_voiding_needs_a_statement_ref() -> None:
    built = _with("verb.id", "http://adlnet.gov/expapi/verbs/voided")
    assert any(e.path == "statement.object" and "StatementRef" in e.message for e in xapi.validate_statement(built))


def test_check_statement_raises_with_every_error() -> None:
    with pytest.raises(xapi.StatementInvalid) as caught:
        xapi.check_statement({"verb": {"id": "x"}})
    assert {e.path for e in caught.value.errors} >= {"statement.actor", "statement.verb.id", "statement.object"}
    assert "xAPI 1.0.3 Data" in str(caught.value)


def test_not_an_object() -> None:
    assert [e.path for e in xapi.validate_statement([1, 2])] == ["statement"]
