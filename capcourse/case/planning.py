"""Step 2 of an import: the plan, which compares a package with the database and writes nothing.

:func:`plan_import` works out which items and associations a package adds,
changes and removes, which associations reach frameworks capcourse does not
hold (kept as external references), and which mappings an update would
remove. It writes nothing, so it is also the preview.

Each CASE object keeps, in ``case_data``, whatever the columns cannot give
back as it came: properties capcourse does not model, properties CASE does not
define, values longer than a column, identifiers that are no UUID, and the
ends of every association as the publisher wrote them. The export lays those
over what it builds from the columns, so a framework exports as it came.

Associations that start at a document, or at items capcourse does not hold
(crosswalk-only packages), cannot be rows of ``framework_associations`` (whose
origin is an item); they are kept verbatim as :class:`CaseDefinition` rows of
kind ``CFAssociations`` and exported again as they came.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
import unicodedata
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from anyascii import anyascii
from sqlalchemy import String, Text, cast, func, select
from sqlalchemy.orm import Session

from capcourse.case.export import CHUNK, EXTENSION, FRAMEWORK, framework_rows, id_text, row_moment
from capcourse.case.models import CaseDefinition, DefinitionKind
from capcourse.case.reading import (
    ParsedPackage,
    case_id,
    datetime_text,
    flat_jsonable,
    gc_paused,
    json_path,
    jsonable,
    refuse,
    uuid_text,
)
from capcourse.case.schemas import format_datetime, parse_datetime
from capcourse.errors import ConflictError
from capcourse.frameworks.models import Association, Framework, Item, Provenance
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.identifiers import framework_id as seed_framework_id
from capcourse.mapping.models import Mapping
from capcourse.records.models import Attainment

#: How many items each list of a report shows.
MAX_LISTED = 100
#: Item type of items whose package gives none (the export leaves it out again).
UNTYPED = "Item"

_ITEM_MODELLED = frozenset(
    {
        "identifier",
        "fullStatement",
        "CFItemType",
        "uri",
        "humanCodingScheme",
        "abbreviatedStatement",
        "notes",
        "language",
        "lastChangeDateTime",
        "extensions",
    }
)
_DOCUMENT_MODELLED = frozenset(
    {
        "identifier",
        "uri",
        "creator",
        "title",
        "lastChangeDateTime",
        "officialSourceURL",
        "publisher",
        "description",
        "language",
        "version",
        "adoptionStatus",
        "notes",
        "extensions",
    }
)
_ASSOCIATION_MODELLED = frozenset(
    {
        "identifier",
        "associationType",
        "sequenceNumber",
        "originNodeURI",
        "destinationNodeURI",
        "lastChangeDateTime",
        "notes",
        "extensions",
    }
)
_PROVENANCES = frozenset(Provenance)
_ITEM_COLUMNS = (
    "key",
    "uri",
    "code",
    "item_type",
    "parent_id",
    "position",
    "full_statement",
    "abbreviated_statement",
    "language",
    "stage",
    "icon",
    "notes",
    "last_change",
    "parent_association_id",
    "case_data",
)
_ASSOCIATION_COLUMNS_COMPARED = (
    "association_type",
    "origin_item_id",
    "destination_item_id",
    "destination_uri",
    "sequence",
    "provenance",
    "qualifier",
    "notes",
    "managed_by",
    "last_change",
    "case_data",
)
_FRAMEWORK_COLUMNS = (
    "key",
    "family",
    "uri",
    "title",
    "creator",
    "publisher",
    "version",
    "adoption_status",
    "language",
    "licence",
    "licence_uri",
    "official_source_url",
    "source_document",
    "description",
    "notes",
    "last_change",
    "case_data",
)


@dataclass
class AffectedMapping:
    mapping_id: uuid.UUID
    programme_id: uuid.UUID
    target: str
    item_id: uuid.UUID
    item: str
    depth: str


@dataclass
class ImportPlan:
    """What an import does; built without writing anything, so it is also the preview."""

    parsed: ParsedPackage
    framework_id: uuid.UUID
    exists: bool
    framework_values: dict[str, Any]
    framework_changed: bool
    #: Desired rows by identifier, items in an order where parents come first.
    items: dict[uuid.UUID, dict[str, Any]]
    associations: dict[uuid.UUID, dict[str, Any]]
    definitions: list[dict[str, Any]]
    definitions_changed: bool
    items_added: list[uuid.UUID] = field(default_factory=list)
    items_changed: list[uuid.UUID] = field(default_factory=list)
    items_moved: list[uuid.UUID] = field(default_factory=list)
    items_removed: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    associations_added: list[uuid.UUID] = field(default_factory=list)
    associations_changed: list[uuid.UUID] = field(default_factory=list)
    associations_removed: list[uuid.UUID] = field(default_factory=list)
    #: Existing keys that change, so their new values cannot collide while rows are rewritten.
    rekeyed: list[uuid.UUID] = field(default_factory=list)
    #: Kept items whose parent is removed: lifted out before the removal cascades.
    lifted: list[uuid.UUID] = field(default_factory=list)
    mappings: int = 0
    affected_mappings: list[AffectedMapping] = field(default_factory=list)
    attainments_removed: int = 0
    external_references: int = 0
    #: Other frameworks' associations to removed items (kept as external references).
    orphaned_references: int = 0
    #: Other frameworks' external references that this package's items now resolve.
    relinks: list[uuid.UUID] = field(default_factory=list)
    #: Associations other packages carried that start at this package's items, kept as they came until now:
    #: (the kept row's id, the association row they become).
    adopted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: Every association of the package, the tree's links and those kept verbatim included: added, changed, removed.
    association_counts: dict[str, int] = field(default_factory=lambda: {"added": 0, "changed": 0, "removed": 0})
    #: What the plan found (the package's normalisations are in ``parsed.notes``).
    warnings: list[str] = field(default_factory=list)
    confirm_token: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            not self.exists
            or self.framework_changed
            or self.definitions_changed
            or self.items_added
            or self.items_changed
            or self.items_moved
            or self.items_removed
            or self.associations_added
            or self.associations_changed
            or self.associations_removed
            or self.relinks
            or self.adopted
        )

    def release(self) -> None:
        """Let go of the package's rows once they are written: keep what the report shows.

        A 20,000-item plan is a few million objects; an outcome kept until the
        answer is sent would keep them all (and the collector walking them).
        """
        # Looked up by the few listed, not filtered from all of them (UUIDs hash in Python).
        listed = dict.fromkeys((*self.items_added[:MAX_LISTED], *self.items_changed[:MAX_LISTED]))
        self.items = {i: self.items[i] for i in listed if i in self.items}
        self.associations = {}
        self.definitions = []
        parsed = self.parsed
        parsed.items, parsed.associations, parsed.rubrics = [], [], []
        parsed.definitions = {}

    @property
    def needs_confirmation(self) -> bool:
        """An update of a framework that programmes map to, which changes something."""
        return self.exists and self.mappings > 0 and self.changed


def slug(text: str) -> str:
    """``"UTF8 𝑑 Test"`` → ``"utf8-d-test"``, ``"Математика"`` → ``"matematika"``: a key from a title (transliterated)."""
    ascii_text = anyascii(unicodedata.normalize("NFKC", text))
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80]


def key_for(title: str, identifier: uuid.UUID) -> str:
    """A framework's key from its title; ``framework-<8 hex digits of its identifier>`` when no letter survives."""
    key = slug(title)
    return key if re.search(r"[a-z]", key) else f"framework-{identifier.hex[:8]}"


