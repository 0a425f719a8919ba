"""Reading statements as the Statement resource serves them (xAPI Communication 2.1.3, Data 2.5).

- an index of who and what each stored statement names, so ``agent``,
  ``activity``, ``related_agents`` and ``related_activities`` are indexed lookups;
- queries that also return the statements targeting a match (a voiding
  statement comes with what it voids' filter), oldest or newest first;
- the ``exact``, ``ids`` and ``canonical`` formats, context activities as
  arrays, and language maps narrowed by ``Accept-Language``;
- the Activities resource's Activity: every definition statements gave it, merged.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from capcourse.catalogue.models import Activity, Course, ExternalId, Module
from capcourse.lrs.models import IndexKind, StatementIndex
from capcourse.prepared import Dependent
from capcourse.records.models import StoredStatement
from capcourse.records.services import agent_key_or_none
from capcourse.sqlfunctions import uuid_text

#: Index values longer than this are kept as a digest (long IRIs).
MAX_VALUE = 250
CONTEXT_LISTS = ("parent", "grouping", "category", "other")
AGENT_PROPERTIES = ("objectType", "mbox", "mbox_sha1sum", "openid", "account")
#: At most this many statements feed an Activity's merged definition (the newest).
ACTIVITY_SOURCES = 1000


def _value(text: str) -> str:
    if len(text) <= MAX_VALUE:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_AGENT = IndexKind.AGENT.value
_RELATED_AGENT = IndexKind.RELATED_AGENT.value
_ACTIVITY = IndexKind.ACTIVITY.value
_RELATED_ACTIVITY = IndexKind.RELATED_ACTIVITY.value
_TARGET = IndexKind.TARGET.value


def _add_agent(entries: set[tuple[str, str]], kind: str, agent: Any) -> None:
    """An Agent or Group (as ``kind``) and a Group's members (as related), where they identify anyone."""
    if not isinstance(agent, dict):
        return
    key = agent_key_or_none(agent)
    if key is not None:
        entries.add((kind, key))
    members = agent.get("member")
    if isinstance(members, list):
        for member in members:
            if isinstance(member, dict) and (key := agent_key_or_none(member)) is not None:
                entries.add((_RELATED_AGENT, key))


def _add_context(entries: set[tuple[str, str]], context: Any) -> None:
    """Context activities, and the instructor and team with their members, as related."""
    if not isinstance(context, dict):
        return
    activities = context.get("contextActivities")
    if isinstance(activities, dict):
        for value in activities.values():
            for activity in value if isinstance(value, list) else (value,):
                if isinstance(activity, dict) and isinstance(activity.get("id"), str):
                    entries.add((_RELATED_ACTIVITY, activity["id"]))
    _add_agent(entries, _RELATED_AGENT, context.get("instructor"))
    _add_agent(entries, _RELATED_AGENT, context.get("team"))


def index_entries(statement: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) pairs the Statement resource's filters look statements up by."""
    # Its own id is not indexed: references are followed from the stored id (see :func:`query`).
    # Added to one set as found (run for every statement stored, twice per statement from an LMS).
    entries: set[tuple[str, str]] = set()
    _add_agent(entries, _AGENT, statement.get("actor"))
    obj = statement.get("object") or {}
    kind = obj.get("objectType", "Activity") if isinstance(obj, dict) else None
    if kind == "Activity" and isinstance(obj.get("id"), str):
        entries.add((_ACTIVITY, obj["id"]))
    elif kind in ("Agent", "Group"):
        _add_agent(entries, _AGENT, obj)
    elif kind == "StatementRef" and isinstance(obj.get("id"), str):
        entries.add((_TARGET, obj["id"].lower()))
    elif kind == "SubStatement":
        _add_agent(entries, _RELATED_AGENT, obj.get("actor"))
        inner = obj.get("object") or {}
        if isinstance(inner, dict):
            inner_kind = inner.get("objectType", "Activity")
            if inner_kind == "Activity" and isinstance(inner.get("id"), str):
                entries.add((_RELATED_ACTIVITY, inner["id"]))
            elif inner_kind in ("Agent", "Group"):
                _add_agent(entries, _RELATED_AGENT, inner)
        _add_context(entries, obj.get("context"))
    _add_context(entries, statement.get("context"))
    _add_agent(entries, _RELATED_AGENT, statement.get("authority"))
    if any(len(value) > MAX_VALUE for _, value in entries):
        return {(kind, _value(value)) for kind, value in entries}
    return entries


def index_rows(statements: Sequence[dict[str, Any]]) -> Dependent:
    """The index rows of statements about to be stored, written beside them with their ``pk``
    (registered in :data:`records.STORED_HOOKS`)."""
    entries = [sorted(index_entries(statement)) for statement in statements]
    rows = [{"kind": kind, "value": value} for found in entries for kind, value in found]
    owners = [n for n, found in enumerate(entries) for _ in found]
    return Dependent(StatementIndex.__table__, "statement_pk", rows, owners)


