"""Building xAPI 1.0.3 statements.

Every builder returns plain JSON objects (``dict``), ready for ``json.dumps``
and for :func:`xapi.validation.validate_statement`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from xapi.types import JSON, JSONObject, LanguageMap

#: Namespace of deterministic statement ids (uuid5). Never change it: a retry
#: must produce the id it produced before.
STATEMENT_NAMESPACE = uuid.UUID("6f1c8a53-2f0e-5b63-9a39-2b7c2fb3d1a4")


@dataclass(frozen=True)
class Verb:
    id: str
    display: str

    def as_json(self, language: str = "en-US") -> JSONObject:
        return {"id": self.id, "display": {language: self.display}}


COMPLETED = Verb("http://adlnet.gov/expapi/verbs/completed", "completed")
PASSED = Verb("http://adlnet.gov/expapi/verbs/passed", "passed")
FAILED = Verb("http://adlnet.gov/expapi/verbs/failed", "failed")
PROGRESSED = Verb("http://adlnet.gov/expapi/verbs/progressed", "progressed")
VOIDED = Verb("http://adlnet.gov/expapi/verbs/voided", "voided")
#: ADL's Learner Competency profile (TLA): a learner achieved a competency.
ACHIEVED = Verb("https://w3id.org/xapi/tla/verbs/achieved", "achieved")
#: Activity type of a competency in the same profile.
COMPETENCY = "https://w3id.org/xapi/tla/activity-types/competency"


def statement_id(*parts: str) -> str:
    """A statement id derived from ``parts``: the same parts give the same id.

    Used so that a retried emission is recognised by the LRS as the same statement.
    """
    return str(uuid.uuid5(STATEMENT_NAMESPACE, "\x1f".join(parts)))


def timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default now) in UTC with milliseconds: ``2026-11-24T09:30:00.123Z``.

    :raises ValueError: a naive datetime, whose time zone would be a guess.
    """
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("timestamp() needs an aware datetime")
    # isoformat is several times faster than strftime, and pads years before 1000 as ISO 8601 asks.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def iso_duration(seconds: float) -> str:
    """An ISO 8601 duration, e.g. ``PT1H2M3.5S``; precise to 0.01 s as xAPI asks."""
    if seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("a duration is a finite number of seconds, not negative")
    hundredths = round(seconds * 100)
    hours, rest = divmod(hundredths, 360000)
    minutes, rest = divmod(rest, 6000)
    whole, fraction = divmod(rest, 100)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if whole or fraction or text == "PT":
        text += f"{whole}.{fraction:02d}".rstrip("0").rstrip(".") + "S"
    return text


def agent_from_email(email: str, name: str | None = None) -> JSONObject:
    """An Agent identified by ``mailto:`` email (lower-cased, so one person is one agent)."""
    agent: JSONObject = {"objectType": "Agent", "mbox": "mailto:" + email.strip().lower()}
    if name:
        agent["name"] = name
    return agent


def agent_from_account(home_page: str, account_name: str, name: str | None = None) -> JSONObject:
    """An Agent identified by an account on a system (an LMS user id)."""
    agent: JSONObject = {"objectType": "Agent", "account": {"homePage": home_page, "name": account_name}}
    if name:
        agent["name"] = name
    return agent


def normalise_agent(agent: Mapping[str, JSON]) -> JSONObject:
    """The canonical form of an Agent: one person, one form.

    ``mbox`` lower-cased with its ``mailto:``, ``mbox_sha1sum`` lower-cased,
    ``account.homePage`` without a trailing slash; ``objectType`` set.
    """
    normal: JSONObject = {"objectType": str(agent.get("objectType") or "Agent")}
    if isinstance(agent.get("name"), str):
        normal["name"] = agent["name"]
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        address = mbox[len("mailto:") :] if mbox.lower().startswith("mailto:") else mbox
        normal["mbox"] = "mailto:" + address.strip().lower()
    sha1 = agent.get("mbox_sha1sum")
    if isinstance(sha1, str):
        normal["mbox_sha1sum"] = sha1.strip().lower()
    openid = agent.get("openid")
    if isinstance(openid, str):
        normal["openid"] = openid.strip()
    account = agent.get("account")
    if isinstance(account, Mapping):
        normal["account"] = {
            "homePage": str(account.get("homePage", "")).strip().rstrip("/"),
            "name": str(account.get("name", "")),
        }
    return normal


