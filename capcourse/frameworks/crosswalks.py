"""Crosswalks: the associations between the items of two frameworks, edited by admins and leads.

A crosswalk is not a row of its own: it is every association (other than the
tree's ``isChildOf``) with one end in each of two frameworks, whichever way it
points. Each association has a CASE type, a strength (0 to 1, optional), a
provenance and a note, and says who made, changed and confirmed it, and when:

- ``published``: the source document states it (shipped with the framework data);
- ``inferred``: capcourse concluded it from the sources;
- ``suggested``: proposed by software or shipped as capcourse's own proposal;
- ``confirmed``: a person decided it.

Who may change what:

- rows shipped with a framework's data file (``managed_by = seed``) or derived
  from the icon legend are read-only here: they change with the data or the legend;
- rows of a shipped crosswalk (``capcourse/data/crosswalks/``, ``managed_by =
  crosswalk``) become a person's once edited or confirmed, and ``capcourse
  frameworks sync`` leaves them alone from then on; one a person deletes is
  recorded (:class:`~capcourse.frameworks.models.AssociationRemoval`) so the
  sync does not bring it back;
- everything else belongs to people.

Coverage counts ``published`` and ``confirmed`` links (:data:`COUNTED`: what
the sources state or support, such as the KSS 2015 → 2018 links, and what a
person decided). ``suggested`` and ``inferred`` links (the icon legend's, say)
count only when a lead asks for them (:data:`OPTIONAL`, each its own value of
``include``): nobody has decided on them yet.

Services flush; the caller commits. Bad input raises before anything is
written, and imports are all or nothing (the caller rolls back).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import tomllib
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.frameworks.models import (
    ASSOCIATION_TYPES,
    Association,
    AssociationRemoval,
    Framework,
    Item,
    ManagedBy,
    Provenance,
)
from capcourse.identifiers import NAMESPACE, association_id, framework_id, item_id
from capcourse.paths import DATA_DIR
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

#: The shipped crosswalks, one TOML file each.
CROSSWALK_DIR = DATA_DIR / "crosswalks"
SYNC_ACTOR = "capcourse frameworks sync"
#: Types a crosswalk link may have: CASE's, but the tree's own (``ext:`` types too).
CROSSWALK_TYPES = tuple(t for t in ASSOCIATION_TYPES if t != "isChildOf")
PROVENANCES = tuple(str(p) for p in Provenance)
#: What coverage counts through crosswalks unless asked otherwise.
COUNTED: frozenset[str] = frozenset({Provenance.PUBLISHED, Provenance.CONFIRMED})
#: What a lead may ask coverage to count as well, one ``include`` value each.
OPTIONAL: tuple[str, ...] = (Provenance.SUGGESTED, Provenance.INFERRED)
#: What a person may confirm: links nobody has decided on yet.
TO_REVIEW: tuple[str, ...] = (Provenance.SUGGESTED, Provenance.INFERRED)
#: Rows that change only with their source, never in the editor, and why.
READ_ONLY: dict[str, str] = {
    ManagedBy.SEED: "it is shipped with the framework's data file; it changes with the data",
    ManagedBy.ICON_LEGEND: "it is derived from the icon legend; change the legend instead",
}
NOTE_MAX = 4000


# Reading.


@dataclass
class CrosswalkSummary:
    """A pair of frameworks with associations between them, counted by provenance."""

    left: Framework
    right: Framework
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _ends() -> tuple[Any, Any]:
    return aliased(Item), aliased(Item)


def _between(origin: Any, destination: Any, left: Framework, right: Framework) -> ColumnElement[bool]:
    return and_(
        Association.association_type != "isChildOf",
        or_(
            and_(origin.framework_id == left.id, destination.framework_id == right.id),
            and_(origin.framework_id == right.id, destination.framework_id == left.id),
        ),
    )


def list_crosswalks(session: Session) -> list[CrosswalkSummary]:
    """Every pair of frameworks linked by associations, with counts by provenance, from one grouped query."""
    origin, destination = _ends()
    rows = session.execute(
        select(origin.framework_id, destination.framework_id, Association.provenance, func.count())
        .join(origin, origin.id == Association.origin_item_id)
        .join(destination, destination.id == Association.destination_item_id)
        .where(Association.association_type != "isChildOf", origin.framework_id != destination.framework_id)
        .group_by(origin.framework_id, destination.framework_id, Association.provenance)
    ).all()
    counts: dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]] = defaultdict(dict)
    #: Links per direction: the framework most links start from is shown on the left.
    directed: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for a, b, provenance, count in rows:
        pair = (a, b) if str(a) < str(b) else (b, a)
        counts[pair][provenance] = counts[pair].get(provenance, 0) + count
        directed[a, b] += count
    frameworks = {
        f.id: f for f in session.scalars(select(Framework).where(Framework.id.in_({i for p in counts for i in p})))
    }
    found = []
    for (a, b), by_provenance in counts.items():
        left, right = (a, b) if directed[a, b] >= directed[b, a] else (b, a)
        found.append(CrosswalkSummary(frameworks[left], frameworks[right], dict(sorted(by_provenance.items()))))
    return sorted(found, key=lambda s: (s.left.title, s.right.title))


def get_pair(session: Session, left_id: uuid.UUID, right_id: uuid.UUID) -> tuple[Framework, Framework]:
    """The two frameworks of a crosswalk.

    :raises NotFoundError: either is unknown.
    :raises InvalidInputError: both are the same framework.
    """
    left, right = session.get(Framework, left_id), session.get(Framework, right_id)
    for identifier, found in ((left_id, left), (right_id, right)):
        if found is None:
            raise NotFoundError(f"No framework has the identifier {identifier}.")
    assert left is not None and right is not None
    if left.id == right.id:
        raise InvalidInputError(
            "A crosswalk links two different frameworks; choose another one on the right.",
            {"right": ["The same framework as on the left."]},
        )
    return left, right


def list_associations(
    session: Session,
    left: Framework,
    right: Framework,
    provenances: Collection[str] | None = None,
    item: uuid.UUID | None = None,
) -> list[Association]:
    """The crosswalk's associations, both ends loaded, in the left framework's order then the right's.

    :param provenances: only these (all when ``None``).
    :param item: only those touching this item.
    """
    origin, destination = _ends()
    query = (
        select(Association)
        .join(origin, origin.id == Association.origin_item_id)
        .join(destination, destination.id == Association.destination_item_id)
        .where(_between(origin, destination, left, right))
        .options(joinedload(Association.origin), joinedload(Association.destination))
    )
    if provenances is not None:
        query = query.where(Association.provenance.in_(list(provenances)))
    if item is not None:
        query = query.where(or_(Association.origin_item_id == item, Association.destination_item_id == item))
    found = list(session.scalars(query))

    def order(association: Association) -> tuple[int, int, str]:
        ours, theirs = sides(association, left)
        return (ours.position, theirs.position, association.association_type)

    return sorted(found, key=order)


def sides(association: Association, left: Framework) -> tuple[Item, Item]:
    """(the end in ``left``, the other end), whichever way the association points."""
    assert association.destination is not None  # crosswalk links join items at both ends
    if association.origin.framework_id == left.id:
        return association.origin, association.destination
    return association.destination, association.origin


def get_association(session: Session, association_id_: uuid.UUID) -> Association:
    """A crosswalk association (between items of two frameworks).

    :raises NotFoundError: no such association, or it is no crosswalk link (a tree link, an external reference,
        or a link inside one framework).
    """
    association = session.get(Association, association_id_)
    if (
        association is None
        or association.destination is None
        or association.association_type == "isChildOf"
        or association.origin.framework_id == association.destination.framework_id
    ):
        raise NotFoundError(f"No crosswalk association has the identifier {association_id_}.")
    return association


def editable(association: Association) -> bool:
    return association.managed_by not in READ_ONLY


# Checking input.


def check_type(association_type: str, field_name: str = "type") -> str:
    """A CASE association type a crosswalk may use: one of :data:`CROSSWALK_TYPES` or ``ext:…``."""
    value = (association_type or "").strip()
    if value in CROSSWALK_TYPES or (value.startswith("ext:") and 4 < len(value) <= 100):
        return value
    raise InvalidInputError(
        f"The association type must be one of {', '.join(CROSSWALK_TYPES)} (or ext:…), not {value!r}.",
        {field_name: [f"Not a crosswalk type: {value!r}."]},
    )


def check_provenance(provenance: str, field_name: str = "provenance") -> str:
    value = (provenance or "").strip()
    if value not in PROVENANCES:
        raise InvalidInputError(
            f"provenance must be one of {', '.join(PROVENANCES)}, not {value!r}.",
            {field_name: [f"Not one of {', '.join(PROVENANCES)}."]},
        )
    return value


def check_strength(strength: Any, field_name: str = "strength") -> float | None:
    """``None`` (not stated) or a number from 0 to 1; text is read as a number ("0.5", "" for none)."""
    if strength is None or (isinstance(strength, str) and not strength.strip()):
        return None
    try:
        value = float(strength.strip() if isinstance(strength, str) else strength)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(
            f"strength must be a number from 0 to 1, not {strength!r}.", {field_name: ["Not a number."]}
        ) from error
    if isinstance(strength, bool) or not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidInputError(
            f"strength must be a number from 0 to 1, not {strength!r}.", {field_name: ["Not from 0 to 1."]}
        )
    return value


def check_note(note: str | None, field_name: str = "note") -> str | None:
    value = (note or "").strip()
    if len(value) > NOTE_MAX:
        raise InvalidInputError(
            f"The note is longer than {NOTE_MAX} characters.", {field_name: [f"At most {NOTE_MAX} characters."]}
        )
    return value or None


def _item_in(session: Session, identifier: uuid.UUID, frameworks: tuple[Framework, Framework], name: str) -> Item:
    found = session.get(Item, identifier)
    if found is None or found.framework_id not in {f.id for f in frameworks}:
        titles = " or ".join(repr(f.title) for f in frameworks)
        raise InvalidInputError(
            f"{identifier} is no item of {titles}.", {name: [f"Not an item of this crosswalk: {identifier}"]}
        )
    return found


def _refuse_read_only(association: Association) -> None:
    reason = READ_ONLY.get(association.managed_by or "")
    if reason:
        raise ConflictError(f"This association cannot be changed here: {reason}.")


def find_link(session: Session, association_type: str, origin: uuid.UUID, destination: uuid.UUID) -> Association | None:
    """The association of this type from ``origin`` to ``destination``, if there is one."""
    return session.scalars(
        select(Association).where(
            Association.association_type == association_type,
            Association.origin_item_id == origin,
            Association.destination_item_id == destination,
        )
    ).first()


# Changing.


def create_association(
    session: Session,
    left: Framework,
    right: Framework,
    origin: uuid.UUID,
    destination: uuid.UUID,
    association_type: str,
    actor: str,
    *,
    strength: Any = None,
    provenance: str = Provenance.CONFIRMED,
    note: str | None = None,
    now: datetime | None = None,
    identifier: uuid.UUID | None = None,
) -> Association:
    """Link an item of one framework to an item of the other (either way round); a person's, ``confirmed`` unless
    said otherwise.

    :raises InvalidInputError: an end outside the two frameworks, both ends in one, a bad type, strength,
        provenance or note.
    :raises ConflictError: the same link (type, origin, destination) exists already.
    """
    pair = (left, right)
    origin_item = _item_in(session, origin, pair, "origin_item_id")
    destination_item = _item_in(session, destination, pair, "destination_item_id")
    if origin_item.framework_id == destination_item.framework_id:
        raise InvalidInputError(
            "A crosswalk link joins an item of one framework to an item of the other.",
            {"destination_item_id": ["In the same framework as the origin."]},
        )
    association_type = check_type(association_type)
    values = {
        "strength": check_strength(strength),
        "provenance": check_provenance(provenance),
        "notes": check_note(note),
    }
    if find_link(session, association_type, origin, destination) is not None:
        raise ConflictError(
            f"{_label(origin_item)} {association_type} {_label(destination_item)} exists already; edit it instead."
        )
    now = now or utcnow()
    association = Association(
        # A person's rows get random identifiers (shipped data keeps the derived ones for itself), unless an
        # import brings the publisher's.
        id=identifier or uuid.uuid4(),
        framework_id=origin_item.framework_id,
        association_type=association_type,
        origin_item_id=origin,
        destination_item_id=destination,
        managed_by=None,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        last_change=now,
        **values,
    )
    if values["provenance"] == Provenance.CONFIRMED:
        association.reviewed_by, association.reviewed_at = actor, now
    session.add(association)
    session.flush()
    logger.info("Crosswalk link %s %s %s made by %s", origin, association_type, destination, actor)
    return association


def update_association(
    session: Session, association: Association, changes: Mapping[str, Any], actor: str, now: datetime | None = None
) -> Association:
    """Change an association's ``type``, ``strength``, ``provenance`` or ``note`` (keys present in ``changes``).

    A shipped crosswalk row becomes the person's (``capcourse frameworks sync`` leaves it alone after).

    :raises ConflictError: the row is read-only (:data:`READ_ONLY`), or the new type makes a duplicate.
    :raises InvalidInputError: a bad value.
    """
    _refuse_read_only(association)
    values: dict[str, Any] = {}
    if "type" in changes:
        values["association_type"] = check_type(changes["type"])
    if "strength" in changes:
        values["strength"] = check_strength(changes["strength"])
    if "provenance" in changes:
        values["provenance"] = check_provenance(changes["provenance"])
    if "note" in changes:
        values["notes"] = check_note(changes["note"])
    new_type = values.get("association_type", association.association_type)
    if new_type != association.association_type:
        assert association.destination_item_id is not None
        other = find_link(session, new_type, association.origin_item_id, association.destination_item_id)
        if other is not None and other.id != association.id:
            raise ConflictError(f"A {new_type} link between these items exists already.")
    changed = {k: v for k, v in values.items() if getattr(association, k) != v}
    if not changed:
        return association
    now = now or utcnow()
    for name, value in changed.items():
        setattr(association, name, value)
    if "provenance" in changed:
        confirmed = changed["provenance"] == Provenance.CONFIRMED
        association.reviewed_by, association.reviewed_at = (actor, now) if confirmed else (None, None)
    association.managed_by = None
    association.updated_by, association.last_change = actor, now
    session.flush()
    logger.info("Crosswalk link %s changed by %s: %s", association.id, actor, ", ".join(sorted(changed)))
    return association


def confirm_association(
    session: Session, association: Association, actor: str, now: datetime | None = None
) -> Association:
    """A person confirms a suggested or inferred link: it becomes ``confirmed`` and counts in coverage.

    :raises ConflictError: it is published or confirmed already, or read-only.
    """
    _refuse_read_only(association)
    if association.provenance not in TO_REVIEW:
        raise ConflictError(f"The link is {association.provenance} already: there is nothing to confirm.")
    return update_association(session, association, {"provenance": Provenance.CONFIRMED}, actor, now)


def delete_association(
    session: Session, association: Association, actor: str, note: str | None = None, now: datetime | None = None
) -> None:
    """Delete a link. A shipped crosswalk link is recorded as removed, so the sync does not bring it back.

    :raises ConflictError: the row is read-only (:data:`READ_ONLY`).
    """
    _refuse_read_only(association)
    if association.created_by == SYNC_ACTOR and session.get(AssociationRemoval, association.id) is None:
        assert association.destination_item_id is not None
        session.add(
            AssociationRemoval(
                association_id=association.id,
                association_type=association.association_type,
                origin_item_id=association.origin_item_id,
                destination_item_id=association.destination_item_id,
                removed_by=actor,
                removed_at=now or utcnow(),
                note=check_note(note),
            )
        )
    session.delete(association)
    session.flush()
    logger.info("Crosswalk link %s deleted by %s", association.id, actor)


# Import and export.

CSV_COLUMNS = (
    "origin_framework",
    "origin",
    "origin_statement",
    "type",
    "destination_framework",
    "destination",
    "destination_statement",
    "strength",
    "provenance",
    "note",
    "action",
)
REQUIRED_CSV_COLUMNS = ("origin_framework", "origin", "type", "destination_framework", "destination")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def _label(item: Item) -> str:
    return item.code or item.key


def _strength_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def export_csv(session: Session, left: Framework, right: Framework) -> str:
    """The crosswalk as CSV, in the form :func:`import_csv` takes (items by code, frameworks by key)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS[:-1])
    for association in list_associations(session, left, right):
        origin, destination = association.origin, association.destination
        assert destination is not None
        writer.writerow(
            [
                origin.framework.key,
                _label(origin),
                origin.abbreviated_statement or origin.full_statement,
                association.association_type,
                destination.framework.key,
                _label(destination),
                destination.abbreviated_statement or destination.full_statement,
                _strength_text(association.strength),
                association.provenance,
                association.notes or "",
            ]
        )
    return buffer.getvalue()


