"""Importing CASE packages published by other tools (or exported by another capcourse).

An import creates the framework, or updates the one with the package's
document identifier, in three steps that share nothing but their inputs:

1. :func:`parse_package` reads and validates the bytes: JSON, then the CASE
   schemas (:mod:`capcourse.case.schemas`), then what a schema cannot see
   (duplicate identifiers, an item tree with a cycle). Any problem refuses the
   whole package with the JSON paths of the first problems.
2. :func:`plan_import` compares the package with the database: which items and
   associations are added, changed and removed, which associations reach
   frameworks capcourse does not hold (kept as external references), which
   mappings an update would remove. It writes nothing, so it is also the preview.
3. :func:`apply_import` writes the plan. Mappings to removed items are removed
   through :func:`capcourse.mapping.services.unmap`, so each removal is in the
   programme's mapping history.

An update of a framework that programmes have mapped to needs an explicit
confirmation: a preview's ``confirm_token``, which only matches while the
package, the framework and its mappings are what the preview saw.

Real packages are looser than CASE 1.1, so the import accepts CASE 1.0
packages, ``null`` values, identifiers whose UUID variant is not RFC 4122's
and the 1.0 properties ``CFPackageURI``/``CFDocumentURI`` (all reported as
warnings where they matter). It keeps the publisher's identifiers and URIs, and
every CASE property capcourse does not model in ``case_data``, so the framework
re-exports as it came.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import unicodedata
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError
from marshmallow import fields as ma_fields
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal
from capcourse.case.export import CHUNK, EXTENSION, item_title
from capcourse.case.models import CaseDefinition, DefinitionKind
from capcourse.case.schemas import (
    DEFINITION_SCHEMAS,
    RFC4122_PATTERN,
    UUID_PATTERN,
    CFPackageSchema,
    format_datetime,
)
from capcourse.errors import ConflictError, InvalidInputError
from capcourse.frameworks.models import Association, Framework, Item, Provenance, utcnow
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.identifiers import framework_id as seed_framework_id
from capcourse.mapping.models import Mapping
from capcourse.mapping.services import unmap
from capcourse.records.models import Attainment

logger = logging.getLogger(__name__)

#: How many problems a refusal lists, and how many items each list of a report shows.
MAX_PROBLEMS = 20
MAX_LISTED = 100
#: Item type of items whose package gives none (the export leaves it out again).
UNTYPED = "Item"

_ITEM_MODELLED = {
    "identifier",
    "fullStatement",
    "CFItemType",
    "uri",
    "humanCodingScheme",
    "abbreviatedStatement",
    "notes",
    "language",
    "lastChangeDateTime",
}
_DOCUMENT_MODELLED = {
    "identifier",
    "uri",
    "caseVersion",
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
}
_ASSOCIATION_MODELLED = {
    "identifier",
    "associationType",
    "sequenceNumber",
    "originNodeURI",
    "destinationNodeURI",
    "lastChangeDateTime",
    "notes",
}
_PROVENANCES = frozenset(Provenance)
#: CASE 1.0 (and some 1.1 tools) write these; capcourse derives them again on export.
_TOLERATED = {"CFDocument": {"CFPackageURI"}, "CFItems": {"CFDocumentURI"}, "CFAssociations": {"CFDocumentURI"}}
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


class PackageError(InvalidInputError):
    """The package cannot be imported; ``errors`` maps the JSON path of each of the first problems to its message."""


@dataclass
class ParsedPackage:
    """A validated package, its values loaded (identifiers lower case, dates normalised)."""

    document: dict[str, Any]
    items: list[dict[str, Any]]
    associations: list[dict[str, Any]]
    definitions: dict[str, list[dict[str, Any]]]
    rubrics: list[dict[str, Any]]
    definitions_extensions: dict[str, Any] | None
    package_extensions: dict[str, Any] | None
    warnings: list[str]
    #: SHA-256 of the package as read, so a confirmation matches the package previewed.
    digest: str


# Step 1: reading and validating.


def _jsonable(value: Any) -> Any:
    """Loaded values back to JSON: datetimes become RFC 3339 strings."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _without_nulls(value: Any) -> tuple[Any, int]:
    """Drop ``null`` properties (CASE 1.1 forbids them; some tools write them). Returns the count dropped."""
    if isinstance(value, dict):
        clean: dict[str, Any] = {}
        dropped = 0
        for key, inner in value.items():
            if inner is None:
                dropped += 1
                continue
            clean[key], count = _without_nulls(inner)
            dropped += count
        return clean, dropped
    if isinstance(value, list):
        items = []
        dropped = 0
        for inner in value:
            cleaned, count = _without_nulls(inner)
            items.append(cleaned)
            dropped += count
        return items, dropped
    return value, 0


