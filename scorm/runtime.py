"""SCORM run-time data as a browser player commits it, normalised.

:func:`parse_runtime` reads three shapes, for SCORM 1.2 and SCORM 2004:

- the JSON the npm package scorm-again posts to its ``lmsCommitUrl``:
  ``{"cmi": {...}}``, with arrays (``objectives``, ``interactions``) as objects
  keyed ``"0"``, ``"1"``, …;
- the same with scorm-again's ``renderCommonCommitFields``:
  ``{"completionStatus": …, "successStatus": …, "totalTimeSeconds": …,
  "runtimeData": {"cmi": {...}}, "score": {...}}`` (``runtimeData.cmi`` is read;
  the summary fields repeat it);
- a plain flat form with the data-model element names as keys, values as
  strings (or numbers)::

      {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "85",
       "cmi.core.session_time": "00:05:30", "cmi.objectives.0.id": "https://…",
       "cmi.objectives.0.status": "passed"}

  (scorm-again's ``dataCommitFormat: "flattened"`` sends this form too).

Empty strings mean "not set", as scorm-again sends every element. The data
model (1.2 or 2004) is told by the elements present (``cmi.core.*`` is 1.2,
``cmi.completion_status`` and friends 2004) unless the caller says it.

The result, :class:`RuntimeData`, uses the SCORM 2004 vocabulary for both
versions: a completion status and a success status, the score with ``scaled``
computed when absent, times as ISO 8601 durations, and objectives. Elements
capcourse has no use for (interactions, suspend data, preferences, comments)
are not read, and elements of neither data model are ignored.

Rules, following the ADL xAPI SCORM Profile (section 6, and the result of the
*terminated* statement in section 5) and the SCORM run-time data models:

- **1.2 lesson_status** splits into completion and success: ``passed`` →
  completed/passed, ``failed`` → completed/failed (the learner reached a
  verdict), ``completed`` → completed/unknown, ``incomplete`` and ``browsed`` →
  incomplete/unknown, ``not attempted`` → not attempted/unknown.
- **1.2 LMSFinish**: the commit sent when the SCO finished (``finished``) with
  lesson_status still ``not attempted`` (or none), in normal mode, is taken as
  ``completed``: the SCORM 1.2 RTE (3.4.4, cmi.core.lesson_status) has the LMS
  set it so "upon receiving the LMSFinish() call" when the SCO set no status.
  Intermediate commits are read as sent.
- **1.2 mastery score** (``cmi.student_data.mastery_score``, or the manifest's
  passed as ``passing_score``) turns ``completed`` into
  passed or failed by ``score.raw`` ≥ mastery score, when a raw score was set
  and the attempt is for credit. A ``passed``, ``failed`` or ``incomplete`` the
  SCO set stands: the SCORM 1.2 RTE (3.4.4, cmi.core.lesson_status) gives the
  LMS the comparison "after setting the cmi.core.lesson_status to completed",
  and the Profile maps what the SCO reported, never overriding it.
- **2004** evaluates as the RTE says ``GetValue`` does: with a
  ``cmi.scaled_passing_score``, success is passed or failed by ``score.scaled``
  (unknown without one); with a ``cmi.completion_threshold``, completion is
  completed or incomplete by ``cmi.progress_measure`` (unknown without one);
  otherwise what the SCO set.
- **Scaled score**, when not sent: ``(raw − min) / (max − min)``. In 1.2, min
  defaults to 0 and max to 100, so a bare raw score gives raw ÷ 100, which is
  the Profile's rule ("the value of SCORM 1.2 cmi.core.score.raw divided by
  100 … should be reported to xAPI as score.scaled"). In 2004 both min and max
  are needed. A result outside −1…1 is not reported.
- **Outcome** (:attr:`RuntimeData.outcome`, the xAPI verb): success passed →
  *passed*, failed → *failed*; else completion completed → *completed*; else
  none. For 1.2 this is lesson_status passed → passed, failed → failed,
  completed → completed, and incomplete, browsed or not attempted → none.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from scorm.errors import RuntimeDataError

logger = logging.getLogger(__name__)

CompletionStatus = Literal["completed", "incomplete", "not attempted", "unknown"]
SuccessStatus = Literal["passed", "failed", "unknown"]

LESSON_STATUSES = ("passed", "completed", "failed", "incomplete", "browsed", "not attempted")
COMPLETION_STATUSES: tuple[CompletionStatus, ...] = ("completed", "incomplete", "not attempted", "unknown")
SUCCESS_STATUSES: tuple[SuccessStatus, ...] = ("passed", "failed", "unknown")

_LESSON_STATUS_SPLIT: dict[str, tuple[CompletionStatus, SuccessStatus]] = {
    "passed": ("completed", "passed"),
    "failed": ("completed", "failed"),
    "completed": ("completed", "unknown"),
    "incomplete": ("incomplete", "unknown"),
    "browsed": ("incomplete", "unknown"),
    "not attempted": ("not attempted", "unknown"),
}

_VOCABULARIES_12 = {
    "exit": ("time-out", "suspend", "logout", ""),
    "entry": ("ab-initio", "resume", ""),
    "credit": ("credit", "no-credit"),
    "lesson_mode": ("browse", "normal", "review"),
}
_VOCABULARIES_2004 = {
    "exit": ("timeout", "suspend", "logout", "normal", ""),
    "entry": ("ab-initio", "resume", ""),
    "credit": ("credit", "no-credit"),
    "mode": ("browse", "normal", "review"),
}

_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# CMITimespan: HHHH:MM:SS.SS (hours two to four digits, optional one or two decimals).
_TIMESPAN = re.compile(r"^(\d{2,4}):([0-5]\d):([0-5]\d)(\.\d{1,2})?$")
# timeinterval (second,10,2): ISO 8601 duration, at least one component.
_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")

# Elements only one data model has, to tell a commit's version.
_MARKERS_12 = frozenset({"core", "student_data", "student_preference"})
_MARKERS_2004 = frozenset(
    {
        "completion_status",
        "success_status",
        "score",
        "session_time",
        "total_time",
        "learner_id",
        "learner_name",
        "learner_preference",
        "mode",
        "location",
        "progress_measure",
        "scaled_passing_score",
        "completion_threshold",
        "comments_from_learner",
    }
)


class DataModel(enum.StrEnum):
    """The run-time data model a commit follows."""

    SCORM_12 = "1.2"
    SCORM_2004 = "2004"


class Outcome(enum.StrEnum):
    """What an attempt comes to, as the ADL verb the xAPI SCORM Profile uses for it."""

    PASSED = "passed"
    FAILED = "failed"
    COMPLETED = "completed"

    @property
    def verb_id(self) -> str:
        """The ADL verb IRI, e.g. ``http://adlnet.gov/expapi/verbs/passed``."""
        return f"http://adlnet.gov/expapi/verbs/{self.value}"


