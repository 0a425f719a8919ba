"""The same-statement rules, and the validator's authority and duration rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import xapi


def base() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Group",
            "member": [{"mbox": "mailto:a@example.org"}, {"mbox": "mailto:b@example.org"}],
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}},
        "object": {"id": "http://example.org/meeting"},
        "context": {"contextActivities": {"parent": {"id": "http://example.org/course"}}},
        "timestamp": "2026-11-24T10:00:00Z",
    }


def test_what_the_lrs_sets_makes_no_difference() -> None:
    sent = base()
    stored = {
        **sent,
        "id": sent["id"].upper(),
        "stored": "2026-11-30T09:00:00Z",
        "authority": {"mbox": "mailto:lrs@example.org"},
        "version": "1.0.3",
        "timestamp": "2026-11-24T10:00:00.000+00:00",
        "actor": {**sent["actor"], "member": list(reversed(sent["actor"]["member"]))},
        "context": {"contextActivities": {"parent": [{"id": "http://example.org/course"}]}},
    }
    assert xapi.same_statement(stored, sent)


def test_a_resend_without_the_timestamp_the_lrs_filled_in_is_the_same() -> None:
    sent = base()
    del sent["timestamp"]
    stored = {**sent, "timestamp": "2026-11-30T09:00:00Z", "stored": "2026-11-30T09:00:00Z"}
    assert xapi.same_statement(stored, sent)


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": "2026-11-24T10:00:01Z"},
        {"verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}},
        {"id": str(uuid.uuid4())},
        {"result": {"success": True}},
    ],
)
def test_other_content_is_another_statement(change: dict[str, Any]) -> None:
    sent = base()
    assert not xapi.same_statement(sent, {**sent, **change})


@pytest.mark.parametrize(("duration", "valid"), [("P4W", True), ("P4W1D", False), ("P1DT2H", True), ("PT", False)])
def test_weeks_stand_alone_in_a_duration(duration: str, valid: bool) -> None:
    statement = {**base(), "result": {"duration": duration}}
    assert (xapi.validate_statement(statement) == []) is valid


AGENT = {"mbox": "mailto:a@example.org"}
OTHER = {"mbox": "mailto:b@example.org"}


@pytest.mark.parametrize(
    ("authority", "valid"),
    [
        (AGENT, True),
        ({"objectType": "Group", "member": [AGENT, OTHER]}, True),
        ({"objectType": "Group", "member": [AGENT]}, False),
        ({"objectType": "Group", "member": [AGENT, OTHER, {"mbox": "mailto:c@example.org"}]}, False),
        ({"objectType": "Group", "mbox": "mailto:g@example.org", "member": [AGENT, OTHER]}, False),
    ],
)
def test_authority_is_an_agent_or_an_anonymous_pair(authority: dict[str, Any], valid: bool) -> None:
    errors = xapi.validate_statement({**base(), "authority": authority})
    assert (errors == []) is valid
    assert all(e.section == "2.4.9" for e in errors)