def json_path(parts: Sequence[str | int]) -> str:
    """``("CFItems", 3, "identifier")`` → ``$.CFItems[3].identifier``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_SECTIONS = ("$", "CFDocument", "CFItems", "CFAssociations", "CFDefinitions", "CFRubrics", "extensions")


def _path_key(path: str) -> tuple[Any, ...]:
    # Problems are listed in the package's order: sections as CASE orders them, numbers as numbers.
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    section = _SECTIONS.index(parts[1]) if len(parts) > 1 and parts[1] in _SECTIONS else len(_SECTIONS)
    return (section, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts[2:]))


def _flatten(messages: Any, parts: tuple[str | int, ...] = ()) -> Iterable[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, inner in messages.items():
            if key == "_schema":
                yield from _flatten(inner, parts)
            else:
                yield from _flatten(inner, (*parts, key))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            yield json_path(parts), " ".join(messages)
        else:
            for inner in messages:
                yield from _flatten(inner, parts)
    else:
        yield json_path(parts), str(messages)


def refuse(problems: list[tuple[str, str]], summary: str = "The package is not valid CASE") -> PackageError:
    """A :class:`PackageError` listing the first problems, in document order."""
    ordered = sorted(problems, key=lambda p: _path_key(p[0]))
    errors: dict[str, list[str]] = {}
    for path, message in ordered:
        if len(errors) >= MAX_PROBLEMS and path not in errors:
            break
        errors.setdefault(path, []).append(message)
    count = len(problems)
    shown = f"; the first {len(errors)} are listed" if count > len(errors) else ""
    noun = "problem" if count == 1 else "problems"
    return PackageError(f"{summary}: {count} {noun}{shown}. Nothing was imported.", errors)


_DECLARED: dict[type[Schema], dict[str, ma_fields.Field[Any]]] = {}


def _declared(schema: Schema) -> dict[str, ma_fields.Field[Any]]:
    # The CASE schemas declare their properties once, per class.
    key = type(schema)
    if key not in _DECLARED:
        _DECLARED[key] = {f.data_key or name: f for name, f in schema.fields.items()}
    return _DECLARED[key]


def _nested_schema(field_: ma_fields.Field[Any]) -> Schema | None:
    if isinstance(field_, ma_fields.List):
        field_ = field_.inner
    if isinstance(field_, ma_fields.Nested):
        return field_.schema if isinstance(field_.schema, Schema) else None
    return None


def _unknown_properties(value: Any, schema: Schema, parts: tuple[str | int, ...], found: dict[str, int]) -> None:
    """Count properties no CASE schema declares, by their path with ``[*]`` for list positions."""
    if not isinstance(value, dict):
        return
    declared = _declared(schema)
    for key, inner in value.items():
        if key not in declared:
            pattern = re.sub(r"\[\d+\]", "[*]", json_path((*parts, key)))
            found[pattern] = found.get(pattern, 0) + 1
            continue
        if key == "extensions":
            continue
        nested = _nested_schema(declared[key])
        if nested is None:
            continue
        if isinstance(inner, list):
            for index, member in enumerate(inner):
                _unknown_properties(member, nested, (*parts, key, index), found)
        else:
            _unknown_properties(inner, nested, (*parts, key), found)


def _strip_tolerated(data: dict[str, Any]) -> None:
    """Take out what CASE 1.0 packages carry and 1.1 forbids; the export derives it anew."""
    document = data.get("CFDocument")
    if isinstance(document, dict):
        for key in _TOLERATED["CFDocument"]:
            document.pop(key, None)
    for section in ("CFItems", "CFAssociations"):
        members = data.get(section)
        if isinstance(members, list):
            for member in members:
                if isinstance(member, dict):
                    for key in _TOLERATED[section]:
                        member.pop(key, None)
    # CASE 1.0 allowed an empty list for "no definitions".
    if data.get("CFDefinitions") == []:
        del data["CFDefinitions"]


def decode_package(raw: bytes | bytearray) -> Any:
    """The JSON value of ``raw``.

    :raises PackageError: not UTF-8 JSON, with the line and column of the mistake.
    """
    try:
        return json.loads(raw)
    except UnicodeDecodeError as error:
        raise refuse([("$", f"Not UTF-8 text (byte {error.start}).")], "The package is not JSON") from error
    except json.JSONDecodeError as error:
        raise refuse(
            [("$", f"{error.msg} at line {error.lineno}, column {error.colno}.")], "The package is not valid JSON"
        ) from error
    except RecursionError as error:
        raise refuse([("$", "Nested too deeply.")], "The package is not valid JSON") from error


def parse_package(raw: bytes | Any) -> ParsedPackage:
    """Validate a package: bytes as read, or an already decoded JSON value.

    :raises PackageError: anything that stops the import, with JSON paths.
    """
    is_bytes = isinstance(raw, bytes | bytearray)
    data = decode_package(raw) if is_bytes else raw
    if not isinstance(data, dict):
        raise refuse([("$", "A CASE package is a JSON object with a CFDocument.")])
    if is_bytes:
        # Line ends outside strings are whitespace, and a form sends the package back with CRLF.
        digest = hashlib.sha256(bytes(raw).replace(b"\r\n", b"\n")).hexdigest()
    else:
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    nulls = 0
    if not is_bytes or b"null" in raw:
        data, nulls = _without_nulls(data)
    _strip_tolerated(data)
    warnings: list[str] = []
    if nulls:
        warnings.append(f"{nulls} null value(s) were read as absent (CASE 1.1 has no nulls).")

    schema = CFPackageSchema()
    unknown: dict[str, int] = {}
    _unknown_properties(data, schema, (), unknown)
    for pattern, count in sorted(unknown.items()):
        times = f" ({count} times)" if count > 1 else ""
        warnings.append(f"{pattern}{times}: not a CASE property; not kept.")
    try:
        loaded = schema.load(data)
    except ValidationError as error:
        raise refuse(list(_flatten(error.messages))) from error

    document = loaded["CFDocument"]
    items = loaded.get("CFItems", [])
    associations = loaded.get("CFAssociations", [])
    definitions_in = loaded.get("CFDefinitions", {})
    definitions = {kind: definitions_in.get(kind, []) for kind in DEFINITION_SCHEMAS}
    rubrics = loaded.get("CFRubrics", [])

    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {document["identifier"]: "$.CFDocument.identifier"}
    for section, members in (("CFItems", items), ("CFAssociations", associations)):
        for index, member in enumerate(members):
            path = json_path((section, index, "identifier"))
            identifier = member["identifier"]
            if identifier in seen:
                problems.append((path, f"Duplicate identifier: {seen[identifier]} has it too."))
            else:
                seen[identifier] = path
    for section, members in [*(("CFDefinitions." + k, v) for k, v in definitions.items()), ("CFRubrics", rubrics)]:
        local: dict[str, str] = {}
        for index, member in enumerate(members):
            path = json_path((*section.split("."), index, "identifier"))
            if member["identifier"] in local:
                problems.append((path, f"Duplicate identifier: {local[member['identifier']]} has it too."))
            local.setdefault(member["identifier"], path)
    if problems:
        raise refuse(problems)

    for index, item_type in enumerate(definitions["CFItemTypes"]):
        if "description" not in item_type:
            item_type["description"] = item_type["title"]
            warnings.append(
                f"$.CFDefinitions.CFItemTypes[{index}] has no description (CASE 1.1 requires one): its title is used."
            )
    loose = [i for i in seen if not RFC4122_PATTERN.match(i)]
    if loose:
        warnings.append(
            f"{len(loose)} identifier(s) are not RFC 4122 UUIDs (e.g. {loose[0]}): they are kept as the publisher "
            "gave them, but validators stricter than 1EdTech's package schema (the CASE 1.1 OpenAPI) reject them."
        )
    return ParsedPackage(
        document=document,
        items=items,
        associations=associations,
        definitions=definitions,
        rubrics=rubrics,
        definitions_extensions=definitions_in.get("extensions"),
        package_extensions=loaded.get("extensions"),
        warnings=warnings,
        digest=digest,
    )


# Step 2: the plan.


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
        )

    @property
    def needs_confirmation(self) -> bool:
        """An update of a framework that programmes map to, which changes something."""
        return self.exists and self.mappings > 0 and self.changed


def slug(text: str) -> str:
    """``"UTF8 𝑑 Test"`` → ``"utf8-d-test"``: a key from a title."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "framework"


