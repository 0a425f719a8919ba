"""Building statements: valid by our rules and by Ralph's strict pydantic models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement

import xapi
from xapi.types import JSONObject

WHEN = datetime(2026, 11, 24, 9, 30, 5, 123456, tzinfo=UTC)


def completed_statement() -> JSONObject:
    learner = xapi.agent_from_email("Ada.Learner@Example.org", "Ada Learner")
    module = xapi.activity(
        "https://capcourse.example/modules/1", "Reflective supervision", "http://adlnet.gov/expapi/activities/module"
    )
    competency = xapi.activity(
        "https://capcourse.example/uri/5c2f0d6e-47d8-5b1e-9a8c-1b1c1c1c1c1c", "Curiosity of self", xapi.COMPETENCY
    )
    return xapi.statement(
        learner,
        xapi.PASSED,
        xapi.activity("https://capcourse.example/activities/7", "Observed session"),
        xapi.statement_id("completion", "42"),
        WHEN,
        xapi.result(completion=True, success=True, scaled=0.8, raw=8, minimum=0, maximum=10, duration_seconds=3725.5),
        xapi.context(
            registration=xapi.statement_id("registration", "x"),
            parent=[module],
            category=[competency],
            extensions={"https://capcourse.example/xapi/extensions/depth": "assessed"},
        ),
    )


def test_built_statements_are_valid_by_both_validators() -> None:
    built = completed_statement()
    assert xapi.validate_statement(built) == []
    BaseXapiStatement(**json.loads(json.dumps(built)))


def test_timestamp_is_utc_with_milliseconds() -> None:
    assert xapi.timestamp(WHEN) == "2026-11-24T09:30:05.123Z"
    assert xapi.timestamp(WHEN.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-24T09:30:05.123Z"
    with pytest.raises(ValueError, match="aware"):
        xapi.timestamp(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "PT0S"), (3725.5, "PT1H2M5.5S"), (60, "PT1M"), (0.014, "PT0.01S"), (7200, "PT2H")]
)
def test_iso_durations(seconds: float, text: str) -> None:
    assert xapi.iso_duration(seconds) == text


def test_statement_ids_are_deterministic() -> None:
    assert xapi.statement_id("a", "b") == xapi.statement_id("a", "b")
    assert xapi.statement_id("a", "b") != xapi.statement_id("ab")
    assert xapi.validate_statement({**completed_statement(), "id": xapi.statement_id("x")}) == []


def test_agents_are_normalised_to_one_key_per_person() -> None:
    a = xapi.agent_key({"mbox": "mailto:Ada@Example.org"})
    b = xapi.agent_key({"objectType": "Agent", "mbox": "mailto:ada@example.org", "name": "Ada"})
    import hashlib

    c = xapi.agent_key({"mbox_sha1sum": hashlib.sha1(b"mailto:ada@example.org").hexdigest().upper()})
    assert a == b == c
    assert xapi.agent_key({"account": {"homePage": "https://lms.example/", "name": "42"}}) == xapi.agent_key(
        {"account": {"homePage": "https://lms.example", "name": "42"}}
    )
    with pytest.raises(ValueError):
        xapi.agent_key({"name": "nobody"})


@pytest.mark.parametrize(
    ("agent", "key"),
    [
        ({"mbox": "MAILTO: Ada@Example.org "}, "mbox_sha1sum:d714b8a95bd857a37405a7b56db9108b60ae42bd"),
        ({"mbox": "ada@example.org"}, "mbox_sha1sum:d714b8a95bd857a37405a7b56db9108b60ae42bd"),
        ({"mbox_sha1sum": " ABC "}, "mbox_sha1sum:abc"),
        ({"openid": " http://id.example/ada "}, "openid:http://id.example/ada"),
        ({"account": {"homePage": " https://lms.example// ", "name": 42}}, "account:https://lms.example|42"),
        ({"account": {"name": "x"}}, "account:|x"),
        ({"mbox": 5, "openid": "o"}, "openid:o"),
    ],
)
def test_agent_keys_are_pinned(agent: dict[str, Any], key: str) -> None:
    # Learners are stored under these keys: the same person must keep the same key
    # across releases, and agree with the normalised form's key.
    assert xapi.agent_key(agent) == key
    assert xapi.agent_key(xapi.normalise_agent(agent)) == key


def test_attainment_statement_follows_the_competency_profile() -> None:
    evidence = xapi.statement_id("completion", "42")
    built = xapi.statement(
        xapi.agent_from_account("https://lms.example.org", "1234"),
        xapi.ACHIEVED,
        xapi.activity("https://capcourse.example/uri/item", "Curiosity of self", xapi.COMPETENCY),
        xapi.statement_id("attainment", "1234", "item"),
        WHEN,
        xapi.result(success=True, completion=True),
        xapi.context(statement_ref=evidence),
    )
    assert xapi.validate_statement(built) == []
    BaseXapiStatement(**built)
    assert built["verb"] == {"id": "https://w3id.org/xapi/tla/verbs/achieved", "display": {"en-US": "achieved"}}


def _with(path: str, value: Any) -> JSONObject:
    built = json.loads(json.dumps(completed_statement()))
    target = built
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return built


_DELETE = object()