class _Resolver:
    """Finds items of the two frameworks by code, key or identifier (codes may repeat across versions, so always
    within the framework the row names)."""

    def __init__(self, session: Session, left: Framework, right: Framework) -> None:
        self.frameworks = {f.key: f for f in (left, right)} | {str(f.id): f for f in (left, right)}
        self.items: dict[uuid.UUID, dict[str, uuid.UUID]] = {}
        for framework in (left, right):
            names: dict[str, uuid.UUID] = {}
            for identifier, key, code in session.execute(
                select(Item.id, Item.key, Item.code).where(Item.framework_id == framework.id)
            ):
                names[str(identifier)] = identifier
                names.setdefault(key, identifier)
                if code:
                    names[code] = identifier
            self.items[framework.id] = names

    def framework(self, reference: str, column: str) -> Framework:
        found = self.frameworks.get((reference or "").strip())
        if found is None:
            keys = " or ".join(sorted(k for k in self.frameworks if not _is_uuid(k)))
            raise InvalidInputError(
                f"{column} must be {keys} (or its identifier), not {reference!r}.",
                {column: [f"Not a framework of this crosswalk: {reference!r}"]},
            )
        return found

    def item(self, framework: Framework, reference: str, column: str) -> uuid.UUID:
        found = self.items[framework.id].get((reference or "").strip())
        if found is None:
            raise InvalidInputError(
                f"{column}: {reference!r} is no code, key or identifier of an item of {framework.title!r}.",
                {column: [f"Unknown item: {reference!r}"]},
            )
        return found


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _apply(
    session: Session,
    left: Framework,
    right: Framework,
    wanted: dict[str, Any],
    actor: str,
    result: ImportResult,
    identifier: uuid.UUID | None = None,
) -> None:
    """Create the link or bring an existing one (by identifier, else by type and ends) to the wanted values."""
    existing = session.get(Association, identifier) if identifier is not None else None
    if existing is not None and (
        existing.origin_item_id != wanted["origin"]
        or existing.destination_item_id != wanted["destination"]
        or existing.association_type != wanted["type"]
    ):
        raise ConflictError(f"Association {identifier} exists with other ends or another type.")
    existing = existing or find_link(session, wanted["type"], wanted["origin"], wanted["destination"])
    if existing is None:
        create_association(
            session,
            left,
            right,
            wanted["origin"],
            wanted["destination"],
            wanted["type"],
            actor,
            strength=wanted["strength"],
            provenance=wanted["provenance"],
            note=wanted["note"],
            identifier=identifier,
        )
        result.created += 1
        return
    same = (
        existing.strength == wanted["strength"]
        and existing.provenance == wanted["provenance"]
        and (existing.notes or None) == wanted["note"]
    )
    if same:
        result.unchanged += 1
        return
    update_association(
        session,
        existing,
        {"strength": wanted["strength"], "provenance": wanted["provenance"], "note": wanted["note"]},
        actor,
    )
    result.updated += 1


