"""Frameworks as CASE: whole packages (1.1, or 1.0 on request) and single CASE objects.

What a framework holds maps onto CASE as follows:

- the framework is the CFDocument, its items the CFItems, its tree the
  ``isChildOf`` CFAssociations, and every other association (crosswalks, the
  icon legend's links) a CFAssociation of its own;
- a shipped framework's CFDefinitions are derived: one CFItemType per item
  type, a CFLicense when the source states one, and one CFAssociationGrouping
  per kind of association (the seed data's links as the source states them,
  those capcourse inferred, the icon legend's inferred and confirmed links), so
  consumers can tell guesses from published facts;
- an imported framework re-exports what its package carried: its definitions
  and every CASE property capcourse does not model are kept verbatim
  (``case_data``), and its identifiers and URIs are the publisher's;
- what CASE has no property for (a framework's key and family, an item's
  stage and icon, an association's provenance and qualifier) travels in the
  ``extensions`` object under ``"capcourse"``, so an export imported into
  another install loses nothing.

CASE 1.1 packages carry ``caseVersion`` and never ``CFPackageURI``,
``CFDocumentURI`` or ``null``. CASE 1.0 packages are strictly 1.0: no
``extensions``, no ``caseVersion`` or ``frameworkType``, no ``subject`` on
items, no ``notes`` on associations nor ``targetType`` on their ends, and
associations of the types 1.0 does not know are left out. Properties that no
CASE version defines, which an imported package carried, are exported where
they were in either version, unless the export is strict
(:func:`strict_package`, and always for the provider API): then they go into
the objects' ``extensions`` (1.1) or are left out (1.0). Identifiers and URIs do not depend on the version
asked for.

Shipped frameworks that name the same licence URI share one CFLicense (its
identifier is derived from the URI), so a consumer that keeps licence URIs
unique (OpenSALT) can import them all.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from marshmallow import Schema
from marshmallow import fields as ma_fields
from sqlalchemy import ColumnElement, Row, String, Text, Uuid, bindparam, cast, select
from sqlalchemy.orm import Session

from capcourse.case.models import CaseDefinition, DefinitionKind
from capcourse.case.reading import declared, gc_paused
from capcourse.case.schemas import ASSOCIATION_TYPES_1P0, CFPackageSchema, format_datetime
from capcourse.frameworks.models import Association, Framework, Item, ManagedBy, Provenance
from capcourse.frameworks.uris import node_uri
from capcourse.identifiers import NAMESPACE, association_id
from capcourse.sqlfunctions import uuid_text

logger = logging.getLogger(__name__)

V1P1 = "1.1"
V1P0 = "1.0"
#: The path segment of each version under ``/ims/case/``.
VERSION_PATHS = {V1P1: "v1p1", V1P0: "v1p0"}
#: Key of capcourse's own facts inside a CASE ``extensions`` object.
EXTENSION = "capcourse"
#: Database round trips stay below every driver's limit on bound parameters.
CHUNK = 900
#: CASE 1.1 properties that CASE 1.0 does not have, by class: a 1.0 export leaves them out.
ONLY_1P1 = {
    "CFDocument": frozenset({"caseVersion", "frameworkType", "extensions"}),
    "CFItem": frozenset({"subject", "subjectURI", "extensions"}),
    "CFAssociation": frozenset({"notes", "extensions"}),
}

_ITEM_COLUMNS = (
    Item.id,
    Item.framework_id,
    Item.key,
    Item.uri,
    Item.code,
    Item.item_type,
    Item.parent_id,
    Item.position,
    Item.full_statement,
    Item.abbreviated_statement,
    Item.language,
    Item.stage,
    Item.icon,
    Item.notes,
    Item.last_change,
    Item.parent_association_id,
    Item.case_data,
)


#: What an imported association (or tree link) kept as it came has, so the export needs nothing of its own.
_COMPLETE_ENDS = frozenset({"uri", "originNodeURI", "destinationNodeURI"})
_COMPLETE_LINK = _COMPLETE_ENDS | {"lastChangeDateTime"}

#: The framework a whole-framework statement reads (see :func:`framework_rows`).
FRAMEWORK = bindparam("framework", type_=Uuid())


def framework_rows(session: Session, statement: Any, framework_id: uuid.UUID) -> Sequence[Any]:
    """The rows of a statement about one framework (``:framework``, :data:`FRAMEWORK`), run as the driver's own SQL.

    For statements whose columns need no conversion (text and numbers):
    SQLAlchemy's result processing of tens of thousands of rows cost three
    times the fetch.
    """
    connection = session.connection()
    dialect = connection.dialect
    hyphenated: list[int] = []
    if dialect.name == "sqlite":
        # SQLite keeps a UUID as 32 hex digits: Python puts in the hyphens of id_text() columns faster
        # than SQLite's substr() (a fifth of a whole framework's export).
        columns = []
        for index, column in enumerate(statement.selected_columns):
            inner = getattr(column, "element", None)
            if isinstance(inner, uuid_text):
                columns.append(next(iter(inner.clauses)).label(column.name))
                hyphenated.append(index)
            else:
                columns.append(column)
        statement = statement.with_only_columns(*columns)
    compiled = statement.compile(dialect=dialect)
    process = Uuid().dialect_impl(dialect).bind_processor(dialect)
    value = process(framework_id) if process is not None else framework_id
    names = compiled.positiontup if compiled.positional else None
    parameters: Any = tuple(value for _ in names) if names is not None else {"framework": value}
    rows = connection.exec_driver_sql(compiled.string, parameters).all()
    if not hyphenated:
        return rows
    shape = namedtuple("FrameworkRow", [c.name for c in statement.selected_columns], rename=True)  # type: ignore[misc]
    out = []
    for row in rows:
        values = list(row)
        for index in hyphenated:
            hex_ = values[index]
            if hex_ is not None:
                values[index] = f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
        out.append(shape._make(values))
    return out


def id_text(column: Any, name: str) -> ColumnElement[str]:
    """An identifier column read as its text ``8-4-4-4-12``, labelled ``name``."""
    return uuid_text(column).label(name)


def _json_text(column: Any, name: str) -> ColumnElement[str]:
    # Read as text, and decoded (by orjson) only where it is used.
    return cast(column, Text).label(name)


def _text(column: Any, name: str) -> ColumnElement[str]:
    # A timestamp as the database's text: read by :func:`_stamp`, once per distinct value.
    return cast(column, String).label(name)


#: An item as the export of a whole framework reads it: identifiers and ``case_data`` as text.
_ITEM_TEXT_COLUMNS = (
    id_text(Item.id, "id"),
    Item.key,
    Item.uri,
    Item.code,
    Item.item_type,
    id_text(Item.parent_id, "parent_id"),
    Item.position,
    Item.full_statement,
    Item.abbreviated_statement,
    Item.language,
    Item.stage,
    Item.icon,
    Item.notes,
    _text(Item.last_change, "last_change"),
    id_text(Item.parent_association_id, "parent_association_id"),
    _json_text(Item.case_data, "case_data"),
)
_ASSOCIATION_TEXT_COLUMNS = (
    id_text(Association.id, "id"),
    Association.association_type,
    id_text(Association.origin_item_id, "origin_item_id"),
    id_text(Association.destination_item_id, "destination_item_id"),
    Association.destination_uri,
    Association.sequence,
    Association.provenance,
    Association.qualifier,
    Association.notes,
    Association.managed_by,
    _text(Association.last_change, "last_change"),
    _json_text(Association.case_data, "case_data"),
)


@functools.lru_cache(maxsize=4096)
def row_moment(value: datetime | str) -> datetime:
    """A row's ``last_change``, read as a datetime or (a whole framework) as the database's text: aware, in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _utc(value).astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _stamp(moment: datetime | str) -> str:
    """A row's ``last_change`` as CASE writes it (remembered: a framework's rows share a handful of change times)."""
    return format_datetime(row_moment(moment))