def _seed_keys() -> set[str]:
    return {f.key for f in load_seed_data().frameworks}


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


def _text(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _case_data(**parts: Any) -> dict[str, Any] | None:
    kept = {k: v for k, v in parts.items() if v}
    return kept or None


def _properties(loaded: dict[str, Any], modelled: set[str]) -> dict[str, Any]:
    _, theirs = _ours(loaded.get("extensions"))
    properties = {k: _jsonable(v) for k, v in loaded.items() if k not in modelled and k != "extensions"}
    if theirs:
        properties["extensions"] = theirs
    return properties


def _framework_values(
    session: Session, parsed: ParsedPackage, framework_id: uuid.UUID, existing: Framework | None
) -> dict[str, Any]:
    document = parsed.document
    ours, _ = _ours(document.get("extensions"))
    properties = _properties(document, _DOCUMENT_MODELLED)
    licence_link = document.get("licenseURI") or {}
    title = document["title"]
    fallback = slug(f"{title} {document['version']}" if document.get("version") else title)
    if existing is not None:
        fallback = existing.key
    return {
        "key": _choose_key(session, framework_id, _text(ours.get("key"), 100), fallback),
        "family": _text(ours.get("family"), 100) or (existing.family if existing else slug(title)),
        "uri": document["uri"],
        "title": title,
        "creator": document["creator"],
        "publisher": document.get("publisher"),
        "version": document.get("version"),
        "adoption_status": document.get("adoptionStatus"),
        "language": document.get("language"),
        "licence": _text(ours.get("licence"), 300) or _text(licence_link.get("title"), 300),
        "licence_uri": _text(ours.get("licenceURL"), 500),
        "official_source_url": document.get("officialSourceURL"),
        "source_document": _text(ours.get("sourceDocument"), 300),
        "description": document.get("description"),
        "notes": document.get("notes"),
        "last_change": document["lastChangeDateTime"],
        "case_data": _case_data(
            properties=properties,
            definitionsExtensions=parsed.definitions_extensions,
            packageExtensions=parsed.package_extensions,
        ),
    }


def _chunked(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _held_items(session: Session, identifiers: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Item identifier → its framework, for those of ``identifiers`` capcourse holds."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunked(sorted(set(identifiers))):
        found.update(session.execute(select(Item.id, Item.framework_id).where(Item.id.in_(chunk))).all())
    return found


@functools.lru_cache(maxsize=262_144)
def _id(text: str) -> uuid.UUID:
    # Cached: a package names each item in several associations, and UUID() is slow.
    return uuid.UUID(text)


def _uuid(text: str) -> uuid.UUID | None:
    """The UUID a package's identifier string names, or ``None`` for a non-CASE identifier."""
    return _id(text) if UUID_PATTERN.match(text) else None


def _tree(
    parsed: ParsedPackage, document_id: uuid.UUID, item_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, tuple[int, dict[str, Any]]], list[tuple[str, str]]]:
    """Each item's place in the tree: its first ``isChildOf`` to an item of the package or to the document.

    :returns: item → (index of that association, the association), and problems (cycles).
    """
    links: dict[uuid.UUID, tuple[int, dict[str, Any]]] = {}
    problems: list[tuple[str, str]] = []
    for index, association in enumerate(parsed.associations):
        if association["associationType"] != "isChildOf":
            continue
        origin = _uuid(association["originNodeURI"]["identifier"])
        destination = _uuid(association["destinationNodeURI"]["identifier"])
        if origin not in item_ids or origin in links:
            continue
        if destination == origin:
            problems.append(
                (json_path(("CFAssociations", index, "destinationNodeURI")), "An item cannot be its own child.")
            )
        elif destination in item_ids or destination == document_id:
            links[origin] = (index, association)
    parents = {
        child: _uuid(link["destinationNodeURI"]["identifier"])
        for child, (_, link) in links.items()
        if _uuid(link["destinationNodeURI"]["identifier"]) in item_ids
    }
    done: set[uuid.UUID] = set()
    for start in parents:
        chain: list[uuid.UUID] = []
        node: uuid.UUID | None = start
        while node is not None and node not in done:
            if node in chain:
                index = links[node][0]
                problems.append(
                    (json_path(("CFAssociations", index)), "The isChildOf associations form a cycle through this one.")
                )
                break
            chain.append(node)
            node = parents.get(node)
        done.update(chain)
    return links, problems


def _item_rows(
    parsed: ParsedPackage,
    framework_id: uuid.UUID,
    document_id: uuid.UUID,
    links: dict[uuid.UUID, tuple[int, dict[str, Any]]],
) -> dict[uuid.UUID, dict[str, Any]]:
    """The desired item rows, parents before children, positions from the tree's sequence numbers."""
    by_id = {_id(item["identifier"]): (index, item) for index, item in enumerate(parsed.items)}
    parent_of: dict[uuid.UUID, uuid.UUID | None] = {}
    for item_id in by_id:
        link = links.get(item_id)
        destination = _uuid(link[1]["destinationNodeURI"]["identifier"]) if link else None
        parent_of[item_id] = destination if destination in by_id else None
    siblings: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for item_id in by_id:
        siblings[parent_of[item_id]].append(item_id)

    def order(item_id: uuid.UUID) -> tuple[int, int, int]:
        link = links.get(item_id)
        sequence = link[1].get("sequenceNumber") if link else None
        # Items outside the tree (no isChildOf) come after those in it.
        return (0 if link else 1, sequence if sequence is not None else 2**31, by_id[item_id][0])

    keys_wanted: dict[str, int] = defaultdict(int)
    for _, item in by_id.values():
        ours, _ = _ours(item.get("extensions"))
        if _text(ours.get("key"), 100):
            keys_wanted[ours["key"]] += 1

    rows: dict[uuid.UUID, dict[str, Any]] = {}
    queue: deque[uuid.UUID | None] = deque([None])
    while queue:
        parent = queue.popleft()
        for position, item_id in enumerate(sorted(siblings.get(parent, []), key=order)):
            _, item = by_id[item_id]
            ours, _ = _ours(item.get("extensions"))
            key = _text(ours.get("key"), 100)
            if key is None or keys_wanted[key] > 1:
                key = str(item_id)
            link = links.get(item_id)
            tree_link = None
            if link:
                association = link[1]
                _, theirs = _ours(association.get("extensions"))
                tree_link = {
                    k: _jsonable(v)
                    for k, v in association.items()
                    if k in ("uri", "lastChangeDateTime", "sequenceNumber", "notes", "CFAssociationGroupingURI")
                }
                if theirs:
                    tree_link["extensions"] = theirs
            rows[item_id] = {
                "id": item_id,
                "framework_id": framework_id,
                "key": key,
                "uri": item["uri"],
                "code": item.get("humanCodingScheme"),
                "item_type": item.get("CFItemType", UNTYPED),
                "parent_id": parent,
                "position": position,
                "full_statement": item["fullStatement"],
                "abbreviated_statement": item.get("abbreviatedStatement"),
                "language": item.get("language"),
                "stage": _text(ours.get("stage"), 50),
                "icon": _text(ours.get("icon"), 20),
                "notes": item.get("notes"),
                "last_change": item["lastChangeDateTime"],
                "parent_association_id": _id(link[1]["identifier"]) if link else None,
                "case_data": _case_data(
                    properties=_properties(item, _ITEM_MODELLED),
                    treeLink=tree_link,
                    noItemType="CFItemType" not in item,
                ),
            }
            queue.append(item_id)
    return rows


def _association_rows(
    session: Session,
    parsed: ParsedPackage,
    framework_id: uuid.UUID,
    document_id: uuid.UUID,
    item_ids: set[uuid.UUID],
    tree_links: set[int],
) -> tuple[dict[uuid.UUID, dict[str, Any]], list[tuple[str, str]], int]:
    """The desired association rows (all but the tree's links), problems, and how many reach outside."""
    candidates = set()
    for association in parsed.associations:
        for end in ("originNodeURI", "destinationNodeURI"):
            identifier = _uuid(association[end]["identifier"])
            if identifier is not None and identifier not in item_ids:
                candidates.add(identifier)
    held = _held_items(session, candidates)
    held_documents: set[uuid.UUID] = set()
    for chunk in _chunked(sorted(candidates - set(held))):
        held_documents.update(session.scalars(select(Framework.id).where(Framework.id.in_(chunk))))
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    external = 0
    for index, association in enumerate(parsed.associations):
        if index in tree_links:
            continue
        origin_link, destination_link = association["originNodeURI"], association["destinationNodeURI"]
        origin = _uuid(origin_link["identifier"])
        if origin is None or (origin not in item_ids and origin not in held):
            if origin == document_id or origin in held_documents:
                message = "The origin is a document; capcourse keeps associations that start at an item."
            else:
                message = (
                    f"Points nowhere: {origin_link['identifier']!r} is no item of this package "
                    "nor of a framework capcourse holds."
                )
            problems.append((json_path(("CFAssociations", index, "originNodeURI", "identifier")), message))
            continue
        destination = _uuid(destination_link["identifier"])
        ours, _ = _ours(association.get("extensions"))
        properties = _properties(association, _ASSOCIATION_MODELLED)
        # Both ends as the publisher wrote them (title, targetType), whatever capcourse holds.
        properties["originNodeURI"] = dict(origin_link)
        properties["destinationNodeURI"] = dict(destination_link)
        destination_item_id = None
        destination_uri = None
        if destination is not None and (destination in item_ids or destination in held):
            destination_item_id = destination
        elif "://" in destination_link["uri"] or destination_link["uri"].startswith("urn:"):
            if len(destination_link["uri"]) > 500:
                problems.append(
                    (
                        json_path(("CFAssociations", index, "destinationNodeURI", "uri")),
                        "Longer than capcourse keeps (500 characters).",
                    )
                )
                continue
            destination_uri = destination_link["uri"]
            if destination != document_id:
                external += 1
        else:
            problems.append(
                (
                    json_path(("CFAssociations", index, "destinationNodeURI")),
                    f"Points nowhere: {destination_link['identifier']!r} is no item of this package nor of a "
                    f"framework capcourse holds, and {destination_link['uri']!r} is no absolute URI to keep.",
                )
            )
            continue
        provenance = ours.get("provenance")
        identifier = _id(association["identifier"])
        rows[identifier] = {
            "id": identifier,
            "framework_id": framework_id,
            "association_type": association["associationType"],
            "origin_item_id": origin,
            "destination_item_id": destination_item_id,
            "destination_uri": destination_uri,
            "sequence": association.get("sequenceNumber"),
            "provenance": provenance if provenance in _PROVENANCES else Provenance.PUBLISHED,
            "qualifier": _text(ours.get("qualifier"), 200),
            "notes": association.get("notes"),
            "managed_by": _text(ours.get("managedBy"), 20),
            "last_change": association["lastChangeDateTime"],
            "case_data": _case_data(properties=properties),
        }
    return rows, problems, external


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
                    "identifier": uuid.UUID(member["identifier"]),
                    "position": position,
                    "content": _jsonable(member),
                    "last_change": member["lastChangeDateTime"],
                }
            )
    return rows