def import_csv(session: Session, left: Framework, right: Framework, text: str, actor: str) -> ImportResult:
    """Apply a CSV of links (the columns of :func:`export_csv`, plus an optional ``action``: ``set``, the default,
    or ``remove``). A row that matches an existing link changes it; ``provenance`` is ``confirmed`` when empty.

    All or nothing: the first bad row refuses the file, naming its line; the caller rolls back.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InvalidInputError(
            f"The CSV lacks the column(s) {', '.join(missing)}.", {"file": [f"Columns: {', '.join(CSV_COLUMNS)}"]}
        )
    resolver = _Resolver(session, left, right)
    result = ImportResult()
    for line, row in enumerate(reader, start=2):
        try:
            if None in row:
                raise InvalidInputError("The row has more fields than the header.")
            origin_framework = resolver.framework(row["origin_framework"], "origin_framework")
            destination_framework = resolver.framework(row["destination_framework"], "destination_framework")
            wanted: dict[str, Any] = {
                "origin": resolver.item(origin_framework, row["origin"], "origin"),
                "destination": resolver.item(destination_framework, row["destination"], "destination"),
                "type": check_type(row["type"]),
                "strength": check_strength(row.get("strength")),
                "provenance": check_provenance(row.get("provenance") or Provenance.CONFIRMED),
                "note": check_note(row.get("note")),
            }
            action = (row.get("action") or "set").strip() or "set"
            if action == "remove":
                found = find_link(session, wanted["type"], wanted["origin"], wanted["destination"])
                if found is not None:
                    delete_association(session, found, actor)
                    result.removed += 1
            elif action == "set":
                _apply(session, left, right, wanted, actor, result)
            else:
                raise InvalidInputError(f"action must be set or remove, not {action!r}.")
        except (InvalidInputError, ConflictError) as error:
            raise type(error)(f"Line {line}: {error.message}", {"file": [f"line {line}"]}) from error
    return result


def _document_id(left: Framework, right: Framework) -> uuid.UUID:
    first, second = sorted((str(left.id), str(right.id)))
    return uuid.uuid5(NAMESPACE, f"crosswalk:{first}:{second}")


def _case_time(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def export_case(session: Session, left: Framework, right: Framework, base_url: str) -> dict[str, Any]:
    """The crosswalk as a crosswalk-only CASE 1.1 CFPackage: a CFDocument naming the two frameworks and its
    CFAssociations, each end linked to the item the provider API serves. What CASE has no property for
    (provenance, strength, who and when) travels in ``extensions.capcourse``."""
    from capcourse.case.export import item_title, provider_uri
    from capcourse.frameworks.uris import node_uri

    associations = list_associations(session, left, right)
    last = max([_aware(a.last_change) for a in associations] + [_aware(left.last_change), _aware(right.last_change)])

    def link(item: Item) -> dict[str, str]:
        return {
            "title": item_title(item.code, item.abbreviated_statement, item.full_statement),
            "identifier": str(item.id),
            "uri": node_uri(base_url, item.id, item.uri),
        }

    document_id = _document_id(left, right)
    out = []
    for association in associations:
        assert association.destination is not None
        entry: dict[str, Any] = {
            "identifier": str(association.id),
            "associationType": association.association_type,
            "uri": provider_uri(base_url, "CFAssociations", association.id),
            "originNodeURI": link(association.origin),
            "destinationNodeURI": link(association.destination),
            "lastChangeDateTime": _case_time(association.last_change),
        }
        if association.notes:
            entry["notes"] = association.notes
        ours = {
            "provenance": association.provenance,
            "strength": association.strength,
            "qualifier": association.qualifier,
            "managedBy": association.managed_by,
            "createdBy": association.created_by,
            "createdAt": _case_time(association.created_at) if association.created_at else None,
            "updatedBy": association.updated_by,
            "reviewedBy": association.reviewed_by,
            "reviewedAt": _case_time(association.reviewed_at) if association.reviewed_at else None,
        }
        entry["extensions"] = {"capcourse": {k: v for k, v in ours.items() if v is not None}}
        out.append(entry)
    return {
        "CFDocument": {
            "identifier": str(document_id),
            "uri": f"{base_url}/api/v1/crosswalks/{left.id}/{right.id}/case",
            "creator": "capcourse",
            "title": f"Crosswalk: {left.title} ↔ {right.title}",
            "lastChangeDateTime": _case_time(last),
            "caseVersion": "1.1",
            "description": (
                f"Associations between the items of {left.title!r} and {right.title!r}; "
                "extensions.capcourse on each says where it comes from (published, inferred, suggested or "
                "confirmed) and how strong it is."
            ),
            "extensions": {"capcourse": {"crosswalk": [str(left.id), str(right.id)]}},
        },
        "CFAssociations": out,
    }


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def import_case(session: Session, left: Framework, right: Framework, raw: bytes, actor: str) -> ImportResult:
    """Apply the CFAssociations of a CASE package (a crosswalk-only package such as :func:`export_case` writes,
    or any package whose associations join the two frameworks). Items are matched by identifier; associations
    keep theirs, so importing again updates them. Provenance and strength come from ``extensions.capcourse``
    when present; otherwise the link is ``published`` (its publisher states it).

    Read by :func:`capcourse.case.reading.parse_package` (leniently, as a framework import is). All or nothing:
    an association whose ends are not one item of each framework refuses the package, naming its JSON path.
    """
    from capcourse.case.reading import PackageError, case_id, json_path, parse_package, refuse

    parsed = parse_package(raw)
    if not parsed.associations:
        raise InvalidInputError("The package has no CFAssociations.", {"$.CFAssociations": ["None to import."]})
    ends = {
        case_id(a[end]["identifier"]) for a in parsed.associations for end in ("originNodeURI", "destinationNodeURI")
    }
    frameworks_of: dict[uuid.UUID, uuid.UUID] = {
        identifier: framework
        for identifier, framework in session.execute(select(Item.id, Item.framework_id).where(Item.id.in_(list(ends))))
    }
    pair = {left.id, right.id}
    problems: list[tuple[str, str]] = []
    wanted_rows: list[tuple[uuid.UUID, dict[str, Any]]] = []
    for index, association in enumerate(parsed.associations):
        base = ("CFAssociations", index)
        origin = case_id(association["originNodeURI"]["identifier"])
        destination = case_id(association["destinationNodeURI"]["identifier"])
        found = [frameworks_of.get(origin), frameworks_of.get(destination)]
        for end, framework in zip(("originNodeURI", "destinationNodeURI"), found, strict=True):
            if framework not in pair:
                problems.append((json_path((*base, end)), f"Not an item of {left.title!r} or {right.title!r}."))
        if all(f in pair for f in found) and found[0] == found[1]:
            problems.append((json_path(base), "Both ends are items of the same framework."))
        ours = ((association.get("extensions") or {}).get("capcourse")) or {}
        try:
            wanted = {
                "origin": origin,
                "destination": destination,
                "type": check_type(association["associationType"]),
                "strength": check_strength(ours.get("strength") if isinstance(ours, dict) else None),
                "provenance": check_provenance(
                    (ours.get("provenance") if isinstance(ours, dict) else None) or Provenance.PUBLISHED
                ),
                "note": check_note(association.get("notes")),
            }
        except InvalidInputError as error:
            problems.append((json_path(base), error.message))
            continue
        wanted_rows.append((case_id(association["identifier"]), wanted))
    if problems:
        raise refuse(problems, "The associations cannot be imported")
    result = ImportResult()
    for index, (identifier, wanted) in enumerate(wanted_rows):
        try:
            _apply(session, left, right, wanted, actor, result, identifier)
        except (InvalidInputError, ConflictError) as error:
            raise PackageError(
                f"{json_path(('CFAssociations', index))}: {error.message}",
                {json_path(("CFAssociations", index)): [error.message]},
            ) from error
    return result


# The shipped crosswalks.


@dataclass(frozen=True)
class ShippedLink:
    origin: str
    destination: str
    association_type: str
    provenance: str
    strength: float | None
    reason: str


@dataclass(frozen=True)
class ShippedCrosswalk:
    path: Path
    origin_framework: str
    destination_framework: str
    last_change: datetime
    links: tuple[ShippedLink, ...]


def load_shipped(data_dir: Path = CROSSWALK_DIR) -> list[ShippedCrosswalk]:
    """The crosswalk files (``capcourse/data/crosswalks/*.toml``), checked.

    :raises ValueError: a file breaks the format (a shipped file is a programming error, not input).
    """
    found = []
    for path in sorted(data_dir.glob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        head = document["crosswalk"]
        stamp = head["last_change"]
        if not isinstance(stamp, date):
            raise ValueError(f"{path.name}: last_change must be a TOML date")
        links = []
        for number, link in enumerate(document.get("links", []), start=1):
            try:
                links.append(
                    ShippedLink(
                        link["origin"],
                        link["destination"],
                        check_type(link.get("type", "isRelatedTo")),
                        check_provenance(link.get("provenance", head["provenance"])),
                        check_strength(link.get("strength")),
                        link["reason"].strip(),
                    )
                )
            except (KeyError, InvalidInputError) as error:
                raise ValueError(f"{path.name}, link {number}: {error}") from error
        found.append(
            ShippedCrosswalk(
                path,
                head["origin_framework"],
                head["destination_framework"],
                datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC),
                tuple(links),
            )
        )
    return found


def sync_shipped_crosswalks(session: Session, now: datetime | None = None, data_dir: Path = CROSSWALK_DIR) -> int:
    """Bring the shipped crosswalks in (``capcourse frameworks sync`` calls this). Idempotent.

    Adds missing links, updates the ones still as shipped, drops shipped ones no longer in the files. Links a
    person edited, confirmed or deleted are left as the person left them. Frameworks that are missing or were
    imported from a CASE package are skipped. Returns how many rows changed.
    """
    now = now or utcnow()
    # Rows of frameworks imported from CASE packages are the publisher's, whatever their managedBy says.
    existing = {
        a.id: a
        for a in session.scalars(
            select(Association)
            .join(Framework, Framework.id == Association.framework_id)
            .where(Association.managed_by == ManagedBy.CROSSWALK, Framework.imported_at.is_(None))
        )
    }
    removed = set(session.scalars(select(AssociationRemoval.association_id)))
    changed = 0
    for crosswalk in load_shipped(data_dir):
        frameworks = [
            session.get(Framework, framework_id(key))
            for key in (crosswalk.origin_framework, crosswalk.destination_framework)
        ]
        if any(f is None or f.imported_at is not None for f in frameworks):
            logger.info("Crosswalk %s skipped: a framework is missing or imported", crosswalk.path.name)
            continue
        wanted_items = {item_id(crosswalk.origin_framework, link.origin) for link in crosswalk.links} | {
            item_id(crosswalk.destination_framework, link.destination) for link in crosswalk.links
        }
        known = set(session.scalars(select(Item.id).where(Item.id.in_(list(wanted_items)))))
        for link in crosswalk.links:
            origin = item_id(crosswalk.origin_framework, link.origin)
            destination = item_id(crosswalk.destination_framework, link.destination)
            if origin not in known or destination not in known:
                logger.warning("%s: %s → %s names an unknown item", crosswalk.path.name, link.origin, link.destination)
                continue
            identifier = association_id(link.association_type, origin, destination)
            if identifier in removed:
                continue
            values = {
                "provenance": link.provenance,
                "strength": link.strength,
                "notes": link.reason,
                "last_change": crosswalk.last_change,
            }
            row = existing.pop(identifier, None)
            if row is None:
                if session.get(Association, identifier) is not None:
                    continue  # a person's now: left as they left it
                session.add(
                    Association(
                        id=identifier,
                        framework_id=framework_id(crosswalk.origin_framework),
                        association_type=link.association_type,
                        origin_item_id=origin,
                        destination_item_id=destination,
                        managed_by=ManagedBy.CROSSWALK,
                        created_by=SYNC_ACTOR,
                        created_at=now,
                        updated_by=SYNC_ACTOR,
                        **values,
                    )
                )
                changed += 1
            elif _differs(row, values):
                for name, value in values.items():
                    setattr(row, name, value)
                changed += 1
    for row in existing.values():
        session.delete(row)
        changed += 1
    session.flush()
    return changed


def _differs(row: Association, values: Mapping[str, Any]) -> bool:
    return any(
        (_aware(getattr(row, name)) if isinstance(getattr(row, name), datetime) else getattr(row, name)) != value
        for name, value in values.items()
    )


def coverage_provenances(include: Iterable[str] = ()) -> frozenset[str]:
    """What coverage counts through crosswalks: :data:`COUNTED`, plus any of :data:`OPTIONAL` asked for.

    :raises InvalidInputError: something else asked for.
    """
    extra = set(include)
    unknown = extra - set(OPTIONAL)
    if unknown:
        raise InvalidInputError(
            f"include takes {' and/or '.join(OPTIONAL)}, not {', '.join(sorted(unknown))}.",
            {"include": [f"Not one of {', '.join(OPTIONAL)}."]},
        )
    return COUNTED | extra