@functools.cache
def _seed_keys() -> frozenset[str]:
    # The shipped data files do not change while capcourse runs; reading them took longer than planning.
    return frozenset(f.key for f in load_seed_data().frameworks)


def _choose_key(session: Session, framework_id: uuid.UUID, wanted: str | None, fallback: str) -> str:
    """A key no other framework has (and no shipped framework will take)."""
    taken = {k for (k,) in session.execute(select(Framework.key).where(Framework.id != framework_id))}
    reserved = {k for k in _seed_keys() if seed_framework_id(k) != framework_id}
    blocked = taken | reserved
    if wanted and len(wanted) <= 100 and wanted not in blocked:
        return wanted
    key, n = fallback, 2
    while key in blocked:
        key = f"{fallback}-{n}"
        n += 1
    return key


def json_text(value: Any) -> str:
    """A JSON column's value as capcourse writes it (orjson; :func:`json.dumps` for what orjson refuses)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits, which json.loads read and orjson does not write
        return json.dumps(value, ensure_ascii=False)


def _aware(value: Any) -> Any:
    # SQLite hands back naive datetimes; they were written in UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _ours(extensions: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Split ``extensions`` into capcourse's facts and everyone else's."""
    if not extensions:
        return {}, None
    rest = {k: v for k, v in extensions.items() if k != EXTENSION}
    ours = extensions.get(EXTENSION)
    return (ours if isinstance(ours, dict) else {}), (rest or None)


#: capcourse's facts of an object without extensions (never written to).
_NONE: dict[str, Any] = {}