def _differs(desired: dict[str, Any], existing: Any, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if _aware(desired[c]) != _aware(getattr(existing, c))]


def _label(code: str | None, abbreviated: str | None, full: str) -> str:
    name = abbreviated or full
    return (f"{code} {name}" if code else name)[:300]


def plan_import(session: Session, parsed: ParsedPackage) -> ImportPlan:
    """Compare the package with the database; write nothing.

    :raises ConflictError: the package's document is a framework shipped with
        capcourse, or its items or associations belong to another framework.
    :raises PackageError: associations pointing nowhere, a cycle in the tree.
    """
    document_id = uuid.UUID(parsed.document["identifier"])
    existing = session.get(Framework, document_id)
    if existing is not None and existing.imported_at is None:
        raise ConflictError(
            f"{existing.title!r} ({existing.key}) is shipped with capcourse and kept up to date by "
            "`capcourse frameworks sync`; a CASE package cannot replace it.",
            {"$.CFDocument.identifier": [f"The identifier of the shipped framework {existing.key}."]},
        )
    item_ids = {_id(item["identifier"]) for item in parsed.items}

    conflicts: list[tuple[str, str]] = []
    # Identifiers the framework already has need no lookup: a re-import names the same ones.
    own_items = set(session.scalars(select(Item.id).where(Item.framework_id == document_id)))
    held = _held_items(session, item_ids - own_items)
    titles = dict(session.execute(select(Framework.id, Framework.title)).all())
    for index, item in enumerate(parsed.items):
        owner = held.get(_id(item["identifier"]))
        if owner is not None and owner != document_id:
            conflicts.append(
                (json_path(("CFItems", index, "identifier")), f"Already an item of {titles.get(owner)!r}.")
            )
    association_ids = [_id(a["identifier"]) for a in parsed.associations]
    own_associations = set(session.scalars(select(Association.id).where(Association.framework_id == document_id)))
    own_associations.update(
        session.scalars(
            select(Item.parent_association_id).where(
                Item.framework_id == document_id, Item.parent_association_id.is_not(None)
            )
        )
    )
    owners: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunked([i for i in association_ids if i not in own_associations]):
        owners.update(
            session.execute(select(Association.id, Association.framework_id).where(Association.id.in_(chunk))).all()
        )
        # An imported item's place in its tree is an association too.
        rows = session.execute(
            select(Item.parent_association_id, Item.framework_id).where(Item.parent_association_id.in_(chunk))
        )
        owners.update((link, owner) for link, owner in rows if link is not None)
    for index, identifier in enumerate(association_ids):
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

    links, problems = _tree(parsed, document_id, item_ids)
    tree_links = {index for index, _ in links.values()}
    items = _item_rows(parsed, document_id, document_id, links)
    associations, association_problems, external = _association_rows(
        session, parsed, document_id, document_id, item_ids, tree_links
    )
    problems += association_problems
    if problems:
        raise refuse(problems)

    framework_values = _framework_values(session, parsed, document_id, existing)
    plan = ImportPlan(
        parsed=parsed,
        framework_id=document_id,
        exists=existing is not None,
        framework_values=framework_values,
        framework_changed=existing is not None and bool(_differs(framework_values, existing, _FRAMEWORK_COLUMNS)),
        items=items,
        associations=associations,
        definitions=_definition_rows(parsed),
        definitions_changed=True,
        external_references=external,
        warnings=list(parsed.warnings),
    )
    if existing is None:
        plan.items_added = list(items)
        plan.associations_added = list(associations)
        plan.definitions_changed = bool(plan.definitions)
    else:
        _compare(session, plan)
    _resolve_references(session, plan)
    plan.confirm_token = _token(plan, existing)
    return plan


