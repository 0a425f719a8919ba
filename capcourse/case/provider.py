"""The CASE provider API: CASE objects by identifier, and the list of CFDocuments.

Every framework capcourse holds is served, shipped or imported, in CASE 1.1
(``/ims/case/v1p1``) and 1.0 (``/ims/case/v1p0``). Unknown identifiers raise
:class:`~capcourse.errors.NotFoundError` with reason ``unknown_object`` (or
``invalid_uuid`` for what is no UUID), which the error handler turns into the
binding's imsx_StatusInfo payload.

capcourse has no rubrics of its own: ``CFRubrics/{id}`` only finds rubrics an
imported package carried.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from capcourse.case.export import (
    FrameworkExport,
    association_row,
    associations_touching,
    children_rows,
    item_row,
    strict_package,
)
from capcourse.case.models import CaseDefinition, DefinitionKind
from capcourse.case.schemas import UUID_PATTERN, parse_datetime
from capcourse.errors import BadRequestError, NotFoundError
from capcourse.frameworks.models import Framework, Item
from capcourse.identifiers import association_id

#: At most this many CFDocuments in one page, whatever ``limit`` asks.
MAX_LIMIT = 1000

#: CFDocument properties the list can filter and sort on, with their columns.
DOCUMENT_COLUMNS: dict[str, Any] = {
    "identifier": Framework.id,
    "title": Framework.title,
    "creator": Framework.creator,
    "publisher": Framework.publisher,
    "description": Framework.description,
    "language": Framework.language,
    "version": Framework.version,
    "adoptionStatus": Framework.adoption_status,
    "officialSourceURL": Framework.official_source_url,
    "notes": Framework.notes,
    "lastChangeDateTime": Framework.last_change,
}
#: Properties ``fields`` may select (identifier is always kept).
DOCUMENT_FIELDS = (
    "identifier",
    "uri",
    "caseVersion",
    "frameworkType",
    "creator",
    "title",
    "lastChangeDateTime",
    "officialSourceURL",
    "publisher",
    "description",
    "subject",
    "subjectURI",
    "language",
    "version",
    "adoptionStatus",
    "statusStartDate",
    "statusEndDate",
    "licenseURI",
    "notes",
    "extensions",
    "CFPackageURI",
)
# One predicate of the binding's filter language: field, operator, value (quoted or not).
_PREDICATE = re.compile(r"^\s*([A-Za-z]+)\s*(!=|>=|<=|=|>|<|~)\s*(?:'((?:[^']|'')*)'|(\S+))\s*$")
_LOGICAL = re.compile(r"\s+(AND|OR)\s+")


def sourced_id(text: str) -> uuid.UUID:
    """The identifier in a provider path.

    :raises NotFoundError: not a UUID (reason ``invalid_uuid``, as the binding wants).
    """
    if not UUID_PATTERN.match(text):
        raise NotFoundError(
            f"{text!r} is not a CASE identifier (a UUID).", {"sourcedId": ["Not a UUID."]}, reason="invalid_uuid"
        )
    return uuid.UUID(text)


def _unknown(kind: str, identifier: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"No {kind} has the identifier {identifier}.", reason="unknown_object")


def get_framework(session: Session, identifier: uuid.UUID) -> Framework:
    framework = session.get(Framework, identifier)
    if framework is None:
        raise _unknown("CFDocument", identifier)
    return framework


def cf_document(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFDocuments/{id}``."""
    return FrameworkExport(session, get_framework(session, identifier), base_url, version).document(standalone=True)


