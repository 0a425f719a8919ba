"""Run-time data commits: scorm-again's payloads, the flat form, the outcome rules and bad values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scorm import DataModel, Outcome, RuntimeDataError, parse_runtime
from scorm.runtime import timespan_to_duration
from tests.scorm.archives import RUNTIME

OBJECTIVE = "https://case.example.org/CFItems/abc"


def body(name: str) -> dict[str, Any]:
    payload = json.loads((RUNTIME / name).read_text(encoding="utf-8"))
    assert isinstance(payload["body"], dict)
    return payload["body"]


# scorm-again's commits -------------------------------------------------------


@pytest.mark.parametrize("name", ["scorm-again-12-json-commit.json", "scorm-again-12-json-terminate-commit.json"])
def test_scorm_again_12(name: str) -> None:
    data = parse_runtime(body(name))
    assert data.data_model is DataModel.SCORM_12
    assert data.lesson_status == "passed"
    assert (data.completion_status, data.success_status) == ("completed", "passed")
    assert (data.score.raw, data.score.min, data.score.max) == (85, None, 100)
    assert data.score.scaled == 0.85 and data.score.scaled_computed
    assert data.session_time == "PT5M30S"
    assert data.passing_score == 0.8
    assert data.learner_id == "learner-1"
    assert data.mode == "normal"
    assert data.credit is None and data.exit is None
    (objective,) = data.objectives
    assert (objective.id, objective.status, objective.success_status) == (OBJECTIVE, "passed", "passed")
    assert objective.score.max == 100 and objective.score.raw is None and objective.score.scaled is None
    assert objective.outcome is Outcome.PASSED
    assert data.outcome is Outcome.PASSED
    final = name.endswith("terminate-commit.json")
    assert data.total_time == ("PT5M30S" if final else None)


@pytest.mark.parametrize(
    "name", ["scorm-again-2004-common-fields-commit.json", "scorm-again-2004-common-fields-terminate-commit.json"]
)
def test_scorm_again_2004_with_common_fields(name: str) -> None:
    data = parse_runtime(body(name))
    assert data.data_model is DataModel.SCORM_2004
    assert data.lesson_status is None
    assert (data.completion_status, data.success_status) == ("completed", "failed")
    assert data.score.scaled == 0.4 and not data.score.scaled_computed
    assert data.score.raw is None
    assert data.session_time == "PT5M30S"
    assert data.credit == "credit"
    assert data.passing_score is None
    (objective,) = data.objectives
    assert (objective.id, objective.completion_status, objective.success_status) == (OBJECTIVE, "unknown", "failed")
    assert objective.outcome is Outcome.FAILED
    # A success verdict wins over completion.
    assert data.outcome is Outcome.FAILED
    assert data.outcome.verb_id == "http://adlnet.gov/expapi/verbs/failed"
    assert data.total_time == ("PT5M30S" if name.endswith("terminate-commit.json") else None)


def test_the_common_fields_agree_with_the_cmi_object() -> None:
    payload = body("scorm-again-2004-common-fields-terminate-commit.json")
    data = parse_runtime(payload)
    assert payload["completionStatus"] == data.completion_status
    assert payload["successStatus"] == data.success_status
    assert payload["score"]["scaled"] == data.score.scaled
    assert payload["totalTimeSeconds"] == 330 and data.total_time == "PT5M30S"


def test_common_fields_around_a_flat_commit() -> None:
    # scorm-again with renderCommonCommitFields and dataCommitFormat "flattened": flat keys under runtimeData.
    data = parse_runtime(
        {
            "runtimeData": {"cmi.completion_status": "completed", "cmi.success_status": "passed"},
            "completionStatus": "completed",
            "successStatus": "passed",
        }
    )
    assert (data.data_model, data.outcome) == (DataModel.SCORM_2004, Outcome.PASSED)


def test_text_and_bytes_bodies() -> None:
    text = json.dumps(body("scorm-again-12-json-commit.json"))
    assert parse_runtime(text).outcome is Outcome.PASSED
    assert parse_runtime(text.encode()).outcome is Outcome.PASSED


# The plain flat form ---------------------------------------------------------


def test_flat_12() -> None:
    data = parse_runtime(
        {
            "cmi.core.lesson_status": "completed",
            "cmi.core.score.raw": "17",
            "cmi.core.score.min": "0",
            "cmi.core.score.max": "20",
            "cmi.core.session_time": "0001:02:03.5",
            "cmi.core.exit": "suspend",
            "cmi.objectives._count": "2",
            "cmi.objectives.0.id": "obj-a",
            "cmi.objectives.0.status": "failed",
            "cmi.objectives.1.id": "obj-b",
            "cmi.objectives.1.status": "incomplete",
            "adl.nav.request": "continue",
        }
    )
    assert data.data_model is DataModel.SCORM_12
    assert (data.completion_status, data.success_status, data.outcome) == ("completed", "unknown", Outcome.COMPLETED)
    assert data.score.scaled == 0.85
    assert data.session_time == "PT1H2M3.5S"
    assert data.exit == "suspend"
    assert [(objective.id, objective.outcome) for objective in data.objectives] == [
        ("obj-a", Outcome.FAILED),
        ("obj-b", None),
    ]


def test_flat_2004_with_numbers() -> None:
    data = parse_runtime(
        {
            "cmi.completion_status": "incomplete",
            "cmi.success_status": "unknown",
            "cmi.score.raw": 30,
            "cmi.score.min": 0,
            "cmi.score.max": 40,
            "cmi.progress_measure": 0.5,
            "cmi.session_time": "PT1H",
        }
    )
    assert data.data_model is DataModel.SCORM_2004
    assert data.score.scaled == 0.75 and data.score.scaled_computed
    assert data.progress_measure == 0.5
    assert data.outcome is None


def test_objectives_as_a_list() -> None:
    data = parse_runtime({"cmi": {"objectives": [{"id": "o", "success_status": "passed"}]}})
    assert data.data_model is DataModel.SCORM_2004
    assert data.objectives[0].outcome is Outcome.PASSED


# Outcome and status rules ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome", "completion"),
    [
        ("passed", Outcome.PASSED, "completed"),
        ("failed", Outcome.FAILED, "completed"),
        ("completed", Outcome.COMPLETED, "completed"),
        ("incomplete", None, "incomplete"),
        ("browsed", None, "incomplete"),
        ("not attempted", None, "not attempted"),
    ],
)
def test_12_lesson_status_outcomes(status: str, outcome: Outcome | None, completion: str) -> None:
    data = parse_runtime({"cmi.core.lesson_status": status})
    assert data.outcome is outcome
    assert data.completion_status == completion


@pytest.mark.parametrize(
    ("status", "raw", "credit", "expected"),
    [
        ("completed", "70", "credit", Outcome.FAILED),
        ("completed", "80", "credit", Outcome.PASSED),
        ("completed", "95", "", Outcome.PASSED),
        ("completed", "70", "no-credit", Outcome.COMPLETED),
        ("completed", "", "credit", Outcome.COMPLETED),
        ("passed", "10", "credit", Outcome.PASSED),
        ("failed", "99", "credit", Outcome.FAILED),
        ("incomplete", "99", "credit", None),
    ],
)
def test_12_mastery_score_decides_only_a_completed_status(
    status: str, raw: str, credit: str, expected: Outcome | None
) -> None:
    commit = {
        "cmi.core.lesson_status": status,
        "cmi.core.score.raw": raw,
        "cmi.core.credit": credit,
        "cmi.student_data.mastery_score": "80",
    }
    assert parse_runtime(commit).outcome is expected


@pytest.mark.parametrize(
    ("commit", "expected"),
    [
        ({"cmi.core.lesson_status": "not attempted"}, Outcome.COMPLETED),
        ({"cmi.core.lesson_status": ""}, Outcome.COMPLETED),
        ({"cmi.core.lesson_status": "not attempted", "cmi.core.lesson_mode": "normal"}, Outcome.COMPLETED),
        # Completed, then the mastery score decides, as for a SCO that set completed itself.
        (
            {
                "cmi.core.lesson_status": "not attempted",
                "cmi.core.score.raw": "60",
                "cmi.student_data.mastery_score": "80",
            },
            Outcome.FAILED,
        ),
        ({"cmi.core.lesson_status": "not attempted", "cmi.core.lesson_mode": "browse"}, None),
        ({"cmi.core.lesson_status": "incomplete"}, None),
        ({"cmi.core.lesson_status": "browsed"}, None),
        ({"cmi.core.lesson_status": "passed"}, Outcome.PASSED),
    ],
)
def test_12_a_sco_that_finishes_without_a_status_completed_it(commit: dict[str, str], expected: Outcome | None) -> None:
    """SCORM 1.2 RTE 3.4.4: at LMSFinish the LMS makes an unset (not attempted) status completed; only then."""
    assert parse_runtime(commit, finished=True).outcome is expected
    finished = parse_runtime(commit, finished=True)
    assert finished.lesson_status == (commit["cmi.core.lesson_status"] or None)  # what the SCO sent, kept
    if commit["cmi.core.lesson_status"] in ("", "not attempted"):
        assert parse_runtime(commit).outcome is None  # an intermediate commit is read as sent


def test_2004_finishing_changes_nothing() -> None:
    commit = {"cmi.completion_status": "unknown", "cmi.success_status": "unknown"}
    assert parse_runtime(commit, finished=True).outcome is None


def test_the_manifest_passing_score_overrides_the_commits() -> None:
    commit = {"cmi.core.lesson_status": "completed", "cmi.core.score.raw": "85", "cmi.student_data.mastery_score": "80"}
    assert parse_runtime(commit).outcome is Outcome.PASSED
    assert parse_runtime(commit, passing_score=0.9).outcome is Outcome.FAILED
    assert parse_runtime(commit, passing_score=0.9).passing_score == 0.9


@pytest.mark.parametrize(
    ("completion", "success", "expected"),
    [
        ("completed", "passed", Outcome.PASSED),
        ("incomplete", "passed", Outcome.PASSED),
        ("completed", "failed", Outcome.FAILED),
        ("completed", "unknown", Outcome.COMPLETED),
        ("incomplete", "unknown", None),
        ("unknown", "unknown", None),
        ("not attempted", "unknown", None),
    ],
)
def test_2004_outcomes(completion: str, success: str, expected: Outcome | None) -> None:
    commit = {"cmi.completion_status": completion, "cmi.success_status": success}
    assert parse_runtime(commit).outcome is expected


def test_2004_scaled_passing_score_decides_success() -> None:
    commit = {"cmi.success_status": "passed", "cmi.score.scaled": "0.6", "cmi.scaled_passing_score": "0.7"}
    assert parse_runtime(commit).success_status == "failed"
    assert parse_runtime({**commit, "cmi.score.scaled": "0.7"}).success_status == "passed"
    # With a passing score but no scaled score, success is unknown (RTE GetValue).
    no_score = {"cmi.success_status": "passed", "cmi.scaled_passing_score": "0.7"}
    assert parse_runtime(no_score).success_status == "unknown"
    assert (
        parse_runtime({"cmi.success_status": "passed", "cmi.score.scaled": "0.1"}, passing_score=0.5).outcome
        is Outcome.FAILED
    )


def test_2004_completion_threshold_decides_completion() -> None:
    commit = {"cmi.completion_status": "incomplete", "cmi.completion_threshold": "0.8", "cmi.progress_measure": "0.9"}
    data = parse_runtime(commit)
    assert (data.completion_status, data.completion_threshold, data.outcome) == ("completed", 0.8, Outcome.COMPLETED)
    assert parse_runtime({**commit, "cmi.progress_measure": "0.5"}).completion_status == "incomplete"
    assert parse_runtime({**commit, "cmi.progress_measure": ""}).completion_status == "unknown"


@pytest.mark.parametrize(
    ("score", "scaled"),
    [
        ({"cmi.core.score.raw": "85"}, 0.85),
        ({"cmi.core.score.raw": "17", "cmi.core.score.max": "20"}, 0.85),
        ({"cmi.core.score.raw": "60", "cmi.core.score.min": "50", "cmi.core.score.max": "70"}, 0.5),
        ({"cmi.core.score.raw": "90", "cmi.core.score.max": "20"}, None),
        ({"cmi.core.score.raw": "5", "cmi.core.score.min": "10", "cmi.core.score.max": "10"}, None),
        ({}, None),
    ],
)
def test_12_scaled_score(score: dict[str, str], scaled: float | None) -> None:
    data = parse_runtime({"cmi.core.lesson_status": "completed", **score})
    assert data.score.scaled == scaled


def test_2004_scaled_needs_min_and_max() -> None:
    assert parse_runtime({"cmi.completion_status": "completed", "cmi.score.raw": "85"}).score.scaled is None


@pytest.mark.parametrize(
    ("timespan", "duration"),
    [
        ("00:05:30", "PT5M30S"),
        ("0000:00:00.00", "PT0S"),
        ("01:00:00", "PT1H"),
        ("9999:59:59.99", "PT9999H59M59.99S"),
        ("00:00:07.5", "PT7.5S"),
        ("12:00:00.10", "PT12H0.1S"),
    ],
)
def test_timespans(timespan: str, duration: str) -> None:
    assert timespan_to_duration(timespan) == duration


@pytest.mark.parametrize("timespan", ["5:30", "00:60:00", "00:00:00.123", "PT5M", "00:05:30 "])
def test_bad_timespans(timespan: str) -> None:
    if timespan.strip() != timespan:
        assert timespan_to_duration(timespan) == "PT5M30S"
        return
    with pytest.raises(ValueError):
        timespan_to_duration(timespan)


# Bad values ------------------------------------------------------------------


def test_bad_lesson_status_names_the_element() -> None:
    with pytest.raises(RuntimeDataError) as caught:
        parse_runtime({"cmi": {"core": {"lesson_status": "done"}}})
    assert str(caught.value) == (
        "cmi.core.lesson_status: 'done' is not one of 'passed', 'completed', 'failed', 'incomplete', "
        "'browsed', 'not attempted'"
    )
    assert caught.value.element == "cmi.core.lesson_status"


@pytest.mark.parametrize(
    ("commit", "element", "message"),
    [
        (
            {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "lots"},
            "cmi.core.score.raw",
            "'lots' is not a number",
        ),
        (
            {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "105"},
            "cmi.core.score.raw",
            "105 is not between 0 and 100",
        ),
        ({"cmi.core.session_time": "5 minutes"}, "cmi.core.session_time", "is not a CMITimespan"),
        ({"cmi.core.lesson_status": "passed", "cmi.core.exit": "normal"}, "cmi.core.exit", "'normal' is not one of"),
        ({"cmi.success_status": "won"}, "cmi.success_status", "'won' is not one of 'passed', 'failed', 'unknown'"),
        ({"cmi.completion_status": "done"}, "cmi.completion_status", "is not one of 'completed'"),
        ({"cmi.score.scaled": "1.5"}, "cmi.score.scaled", "1.5 is not between -1 and 1"),
        ({"cmi.score.scaled": "nan"}, "cmi.score.scaled", "'nan' is not a number"),
        ({"cmi.session_time": "00:05:30"}, "cmi.session_time", "is not an ISO 8601 duration"),
        ({"cmi.session_time": "P"}, "cmi.session_time", "is not an ISO 8601 duration"),
        ({"cmi.progress_measure": 2}, "cmi.progress_measure", "2 is not between 0 and 1"),
        ({"cmi.completion_status": True}, "cmi.completion_status", "expected a value, got bool"),
        ({"cmi.objectives.0.success_status": "passed"}, "cmi.objectives.0.id", "missing"),
        ({"cmi": {"objectives": {"0": "x"}, "success_status": "passed"}}, "cmi.objectives.0", "expected an object"),
    ],
)
def test_bad_values(commit: dict[str, Any], element: str, message: str) -> None:
    with pytest.raises(RuntimeDataError) as caught:
        parse_runtime(commit)
    assert caught.value.element == element
    assert message in str(caught.value)


def test_every_bad_value_is_reported() -> None:
    with pytest.raises(RuntimeDataError) as caught:
        parse_runtime({"cmi.core.lesson_status": "done", "cmi.core.score.raw": "x", "cmi.core.session_time": "y"})
    assert [element for element, _ in caught.value.errors] == [
        "cmi.core.lesson_status",
        "cmi.core.score.raw",
        "cmi.core.session_time",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "body: not JSON"),
        ("[1, 2]", "body: expected a JSON object, got list"),
        ({"completionStatus": "completed"}, "holds no SCORM run-time data"),
        ({"cmi": {"core": {}, "completion_status": "completed"}}, "mixes SCORM 1.2 elements"),
        ({"cmi": {"suspend_data": "x"}}, "cannot tell SCORM 1.2 from 2004"),
        ({"cmi.core.lesson_status.x": "y", "cmi.core.lesson_status": "passed"}, "is also the prefix"),
        ({"cmi.core": "x", "cmi.core.lesson_status": "passed"}, "cmi.core is given a value too"),
    ],
)
def test_not_runtime_data(data: Any, message: str) -> None:
    with pytest.raises(RuntimeDataError, match=message.replace(".", r"\.")):
        parse_runtime(data)


def test_the_data_model_can_be_given() -> None:
    data = parse_runtime({"cmi": {"suspend_data": "x"}}, data_model=DataModel.SCORM_2004)
    assert (data.data_model, data.outcome) == (DataModel.SCORM_2004, None)