@dataclass(frozen=True)
class Query:
    """The Statement resource's filters (Communication 2.1.3)."""

    agent_key: str | None = None
    related_agents: bool = False
    verb: str | None = None
    activity: str | None = None
    related_activities: bool = False
    registration: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False
    limit: int = 100
    after_pk: int | None = None
    #: Only statements this condition admits (:func:`programme_scope`), or all.
    scope: Any = None


def programme_scope(session: Session, programme_ids: Iterable[uuid.UUID], base_url: str) -> Any:
    """The statements of these programmes: those naming, as object or context activity, one of their IRIs.

    capcourse's IRIs of the programmes, their courses, modules and activities,
    and the identifiers LMSs give them (external ids); the statements
    capcourse emits carry the programme in ``grouping``.
    """
    ids = set(programme_ids)
    iris = {f"{base_url}/programmes/{p}" for p in ids}
    for course_id, module_id, activity_id in session.execute(
        select(Course.id, Module.id, Activity.id)
        .select_from(Course)
        .join(Module, Module.course_id == Course.id, isouter=True)
        .join(Activity, Activity.module_id == Module.id, isouter=True)
        .where(Course.programme_id.in_(ids))
    ):
        iris.add(f"{base_url}/courses/{course_id}")
        if module_id is not None:
            iris.add(f"{base_url}/modules/{module_id}")
        if activity_id is not None:
            iris.add(f"{base_url}/activities/{activity_id}")
    iris.update(session.scalars(select(ExternalId.value).where(ExternalId.programme_id.in_(ids))))
    kinds = [IndexKind.ACTIVITY.value, IndexKind.RELATED_ACTIVITY.value]
    return StoredStatement.pk.in_(
        select(StatementIndex.statement_pk).where(
            StatementIndex.kind.in_(kinds), StatementIndex.value.in_({_value(i) for i in iris})
        )
    )


def _indexed(kinds: Sequence[IndexKind], value: str) -> Any:
    return StoredStatement.pk.in_(
        select(StatementIndex.statement_pk).where(
            StatementIndex.kind.in_([k.value for k in kinds]), StatementIndex.value == _value(value)
        )
    )


def query(session: Session, q: Query) -> list[StoredStatement]:
    """Statements matching ``q`` and those targeting them, voided ones left out; ``limit`` + 1 rows at most."""
    conditions: list[Any] = []
    if q.agent_key:
        kinds = [IndexKind.AGENT] + ([IndexKind.RELATED_AGENT] if q.related_agents else [])
        conditions.append(_indexed(kinds, q.agent_key))
    if q.activity:
        kinds = [IndexKind.ACTIVITY] + ([IndexKind.RELATED_ACTIVITY] if q.related_activities else [])
        conditions.append(_indexed(kinds, q.activity))
    if q.verb:
        conditions.append(StoredStatement.verb_id == q.verb)
    if q.registration:
        conditions.append(StoredStatement.registration == q.registration)
    sql = select(StoredStatement).where(StoredStatement.voided.is_(False))
    if q.scope is not None:
        sql = sql.where(q.scope)
    if conditions:
        # Statements targeting a match (and those targeting them) belong to the result (Communication 2.1.4).
        matched = select(StoredStatement.pk.label("pk")).where(*conditions).cte("matched", recursive=True)
        ref = aliased(StatementIndex)
        target = aliased(StoredStatement)
        matched = matched.union(
            select(ref.statement_pk)
            .select_from(matched)
            .join(target, target.pk == matched.c.pk)
            .join(ref, and_(ref.kind == IndexKind.TARGET.value, ref.value == uuid_text(target.id)))
        )
        sql = sql.where(StoredStatement.pk.in_(select(matched.c.pk)))
    if q.since:
        sql = sql.where(StoredStatement.stored_at > q.since)
    if q.until:
        sql = sql.where(StoredStatement.stored_at <= q.until)
    if q.after_pk is not None:
        sql = sql.where(StoredStatement.pk > q.after_pk if q.ascending else StoredStatement.pk < q.after_pk)
    order = StoredStatement.pk.asc() if q.ascending else StoredStatement.pk.desc()
    return list(session.scalars(sql.order_by(order).limit(q.limit + 1)))


# --- formats -------------------------------------------------------------------------------------------------


def _as_lists(context: Any) -> None:
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        activities = context["contextActivities"]
        for name in CONTEXT_LISTS:
            if isinstance(activities.get(name), dict):
                activities[name] = [activities[name]]


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    slim = {k: v for k, v in agent.items() if k in AGENT_PROPERTIES}
    if isinstance(agent.get("member"), list) and not any(k in agent for k in AGENT_PROPERTIES[1:]):
        slim["member"] = [_agent_ids(m) for m in agent["member"]]
    return slim


def _activity_ids(activity: Any) -> Any:
    if not isinstance(activity, dict):
        return activity
    return {"id": activity["id"]} if "id" in activity else activity