def dumps(value: Any, indent: bool = False) -> bytes:
    """A CASE object or package as JSON bytes (UTF-8), written by orjson (indented by two spaces if asked).

    orjson writes a 20,000-item package several times faster than
    :func:`json.dumps`; integers past 64 bits, which a package may have
    carried in a property capcourse keeps, go through :func:`json.dumps`.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else None)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, indent=2 if indent else None).encode()


#: A stored association as the export reads it.
ASSOCIATION_COLUMNS = (
    Association.id,
    Association.framework_id,
    Association.association_type,
    Association.origin_item_id,
    Association.destination_item_id,
    Association.destination_uri,
    Association.sequence,
    Association.provenance,
    Association.qualifier,
    Association.notes,
    Association.managed_by,
    Association.last_change,
    Association.case_data,
)

#: Titles and descriptions of the association groupings of shipped frameworks.
_GROUPINGS: dict[tuple[str, str], tuple[str, str]] = {
    (ManagedBy.SEED, Provenance.PUBLISHED): (
        "Links the source documents state",
        "Associations the source documents support: stated in them (an SSSC indicator naming its CLF "
        "capability), or shown by them (a DfE statement carried into the next edition); each link's note says which.",
    ),
    (ManagedBy.SEED, Provenance.INFERRED): (
        "Links capcourse inferred from the source documents",
        "Associations capcourse concluded from the source documents; a person should confirm them.",
    ),
    (ManagedBy.ICON_LEGEND, Provenance.INFERRED): (
        "Icon legend links inferred by capcourse",
        "Links from items to the curriculum area their icon stands for. The source lost its legend, so "
        "capcourse inferred it; nobody has confirmed these yet.",
    ),
    (ManagedBy.ICON_LEGEND, Provenance.CONFIRMED): (
        "Icon legend links confirmed by a person",
        "Links from items to the curriculum area their icon stands for, as an administrator confirmed them.",
    ),
}


def provider_uri(base_url: str, collection: str, identifier: uuid.UUID | str, version: str = V1P1) -> str:
    """Where the provider API serves a CASE object: ``<base>/ims/case/v1p1/<collection>/<id>``."""
    return f"{base_url}/ims/case/{VERSION_PATHS[version]}/{collection}/{identifier}"


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def item_title(code: str | None, abbreviated: str | None, full: str) -> str:
    """The title of a link to an item, as CASE tools show it: its code, else its short name or statement."""
    return code or abbreviated or full


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _without_extensions(value: dict[str, Any]) -> dict[str, Any]:
    """A definition or rubric as CASE 1.0 has it: no ``extensions`` at any depth."""
    clean: dict[str, Any] = {}
    for key, inner in value.items():
        if key == "extensions":
            continue
        if isinstance(inner, list):
            clean[key] = [_without_extensions(v) if isinstance(v, dict) else v for v in inner]
        elif isinstance(inner, dict):
            clean[key] = _without_extensions(inner)
        else:
            clean[key] = inner
    return clean


@dataclass
class _Context:
    """What every object of one framework's export needs, worked out once."""

    framework: Framework
    base_url: str
    version: str
    imported: bool
    #: An imported framework exported as CASE 1.1: its objects go out as they came, with nothing of capcourse's
    #: added (but for objects another capcourse exported, which carry capcourse's facts).
    as_received: bool = False
    #: Shipped frameworks: CFItemType links by item type title.
    item_type_links: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Shipped frameworks: CFAssociationGrouping links by (managed_by, provenance).
    grouping_links: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