def _compare(session: Session, plan: ImportPlan) -> None:
    """Fill the plan's added, changed and removed lists against the framework in the database."""
    framework_id = plan.framework_id
    current = {
        row.id: row
        for row in session.execute(
            select(Item.id, *(getattr(Item, c) for c in _ITEM_COLUMNS)).where(Item.framework_id == framework_id)
        )
    }
    removed_ids = set(current) - set(plan.items)
    plan.lifted = [i for i in plan.items if i in current and current[i].parent_id in removed_ids]
    for item_id, desired in plan.items.items():
        row = current.pop(item_id, None)
        if row is None:
            plan.items_added.append(item_id)
            continue
        differences = _differs(desired, row, _ITEM_COLUMNS)
        if desired["key"] != row.key:
            plan.rekeyed.append(item_id)
        if set(differences) - {"position"}:
            plan.items_changed.append(item_id)
        elif differences:
            plan.items_moved.append(item_id)
    plan.items_removed = [
        (row.id, _label(row.code, row.abbreviated_statement, row.full_statement)) for row in current.values()
    ]

    existing_associations = {
        row.id: row
        for row in session.execute(
            select(Association.id, *(getattr(Association, c) for c in _ASSOCIATION_COLUMNS_COMPARED)).where(
                Association.framework_id == framework_id
            )
        )
    }
    for identifier, desired in plan.associations.items():
        row = existing_associations.pop(identifier, None)
        if row is None:
            plan.associations_added.append(identifier)
        elif _differs(desired, row, _ASSOCIATION_COLUMNS_COMPARED):
            plan.associations_changed.append(identifier)
    plan.associations_removed = list(existing_associations)

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
        target = _uuid(str(node.get("identifier", "")))
        if target is not None and target in plan.items:
            plan.relinks.append(identifier)


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