def _ids(statement: dict[str, Any]) -> None:
    """Only identifiers for Agents, Groups, Activities and Verbs (format=ids)."""
    if "actor" in statement:
        statement["actor"] = _agent_ids(statement["actor"])
    if isinstance(statement.get("verb"), dict):
        statement["verb"] = {"id": statement["verb"].get("id")}
    if "authority" in statement:
        statement["authority"] = _agent_ids(statement["authority"])
    obj = statement.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            statement["object"] = _activity_ids(obj)
        elif kind in ("Agent", "Group"):
            statement["object"] = _agent_ids(obj)
        elif kind == "SubStatement":
            _ids(obj)
    context = statement.get("context")
    if isinstance(context, dict):
        for name in ("instructor", "team"):
            if name in context:
                context[name] = _agent_ids(context[name])
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            for name, value in activities.items():
                activities[name] = [_activity_ids(a) for a in value] if isinstance(value, list) else value


def _accepted(accept_language: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag:
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        if weight > 0:
            ranked.append((-weight, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def pick_language(language_map: dict[str, Any], accepted: Sequence[str]) -> dict[str, Any]:
    """The one entry of a language map the client prefers (its first entry when none matches)."""
    if not language_map:
        return language_map
    lowered = {key.lower(): key for key in language_map}
    for tag in accepted:
        if tag == "*":
            break
        if tag in lowered:
            return {lowered[tag]: language_map[lowered[tag]]}
        for key_lower, key in lowered.items():
            if key_lower.split("-")[0] == tag.split("-")[0]:
                return {key: language_map[key]}
    first = next(iter(language_map))
    return {first: language_map[first]}


def _canonical(value: Any, accepted: Sequence[str], parent: str = "") -> Any:
    """Every language map (display, name, description, component descriptions) narrowed to one language."""
    if isinstance(value, list):
        return [_canonical(v, accepted, parent) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("display", "name", "description") and isinstance(item, dict) and parent != "extensions":
            out[key] = pick_language(item, accepted)
        elif key == "extensions":
            out[key] = item
        else:
            out[key] = _canonical(item, accepted, key)
    return out


def present(
    statement: dict[str, Any],
    fmt: str,
    accept_language: str | None,
    definitions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A stored statement as the Statement resource returns it in ``fmt`` (exact, ids or canonical).

    :param definitions: for ``canonical``, the LRS's definition of each activity (:func:`canonical_definitions`).
    """
    out = copy.deepcopy(statement)
    if fmt == "canonical" and definitions:
        for activity in _activities_in(out):
            if activity.get("id") in definitions:
                activity["definition"] = copy.deepcopy(definitions[activity["id"]])
    _as_lists(out.get("context"))
    if isinstance(out.get("object"), dict) and out["object"].get("objectType") == "SubStatement":
        _as_lists(out["object"].get("context"))
    if fmt == "ids":
        _ids(out)
    elif fmt == "canonical":
        out = _canonical(out, _accepted(accept_language))
    return out


# --- the Activities resource ---------------------------------------------------------------------------------


def _activities_in(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    obj = statement.get("object")
    if isinstance(obj, dict):
        if obj.get("objectType", "Activity") == "Activity":
            yield obj
        elif obj.get("objectType") == "SubStatement":
            yield from _activities_in(obj)
    context = statement.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        for value in context["contextActivities"].values():
            for activity in value if isinstance(value, list) else [value]:
                if isinstance(activity, dict):
                    yield activity


def merge_definitions(definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Later definitions win property by property; language maps are merged language by language."""
    merged: dict[str, Any] = {}
    for definition in definitions:
        for key, value in definition.items():
            if key in ("name", "description", "extensions") and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def activity(session: Session, activity_id: str) -> dict[str, Any]:
    """The Activity ``activity_id`` with everything statements defined of it (Communication 2.5)."""
    rows = session.scalars(
        select(StoredStatement.statement)
        .where(
            _indexed(
                [IndexKind.ACTIVITY, IndexKind.RELATED_ACTIVITY],
                activity_id,
            )
        )
        .order_by(StoredStatement.pk.desc())
        .limit(ACTIVITY_SOURCES)
    )
    definitions = [
        a["definition"]
        for statement in reversed(list(rows))
        for a in _activities_in(statement)
        if a.get("id") == activity_id and isinstance(a.get("definition"), dict)
    ]
    result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definitions:
        result["definition"] = merge_definitions(definitions)
    return result


def canonical_definitions(session: Session, statements: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The LRS's definition of every activity these statements name: all their definitions merged, newest last."""
    wanted = {a["id"] for s in statements for a in _activities_in(s) if isinstance(a.get("id"), str)}
    if not wanted:
        return {}
    rows = session.scalars(
        select(StoredStatement.statement)
        .where(
            StoredStatement.pk.in_(
                select(StatementIndex.statement_pk).where(
                    StatementIndex.kind.in_([IndexKind.ACTIVITY.value, IndexKind.RELATED_ACTIVITY.value]),
                    StatementIndex.value.in_([_value(i) for i in wanted]),
                )
            )
        )
        .order_by(StoredStatement.pk.desc())
        .limit(ACTIVITY_SOURCES)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for statement in reversed(list(rows)):
        for activity in _activities_in(statement):
            if activity.get("id") in wanted and isinstance(activity.get("definition"), dict):
                found.setdefault(activity["id"], []).append(activity["definition"])
    return {activity_id: merge_definitions(definitions) for activity_id, definitions in found.items()}