class FrameworkExport:
    """Builds the CASE objects of one framework.

    :param version: ``"1.1"`` (default) or ``"1.0"``.
    """

    def __init__(self, session: Session, framework: Framework, base_url: str, version: str = V1P1) -> None:
        if version not in VERSION_PATHS:
            raise ValueError(f"Unknown CASE version {version!r}")
        self.session = session
        imported = framework.imported_at is not None
        self.context = _Context(framework, base_url, version, imported, imported and version == V1P1)
        self._items: list[Row[Any]] | None = None
        self._associations: list[Row[Any]] | None = None
        #: Links to items by identifier (text), made when first asked for.
        self._links: dict[str, dict[str, str]] = {}
        #: This framework's items by identifier (text), once :attr:`items` read them.
        self._own_rows: dict[str, Row[Any]] = {}
        self._definitions: dict[str, list[dict[str, Any]]] | None = None
        self._licence_object: dict[str, Any] | None = None
        #: ``case_data`` read as text, decoded once (an item's is used by the item and by its tree link):
        #: by the text's ``id()``, with the text.
        self._decoded: dict[int, tuple[str, dict[str, Any]]] = {}

    # Loading, one query per kind of row.

    @property
    def items(self) -> list[Row[Any]]:
        """The framework's items in tree order: each item before its children, siblings by position.

        Identifiers in these rows are text (``8-4-4-4-12``), and ``case_data`` is
        read by :func:`case_data`: a whole framework is read without a
        ``uuid.UUID`` or a decoded JSON object per row it does not need.
        """
        if self._items is None:
            # Siblings come by position; the few that share one are sorted by code and identifier below.
            all_rows = self._rows(
                select(*_ITEM_TEXT_COLUMNS).where(Item.framework_id == FRAMEWORK).order_by(Item.position)
            )
            children: dict[str | None, list[Row[Any]]] = defaultdict(list)
            by_id = {row.id: row for row in all_rows}
            for one in all_rows:
                children[one.parent_id if one.parent_id in by_id else None].append(one)
            for siblings in children.values():
                if len({row.position for row in siblings}) < len(siblings):
                    siblings.sort(key=lambda r: (r.position, r.code or "", r.id))
            ordered: list[Row[Any]] = []
            stack = list(reversed(children[None]))
            while stack:
                node = stack.pop()
                ordered.append(node)
                below = children.get(node.id)
                if below:
                    stack.extend(reversed(below))
            self._items = ordered
            self._own_rows = by_id
        return self._items

    @property
    def associations(self) -> list[Row[Any]]:
        """The framework's stored associations (identifiers as text, see :attr:`items`)."""
        if self._associations is None:
            rows = self._rows(
                select(*_ASSOCIATION_TEXT_COLUMNS)
                .where(Association.framework_id == FRAMEWORK)
                .order_by(Association.association_type, Association.origin_item_id, Association.id)
            )
            self.items  # noqa: B018  (fills the links of this framework's items)
            wanted = {r.origin_item_id for r in rows} | {r.destination_item_id for r in rows if r.destination_item_id}
            self._load_links(wanted - self._own_rows.keys() - self._links.keys())
            self._associations = list(rows)
        return self._associations

    def _rows(self, statement: Any) -> Sequence[Any]:
        return framework_rows(self.session, statement, self.context.framework.id)

    def _load_links(self, item_ids: Iterable[uuid.UUID | str]) -> None:
        missing = sorted(uuid.UUID(str(i)) for i in item_ids)
        for chunk in _chunks(missing):
            for row in self.session.execute(
                select(Item.id, Item.uri, Item.code, Item.abbreviated_statement, Item.full_statement).where(
                    Item.id.in_(chunk)
                )
            ):
                self._links[str(row.id)] = self._item_link(row)

    def _data(self, row: Any) -> dict[str, Any]:
        """A row's ``case_data``, whether the row read it as JSON (one object) or as text (a whole framework)."""
        data = row.case_data
        if data is None:
            return {}
        if type(data) is not str:
            return data  # type: ignore[no-any-return]
        # Remembered by the text's identity (the rows, and so their texts, live as long as this export):
        # hashing every row's text cost more than comparing identities.
        kept = self._decoded.get(id(data))
        if kept is not None and kept[0] is data:
            return kept[1]
        decoded = orjson.loads(data) or {}
        self._decoded[id(data)] = (data, decoded)
        return decoded

    def _item_link(self, row: Any) -> dict[str, str]:
        return {
            "title": item_title(row.code, row.abbreviated_statement, row.full_statement),
            "identifier": str(row.id),
            "uri": node_uri(self.context.base_url, row.id, row.uri),
        }

    def link(self, item_id: uuid.UUID | str) -> dict[str, str]:
        """A LinkGenURI/LinkURI to an item of any framework."""
        key = str(item_id)
        found = self._links.get(key)
        if found is None:
            row = self._own_rows.get(key)
            if row is None:
                self._load_links([key])
                return self._links[key]
            found = self._links[key] = self._item_link(row)
        return found

    def document_link(self) -> dict[str, str]:
        framework = self.context.framework
        return {
            "title": framework.title,
            "identifier": str(framework.id),
            "uri": node_uri(self.context.base_url, framework.id, framework.uri),
        }

    def package_link(self) -> dict[str, str]:
        """``CFPackageURI``: where the provider API serves this framework's package."""
        framework = self.context.framework
        return {
            "title": framework.title,
            "identifier": str(framework.id),
            "uri": provider_uri(self.context.base_url, "CFPackages", framework.id, self.context.version),
        }

    # Extensions.

    def _with_extensions(
        self, out: dict[str, Any], ours: dict[str, Any], kind: str, case_data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Merge capcourse's facts into the object's ``extensions`` (1.1); leave out what 1.0 lacks (1.0).

        An imported object gets capcourse's facts only if it came with them (from another capcourse):
        a publisher's package comes back as it came.
        """
        if self.context.version == V1P0:
            for name in ONLY_1P1[kind]:
                out.pop(name, None)
            return out
        if self.context.imported and not (case_data or {}).get("capcourse"):
            ours = {}
        theirs = out.get("extensions") or {}
        ours = {k: v for k, v in ours.items() if v is not None}
        if ours:
            out["extensions"] = {**theirs, EXTENSION: ours}
        elif theirs:
            out["extensions"] = theirs
        return out

    # Definitions.

    def definitions(self) -> dict[str, list[dict[str, Any]]]:
        """CFDefinitions by list name: stored for imported frameworks, derived for shipped ones."""
        if self._definitions is None:
            self._definitions = self._stored_definitions() if self.context.imported else self._derived_definitions()
        return self._definitions

    def _stored_definitions(self) -> dict[str, list[dict[str, Any]]]:
        rows = self.session.scalars(
            select(CaseDefinition)
            .where(CaseDefinition.framework_id == self.context.framework.id)
            .order_by(CaseDefinition.kind, CaseDefinition.position)
        ).all()
        definitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            content = dict(row.content)
            definitions[row.kind].append(_without_extensions(content) if self.context.version == V1P0 else content)
        return dict(definitions)

    def _licence(self) -> dict[str, Any] | None:
        """A shipped framework's CFLicense, when its source states one.

        Its URI is the licence's own web address: capcourse has no licence text
        to serve, only the name and the address the source gives.
        """
        framework = self.context.framework
        if not framework.licence:
            return None
        if self._licence_object is not None:
            return self._licence_object
        text = f"{framework.licence}."
        last_change = framework.last_change
        if framework.licence_uri:
            # One CFLicense per licence URI across the shipped frameworks: the same object in every package.
            # It keeps the identifier it had in the package of the first of them by key, so only the others'
            # licence identifier moved when licences were shared.
            sharing: list[tuple[uuid.UUID, datetime]] = [
                (row.id, row.last_change)
                for row in self.session.execute(
                    select(Framework.id, Framework.last_change)
                    .where(Framework.licence_uri == framework.licence_uri, Framework.imported_at.is_(None))
                    .order_by(Framework.key)
                )
            ] or [(framework.id, framework.last_change)]
            identifier = uuid.uuid5(NAMESPACE, f"case-license:{sharing[0][0]}")
            text = f"Licensed under the {framework.licence}: {framework.licence_uri}"
            last_change = max(_utc(moment) for _, moment in sharing)
        else:
            identifier = uuid.uuid5(NAMESPACE, f"case-license:{framework.id}")
        self._licence_object = {
            "identifier": str(identifier),
            "uri": framework.licence_uri or provider_uri(self.context.base_url, "CFLicenses", identifier),
            "title": framework.licence,
            "licenseText": text,
            "lastChangeDateTime": format_datetime(last_change),
        }
        return self._licence_object

    def _derived_definitions(self) -> dict[str, list[dict[str, Any]]]:
        context = self.context
        framework = context.framework
        base = context.base_url
        definitions: dict[str, list[dict[str, Any]]] = {}

        depth: dict[uuid.UUID, int] = {}
        for row in self.items:  # parents come first
            depth[row.id] = depth[row.parent_id] + 1 if row.parent_id in depth else 1
        types: dict[str, dict[str, Any]] = {}
        for row in self.items:
            moment = row_moment(row.last_change)
            entry = types.setdefault(row.item_type, {"depth": depth[row.id], "last": moment})
            entry["depth"] = min(entry["depth"], depth[row.id])
            entry["last"] = max(entry["last"], moment)
        item_types = []
        for title, entry in sorted(types.items(), key=lambda t: (t[1]["depth"], t[0])):
            identifier = uuid.uuid5(NAMESPACE, f"case-item-type:{framework.id}:{title}")
            uri = provider_uri(base, "CFItemTypes", identifier)
            context.item_type_links[title] = {"title": title, "identifier": str(identifier), "uri": uri}
            item_types.append(
                {
                    "identifier": str(identifier),
                    "uri": uri,
                    "title": title,
                    "description": f"{title}: a kind of item of {framework.title}"
                    + (f" ({framework.version})." if framework.version else "."),
                    "hierarchyCode": str(entry["depth"]),
                    "typeCode": title.lower().replace(" ", "-"),
                    "lastChangeDateTime": format_datetime(entry["last"]),
                }
            )
        if item_types:
            definitions[DefinitionKind.ITEM_TYPE] = item_types

        licence = self._licence()
        if licence is not None:
            definitions[DefinitionKind.LICENSE] = [licence]

        latest: dict[tuple[str, str], datetime] = {}
        for row in self.associations:
            if row.managed_by is None:
                continue
            key = (row.managed_by, row.provenance)
            moment = row_moment(row.last_change)
            latest[key] = max(latest.get(key, moment), moment)
        groupings = []
        for key in sorted(latest):
            title, description = _GROUPINGS.get(
                key, (f"{key[0]} links ({key[1]})", f"Associations kept by {key[0]}, {key[1]}.")
            )
            identifier = uuid.uuid5(NAMESPACE, f"case-association-grouping:{framework.id}:{key[0]}:{key[1]}")
            uri = provider_uri(base, "CFAssociationGroupings", identifier)
            context.grouping_links[key] = {"title": title, "identifier": str(identifier), "uri": uri}
            groupings.append(
                {
                    "identifier": str(identifier),
                    "uri": uri,
                    "title": title,
                    "description": description,
                    "lastChangeDateTime": format_datetime(latest[key]),
                }
            )
        if groupings:
            definitions[DefinitionKind.ASSOCIATION_GROUPING] = groupings
        return definitions

    # The CASE objects.

    def document(self, standalone: bool = False) -> dict[str, Any]:
        """The CFDocument.

        :param standalone: as ``GET …/CFDocuments/{id}`` answers: with ``CFPackageURI``.
        """
        context = self.context
        framework = context.framework
        out: dict[str, Any] = {
            "identifier": str(framework.id),
            "uri": node_uri(context.base_url, framework.id, framework.uri),
        }
        if context.version == V1P1 and not context.imported:
            # An imported document carries its own caseVersion, or none, as it came.
            out["caseVersion"] = V1P1
        out |= {
            "creator": framework.creator,
            "title": framework.title,
            "lastChangeDateTime": format_datetime(framework.last_change),
        }
        for name, value in (
            ("officialSourceURL", framework.official_source_url),
            ("publisher", framework.publisher),
            ("description", framework.description),
            ("language", framework.language),
            ("version", framework.version),
            ("adoptionStatus", framework.adoption_status),
            ("notes", framework.notes),
        ):
            if value is not None:
                out[name] = value
        licence = None if context.imported else self._licence()
        if licence is not None:
            out["licenseURI"] = {k: licence[k] for k in ("title", "identifier", "uri")}
        out |= (framework.case_data or {}).get("properties", {})
        if context.version == V1P0 or standalone:
            out["CFPackageURI"] = self.package_link()
        return self._with_extensions(
            out,
            {
                "key": framework.key,
                "family": framework.family,
                "sourceDocument": framework.source_document,
                "licence": framework.licence,
                "licenceURL": framework.licence_uri,
            },
            "CFDocument",
            framework.case_data,
        )

    def item(self, row: Row[Any], standalone: bool = False) -> dict[str, Any]:
        """One CFItem.

        :param standalone: as ``GET …/CFItems/{id}`` answers: with ``CFDocumentURI``.
        """
        context = self.context
        data = self._data(row)
        out: dict[str, Any] = {
            "identifier": str(row.id),
            "fullStatement": row.full_statement,
            "uri": row.uri or node_uri(context.base_url, row.id),
        }
        if row.abbreviated_statement is not None:
            out["abbreviatedStatement"] = row.abbreviated_statement
        if row.code is not None:
            out["humanCodingScheme"] = row.code
        if not data.get("noItemType"):
            out["CFItemType"] = row.item_type
        if not context.imported:
            self.definitions()
            if row.item_type in context.item_type_links:
                out["CFItemTypeURI"] = context.item_type_links[row.item_type]
        if row.language is not None:
            out["language"] = row.language
        if row.notes is not None:
            out["notes"] = row.notes
        out["lastChangeDateTime"] = _stamp(row.last_change)
        out |= data.get("properties", {})
        if standalone or context.version == V1P0:
            # CASE 1.0 packages link every item and association to its document.
            out["CFDocumentURI"] = self.document_link()
        if context.as_received and not data.get("capcourse"):
            return out  # a publisher's item, in 1.1: its extensions (if any) came with its properties
        # An imported item's key is its identifier unless a capcourse export named it.
        key = row.key if row.key != str(row.id) else None
        return self._with_extensions(out, {"key": key, "stage": row.stage, "icon": row.icon}, "CFItem", data)

    def tree_link(self, row: Row[Any]) -> dict[str, Any] | None:
        """The ``isChildOf`` association that places ``row`` in the tree, if it has one.

        Shipped items always have one (to their parent, or to the document);
        an imported item has one when its package gave it one.
        """
        context = self.context
        if context.imported:
            if row.parent_association_id is None:
                return None
            kept = self._data(row).get("treeLink")
            if context.as_received and kept is not None and kept.keys() >= _COMPLETE_LINK:
                # The link as it came, which has everything the columns would give.
                return {"identifier": str(row.parent_association_id), "associationType": "isChildOf", **kept}
        destination = row.parent_id or context.framework.id
        identifier = row.parent_association_id or association_id("isChildOf", row.id, destination)
        out: dict[str, Any] = {
            "identifier": str(identifier),
            "associationType": "isChildOf",
            "uri": provider_uri(context.base_url, "CFAssociations", identifier),
            "originNodeURI": self.link(row.id),
            "destinationNodeURI": self.link(row.parent_id) if row.parent_id else self.document_link(),
            "lastChangeDateTime": _stamp(row.last_change),
        }
        if not context.imported:
            out["sequenceNumber"] = row.position + 1
        out |= self._data(row).get("treeLink", {})
        if context.version == V1P0:
            out = self._ends_1p0(out)
        return self._with_extensions(out, {}, "CFAssociation")

    def association(self, row: Row[Any]) -> dict[str, Any] | None:
        """One stored CFAssociation; ``None`` for a type CASE 1.0 does not know, in 1.0."""
        context = self.context
        if context.version == V1P0 and row.association_type not in ASSOCIATION_TYPES_1P0:
            return None
        data = self._data(row)
        properties: dict[str, Any] = data.get("properties", {})
        if context.as_received and not data.get("capcourse") and properties.keys() >= _COMPLETE_ENDS:
            # A publisher's association, in 1.1: its ends and URI as they came, with its columns.
            kept: dict[str, Any] = {
                "identifier": str(row.id),
                "associationType": row.association_type,
                "lastChangeDateTime": _stamp(row.last_change),
            }
            if row.sequence is not None:
                kept["sequenceNumber"] = row.sequence
            if row.notes is not None:
                kept["notes"] = row.notes
            return kept | properties
        if row.destination_item_id is not None:
            destination = self.link(row.destination_item_id)
        else:
            destination = {"title": row.destination_uri, "identifier": row.destination_uri, "uri": row.destination_uri}
        out: dict[str, Any] = {
            "identifier": str(row.id),
            "associationType": row.association_type,
            "uri": provider_uri(context.base_url, "CFAssociations", row.id),
            "originNodeURI": self.link(row.origin_item_id),
            "destinationNodeURI": destination,
            "lastChangeDateTime": _stamp(row.last_change),
        }
        if row.sequence is not None:
            out["sequenceNumber"] = row.sequence
        if row.notes is not None:
            out["notes"] = row.notes
        if not context.imported and row.managed_by is not None:
            self.definitions()
            grouping = context.grouping_links.get((row.managed_by, row.provenance))
            if grouping:
                out["CFAssociationGroupingURI"] = grouping
        out |= properties
        if context.version == V1P0:
            out = self._ends_1p0(out)
        return self._with_extensions(
            out,
            {"provenance": row.provenance, "qualifier": row.qualifier, "managedBy": row.managed_by},
            "CFAssociation",
            data,
        )

    def _ends_1p0(self, out: dict[str, Any]) -> dict[str, Any]:
        """An association as CASE 1.0 has it: ends without ``targetType``, and a link to its document."""
        for end in ("originNodeURI", "destinationNodeURI"):
            if isinstance(out.get(end), dict):
                out[end] = {k: v for k, v in out[end].items() if k != "targetType"}
        out["CFDocumentURI"] = self.document_link()
        return out

    def kept_associations(self) -> list[dict[str, Any]]:
        """Associations an imported package carried that start at a document or an item capcourse lacks, as they came."""
        out = []
        for content in self.definitions().get(DefinitionKind.ASSOCIATION, []):
            if self.context.version == V1P0:
                if content["associationType"] not in ASSOCIATION_TYPES_1P0:
                    continue
                content = self._ends_1p0({k: v for k, v in content.items() if k not in ONLY_1P1["CFAssociation"]})
            out.append(content)
        return out

    def all_associations(self) -> list[dict[str, Any]]:
        """The tree's ``isChildOf`` links in tree order, then every stored association."""
        out = [link for row in self.items if (link := self.tree_link(row)) is not None]
        skipped = 0
        for row in self.associations:
            association = self.association(row)
            if association is None:
                skipped += 1
            else:
                out.append(association)
        out.extend(self.kept_associations())
        if skipped:
            logger.warning(
                "CASE 1.0 export of %s leaves out %d association(s) of types 1.0 does not know",
                self.context.framework.key,
                skipped,
            )
        return out

    def rubrics(self) -> list[dict[str, Any]]:
        return self.definitions().get(DefinitionKind.RUBRIC, [])

    @gc_paused()
    def package(self) -> dict[str, Any]:
        """The whole CFPackage."""
        framework = self.context.framework
        package: dict[str, Any] = {
            "CFDocument": self.document(),
            "CFItems": [self.item(row) for row in self.items],
            "CFAssociations": self.all_associations(),
        }
        definitions = {
            k: v
            for k, v in self.definitions().items()
            if k not in (DefinitionKind.RUBRIC, DefinitionKind.ASSOCIATION) and v
        }
        extras = framework.case_data or {}
        if extras.get("definitionsExtensions") and self.context.version == V1P1:
            definitions["extensions"] = extras["definitionsExtensions"]
        definitions |= extras.get("definitionsProperties") or {}
        if definitions:
            package["CFDefinitions"] = definitions
        if self.rubrics():
            package["CFRubrics"] = self.rubrics()
        if extras.get("packageExtensions") and self.context.version == V1P1:
            package["extensions"] = extras["packageExtensions"]
        package |= extras.get("packageProperties") or {}
        return package


def export_package(
    session: Session, framework: Framework, base_url: str, version: str = V1P1, strict: bool = False
) -> dict[str, Any]:
    """The framework as a CASE CFPackage.

    :param base_url: the service's base URL, for the URIs of objects without one of their own.
    :param version: ``"1.1"`` (default) or ``"1.0"``.
    :param strict: properties no CASE version defines, which an imported package
        carried, go into the objects' ``extensions`` (1.1) or are left out (1.0)
        instead of where they were (:func:`strict_package`).
    """
    package = FrameworkExport(session, framework, base_url, version).package()
    return strict_package(package, version) if strict else package


#: What CASE 1.0 packages carry besides the 1.1 classes' properties (the export adds them in 1.0).
_ONLY_1P0 = frozenset({"CFDocumentURI", "CFPackageURI"})


def _strict(obj: dict[str, Any], schema: Schema, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``obj`` with only the properties its CASE class defines, and the others.

    The others go into the object's own ``extensions`` in CASE 1.1 when the
    class has them; what is left (a link's, or anything in 1.0, which has no
    extensions) is handed back for the enclosing object to keep.
    """
    fields_ = declared(schema)
    out: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for key, value in obj.items():
        field_ = fields_.get(key)
        if field_ is None:
            if version == V1P0 and key in _ONLY_1P0:
                out[key] = value
            else:
                others[key] = value
            continue
        inner = field_.inner if isinstance(field_, ma_fields.List) else field_
        nested = inner.schema if isinstance(inner, ma_fields.Nested) and isinstance(inner.schema, Schema) else None
        if nested is not None and isinstance(value, dict):
            value, below = _strict(value, nested, version)
            if below:
                others[key] = below
        elif nested is not None and isinstance(value, list):
            members, below_list = [], []
            for member in value:
                if isinstance(member, dict):
                    member, below = _strict(member, nested, version)
                    below_list.append(below)
                members.append(member)
            value = members
            if any(below_list):
                others[key] = below_list
        out[key] = value
    if others and version == V1P1 and isinstance(fields_.get("extensions"), ma_fields.Dict):
        theirs = out.get("extensions")
        out["extensions"] = {**others, **(theirs if isinstance(theirs, dict) else {})}
        others = {}
    return out, others


def strict_package(package: dict[str, Any], version: str = V1P1) -> dict[str, Any]:
    """The package with only what CASE defines where it is, so 1EdTech's schema accepts it.

    Properties no CASE version defines, which an imported package carried, go
    into the ``extensions`` of the object that had them (a link's into its
    association's, under the link's name; the package's and CFDefinitions'
    into their own) in CASE 1.1, and are left out of CASE 1.0, which has no
    extensions. Everything CASE defines is untouched.
    """
    out, _ = _strict(package, CFPackageSchema(), version)
    return out


@gc_paused()
def export_json(
    session: Session, framework: Framework, base_url: str, version: str = V1P1, strict: bool = False
) -> bytes:
    """The framework as a CASE CFPackage, written as JSON (what the API and the provider send).

    Built and written with the collector paused throughout, so the package's
    objects are freed (by reference counting) before it runs again.

    :param strict: see :func:`export_package`.
    """
    return dumps(export_package(session, framework, base_url, version, strict=strict))


def item_row(session: Session, item_id: uuid.UUID) -> Row[Any] | None:
    """An item as the export reads it, or ``None``."""
    return session.execute(select(*_ITEM_COLUMNS).where(Item.id == item_id)).one_or_none()


def association_row(session: Session, identifier: uuid.UUID) -> Row[Any] | None:
    """A stored association as the export reads it, or ``None``."""
    return session.execute(select(*ASSOCIATION_COLUMNS).where(Association.id == identifier)).one_or_none()


def associations_touching(session: Session, item_id: uuid.UUID) -> list[Row[Any]]:
    """Stored associations with the item at either end."""
    return list(
        session.execute(
            select(*ASSOCIATION_COLUMNS)
            .where((Association.origin_item_id == item_id) | (Association.destination_item_id == item_id))
            .order_by(Association.association_type, Association.id)
        )
    )


def children_rows(session: Session, item_id: uuid.UUID) -> list[Row[Any]]:
    """The item's children, as the export reads them."""
    return list(session.execute(select(*_ITEM_COLUMNS).where(Item.parent_id == item_id).order_by(Item.position)))