# Step 3: writing.


def apply_import(
    session: Session, plan: ImportPlan, principal: Principal, source: str, now: datetime | None = None
) -> Framework:
    """Write the plan (only flushes; the caller commits).

    Mappings to removed items are removed first, through the mapping service,
    so each is in its programme's history; then rows are written in an order
    every foreign key accepts.
    """
    now = now or utcnow()
    values = plan.framework_values
    framework = session.get(Framework, plan.framework_id)
    if framework is None:
        framework = Framework(id=plan.framework_id, imported_at=now, imported_from=source[:1000], **values)
        session.add(framework)
    else:
        for name, value in values.items():
            if _aware(getattr(framework, name)) != _aware(value):
                setattr(framework, name, value)
        framework.imported_from = source[:1000]
    session.flush()

    for affected in plan.affected_mappings:
        mapping = session.get(Mapping, affected.mapping_id)
        if mapping is not None:
            unmap(session, principal, mapping, None)

    removed = [item_id for item_id, _ in plan.items_removed]
    for chunk in _chunked(removed):
        # Other frameworks' links to removed items stay, as references to the items' URIs.
        # The link is written as the export wrote it, so the other framework's package does not change.
        for row in session.execute(
            select(
                Association.id,
                Association.case_data,
                Item.id.label("item_id"),
                Item.uri,
                Item.code,
                Item.abbreviated_statement,
                Item.full_statement,
            )
            .join(Item, Item.id == Association.destination_item_id)
            .where(Association.destination_item_id.in_(chunk), Association.framework_id != plan.framework_id)
        ):
            uri = row.uri or f"urn:uuid:{row.item_id}"
            title = item_title(row.code, row.abbreviated_statement, row.full_statement)
            data = dict(row.case_data or {})
            data["properties"] = {
                "destinationNodeURI": {"title": title, "identifier": str(row.item_id), "uri": uri},
                **data.get("properties", {}),
            }
            session.execute(
                update(Association)
                .where(Association.id == row.id)
                .values(destination_item_id=None, destination_uri=uri, case_data=data)
            )
    for chunk in _chunked(plan.associations_removed):
        session.execute(delete(Association).where(Association.id.in_(chunk)))
    # Items that stay but hang below removed ones are lifted out first, so the cascade spares them.
    for chunk in _chunked(plan.lifted):
        session.execute(update(Item), [{"id": i, "parent_id": None} for i in chunk])
    for chunk in _chunked(removed):
        session.execute(delete(Item).where(Item.id.in_(chunk)))
    for chunk in _chunked(plan.rekeyed):
        session.execute(update(Item), [{"id": i, "key": f"~{i}"} for i in chunk])

    new_items = set(plan.items_added)
    added = [row for i, row in plan.items.items() if i in new_items]
    for chunk in _chunked(added):
        session.execute(insert(Item), list(chunk))
    rewritten = [plan.items[i] for i in (*plan.items_changed, *plan.items_moved)]
    for chunk in _chunked(rewritten):
        session.execute(update(Item), list(chunk))

    new_associations = [plan.associations[i] for i in plan.associations_added]
    for chunk in _chunked(new_associations):
        session.execute(insert(Association), list(chunk))
    for chunk in _chunked([plan.associations[i] for i in plan.associations_changed]):
        session.execute(update(Association), list(chunk))

    if plan.definitions_changed:
        session.execute(delete(CaseDefinition).where(CaseDefinition.framework_id == plan.framework_id))
        if plan.definitions:
            session.execute(
                insert(CaseDefinition), [{"framework_id": plan.framework_id, **row} for row in plan.definitions]
            )

    for identifier in plan.relinks:
        association = session.get(Association, identifier)
        if association is not None and association.case_data:
            node = association.case_data["properties"]["destinationNodeURI"]
            # Resolved here, not changed by its publisher: its lastChangeDateTime and link stay.
            association.destination_item_id = uuid.UUID(node["identifier"])
            association.destination_uri = None
    session.flush()
    # Bulk statements bypass the identity map: whatever the session held of these rows is stale.
    session.expire_all()
    logger.info(
        "CASE import of %s (%s) by %s: items +%d ~%d -%d, associations +%d ~%d -%d, %d mapping(s) removed",
        framework.key,
        source,
        principal.name,
        len(plan.items_added),
        len(plan.items_changed),
        len(plan.items_removed),
        len(plan.associations_added),
        len(plan.associations_changed),
        len(plan.associations_removed),
        len(plan.affected_mappings),
    )
    return framework