def _text(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _case_data(**parts: Any) -> dict[str, Any] | None:
    kept = {k: v for k, v in parts.items() if v}
    return kept or None


def _properties(loaded: dict[str, Any], modelled: frozenset[str]) -> dict[str, Any]:
    """What the export must lay over the columns: unmodelled properties, and the identifier if no UUID spells it.

    ``modelled`` names ``extensions`` too: capcourse's own are facts of the
    columns, everyone else's are kept here.
    """
    # Date-times are properties of the object itself, never deeper (see flat_jsonable).
    properties = {k: datetime_text(v) if type(v) is datetime else v for k, v in loaded.items() if k not in modelled}
    return _as_sent(properties, loaded)


def _as_sent(kept: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    """``kept`` with what the columns cannot say of ``loaded``: the publisher's own extensions, and an
    identifier spelt otherwise than its canonical UUID text."""
    extensions = loaded.get("extensions")
    if extensions:
        _, theirs = _ours(extensions)
        if theirs:
            kept["extensions"] = theirs
    text = loaded["identifier"]
    if uuid_text(text) != text:
        kept["identifier"] = text
    return kept


def _fit(loaded: dict[str, Any], name: str, limit: int, properties: dict[str, Any]) -> Any:
    """The value for a column ``limit`` wide; a longer one is cut, and kept whole for the export."""
    value = loaded.get(name)
    if isinstance(value, str) and len(value) > limit:
        properties[name] = value
        return value[:limit]
    return value


def _framework_values(
    session: Session, parsed: ParsedPackage, framework_id: uuid.UUID, existing: Framework | None
) -> dict[str, Any]:
    document = parsed.document
    ours, _ = _ours(document.get("extensions"))
    properties = _properties(document, _DOCUMENT_MODELLED)
    licence_link = document.get("licenseURI") or {}
    title = _fit(document, "title", 500, properties)
    fallback = key_for(f"{title} {document['version']}" if document.get("version") else title, framework_id)
    if existing is not None:
        fallback = existing.key
    return {
        "key": _choose_key(session, framework_id, _text(ours.get("key"), 100), fallback),
        "family": _text(ours.get("family"), 100) or (existing.family if existing else key_for(title, framework_id)),
        "uri": _fit(document, "uri", 500, properties),
        "title": title,
        "creator": _fit(document, "creator", 300, properties),
        "publisher": _fit(document, "publisher", 300, properties),
        "version": _fit(document, "version", 100, properties),
        "adoption_status": _fit(document, "adoptionStatus", 50, properties),
        "language": _fit(document, "language", 20, properties),
        "licence": _text(ours.get("licence"), 300) or _text(licence_link.get("title"), 300),
        "licence_uri": _text(ours.get("licenceURL"), 500),
        "official_source_url": _fit(document, "officialSourceURL", 500, properties),
        "source_document": _text(ours.get("sourceDocument"), 300),
        "description": document.get("description"),
        "notes": document.get("notes"),
        "last_change": document["lastChangeDateTime"],
        "case_data": _case_data(
            properties=properties,
            capcourse=bool(ours),
            definitionsExtensions=parsed.definitions_extensions,
            packageExtensions=parsed.package_extensions,
            packageProperties=parsed.package_properties,
            definitionsProperties=parsed.definitions_properties,
        ),
    }


def _chunked(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _held_by(
    session: Session, column: Any, owner: Any, identifiers: Iterable[uuid.UUID], other_than: uuid.UUID | None = None
) -> dict[uuid.UUID, uuid.UUID]:
    """``column`` value → ``owner`` value, for those of ``identifiers`` that rows (of frameworks other than ``other_than``) hold.

    Set-based either way: when the rows to look through are fewer than the
    identifiers asked about (a big package into a database of a few
    frameworks), all of them are read at once; otherwise the identifiers are
    looked up in chunks.
    """
    wanted = identifiers if isinstance(identifiers, set | frozenset) else set(identifiers)
    if not wanted:
        return {}
    where = [column.is_not(None)] if other_than is None else [column.is_not(None), owner != other_than]
    rows = int(session.scalar(select(func.count()).select_from(column.table).where(*where)) or 0)
    if rows <= len(wanted):
        return {key: value for key, value in session.execute(select(column, owner).where(*where)) if key in wanted}
    found: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunked(list(wanted)):
        found.update(session.execute(select(column, owner).where(column.in_(chunk), *where)).all())
    return found


def _held_by_text(
    session: Session, column: Any, owner: Any, texts: set[str], other_than: uuid.UUID
) -> dict[str, uuid.UUID]:
    """:func:`_held_by` for identifiers as :func:`uuid_text` spells them: a package's own, without a UUID made of each."""
    if not texts:
        return {}
    where = [column.is_not(None), owner != other_than]
    rows = int(session.scalar(select(func.count()).select_from(column.table).where(*where)) or 0)
    if rows <= len(texts):
        found = ((str(key), value) for key, value in session.execute(select(column, owner).where(*where)))
        return {text: value for text, value in found if text in texts}
    held: dict[str, uuid.UUID] = {}
    for chunk in _chunked(list(texts)):
        identifiers = [case_id(text) for text in chunk]
        held.update(
            (str(key), value)
            for key, value in session.execute(select(column, owner).where(column.in_(identifiers), *where))
        )
    return held


def _uuid_texts(texts: Iterable[str | None], spell: Callable[[uuid.UUID], str]) -> set[str]:
    """Identifiers read as the database's text (see :func:`_current_rows`), as :func:`uuid_text` spells them.

    SQLite's 32 hex digits are hyphenated here; PostgreSQL's text already is.
    """
    if spell is not _hex:
        return {text for text in texts if text is not None}
    return {f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in texts if h is not None}


def _held_items(
    session: Session, identifiers: Iterable[uuid.UUID], other_than: uuid.UUID | None = None
) -> dict[uuid.UUID, uuid.UUID]:
    """Item identifier → its framework, for those of ``identifiers`` capcourse holds (in frameworks other than ``other_than``)."""
    return _held_by(session, Item.id, Item.framework_id, identifiers, other_than)


def _tree(
    parsed: ParsedPackage, document_id: uuid.UUID, item_ids: set[uuid.UUID]
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each item's place in the tree: its first ``isChildOf`` to another item of the package or to the document.

    A link that would make an item its own ancestor stays a plain association
    (noted): the tree is what capcourse shows and rolls coverage up along.

    Identifiers are compared as :func:`uuid_text` spells them (one string per
    UUID, its hash kept): a UUID is hashed in Python each time.

    :returns: item (as :func:`uuid_text` spells it) → (index of that association, the association).
    """
    item_keys = {uuid_text(item["identifier"]) for item in parsed.items}
    document_key = str(document_id)
    links: dict[str, tuple[int, dict[str, Any]]] = {}
    parents: dict[str, str] = {}
    for index, association in enumerate(parsed.associations):
        if association["associationType"] != "isChildOf":
            continue
        origin = uuid_text(association["originNodeURI"]["identifier"])
        destination = uuid_text(association["destinationNodeURI"]["identifier"])
        if origin not in item_keys or origin in links:
            continue
        if destination == document_key:
            links[origin] = (index, association)
            continue
        if destination not in item_keys:
            continue
        # Would the link close a cycle? Walk up from the destination.
        node: str | None = destination
        steps = 0
        while node is not None and node != origin and steps <= len(item_ids):
            node = parents.get(node)
            steps += 1
        if node == origin:
            parsed.notes.add("tree_cycle", ("CFAssociations", index))
            continue
        links[origin] = (index, association)
        parents[origin] = destination
    return links


_TREE_LINK_SKIPPED = frozenset({"identifier", "associationType", "extensions"})


def _tree_link(association: dict[str, Any]) -> dict[str, Any]:
    """An item's ``isChildOf`` link as it came (both ends, URI, dates …), but for what the item's columns hold."""
    link = {
        k: datetime_text(v) if type(v) is datetime else v for k, v in association.items() if k not in _TREE_LINK_SKIPPED
    }
    return _as_sent(link, association)


def _item_rows(
    parsed: ParsedPackage,
    framework_id: uuid.UUID,
    document_id: uuid.UUID,
    links: dict[str, tuple[int, dict[str, Any]]],
) -> dict[uuid.UUID, dict[str, Any]]:
    """The desired item rows, parents before children, positions from the tree's sequence numbers.

    Items are handled by their index in the package (what is known of each
    worked out once, in lists), so the walk down the tree hashes no UUIDs.
    """
    items = parsed.items
    ids = [case_id(item["identifier"]) for item in items]
    keys = [uuid_text(item["identifier"]) for item in items]
    index_of = {key: index for index, key in enumerate(keys)}
    link_of = [links.get(key) for key in keys]
    ours_of = [_ours(item.get("extensions"))[0] if "extensions" in item else _NONE for item in items]
    #: Parent's index (-1: the document) → its children's indexes, in package order.
    children: dict[int, list[int]] = defaultdict(list)
    #: How siblings are ordered: items outside the tree (no isChildOf) come after those in it.
    order: list[tuple[int, int, int]] = []
    for index, link in enumerate(link_of):
        if link is None:
            children[-1].append(index)
            order.append((1, 2**31, index))
            continue
        association = link[1]
        children[index_of.get(uuid_text(association["destinationNodeURI"]["identifier"]), -1)].append(index)
        sequence = association.get("sequenceNumber")
        order.append((0, sequence if sequence is not None else 2**31, index))

    keys_wanted = Counter(ours["key"] for ours in ours_of if ours and _text(ours.get("key"), 100))

    rows: dict[uuid.UUID, dict[str, Any]] = {}
    queue: deque[int] = deque([-1])
    while queue:
        parent_index = queue.popleft()
        parent = ids[parent_index] if parent_index >= 0 else None
        for position, index in enumerate(sorted(children.get(parent_index, ()), key=order.__getitem__)):
            item = items[index]
            item_id = ids[index]
            ours = ours_of[index]
            key = _text(ours.get("key"), 100) if ours else None
            if key is None or keys_wanted[key] > 1:
                key = keys[index]
            link = link_of[index]
            properties = _properties(item, _ITEM_MODELLED)
            row = {
                "id": item_id,
                "framework_id": framework_id,
                "key": key,
                "uri": _fit(item, "uri", 500, properties),
                "code": _fit(item, "humanCodingScheme", 100, properties),
                "item_type": _fit(item, "CFItemType", 100, properties) or UNTYPED,
                "parent_id": parent,
                "position": position,
                "full_statement": item["fullStatement"],
                "abbreviated_statement": item.get("abbreviatedStatement"),
                "language": _fit(item, "language", 20, properties),
                "stage": _text(ours.get("stage"), 50) if ours else None,
                "icon": _text(ours.get("icon"), 20) if ours else None,
                "notes": item.get("notes"),
                "last_change": item["lastChangeDateTime"],
                "parent_association_id": None,
                "case_data": None,
            }
            # As _case_data would keep them: only what is there, in this order.
            case_data: dict[str, Any] = {"properties": properties} if properties else {}
            if ours:
                case_data["capcourse"] = True
            if link is not None:
                row["parent_association_id"] = case_id(link[1]["identifier"])
                tree_link = _tree_link(link[1])
                if tree_link:
                    case_data["treeLink"] = tree_link
            if "CFItemType" not in item:
                case_data["noItemType"] = True
            row["case_data"] = case_data or None
            rows[item_id] = row
            queue.append(index)
    return rows


def _association_rows(
    session: Session,
    parsed: ParsedPackage,
    framework_id: uuid.UUID,
    document_id: uuid.UUID,
    item_ids: set[uuid.UUID],
    tree_links: set[int],
) -> tuple[dict[uuid.UUID, dict[str, Any]], list[dict[str, Any]], int]:
    """The desired association rows (all but the tree's links), those kept verbatim, and how many reach outside.

    An association whose origin is no item capcourse holds (a document, or an
    item of a framework capcourse lacks) is kept verbatim (see the module).
    Destinations capcourse does not hold are kept as references: the URI as
    it came, whatever its scheme (``local:``, ``urn:``, relative …).
    """
    # The package's own spellings of its items' identifiers: most ends name an item so, and a string
    # (its hash kept) is found faster than a UUID (hashed in Python each time).
    item_texts = {item["identifier"] for item in parsed.items}
    candidates = set()
    for association in parsed.associations:
        for end in ("originNodeURI", "destinationNodeURI"):
            text = association[end]["identifier"]
            if text not in item_texts:
                identifier = case_id(text)
                if identifier not in item_ids:
                    candidates.add(identifier)
    # Items of this framework the package no longer has are removed by the import: not held.
    held = _held_items(session, candidates, other_than=framework_id)
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    verbatim: list[dict[str, Any]] = []
    external = 0
    for index, association in enumerate(parsed.associations):
        if index in tree_links:
            continue
        origin_link, destination_link = association["originNodeURI"], association["destinationNodeURI"]
        origin_text, destination_text = origin_link["identifier"], destination_link["identifier"]
        origin = case_id(origin_text)
        destination = case_id(destination_text)
        identifier = case_id(association["identifier"])
        origin_held = origin_text in item_texts or origin in item_ids or origin in held
        destination_held = destination_text in item_texts or destination in item_ids or destination in held
        if not origin_held:
            verbatim.append(
                {
                    "kind": str(DefinitionKind.ASSOCIATION),
                    "identifier": identifier,
                    # Their order among themselves: the export lists them after the others.
                    "position": len(verbatim),
                    "content": flat_jsonable(association),
                    "last_change": association["lastChangeDateTime"],
                }
            )
            if origin != document_id or (not destination_held and destination != document_id):
                external += 1
            continue
        destination_item_id = None
        destination_uri = None
        if destination_held:
            destination_item_id = destination
        else:
            uri = destination_link["uri"]
            destination_uri = uri if len(uri) <= 500 else f"urn:uuid:{destination}"
            if destination != document_id:
                external += 1
        rows[identifier] = association_values(
            association, framework_id, destination_item_id, destination_uri, identifier, origin
        )
    return rows, verbatim, external


def association_values(
    association: dict[str, Any],
    framework_id: uuid.UUID,
    destination_item_id: uuid.UUID | None,
    destination_uri: str | None,
    identifier: uuid.UUID | None = None,
    origin_item_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The ``framework_associations`` row of a CASE association (read, or as JSON) whose origin capcourse holds.

    Both ends are kept as the publisher wrote them (title, URI, ``targetType``
    …), whatever capcourse holds, so the association exports as it came.
    ``identifier`` and ``origin_item_id`` are the association's and its
    origin's :func:`case_id`, when the caller has them already.
    """
    ours = _ours(association.get("extensions"))[0] if "extensions" in association else _NONE
    properties = _properties(association, _ASSOCIATION_MODELLED)
    properties["originNodeURI"] = association["originNodeURI"]
    properties["destinationNodeURI"] = association["destinationNodeURI"]
    last_change = association["lastChangeDateTime"]
    if ours:
        provenance = ours.get("provenance")
        provenance = provenance if provenance in _PROVENANCES else Provenance.PUBLISHED
        qualifier, managed_by = _text(ours.get("qualifier"), 200), _text(ours.get("managedBy"), 20)
    else:
        provenance, qualifier, managed_by = Provenance.PUBLISHED, None, None
    return {
        "id": identifier if identifier is not None else case_id(association["identifier"]),
        "framework_id": framework_id,
        "association_type": _fit(association, "associationType", 100, properties),
        "origin_item_id": (
            origin_item_id if origin_item_id is not None else case_id(association["originNodeURI"]["identifier"])
        ),
        "destination_item_id": destination_item_id,
        "destination_uri": destination_uri,
        "sequence": association.get("sequenceNumber"),
        "provenance": provenance,
        "qualifier": qualifier,
        "notes": association.get("notes"),
        "managed_by": managed_by,
        "last_change": parse_datetime(last_change) if isinstance(last_change, str) else last_change,
        # As _case_data keeps them (the properties are never empty: they hold both ends).
        "case_data": {"properties": properties, "capcourse": True} if ours else {"properties": properties},
    }


def _definition_rows(parsed: ParsedPackage) -> list[dict[str, Any]]:
    rows = []
    lists: list[tuple[str, list[dict[str, Any]]]] = [
        *parsed.definitions.items(),
        (DefinitionKind.RUBRIC, parsed.rubrics),
    ]
    for kind, members in lists:
        for position, member in enumerate(members):
            rows.append(
                {
                    "kind": str(kind),
                    "identifier": case_id(member["identifier"]),
                    "position": position,
                    "content": jsonable(member),
                    "last_change": member["lastChangeDateTime"],
                }
            )
    return rows


def _differs(desired: dict[str, Any], existing: Any, columns: tuple[str, ...]) -> list[str]:
    if isinstance(existing, _Current):
        # Compared whole first, as the database has the row: a re-import mostly changes nothing.
        shape = _shape(columns)
        wanted = list(shape.take(desired))
        spell = existing.spell
        for at in shape.ids:
            if wanted[at] is not None:
                wanted[at] = spell(wanted[at])
        if shape.json is not None and wanted[shape.json] is not None:
            wanted[shape.json] = json_text(wanted[shape.json])
        values = existing.values
        if tuple(wanted) == values:
            return []
        differences = [c for c, want, value in zip(columns, wanted, values, strict=True) if want != value]
        # The text differs; the JSON may not (a row another writer spelt otherwise, or JSON null).
        json_at = shape.json
        if (
            json_at is not None
            and "case_data" in differences
            and values[json_at] is not None
            and orjson.loads(values[json_at]) == desired["case_data"]
        ):
            differences.remove("case_data")
        return differences
    return [c for c in columns if _aware(desired[c]) != _aware(getattr(existing, c))]


#: Identifier columns a plan compares as the database spells them (see :func:`_current_rows`).
_ID_COLUMNS = frozenset({"parent_id", "parent_association_id", "origin_item_id", "destination_item_id"})


@dataclass(frozen=True)
class _Shape:
    """Where a list of compared columns has its identifiers and its JSON, worked out once per list."""

    take: Callable[[dict[str, Any]], tuple[Any, ...]]
    ids: tuple[int, ...]
    json: int | None


@functools.cache
def _shape(columns: tuple[str, ...]) -> _Shape:
    take = operator.itemgetter(*columns)
    return _Shape(
        take if len(columns) > 1 else lambda row: (take(row),),
        tuple(at for at, c in enumerate(columns) if c in _ID_COLUMNS),
        columns.index("case_data") if "case_data" in columns else None,
    )


def _hex(identifier: uuid.UUID) -> str:
    # UUID.hex (the integer's 16 bytes in hex), at half its cost.
    return identifier.int.to_bytes(16).hex()


def _spelling(session: Session) -> Callable[[uuid.UUID], str]:
    """How the database's text spells an identifier: SQLite keeps 32 hex digits, PostgreSQL reads ``8-4-4-4-12``."""
    return _hex if session.connection().dialect.name == "sqlite" else str


@dataclass(slots=True)
class _Current:
    """A row as the database has it, for comparing with the plan: ``values`` in the order of the columns compared.

    Its identifiers (``id`` and :data:`_ID_COLUMNS`) are text, as ``spell``
    writes them, and so is its ``case_data`` in ``values`` (JSON text, as the
    database has it); the attribute decodes it.
    """

    id: str
    values: tuple[Any, ...]
    columns: Sequence[str]
    spell: Callable[[uuid.UUID], str]

    def __getattr__(self, name: str) -> Any:
        value = self.values[self.columns.index(name)]
        return orjson.loads(value) if name == "case_data" and value is not None else value


def _current_rows(
    session: Session, model: Any, columns: tuple[str, ...], framework_id: uuid.UUID
) -> dict[str, _Current]:
    """The rows a plan compares with, by identifier (text, see :func:`_spelling`).

    Identifiers are read as the database's text (SQLite's own, PostgreSQL's
    cast) and timestamps as the database's text (read by
    :func:`~capcourse.case.export.row_moment`, once per distinct value), all
    through the driver: making a ``uuid.UUID`` of every identifier of a whole
    framework only to compare it, and SQLAlchemy's handling of each row, were
    most of a re-import's reading. ``case_data`` is kept as the database's
    text: the plan's is compared as :func:`json_text` writes it (decoding every
    row's and comparing the dicts cost more than the rest of the comparison).
    Timestamps come back aware (UTC).
    """
    spell = _spelling(session)

    def identifier(column: Any, name: str) -> Any:
        return column.label(name) if spell is _hex else id_text(column, name)

    selected = []
    for c in columns:
        column = getattr(model, c)
        if c == "case_data":
            selected.append(cast(column, Text))
        elif c in _ID_COLUMNS:
            selected.append(identifier(column, c))
        elif c == "last_change":
            selected.append(cast(column, String))
        else:
            selected.append(column)
    stamp_at = columns.index("last_change") if "last_change" in columns else None
    moments: dict[Any, datetime] = {}
    rows: dict[str, _Current] = {}
    statement = select(identifier(model.id, "id"), *selected).where(model.framework_id == FRAMEWORK)
    for row in framework_rows(session, statement, framework_id):
        values = list(row[1:])
        if stamp_at is not None and values[stamp_at] is not None:
            text = values[stamp_at]
            moment = moments.get(text)
            if moment is None:
                moment = moments[text] = row_moment(text)
            values[stamp_at] = moment
        rows[row[0]] = _Current(row[0], tuple(values), columns, spell)
    return rows


def _label(code: str | None, abbreviated: str | None, full: str) -> str:
    name = abbreviated or full
    return (f"{code} {name}" if code else name)[:300]


@gc_paused()
def plan_import(session: Session, parsed: ParsedPackage) -> ImportPlan:
    """Compare the package with the database; write nothing.

    :raises ConflictError: the package's document is a framework shipped with
        capcourse, or its items or associations belong to another framework.
    :raises PackageError: associations pointing nowhere, a cycle in the tree.
    """
    document_id = case_id(parsed.document["identifier"])
    existing = session.get(Framework, document_id)
    if existing is not None and existing.imported_at is None:
        raise ConflictError(
            f"{existing.title!r} ({existing.key}) is shipped with capcourse and kept up to date by "
            "`capcourse frameworks sync`; a CASE package cannot replace it.",
            {"$.CFDocument.identifier": [f"The identifier of the shipped framework {existing.key}."]},
        )
    item_ids = {case_id(item["identifier"]) for item in parsed.items}

    conflicts: list[tuple[str, str]] = []
    # Identifiers the framework already has need no lookup: a re-import names the same ones.
    # (Read through Core: the ORM's handling of tens of thousands of rows cost more than the query.)
    # The framework's rows as they are, read once: the identifiers it has already need no lookup in other
    # frameworks (a re-import names the same ones), and the comparison needs them whole.
    spell = _spelling(session)
    current_items = _current_rows(session, Item, _ITEM_COLUMNS, document_id) if existing is not None else {}
    current_associations = (
        _current_rows(session, Association, _ASSOCIATION_COLUMNS_COMPARED, document_id) if existing is not None else {}
    )
    own_items = _uuid_texts(current_items, spell)
    held = _held_by_text(
        session,
        Item.id,
        Item.framework_id,
        {uuid_text(item["identifier"]) for item in parsed.items} - own_items,
        other_than=document_id,
    )
    titles = dict(session.execute(select(Framework.id, Framework.title)).all())
    for index, item in enumerate(parsed.items if held else ()):
        owner = held.get(uuid_text(item["identifier"]))
        if owner is not None and owner != document_id:
            conflicts.append(
                (json_path(("CFItems", index, "identifier")), f"Already an item of {titles.get(owner)!r}.")
            )
    link_at = _ITEM_COLUMNS.index("parent_association_id")
    own_associations = _uuid_texts(current_associations, spell)
    own_associations |= _uuid_texts((row.values[link_at] for row in current_items.values()), spell)
    others = {uuid_text(a["identifier"]) for a in parsed.associations} - own_associations
    owners = _held_by_text(session, Association.id, Association.framework_id, others, other_than=document_id)
    # An imported item's place in its tree is an association too.
    owners.update(_held_by_text(session, Item.parent_association_id, Item.framework_id, others, other_than=document_id))
    for index, association in enumerate(parsed.associations if owners else ()):
        identifier = uuid_text(association["identifier"])
        if owners.get(identifier, document_id) != document_id:
            conflicts.append(
                (
                    json_path(("CFAssociations", index, "identifier")),
                    f"Already an association of {titles.get(owners[identifier])!r}.",
                )
            )
    if conflicts:
        error = refuse(conflicts, "The package's identifiers belong to other frameworks")
        raise ConflictError(error.message, error.errors)

    links = _tree(parsed, document_id, item_ids)
    tree_links = {index for index, _ in links.values()}
    items = _item_rows(parsed, document_id, document_id, links)
    associations, verbatim, external = _association_rows(
        session, parsed, document_id, document_id, item_ids, tree_links
    )

    framework_values = _framework_values(session, parsed, document_id, existing)
    plan = ImportPlan(
        parsed=parsed,
        framework_id=document_id,
        exists=existing is not None,
        framework_values=framework_values,
        framework_changed=existing is not None and bool(_differs(framework_values, existing, _FRAMEWORK_COLUMNS)),
        items=items,
        associations=associations,
        definitions=_definition_rows(parsed) + verbatim,
        definitions_changed=True,
        external_references=external,
    )
    if verbatim:
        plan.warnings.append(
            f"{len(verbatim)} association(s) start at a document or at items of frameworks capcourse does not "
            "hold: kept as they came and exported again, but coverage does not follow them."
        )
    if existing is None:
        plan.items_added = list(items)
        plan.associations_added = list(associations)
        plan.definitions_changed = bool(plan.definitions)
        plan.association_counts = {"added": len(parsed.associations), "changed": 0, "removed": 0}
    else:
        _compare(session, plan, current_items, current_associations)
    _resolve_references(session, plan)
    _adopt_kept(session, plan)
    plan.confirm_token = _token(plan, existing)
    return plan


def _compare(
    session: Session, plan: ImportPlan, current: dict[str, _Current], existing_associations: dict[str, _Current]
) -> None:
    """Fill the plan's added, changed and removed lists against the framework in the database."""
    framework_id = plan.framework_id
    # Rows as the database has them, by identifier as text (see _current_rows).
    spell = _spelling(session)
    parent_at, link_at = _ITEM_COLUMNS.index("parent_id"), _ITEM_COLUMNS.index("parent_association_id")
    # Each identifier spelt once: the plan's rows as (text, identifier, row), in the plan's order.
    wanted_rows = [(spell(item_id), item_id, row) for item_id, row in plan.items.items()]
    wanted_items = {text: item_id for text, item_id, _ in wanted_rows}
    removed_ids = current.keys() - wanted_items.keys()
    if removed_ids:
        plan.lifted = [
            i for t, i in wanted_items.items() if t in current and current[t].values[parent_at] in removed_ids
        ]
    # The tree's links count as associations in the report, as the package has them.
    links_before = {row.values[link_at]: row for row in current.values() if row.values[link_at]}
    #: The tree's links after: link → (its item, as text; the item's row).
    links_after = {
        spell(row["parent_association_id"]): (text, row) for text, _, row in wanted_rows if row["parent_association_id"]
    }
    #: Items whose row stays as it is (so do their link's ends and their parent).
    same: set[str] = set()
    for text, item_id, desired in wanted_rows:
        row = current.pop(text, None)
        if row is None:
            plan.items_added.append(item_id)
            continue
        differences = _differs(desired, row, _ITEM_COLUMNS)
        if not differences:
            same.add(text)
            continue
        if desired["key"] != row.key:
            plan.rekeyed.append(item_id)
        if set(differences) - {"position"}:
            plan.items_changed.append(item_id)
        else:
            plan.items_moved.append(item_id)
    links_changed = sum(
        1
        for link, (text, row) in links_after.items()
        if link in links_before
        and not (links_before[link].id in same and links_before[link].id == text)
        and (
            (row["case_data"] or {}).get("treeLink") != (links_before[link].case_data or {}).get("treeLink")
            or (spell(row["parent_id"]) if row["parent_id"] else None) != links_before[link].parent_id
        )
    )
    plan.items_removed = [
        (uuid.UUID(row.id), _label(row.code, row.abbreviated_statement, row.full_statement)) for row in current.values()
    ]

    existing_ids = set(existing_associations)
    wanted_associations: dict[str, uuid.UUID] = {}
    for identifier, desired in plan.associations.items():
        text = spell(identifier)
        wanted_associations[text] = identifier
        row = existing_associations.pop(text, None)
        if row is None:
            plan.associations_added.append(identifier)
        elif _differs(desired, row, _ASSOCIATION_COLUMNS_COMPARED):
            plan.associations_changed.append(identifier)
    plan.associations_removed = [uuid.UUID(text) for text in existing_associations]

    stored = session.execute(
        select(CaseDefinition.kind, CaseDefinition.identifier, CaseDefinition.position, CaseDefinition.content)
        .where(CaseDefinition.framework_id == framework_id)
        .order_by(CaseDefinition.kind, CaseDefinition.position)
    ).all()
    wanted = sorted(
        ((d["kind"], d["identifier"], d["position"], d["content"]) for d in plan.definitions),
        key=lambda d: (d[0], d[2]),
    )
    plan.definitions_changed = [tuple(r) for r in stored] != wanted
    kind = str(DefinitionKind.ASSOCIATION)
    verbatim_before = {spell(r.identifier): r.content for r in stored if r.kind == kind}
    verbatim_after = {spell(d["identifier"]): d["content"] for d in plan.definitions if d["kind"] == kind}
    before = set(links_before) | existing_ids | set(verbatim_before)
    after = set(links_after) | set(wanted_associations) | set(verbatim_after)
    plan.association_counts = {
        "added": len(after - before),
        "changed": links_changed
        + len(plan.associations_changed)
        + sum(1 for i, c in verbatim_after.items() if i in verbatim_before and verbatim_before[i] != c),
        "removed": len(before - after),
    }

    plan.mappings = int(
        session.scalar(select(func.count()).select_from(Mapping).join(Item).where(Item.framework_id == framework_id))
        or 0
    )
    removed = [item_id for item_id, _ in plan.items_removed]
    for chunk in _chunked(removed):
        for mapping in session.scalars(select(Mapping).where(Mapping.item_id.in_(chunk)).order_by(Mapping.id)):
            target = mapping.module or mapping.activity
            plan.affected_mappings.append(
                AffectedMapping(
                    mapping.id,
                    mapping.programme_id,
                    target.title if target is not None else "",
                    mapping.item_id,
                    _label(mapping.item.code, mapping.item.abbreviated_statement, mapping.item.full_statement),
                    mapping.depth,
                )
            )
        plan.attainments_removed += int(
            session.scalar(select(func.count()).select_from(Attainment).where(Attainment.item_id.in_(chunk))) or 0
        )
        plan.orphaned_references += int(
            session.scalar(
                select(func.count())
                .select_from(Association)
                .where(Association.destination_item_id.in_(chunk), Association.framework_id != framework_id)
            )
            or 0
        )
    if plan.orphaned_references:
        plan.warnings.append(
            f"{plan.orphaned_references} association(s) of other frameworks point at removed items; "
            "they keep the items' URIs as external references."
        )


def _resolve_references(session: Session, plan: ImportPlan) -> None:
    """Other frameworks' external references to items this package brings become links to them."""
    rows = session.execute(
        select(Association.id, Association.case_data).where(
            Association.destination_item_id.is_(None), Association.framework_id != plan.framework_id
        )
    )
    for identifier, case_data in rows:
        node = ((case_data or {}).get("properties") or {}).get("destinationNodeURI") or {}
        target = case_id(str(node.get("identifier", "")))
        if target in plan.items:
            plan.relinks.append(identifier)


def _adopt_kept(session: Session, plan: ImportPlan) -> None:
    """Associations other packages carried from items capcourse did not hold, which this package brings.

    They were kept as they came (a crosswalk-only package imported before the
    framework it starts from); now their origin is here they become the
    crosswalk framework's associations, linked at both ends where capcourse
    holds them, and are kept no more (so never twice). One this package
    carries itself (the same identifier) stays where it was.
    """
    kept = session.execute(
        select(CaseDefinition.id, CaseDefinition.framework_id, CaseDefinition.content).where(
            CaseDefinition.kind == str(DefinitionKind.ASSOCIATION), CaseDefinition.framework_id != plan.framework_id
        )
    ).all()
    if not kept:
        return
    carried = set(plan.associations)
    carried.update(row["parent_association_id"] for row in plan.items.values() if row["parent_association_id"])
    carried.update(d["identifier"] for d in plan.definitions if d["kind"] == str(DefinitionKind.ASSOCIATION))
    candidates = []
    for kept_id, owner, content in kept:
        origin = case_id(str(content["originNodeURI"]["identifier"]))
        identifier = case_id(str(content["identifier"]))
        if origin in plan.items and identifier not in carried:
            candidates.append((kept_id, owner, content, identifier))
    if not candidates:
        return
    # An association row with that identifier already (anywhere) stays the one.
    taken = _held_by(session, Association.id, Association.framework_id, {c[3] for c in candidates})
    destinations = {case_id(str(c[2]["destinationNodeURI"]["identifier"])) for c in candidates}
    held = _held_items(session, destinations - set(plan.items))
    for kept_id, owner, content, identifier in candidates:
        if identifier in taken:
            continue
        destination_link = content["destinationNodeURI"]
        destination = case_id(str(destination_link["identifier"]))
        if destination in plan.items or destination in held:
            row = association_values(content, owner, destination, None)
        else:
            uri = str(destination_link["uri"])
            row = association_values(content, owner, None, uri if len(uri) <= 500 else f"urn:uuid:{destination}")
        plan.adopted.append((kept_id, row))
    if plan.adopted:
        plan.warnings.append(
            f"{len(plan.adopted)} association(s) other packages carried from items capcourse did not hold start at "
            "this package's items: they are now linked to them (and kept as they came no more)."
        )


def _token(plan: ImportPlan, existing: Framework | None) -> str | None:
    """What a confirmation must quote: it only matches the state the preview saw."""
    if existing is None:
        return None
    state = "|".join(
        [
            plan.parsed.digest,
            format_datetime(existing.last_change),
            str(plan.mappings),
            *sorted(str(m.mapping_id) for m in plan.affected_mappings),
        ]
    )
    return hashlib.sha256(state.encode()).hexdigest()[:32]