def cf_package(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFPackages/{id}``: the document with all its items, associations and definitions.

    Strict (:func:`~capcourse.case.export.strict_package`): a provider answers as
    the OpenAPI says, which allows no property CASE does not define.
    """
    package = FrameworkExport(session, get_framework(session, identifier), base_url, version).package()
    return strict_package(package, version)


def _item_export(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> tuple[FrameworkExport, Any]:
    row = item_row(session, identifier)
    if row is None:
        raise _unknown("CFItem", identifier)
    framework = session.get(Framework, row.framework_id)
    assert framework is not None  # a foreign key
    return FrameworkExport(session, framework, base_url, version), row


def cf_item(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFItems/{id}``."""
    export, row = _item_export(session, identifier, base_url, version)
    return export.item(row, standalone=True)


def _tree_link_owner(session: Session, identifier: uuid.UUID) -> Any:
    """The item whose tree link has this identifier, if any.

    Imported items store theirs; a shipped item's is derived from its two ends,
    so the few shipped items are checked by computing it.
    """
    row = session.execute(select(Item.id).where(Item.parent_association_id == identifier)).first()
    if row is not None:
        return item_row(session, row.id)
    shipped = session.execute(
        select(Item.id, Item.parent_id, Item.framework_id)
        .join(Framework, Framework.id == Item.framework_id)
        .where(Framework.imported_at.is_(None))
    )
    for item_id, parent_id, framework_id in shipped:
        if association_id("isChildOf", item_id, parent_id or framework_id) == identifier:
            return item_row(session, item_id)
    return None


def cf_association(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFAssociations/{id}``: a stored association, or an ``isChildOf`` link of a tree."""
    row = association_row(session, identifier)
    if row is not None:
        framework = session.get(Framework, row.framework_id)
        assert framework is not None
        export = FrameworkExport(session, framework, base_url, version)
        association = export.association(row)
        if association is None:
            raise NotFoundError(
                f"The association {identifier} has the type {row.association_type!r}, which CASE 1.0 does not know.",
                reason="unknown_object",
            )
        association["CFDocumentURI"] = export.document_link()
        return association
    owner = _tree_link_owner(session, identifier)
    if owner is None:
        # An association an imported package carried from a document or an item capcourse lacks.
        kept = session.scalars(
            select(CaseDefinition).where(
                CaseDefinition.kind == DefinitionKind.ASSOCIATION, CaseDefinition.identifier == identifier
            )
        ).first()
        if kept is not None:
            framework = session.get(Framework, kept.framework_id)
            assert framework is not None
            export = FrameworkExport(session, framework, base_url, version)
            for association in export.kept_associations():
                if association == kept.content or association["identifier"] == kept.content["identifier"]:
                    return {**association, "CFDocumentURI": export.document_link()}
        raise _unknown("CFAssociation", identifier)
    export, _ = _item_export(session, owner.id, base_url, version)
    link = export.tree_link(owner)
    assert link is not None
    link["CFDocumentURI"] = export.document_link()
    return link


def cf_item_associations(session: Session, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFItemAssociations/{id}``: the item, and every association with it at either end.

    That is its own place in the tree, its children's, and the stored
    associations from or to it (of any framework).
    """
    export, row = _item_export(session, identifier, base_url, version)
    associations = []
    own = export.tree_link(row)
    if own is not None:
        associations.append(own)
    for child in children_rows(session, identifier):
        link = export.tree_link(child)
        if link is not None:
            associations.append(link)
    exports = {row.framework_id: export}
    for stored in associations_touching(session, identifier):
        owner = exports.get(stored.framework_id)
        if owner is None:
            framework = session.get(Framework, stored.framework_id)
            assert framework is not None
            owner = exports[stored.framework_id] = FrameworkExport(session, framework, base_url, version)
        association = owner.association(stored)
        if association is not None:
            associations.append(association)
    return {"CFItem": export.item(row, standalone=True), "CFAssociations": associations}


def _definitions(
    session: Session, kind: str, identifier: uuid.UUID, base_url: str, version: str
) -> list[tuple[FrameworkExport, dict[str, Any]]]:
    """Every definition of ``kind`` with this identifier, with the export of its framework.

    Stored ones (imported packages) are found by index; derived ones (shipped
    frameworks) by deriving them, which is cheap for the few shipped frameworks.
    """
    found: list[tuple[FrameworkExport, dict[str, Any]]] = []
    stored = session.scalars(
        select(CaseDefinition).where(CaseDefinition.kind == kind, CaseDefinition.identifier == identifier)
    ).first()
    if stored is not None:
        framework = session.get(Framework, stored.framework_id)
        assert framework is not None
        export = FrameworkExport(session, framework, base_url, version)
        found.extend((export, d) for d in export.definitions().get(kind, []) if d["identifier"] == str(identifier))
        return found
    if kind == DefinitionKind.RUBRIC:
        return found
    for framework in session.scalars(select(Framework).where(Framework.imported_at.is_(None))):
        export = FrameworkExport(session, framework, base_url, version)
        found.extend((export, d) for d in export.definitions().get(kind, []) if d["identifier"] == str(identifier))
        if found:
            break
    return found


_SINGULAR: dict[str, str] = {
    DefinitionKind.ITEM_TYPE: "CFItemType",
    DefinitionKind.CONCEPT: "CFConcept",
    DefinitionKind.SUBJECT: "CFSubject",
    DefinitionKind.LICENSE: "CFLicense",
    DefinitionKind.ASSOCIATION_GROUPING: "CFAssociationGrouping",
    DefinitionKind.RUBRIC: "CFRubric",
}


def cf_definition(session: Session, kind: str, identifier: uuid.UUID, base_url: str, version: str) -> dict[str, Any]:
    """``CFLicenses/{id}``, ``CFAssociationGroupings/{id}``, ``CFRubrics/{id}``: one object."""
    found = _definitions(session, kind, identifier, base_url, version)
    if not found:
        raise _unknown(_SINGULAR[kind], identifier)
    return found[0][1]


def cf_definition_set(
    session: Session, kind: str, identifier: uuid.UUID, base_url: str, version: str
) -> dict[str, list[dict[str, Any]]]:
    """``CFItemTypes/{id}``, ``CFConcepts/{id}``, ``CFSubjects/{id}``: the object and the ones below it.

    "Below" is by hierarchy code, as the binding says: ``1.2`` is below ``1``.
    """
    found = _definitions(session, kind, identifier, base_url, version)
    if not found:
        raise _unknown(_SINGULAR[kind], identifier)
    export, definition = found[0]
    prefix = definition.get("hierarchyCode", "") + "."
    below = [d for d in export.definitions().get(kind, []) if d.get("hierarchyCode", "").startswith(prefix)]
    return {str(kind): [definition, *below]}


@dataclass(frozen=True)
class DocumentPage:
    documents: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _condition(field: str, operator: str, value: str) -> ColumnElement[bool]:
    if field not in DOCUMENT_COLUMNS:
        raise BadRequestError(
            f"Documents cannot be filtered on {field!r}.",
            {"filter": [f"Filter on one of: {', '.join(DOCUMENT_COLUMNS)}."]},
            reason="invalid_selection_field",
        )
    column = DOCUMENT_COLUMNS[field]
    operand: Any = value
    if field == "identifier":
        if operator != "=" and operator != "!=":
            raise BadRequestError("Identifiers are compared with = or != only.", {"filter": ["Use = or !=."]})
        try:
            operand = uuid.UUID(value)
        except ValueError as error:
            raise BadRequestError(f"{value!r} is not a UUID.", {"filter": ["Not a UUID."]}) from error
    elif field == "lastChangeDateTime":
        try:
            operand = parse_datetime(value)
        except ValueError as error:
            raise BadRequestError(f"{value!r} is not a date-time.", {"filter": ["Not a date-time."]}) from error
    if operator == "~":
        escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(column).like(f"%{escaped}%", escape="\\")
    comparisons: dict[str, ColumnElement[bool]] = {
        "=": column == operand,
        "!=": column != operand,
        ">": column > operand,
        ">=": column >= operand,
        "<": column < operand,
        "<=": column <= operand,
    }
    return comparisons[operator]


def parse_filter(text: str) -> ColumnElement[bool]:
    """The binding's filter: ``field op 'value'`` predicates joined by AND, or by OR (not both).

    Operators: ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~`` (contains, any case).

    :raises BadRequestError: reason ``invalid_selection_field``.
    """
    parts = _LOGICAL.split(text.strip())
    predicates, joiners = parts[0::2], set(parts[1::2])
    if len(joiners) > 1:
        raise BadRequestError(
            "A filter joins its predicates with AND or with OR, not both.",
            {"filter": ["Use one logical operator."]},
            reason="invalid_selection_field",
        )
    conditions = []
    for predicate in predicates:
        match = _PREDICATE.match(predicate)
        if match is None:
            raise BadRequestError(
                f"Cannot read the filter predicate {predicate.strip()!r}.",
                {"filter": ["Write predicates as field=value, e.g. title~'leadership'."]},
                reason="invalid_selection_field",
            )
        field, operator, quoted, bare = match.groups()
        value = quoted.replace("''", "'") if quoted is not None else bare
        conditions.append(_condition(field, operator, value))
    return or_(*conditions) if joiners == {"OR"} else and_(*conditions)


def list_documents(
    session: Session,
    base_url: str,
    version: str,
    limit: int = 100,
    offset: int = 0,
    sort: str | None = None,
    order_by: str = "asc",
    filter_text: str | None = None,
    selected: Sequence[str] | str | None = None,
) -> DocumentPage:
    """``CFDocuments``: paged, sorted and filtered in the database.

    :raises BadRequestError: an unknown sort field (``invalid_sort_field``), or a
        filter or field selection that cannot be read (``invalid_selection_field``).
    """
    limit = min(limit, MAX_LIMIT)
    query = select(Framework)
    if filter_text:
        query = query.where(parse_filter(filter_text))
    if sort:
        if sort not in DOCUMENT_COLUMNS:
            raise BadRequestError(
                f"Documents cannot be sorted on {sort!r}.",
                {"sort": [f"Sort on one of: {', '.join(DOCUMENT_COLUMNS)}."]},
                reason="invalid_sort_field",
            )
        column = DOCUMENT_COLUMNS[sort]
        query = query.order_by(column.desc() if order_by == "desc" else column.asc(), Framework.id)
    else:
        query = query.order_by(Framework.title, Framework.version, Framework.id)
    names: list[str] | None = None
    if selected:
        values = [selected] if isinstance(selected, str) else list(selected)
        names = [n.strip() for value in values for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in DOCUMENT_FIELDS]
        if unknown:
            raise BadRequestError(
                f"CFDocuments have no field {unknown[0]!r}.",
                {"fields": [f"Choose from: {', '.join(DOCUMENT_FIELDS)}."]},
                reason="invalid_selection_field",
            )
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    if total == 0 or offset >= total:
        # The OpenAPI's CFDocumentSet has minItems 1, and lists 404 among this endpoint's answers:
        # an empty selection is a 404 unknownobject, never a 200 with no document (docs/case.md).
        raise NotFoundError(
            "No CFDocument matches."
            if total == 0
            else f"Only {total} CFDocument(s) match; offset {offset} is past them.",
            {"CFDocuments": ["None in this selection."]},
            reason="unknown_object",
        )
    documents = []
    for framework in session.scalars(query.offset(offset).limit(limit)):
        document = FrameworkExport(session, framework, base_url, version).document(standalone=True)
        if names is not None:
            document = {k: v for k, v in document.items() if k in names or k == "identifier"}
        documents.append(document)
    return DocumentPage(documents, total, limit, offset)