# The whole import, as the API, the page and the command line run it.


@dataclass
class ImportOutcome:
    status: str
    plan: ImportPlan
    framework_key: str
    framework_title: str
    source: str


class ConfirmationRequiredError(ConflictError):
    """The update touches a framework programmes map to: it needs the preview's token."""


def import_package(
    session: Session,
    raw: bytes | Any,
    principal: Principal,
    source: str,
    confirm: str | bool | None = None,
    dry_run: bool = False,
) -> ImportOutcome:
    """Validate, plan and (unless ``dry_run``) apply an import. Only flushes.

    :param raw: the package's bytes, or its decoded JSON.
    :param source: where it came from (file name or URL), kept on the framework.
    :param confirm: ``True`` (the command line's ``--confirm``), or the
        ``confirm_token`` of a preview; needed when :attr:`ImportPlan.needs_confirmation`.
    :raises PackageError: the package is invalid; nothing was written.
    :raises ConfirmationRequiredError: the update needs a confirmation it did not get.
    """
    return run_import(session, plan_import(session, parse_package(raw)), principal, source, confirm, dry_run)


def run_import(
    session: Session,
    plan: ImportPlan,
    principal: Principal,
    source: str,
    confirm: str | bool | None = None,
    dry_run: bool = False,
) -> ImportOutcome:
    """Apply a plan unless it is a dry run, nothing changes, or a needed confirmation is missing.

    :raises ConfirmationRequiredError: see :func:`import_package`.
    """
    key, title = plan.framework_values["key"], plan.framework_values["title"]
    if dry_run:
        return ImportOutcome("preview", plan, key, title, source)
    if not plan.changed:
        return ImportOutcome("unchanged", plan, key, title, source)
    confirmed = confirm is True or (isinstance(confirm, str) and confirm == plan.confirm_token)
    if plan.needs_confirmation and not confirmed:
        removed = [f"{m.item} ← {m.target}" for m in plan.affected_mappings[:MAX_PROBLEMS]]
        raise ConfirmationRequiredError(
            f"{title!r} has {plan.mappings} mapping(s); this update changes {len(plan.items_changed)} item(s), "
            f"adds {len(plan.items_added)}, removes {len(plan.items_removed)} and would remove "
            f"{len(plan.affected_mappings)} mapping(s). Review the changes (dry_run) and send again with "
            f"confirm={plan.confirm_token}.",
            {
                "confirm": [f"Required: {plan.confirm_token}"],
                "confirm_token": [plan.confirm_token or ""],
                "mappings_removed": removed,
            },
        )
    apply_import(session, plan, principal, source)
    return ImportOutcome("updated" if plan.exists else "created", plan, key, title, source)