def outcome_of(completion_status: CompletionStatus, success_status: SuccessStatus) -> Outcome | None:
    """The xAPI verb outcome (ADL xAPI SCORM Profile): a success verdict wins, then completion; else None."""
    if success_status == "passed":
        return Outcome.PASSED
    if success_status == "failed":
        return Outcome.FAILED
    if completion_status == "completed":
        return Outcome.COMPLETED
    return None


@dataclass(frozen=True)
class Score:
    """A score; ``scaled`` is −1…1 (computed from raw, min and max when not sent: see :attr:`scaled_computed`)."""

    raw: float | None = None
    min: float | None = None
    max: float | None = None
    scaled: float | None = None
    #: True when :attr:`scaled` was computed rather than sent.
    scaled_computed: bool = False


@dataclass(frozen=True)
class ObjectiveResult:
    """One ``cmi.objectives.n``."""

    id: str
    completion_status: CompletionStatus
    success_status: SuccessStatus
    score: Score
    #: 1.2 ``status`` as sent (None in 2004).
    status: str | None = None
    progress_measure: float | None = None
    description: str | None = None

    @property
    def outcome(self) -> Outcome | None:
        """The xAPI verb outcome for this objective."""
        return outcome_of(self.completion_status, self.success_status)


@dataclass(frozen=True)
class RuntimeData:
    """A commit's run-time data, in one shape for both SCORM versions."""

    data_model: DataModel
    completion_status: CompletionStatus
    success_status: SuccessStatus
    score: Score
    #: ISO 8601 duration (1.2 ``HHHH:MM:SS.SS`` converted).
    session_time: str | None = None
    #: ISO 8601 duration; players send it on the final (terminate) commit.
    total_time: str | None = None
    objectives: tuple[ObjectiveResult, ...] = ()
    #: 1.2 ``cmi.core.lesson_status`` as sent (None in 2004).
    lesson_status: str | None = None
    learner_id: str | None = None
    learner_name: str | None = None
    credit: str | None = None
    mode: str | None = None
    entry: str | None = None
    exit: str | None = None
    location: str | None = None
    progress_measure: float | None = None
    #: The mastery score, scaled 0–1 (1.2 mastery score ÷ 100, 2004 ``cmi.scaled_passing_score``).
    passing_score: float | None = None
    completion_threshold: float | None = None

    @property
    def outcome(self) -> Outcome | None:
        """The xAPI verb outcome of the attempt (see the module documentation)."""
        return outcome_of(self.completion_status, self.success_status)


