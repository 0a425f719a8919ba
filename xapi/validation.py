"""Checking statements against the MUSTs of xAPI 1.0.3 (Data and Communication).

:func:`validate_statement` returns every problem it finds, each with the JSON
path of the property, the rule it breaks and where the spec says so, so an LMS
developer can fix the statement without guessing. The checks follow the
specification's Data part (section numbers cite xAPI-Data.md) and the
Communication part's rules for what an LRS must reject.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from xapi.types import JSON

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")
IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:[^\s]+$")
MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2 = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
# RFC 5646 language tags, in the shape xAPI's examples use (en, en-US, zh-Hant-TW, es-419 …).
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$")
# ISO 8601:2004 4.4.3.2: weeks (PnW) stand alone; they never combine with other components (P4W1D is not one).
ISO_DURATION = re.compile(
    r"^P(?!$)((\d+(\.\d+)?W)|(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?)$"
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
MEDIA_TYPE = re.compile(r"^[\w!#$&^.+-]+/[\w!#$&^.+-]+(\s*;.*)?$")

STATEMENT_KEYS = {
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments",
}  # fmt: skip
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
GROUP_KEYS = AGENT_KEYS | {"member"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false": set(),
    "choice": {"choices"},
    "fill-in": set(),
    "long-fill-in": set(),
    "matching": {"source", "target"},
    "performance": {"steps"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "numeric": set(),
    "other": set(),
}
COMPONENT_LISTS = {"choices", "scale", "source", "target", "steps"}
DEFINITION_KEYS = {
    "name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern",
} | COMPONENT_LISTS  # fmt: skip
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
CONTEXT_KEYS = {
    "registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement",
    "extensions",
}  # fmt: skip
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
ATTACHMENT_KEYS = {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}


@dataclass(frozen=True)
class StatementError:
    """One broken rule: where (``statement.actor.mbox``), and what the rule is."""

    path: str
    message: str
    #: Where xAPI 1.0.3 states the rule.
    section: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (xAPI 1.0.3 Data {self.section})"


class StatementInvalid(ValueError):  # noqa: N818 - the established name in this domain
    """A statement breaks rules; :attr:`errors` lists them all."""

    def __init__(self, errors: list[StatementError]) -> None:
        super().__init__("; ".join(map(str, errors[:5])))
        self.errors = errors


Check = Iterator[StatementError]


def _is_object(value: JSON) -> bool:
    return isinstance(value, dict)


def _unknown(value: Mapping[str, JSON], allowed: set[str], path: str, section: str) -> Check:
    for key in sorted(set(value) - allowed):
        yield StatementError(f"{path}.{key}", "is not a property xAPI defines here", section)


def is_iri(value: JSON) -> bool:
    """Whether ``value`` is an absolute IRI (a scheme, a colon, no white space)."""
    return isinstance(value, str) and bool(IRI.match(value))


def _iri(value: JSON, path: str, section: str) -> Check:
    if not isinstance(value, str) or not IRI.match(value):
        yield StatementError(path, "must be an IRI (an absolute identifier with a scheme, e.g. https://…)", section)


def _uuid(value: JSON, path: str, section: str) -> Check:
    if not isinstance(value, str) or not UUID.match(value):
        yield StatementError(path, "must be a UUID as RFC 4122 defines it", section)


def _language_map(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be a language map: an object of language tags to strings", "4.2.7")
        return
    for tag, text in value.items():
        if not LANGUAGE_TAG.match(tag):
            yield StatementError(f"{path}.{tag}", "is not an RFC 5646 language tag", "4.2.7")
        if not isinstance(text, str):
            yield StatementError(f"{path}.{tag}", "must be a string", "4.2.7")


def _extensions(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object whose keys are IRIs", "4.1.6")
        return
    for key in value:
        if not IRI.match(key):
            yield StatementError(f"{path}.{key}", "extension keys must be IRIs", "4.1.6")


def _timestamp(value: JSON, path: str, section: str) -> Check:
    if not isinstance(value, str) or not TIMESTAMP.match(value):
        yield StatementError(path, "must be an ISO 8601 date and time", section)
        return
    if value.endswith("-00:00") or value.endswith("-0000") or value.endswith("-00"):
        yield StatementError(path, "must not use the time zone -00:00", section)
        return
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        yield StatementError(path, "is not a real date and time", section)


def _agent(value: JSON, path: str, *, group_allowed: bool = True, section: str = "2.4.2") -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an Agent or a Group object", section)
        return
    kind = value.get("objectType", "Agent")
    if kind == "Group":
        if not group_allowed:
            yield StatementError(f"{path}.objectType", "a Group's members must be Agents, not Groups", "2.4.2.2")
            return
        yield from _group(value, path)
        return
    if kind != "Agent":
        yield StatementError(f"{path}.objectType", 'must be "Agent" or "Group"', section)
        return
    yield from _unknown(value, AGENT_KEYS, path, "2.4.2.1")
    if "name" in value and not isinstance(value["name"], str):
        yield StatementError(f"{path}.name", "must be a string", "2.4.2.1")
    present = [key for key in IFIS if key in value]
    if len(present) != 1:
        yield StatementError(
            path,
            "an Agent must have exactly one of mbox, mbox_sha1sum, openid, account"
            + (f" (it has {', '.join(present)})" if present else ""),
            "2.4.2.1",
        )
    yield from _ifis(value, path)


def _ifis(value: Mapping[str, JSON], path: str) -> Check:
    if "mbox" in value and (not isinstance(value["mbox"], str) or not MAILTO.match(value["mbox"])):
        yield StatementError(f"{path}.mbox", 'must be "mailto:" followed by an email address', "2.4.2.3")
    if "mbox_sha1sum" in value and (
        not isinstance(value["mbox_sha1sum"], str) or not SHA1.match(value["mbox_sha1sum"])
    ):
        yield StatementError(f"{path}.mbox_sha1sum", "must be the hex SHA1 of a mailto IRI (40 hex digits)", "2.4.2.3")
    if "openid" in value:
        yield from _iri(value["openid"], f"{path}.openid", "2.4.2.3")
    if "account" in value:
        account = value["account"]
        if not isinstance(account, dict):
            yield StatementError(f"{path}.account", "must be an object with homePage and name", "2.4.2.4")
            return
        yield from _unknown(account, {"homePage", "name"}, f"{path}.account", "2.4.2.4")
        home = account.get("homePage")
        if not isinstance(home, str) or not re.match(r"^https?://\S+$", home):
            yield StatementError(f"{path}.account.homePage", "is required and must be a URL (an IRL)", "2.4.2.4")
        if not isinstance(account.get("name"), str) or not account.get("name"):
            yield StatementError(f"{path}.account.name", "is required and must be a string", "2.4.2.4")


def _group(value: Mapping[str, JSON], path: str) -> Check:
    yield from _unknown(value, GROUP_KEYS, path, "2.4.2.2")
    present = [key for key in IFIS if key in value]
    if len(present) > 1:
        yield StatementError(path, "an identified Group has exactly one inverse functional identifier", "2.4.2.2")
    yield from _ifis(value, path)
    members = value.get("member")
    if not present and members is None:
        yield StatementError(f"{path}.member", "an anonymous Group (no identifier) must list its members", "2.4.2.2")
    if members is not None:
        if not isinstance(members, list):
            yield StatementError(f"{path}.member", "must be an array of Agents", "2.4.2.2")
            return
        for index, member in enumerate(members):
            yield from _agent(member, f"{path}.member[{index}]", group_allowed=False, section="2.4.2.2")


def _verb(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "is required and must be an object with an id", "2.4.3")
        return
    yield from _unknown(value, {"id", "display"}, path, "2.4.3")
    yield from _iri(value.get("id"), f"{path}.id", "2.4.3")
    if "display" in value:
        yield from _language_map(value["display"], f"{path}.display")


def _components(value: JSON, path: str) -> Check:
    if not isinstance(value, list):
        yield StatementError(path, "must be an array of interaction components", "2.4.4.1")
        return
    seen: set[str] = set()
    for index, component in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(component, dict):
            yield StatementError(where, "must be an object with id and description", "2.4.4.1")
            continue
        yield from _unknown(component, {"id", "description"}, where, "2.4.4.1")
        ident = component.get("id")
        if not isinstance(ident, str) or not ident:
            yield StatementError(f"{where}.id", "is required and must be a string", "2.4.4.1")
        elif ident in seen:
            yield StatementError(f"{where}.id", "must be unique within the list", "2.4.4.1")
        else:
            seen.add(ident)
        if "description" in component:
            yield from _language_map(component["description"], f"{where}.description")


def _definition(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object", "2.4.4.1")
        return
    yield from _unknown(value, DEFINITION_KEYS, path, "2.4.4.1")
    for key in ("name", "description"):
        if key in value:
            yield from _language_map(value[key], f"{path}.{key}")
    if "type" in value:
        yield from _iri(value["type"], f"{path}.type", "2.4.4.1")
    if "moreInfo" in value:
        yield from _iri(value["moreInfo"], f"{path}.moreInfo", "2.4.4.1")
    if "extensions" in value:
        yield from _extensions(value["extensions"], f"{path}.extensions")
    interaction = value.get("interactionType")
    lists = COMPONENT_LISTS & set(value)
    if interaction is None:
        if lists or "correctResponsesPattern" in value:
            yield StatementError(path, "interaction properties need an interactionType", "2.4.4.1")
        return
    if not isinstance(interaction, str) or interaction not in INTERACTION_TYPES:
        yield StatementError(f"{path}.interactionType", f"must be one of {', '.join(INTERACTION_TYPES)}", "2.4.4.1")
        return
    for key in sorted(lists - INTERACTION_TYPES[interaction]):
        yield StatementError(f"{path}.{key}", f"is not used by the interaction type {interaction!r}", "2.4.4.1")
    for key in sorted(lists & INTERACTION_TYPES[interaction]):
        yield from _components(value[key], f"{path}.{key}")
    pattern = value.get("correctResponsesPattern")
    if pattern is not None and (not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern)):
        yield StatementError(f"{path}.correctResponsesPattern", "must be an array of strings", "2.4.4.1")


def _activity(value: Mapping[str, JSON], path: str) -> Check:
    yield from _unknown(value, {"objectType", "id", "definition"}, path, "2.4.4.1")
    yield from _iri(value.get("id"), f"{path}.id", "2.4.4.1")
    if "definition" in value:
        yield from _definition(value["definition"], f"{path}.definition")


def _statement_ref(value: Mapping[str, JSON], path: str) -> Check:
    yield from _unknown(value, {"objectType", "id"}, path, "2.4.4.3")
    yield from _uuid(value.get("id"), f"{path}.id", "2.4.4.3")


def _object(value: JSON, path: str, *, inside_substatement: bool = False) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "is required and must be an object", "2.4.4")
        return
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        yield from _activity(value, path)
    elif kind in ("Agent", "Group"):
        if "objectType" not in value:
            yield StatementError(f"{path}.objectType", "is required when the object is an Agent or Group", "2.4.4.2")
        yield from _agent(value, path)
    elif kind == "StatementRef":
        yield from _statement_ref(value, path)
    elif kind == "SubStatement":
        if inside_substatement:
            yield StatementError(f"{path}.objectType", "a SubStatement must not contain a SubStatement", "2.4.4.3")
        else:
            yield from _substatement(value, path)
    else:
        yield StatementError(
            f"{path}.objectType", 'must be "Activity", "Agent", "Group", "StatementRef" or "SubStatement"', "2.4.4"
        )


def _score(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object", "2.4.5.1")
        return
    yield from _unknown(value, SCORE_KEYS, path, "2.4.5.1")
    numbers: dict[str, float] = {}
    for key in SCORE_KEYS & set(value):
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int | float):
            yield StatementError(f"{path}.{key}", "must be a number", "2.4.5.1")
        else:
            numbers[key] = float(number)
    scaled = numbers.get("scaled")
    if scaled is not None and not -1 <= scaled <= 1:
        yield StatementError(f"{path}.scaled", "must be between -1 and 1", "2.4.5.1")
    low, high, raw = numbers.get("min"), numbers.get("max"), numbers.get("raw")
    if low is not None and high is not None and low >= high:
        yield StatementError(f"{path}.min", "must be less than max", "2.4.5.1")
    if raw is not None and low is not None and raw < low:
        yield StatementError(f"{path}.raw", "must not be less than min", "2.4.5.1")
    if raw is not None and high is not None and raw > high:
        yield StatementError(f"{path}.raw", "must not be more than max", "2.4.5.1")


def _result(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object", "2.4.5")
        return
    yield from _unknown(value, RESULT_KEYS, path, "2.4.5")
    if "score" in value:
        yield from _score(value["score"], f"{path}.score")
    for key in ("success", "completion"):
        if key in value and not isinstance(value[key], bool):
            yield StatementError(f"{path}.{key}", "must be true or false", "2.4.5")
    if "response" in value and not isinstance(value["response"], str):
        yield StatementError(f"{path}.response", "must be a string", "2.4.5")
    if "duration" in value and (not isinstance(value["duration"], str) or not ISO_DURATION.match(value["duration"])):
        yield StatementError(f"{path}.duration", "must be an ISO 8601 duration such as PT1H30M", "2.4.5")
    if "extensions" in value:
        yield from _extensions(value["extensions"], f"{path}.extensions")


def _context_activities(value: JSON, path: str) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object", "2.4.6.2")
        return
    yield from _unknown(value, CONTEXT_ACTIVITY_KEYS, path, "2.4.6.2")
    for key in CONTEXT_ACTIVITY_KEYS & set(value):
        activities = value[key]
        items = activities if isinstance(activities, list) else [activities]
        for index, item in enumerate(items):
            where = f"{path}.{key}[{index}]" if isinstance(activities, list) else f"{path}.{key}"
            if not isinstance(item, dict) or item.get("objectType", "Activity") != "Activity":
                yield StatementError(where, "must be an Activity", "2.4.6.2")
            else:
                yield from _activity(item, where)


def _context(value: JSON, path: str, object_is_activity: bool) -> Check:
    if not isinstance(value, dict):
        yield StatementError(path, "must be an object", "2.4.6")
        return
    yield from _unknown(value, CONTEXT_KEYS, path, "2.4.6")
    if "registration" in value:
        yield from _uuid(value["registration"], f"{path}.registration", "2.4.6")
    if "instructor" in value:
        yield from _agent(value["instructor"], f"{path}.instructor", section="2.4.6")
    if "team" in value:
        team = value["team"]
        if not isinstance(team, dict) or team.get("objectType") != "Group":
            yield StatementError(f"{path}.team", "must be a Group", "2.4.6")
        else:
            yield from _group(team, f"{path}.team")
    if "contextActivities" in value:
        yield from _context_activities(value["contextActivities"], f"{path}.contextActivities")
    for key in ("revision", "platform"):
        if key in value:
            if not isinstance(value[key], str):
                yield StatementError(f"{path}.{key}", "must be a string", "2.4.6")
            if not object_is_activity:
                yield StatementError(f"{path}.{key}", "must only be used when the object is an Activity", "2.4.6")
    if "language" in value and (not isinstance(value["language"], str) or not LANGUAGE_TAG.match(value["language"])):
        yield StatementError(f"{path}.language", "must be an RFC 5646 language tag", "2.4.6")
    if "statement" in value:
        ref = value["statement"]
        if not isinstance(ref, dict) or ref.get("objectType") != "StatementRef":
            yield StatementError(f"{path}.statement", "must be a StatementRef", "2.4.6")
        else:
            yield from _statement_ref(ref, f"{path}.statement")
    if "extensions" in value:
        yield from _extensions(value["extensions"], f"{path}.extensions")


def _attachments(value: JSON, path: str) -> Check:
    if not isinstance(value, list):
        yield StatementError(path, "must be an array", "2.4.11")
        return
    for index, attachment in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(attachment, dict):
            yield StatementError(where, "must be an object", "2.4.11")
            continue
        yield from _unknown(attachment, ATTACHMENT_KEYS, where, "2.4.11")
        yield from _iri(attachment.get("usageType"), f"{where}.usageType", "2.4.11")
        if "display" not in attachment:
            yield StatementError(f"{where}.display", "is required", "2.4.11")
        else:
            yield from _language_map(attachment["display"], f"{where}.display")
        if "description" in attachment:
            yield from _language_map(attachment["description"], f"{where}.description")
        content_type = attachment.get("contentType")
        if not isinstance(content_type, str) or not MEDIA_TYPE.match(content_type):
            yield StatementError(f"{where}.contentType", "is required and must be an Internet Media Type", "2.4.11")
        length = attachment.get("length")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            yield StatementError(f"{where}.length", "is required and must be a whole number of octets", "2.4.11")
        sha2 = attachment.get("sha2")
        if not isinstance(sha2, str) or not SHA2.match(sha2):
            yield StatementError(f"{where}.sha2", "is required and must be a hex SHA-2 hash", "2.4.11")
        if "fileUrl" in attachment:
            yield from _iri(attachment["fileUrl"], f"{where}.fileUrl", "2.4.11")


def _body(value: Mapping[str, JSON], path: str) -> Check:
    """What statements and sub-statements share: actor, verb, object, result, context, timestamp."""
    if "actor" not in value:
        yield StatementError(f"{path}.actor", "is required", "2.4.2")
    else:
        yield from _agent(value["actor"], f"{path}.actor")
    if "verb" not in value:
        yield StatementError(f"{path}.verb", "is required", "2.4.3")
    else:
        yield from _verb(value["verb"], f"{path}.verb")
    obj = value.get("object")
    if "object" not in value:
        yield StatementError(f"{path}.object", "is required", "2.4.4")
    if "result" in value:
        yield from _result(value["result"], f"{path}.result")
    if "context" in value:
        object_is_activity = isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity"
        yield from _context(value["context"], f"{path}.context", object_is_activity)
    if "timestamp" in value:
        yield from _timestamp(value["timestamp"], f"{path}.timestamp", "2.4.7")
    if "attachments" in value:
        yield from _attachments(value["attachments"], f"{path}.attachments")
    verb = value.get("verb")
    voiding = isinstance(verb, dict) and verb.get("id") == "http://adlnet.gov/expapi/verbs/voided"
    if voiding and (not isinstance(obj, dict) or obj.get("objectType") != "StatementRef"):
        yield StatementError(f"{path}.object", "a voiding statement's object must be a StatementRef", "2.3.2")


def _substatement(value: Mapping[str, JSON], path: str) -> Check:
    for key in ("id", "stored", "version", "authority"):
        if key in value:
            yield StatementError(f"{path}.{key}", "a SubStatement must not have this property", "2.4.4.3")
    yield from _unknown(value, SUBSTATEMENT_KEYS | {"id", "stored", "version", "authority"}, path, "2.4.4.3")
    yield from _body(value, path)
    if "object" in value:
        yield from _object(value["object"], f"{path}.object", inside_substatement=True)


def _statement(value: JSON) -> Check:
    path = "statement"
    if not isinstance(value, dict):
        yield StatementError(path, "must be a JSON object", "2.2")
        return
    yield from _unknown(value, STATEMENT_KEYS, path, "2.2")
    for key, item in value.items():
        if item is None:
            yield StatementError(f"{path}.{key}", "must not be null", "2.2")
    if "id" in value:
        yield from _uuid(value["id"], f"{path}.id", "2.4.1")
    yield from _body(value, path)
    if "object" in value:
        yield from _object(value["object"], f"{path}.object")
    if "stored" in value:
        yield from _timestamp(value["stored"], f"{path}.stored", "2.4.8")
    if "authority" in value:
        yield from _authority(value["authority"], f"{path}.authority")
    if "version" in value:
        version = value["version"]
        if not isinstance(version, str) or not re.match(r"^1\.0(\.\d+)?$", version):
            yield StatementError(f"{path}.version", 'must be a 1.0.x version such as "1.0.3"', "2.4.10")


def _authority(value: JSON, path: str) -> Check:
    """An Agent, or an anonymous Group of exactly two Agents (an OAuth consumer and user, Data 2.4.9)."""
    problems = list(_agent(value, path, section="2.4.9"))
    yield from problems
    if problems or not isinstance(value, dict) or value.get("objectType") != "Group":
        return
    if any(key in value for key in IFIS):
        yield StatementError(path, "a Group as authority must be anonymous (no identifier)", "2.4.9")
    members = value.get("member")
    if not isinstance(members, list) or len(members) != 2:
        yield StatementError(f"{path}.member", "a Group as authority must have exactly two Agents", "2.4.9")


def validate_agent(value: JSON, path: str = "agent") -> list[StatementError]:
    """Every rule an Agent or Group (as a request parameter or a statement's actor) breaks."""
    return list(_agent(value, path))


def validate_statement(value: JSON) -> list[StatementError]:
    """Every rule of xAPI 1.0.3 that ``value`` breaks; empty when it is valid."""
    return list(_statement(value))


def check_statement(value: JSON) -> None:
    """:raises StatementInvalid: listing every broken rule."""
    errors = validate_statement(value)
    if errors:
        raise StatementInvalid(errors)


__all__: list[str] = [
    "StatementError",
    "StatementInvalid",
    "check_statement",
    "is_iri",
    "validate_agent",
    "validate_statement",
]