def report(outcome: ImportOutcome) -> dict[str, Any]:
    """The outcome as :class:`~capcourse.case.schemas.ImportReportSchema` describes it."""
    plan = outcome.plan

    def listed(ids: Sequence[uuid.UUID]) -> list[dict[str, str]]:
        return [
            {
                "id": str(i),
                "label": _label(
                    plan.items[i]["code"], plan.items[i]["abbreviated_statement"], plan.items[i]["full_statement"]
                ),
            }
            for i in ids[:MAX_LISTED]
        ]

    return {
        "status": outcome.status,
        "framework_id": str(plan.framework_id),
        "key": outcome.framework_key,
        "title": outcome.framework_title,
        "source": outcome.source,
        "items": {
            "added": len(plan.items_added),
            "changed": len(plan.items_changed),
            "removed": len(plan.items_removed),
        },
        "associations": {
            "added": len(plan.associations_added),
            "changed": len(plan.associations_changed),
            "removed": len(plan.associations_removed),
        },
        "items_added": listed(plan.items_added),
        "items_changed": listed(plan.items_changed),
        "items_removed": [{"id": str(i), "label": label} for i, label in plan.items_removed[:MAX_LISTED]],
        "mappings": plan.mappings,
        "mappings_removed": [
            {
                "mapping_id": str(m.mapping_id),
                "programme_id": str(m.programme_id),
                "target": m.target,
                "item_id": str(m.item_id),
                "item": m.item,
                "depth": m.depth,
            }
            for m in plan.affected_mappings
        ],
        "attainments_removed": plan.attainments_removed,
        "external_references": plan.external_references,
        "changes": plan.changed,
        "needs_confirmation": plan.needs_confirmation,
        "confirm_token": plan.confirm_token if plan.needs_confirmation else None,
        "warnings": plan.warnings,
    }