def agent_key(agent: Mapping[str, JSON]) -> str:
    """A stable text key for the person an Agent identifies, for matching records.

    Two Agents with the same ``mbox`` give the same key whatever their case;
    an ``mbox`` and its ``mbox_sha1sum`` also give the same key. The key is that
    of :func:`normalise_agent`'s form, computed without building it: ingest asks
    for several keys per statement.

    :raises ValueError: the Agent has no inverse functional identifier.
    """
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        return _mbox_key(mbox)
    sha1 = agent.get("mbox_sha1sum")
    if isinstance(sha1, str):
        return f"mbox_sha1sum:{sha1.strip().lower()}"
    openid = agent.get("openid")
    if isinstance(openid, str):
        return f"openid:{openid.strip()}"
    account = agent.get("account")
    if isinstance(account, Mapping):
        return f"account:{str(account.get('homePage', '')).strip().rstrip('/')}|{account.get('name', '')!s}"
    raise ValueError("an Agent needs one of mbox, mbox_sha1sum, openid or account")


@functools.lru_cache(maxsize=4096)
def _mbox_key(mbox: str) -> str:
    """The key of an ``mbox``: the SHA-1 of its normal form, as ``mbox_sha1sum`` gives it."""
    address = mbox[len("mailto:") :] if mbox.lower().startswith("mailto:") else mbox
    return "mbox_sha1sum:" + hashlib.sha1(("mailto:" + address.strip().lower()).encode()).hexdigest()


def activity(
    activity_id: str,
    name: str | None = None,
    activity_type: str | None = None,
    description: str | None = None,
    extensions: Mapping[str, JSON] | None = None,
    language: str = "en-GB",
) -> JSONObject:
    """An Activity object, with a definition when anything besides the id is known."""
    definition: JSONObject = {}
    if name:
        definition["name"] = _language_map(name, language)
    if description:
        definition["description"] = _language_map(description, language)
    if activity_type:
        definition["type"] = activity_type
    if extensions:
        definition["extensions"] = dict(extensions)
    result: JSONObject = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result


def _language_map(text: str, language: str) -> JSON:
    value: LanguageMap = {language: text}
    return dict(value)


def result(
    completion: bool | None = None,
    success: bool | None = None,
    scaled: float | None = None,
    raw: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    duration_seconds: float | None = None,
    response: str | None = None,
    extensions: Mapping[str, JSON] | None = None,
) -> JSONObject:
    """A Result; only the given parts are included."""
    value: JSONObject = {}
    score: JSONObject = {}
    for key, number in (("scaled", scaled), ("raw", raw), ("min", minimum), ("max", maximum)):
        if number is not None:
            score[key] = number
    if score:
        value["score"] = score
    if success is not None:
        value["success"] = success
    if completion is not None:
        value["completion"] = completion
    if response is not None:
        value["response"] = response
    if duration_seconds is not None:
        value["duration"] = iso_duration(duration_seconds)
    if extensions:
        value["extensions"] = dict(extensions)
    return value


def context(
    registration: str | None = None,
    parent: Sequence[JSONObject] = (),
    grouping: Sequence[JSONObject] = (),
    category: Sequence[JSONObject] = (),
    other: Sequence[JSONObject] = (),
    platform: str | None = None,
    language: str | None = None,
    statement_ref: str | None = None,
    extensions: Mapping[str, JSON] | None = None,
) -> JSONObject:
    """A Context; empty context activity lists are left out."""
    value: JSONObject = {}
    if registration:
        value["registration"] = registration
    activities: JSONObject = {}
    for key, items in (("parent", parent), ("grouping", grouping), ("category", category), ("other", other)):
        if items:
            activities[key] = list(items)
    if activities:
        value["contextActivities"] = activities
    if platform:
        value["platform"] = platform
    if language:
        value["language"] = language
    if statement_ref:
        value["statement"] = {"objectType": "StatementRef", "id": statement_ref}
    if extensions:
        value["extensions"] = dict(extensions)
    return value


def statement(
    actor: JSONObject,
    verb: Verb,
    obj: JSONObject,
    statement_uuid: str,
    when: datetime,
    result_: JSONObject | None = None,
    context_: JSONObject | None = None,
) -> JSONObject:
    """A complete statement with its own id and a UTC millisecond timestamp."""
    value: JSONObject = {
        "id": statement_uuid,
        "actor": actor,
        "verb": verb.as_json(),
        "object": obj,
        "timestamp": timestamp(when),
    }
    if result_:
        value["result"] = result_
    if context_:
        value["context"] = context_
    return value