def timespan_to_duration(value: str) -> str:
    """A SCORM 1.2 CMITimespan (``HHHH:MM:SS.SS``) as an ISO 8601 duration, e.g. ``00:05:30`` → ``PT5M30S``.

    :raises ValueError: not a CMITimespan.
    """
    match = _TIMESPAN.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a CMITimespan (HHHH:MM:SS.SS)")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3))
    fraction = (match.group(4) or "").rstrip("0").rstrip(".")
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds or fraction or text == "PT":
        text += f"{seconds}{fraction}S"
    return text


class _Reader:
    """Reads values out of the nested ``cmi`` object, collecting every error."""

    def __init__(self, cmi: Mapping[str, object]) -> None:
        self.cmi = cmi
        self.errors: list[tuple[str, str]] = []

    def error(self, element: str, message: str) -> None:
        self.errors.append((element, message))

    def node(self, path: str) -> object:
        current: object = self.cmi
        for part in path.split(".")[1:]:
            if isinstance(current, Mapping):
                current = current.get(part)
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return None
        return current

    def text(self, path: str) -> str | None:
        """The element's value; None when absent or empty."""
        value = self.node(path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(path, f"expected a value, got {type(value).__name__}")
            return None
        text = value if isinstance(value, str) else repr(value)
        return text if text.strip() else None

    def vocabulary(self, path: str, allowed: Iterable[str]) -> str | None:
        text = self.text(path)
        options = tuple(allowed)
        if text is None:
            return None
        value = text.strip()
        if value not in options:
            listed = ", ".join(repr(option) for option in options if option)
            self.error(path, f"{value!r} is not one of {listed}")
            return None
        return value

    def number(self, path: str, low: float | None = None, high: float | None = None) -> float | None:
        raw = self.node(path)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
            text = repr(raw)
        else:
            text_value = self.text(path)
            if text_value is None:
                return None
            text = text_value.strip()
            if not _DECIMAL.match(text):
                self.error(path, f"{text_value!r} is not a number")
                return None
            value = float(text)
        if math.isnan(value) or math.isinf(value):
            self.error(path, f"{text} is not a number")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else "in range"
            self.error(path, f"{text} is not {bounds}")
            return None
        return value

    def duration(self, path: str, data_model: DataModel) -> str | None:
        value = self.text(path)
        if value is None:
            return None
        value = value.strip()
        if data_model is DataModel.SCORM_12:
            try:
                return timespan_to_duration(value)
            except ValueError:
                self.error(path, f"{value!r} is not a CMITimespan (HHHH:MM:SS.SS)")
                return None
        if not _DURATION.match(value):
            self.error(path, f"{value!r} is not an ISO 8601 duration (e.g. PT1H5M30S)")
            return None
        return value

    def entries(self, path: str) -> list[tuple[str, Mapping[str, object]]]:
        """The members of a collection (``cmi.objectives``): an object keyed "0", "1", … or a list."""
        node = self.node(path)
        if node is None:
            return []
        if isinstance(node, list):
            items = list(enumerate(node))
        elif isinstance(node, Mapping):
            # scorm-again sends arrays as objects keyed by index; other keys
            # (_count, _children) describe the array and are not members.
            items = sorted((int(key), value) for key, value in node.items() if str(key).isdigit())
        else:
            self.error(path, f"expected a collection, got {type(node).__name__}")
            return []
        found = []
        for index, value in items:
            if isinstance(value, Mapping):
                found.append((f"{path}.{index}", value))
            else:
                self.error(f"{path}.{index}", f"expected an object, got {type(value).__name__}")
        return found


def _scaled(raw: float | None, low: float | None, high: float | None) -> float | None:
    if raw is None or low is None or high is None or high <= low:
        return None
    value = round((raw - low) / (high - low), 10)
    return value if -1.0 <= value <= 1.0 else None


def _score(reader: _Reader, path: str, data_model: DataModel) -> Score:
    if data_model is DataModel.SCORM_12:
        raw = reader.number(f"{path}.raw", 0, 100)
        low = reader.number(f"{path}.min", 0, 100)
        high = reader.number(f"{path}.max", 0, 100)
        scaled = _scaled(raw, 0.0 if low is None else low, 100.0 if high is None else high)
        return Score(raw, low, high, scaled, scaled_computed=scaled is not None)
    raw = reader.number(f"{path}.raw")
    low = reader.number(f"{path}.min")
    high = reader.number(f"{path}.max")
    given = reader.number(f"{path}.scaled", -1, 1)
    if given is not None:
        return Score(raw, low, high, given)
    scaled = _scaled(raw, low, high)
    return Score(raw, low, high, scaled, scaled_computed=scaled is not None)


def _parse_12(reader: _Reader, passing_score: float | None, finished: bool) -> RuntimeData:
    model = DataModel.SCORM_12
    status = reader.vocabulary("cmi.core.lesson_status", LESSON_STATUSES)
    mode = reader.vocabulary("cmi.core.lesson_mode", _VOCABULARIES_12["lesson_mode"])
    # The LMS's part at LMSFinish: a SCO that set no status is completed (RTE 3.4.4).
    effective = "completed" if finished and status in (None, "not attempted") and mode in (None, "normal") else status
    completion, success = _LESSON_STATUS_SPLIT.get(effective or "", ("unknown", "unknown"))
    score = _score(reader, "cmi.core.score", model)
    sent_mastery = reader.number("cmi.student_data.mastery_score", 0, 100)
    mastery = passing_score * 100 if passing_score is not None else sent_mastery
    credit = reader.vocabulary("cmi.core.credit", _VOCABULARIES_12["credit"])
    if effective == "completed" and mastery is not None and score.raw is not None and credit != "no-credit":
        success = "passed" if score.raw >= mastery else "failed"
    objectives = []
    for path, _ in reader.entries("cmi.objectives"):
        identifier = reader.text(f"{path}.id")
        if identifier is None:
            reader.error(f"{path}.id", "missing: every objective needs an id")
            continue
        objective_status = reader.vocabulary(f"{path}.status", LESSON_STATUSES)
        objective_completion, objective_success = _LESSON_STATUS_SPLIT.get(
            objective_status or "", ("unknown", "unknown")
        )
        objectives.append(
            ObjectiveResult(
                id=identifier,
                completion_status=objective_completion,
                success_status=objective_success,
                score=_score(reader, f"{path}.score", model),
                status=objective_status,
            )
        )
    return RuntimeData(
        data_model=model,
        completion_status=completion,
        success_status=success,
        score=score,
        session_time=reader.duration("cmi.core.session_time", model),
        total_time=reader.duration("cmi.core.total_time", model),
        objectives=tuple(objectives),
        lesson_status=status,
        learner_id=reader.text("cmi.core.student_id"),
        learner_name=reader.text("cmi.core.student_name"),
        credit=credit,
        mode=mode,
        entry=reader.vocabulary("cmi.core.entry", _VOCABULARIES_12["entry"]),
        exit=reader.vocabulary("cmi.core.exit", _VOCABULARIES_12["exit"]),
        location=reader.text("cmi.core.lesson_location"),
        passing_score=None if mastery is None else mastery / 100,
    )


def _evaluate_2004(
    completion: CompletionStatus | None,
    success: SuccessStatus | None,
    scaled: float | None,
    progress: float | None,
    passing: float | None,
    threshold: float | None,
) -> tuple[CompletionStatus, SuccessStatus]:
    if passing is not None:
        success = "unknown" if scaled is None else ("passed" if scaled >= passing else "failed")
    if threshold is not None:
        completion = "unknown" if progress is None else ("completed" if progress >= threshold else "incomplete")
    return completion or "unknown", success or "unknown"


def _completion(reader: _Reader, path: str) -> CompletionStatus | None:
    value = reader.vocabulary(path, COMPLETION_STATUSES)
    return next((status for status in COMPLETION_STATUSES if status == value), None)


def _success(reader: _Reader, path: str) -> SuccessStatus | None:
    value = reader.vocabulary(path, SUCCESS_STATUSES)
    return next((status for status in SUCCESS_STATUSES if status == value), None)


def _parse_2004(reader: _Reader, passing_score: float | None) -> RuntimeData:
    model = DataModel.SCORM_2004
    score = _score(reader, "cmi.score", model)
    progress = reader.number("cmi.progress_measure", 0, 1)
    sent_passing = reader.number("cmi.scaled_passing_score", -1, 1)
    passing = passing_score if passing_score is not None else sent_passing
    threshold = reader.number("cmi.completion_threshold", 0, 1)
    completion, success = _evaluate_2004(
        _completion(reader, "cmi.completion_status"),
        _success(reader, "cmi.success_status"),
        None if score.scaled_computed else score.scaled,
        progress,
        passing,
        threshold,
    )
    objectives = []
    for path, _ in reader.entries("cmi.objectives"):
        identifier = reader.text(f"{path}.id")
        if identifier is None:
            reader.error(f"{path}.id", "missing: every objective needs an id")
            continue
        objective_completion = _completion(reader, f"{path}.completion_status") or "unknown"
        objective_success = _success(reader, f"{path}.success_status") or "unknown"
        objectives.append(
            ObjectiveResult(
                id=identifier,
                completion_status=objective_completion,
                success_status=objective_success,
                score=_score(reader, f"{path}.score", model),
                progress_measure=reader.number(f"{path}.progress_measure", 0, 1),
                description=reader.text(f"{path}.description"),
            )
        )
    return RuntimeData(
        data_model=model,
        completion_status=completion,
        success_status=success,
        score=score,
        session_time=reader.duration("cmi.session_time", model),
        total_time=reader.duration("cmi.total_time", model),
        objectives=tuple(objectives),
        learner_id=reader.text("cmi.learner_id"),
        learner_name=reader.text("cmi.learner_name"),
        credit=reader.vocabulary("cmi.credit", _VOCABULARIES_2004["credit"]),
        mode=reader.vocabulary("cmi.mode", _VOCABULARIES_2004["mode"]),
        entry=reader.vocabulary("cmi.entry", _VOCABULARIES_2004["entry"]),
        exit=reader.vocabulary("cmi.exit", _VOCABULARIES_2004["exit"]),
        location=reader.text("cmi.location"),
        progress_measure=progress,
        passing_score=passing,
        completion_threshold=threshold,
    )


def _nest(flat: Mapping[str, object]) -> dict[str, object]:
    """``{"cmi.core.score.raw": "85"}`` → ``{"core": {"score": {"raw": "85"}}}`` (the ``cmi`` object)."""
    cmi: dict[str, object] = {}
    errors = []
    for key, value in flat.items():
        if not key.startswith("cmi."):
            continue
        parts = key.split(".")[1:]
        if any(part.startswith("_") for part in parts):
            continue  # _count, _children, _version describe the model; they are not data
        node = cmi
        for depth, part in enumerate(parts[:-1], start=1):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                errors.append((key, f"{'.'.join(['cmi', *parts[:depth]])} is given a value too"))
                break
            node = child
        else:
            if isinstance(node.get(parts[-1]), dict):
                errors.append((key, "is also the prefix of other elements"))
            else:
                node[parts[-1]] = value
    if errors:
        raise RuntimeDataError(errors)
    return cmi


def _cmi(body: object) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise RuntimeDataError([("body", f"expected a JSON object, got {type(body).__name__}")])
    runtime_data = body.get("runtimeData")
    if isinstance(runtime_data, Mapping):
        # renderCommonCommitFields wraps whatever commit format was chosen, nested or flat.
        return _cmi(runtime_data)
    nested = body.get("cmi")
    if isinstance(nested, Mapping):
        return nested
    if any(isinstance(key, str) and key.startswith("cmi.") for key in body):
        return _nest({str(key): value for key, value in body.items()})
    raise RuntimeDataError(
        [("body", "holds no SCORM run-time data: expected 'cmi', 'runtimeData.cmi' or 'cmi.…' keys")]
    )


def detect_data_model(cmi: Mapping[str, object]) -> DataModel:
    """1.2 or 2004, from the elements of a ``cmi`` object.

    :raises RuntimeDataError: elements of both, or of neither.
    """
    keys = {str(key) for key in cmi}
    has_12 = bool(keys & _MARKERS_12)
    has_2004 = bool(keys & _MARKERS_2004)
    if has_12 and not has_2004:
        return DataModel.SCORM_12
    if has_2004 and not has_12:
        return DataModel.SCORM_2004
    if has_12 and has_2004:
        raise RuntimeDataError(
            [("cmi", "mixes SCORM 1.2 elements (cmi.core …) with SCORM 2004 ones (cmi.completion_status …)")]
        )
    # Only objectives (or nothing): their fields tell.
    objectives = cmi.get("objectives")
    members = objectives.values() if isinstance(objectives, Mapping) else objectives
    if isinstance(members, Iterable) and not isinstance(members, str | bytes):
        for member in members:
            if isinstance(member, Mapping):
                if "status" in member:
                    return DataModel.SCORM_12
                if "success_status" in member or "completion_status" in member:
                    return DataModel.SCORM_2004
    raise RuntimeDataError([("cmi", "cannot tell SCORM 1.2 from 2004: no cmi.core nor cmi.completion_status elements")])


def parse_runtime(
    data: Mapping[str, object] | str | bytes,
    *,
    data_model: DataModel | None = None,
    passing_score: float | None = None,
    finished: bool = False,
) -> RuntimeData:
    """Normalise a commit of SCORM run-time data (see the module documentation for shapes and rules).

    :param data: the request body: decoded JSON, or its text or bytes.
    :param data_model: 1.2 or 2004; detected from the elements when None.
    :param passing_score: the mastery score scaled 0–1, as
        :attr:`scorm.manifest.Item.passing_score` gives it; overrides the commit's
        own (1.2 ``cmi.student_data.mastery_score``, 2004 ``cmi.scaled_passing_score``).
    :param finished: this is the commit the player sent when the SCO finished
        (``LMSFinish`` / ``Terminate``), so the LMS's rules at finishing apply.
    :raises RuntimeDataError: the body is not run-time data, or values break the
        data model; every problem is listed, each naming its element.
    """
    if isinstance(data, str | bytes):
        try:
            body: object = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise RuntimeDataError([("body", f"not JSON: {error}")]) from None
    else:
        body = data
    cmi = _cmi(body)
    model = data_model or detect_data_model(cmi)
    reader = _Reader(cmi)
    result = (
        _parse_12(reader, passing_score, finished)
        if model is DataModel.SCORM_12
        else _parse_2004(reader, passing_score)
    )
    if reader.errors:
        raise RuntimeDataError(reader.errors)
    logger.debug("run-time data %s: %s/%s", model, result.completion_status, result.success_status)
    return result
