"""Importing CASE packages published by other tools (or exported by another capcourse).

An import creates the framework, or updates the one with the package's
document identifier, in three steps that share nothing but their inputs:

1. :func:`~capcourse.case.reading.parse_package` reads the bytes leniently:
   JSON, then what real publishers get wrong normalised (and counted by kind
   in the report), then the CASE schemas. Only what cannot be represented
   refuses the package, with the JSON paths of the first problems.
2. :func:`~capcourse.case.planning.plan_import` compares the package with the
   database and writes nothing, so it is also the preview.
3. :func:`apply_import` (here) writes the plan. Mappings to removed items are
   removed through :func:`capcourse.mapping.services.unmap`, so each removal is
   in the programme's mapping history.

An update of a framework that programmes have mapped to needs an explicit
confirmation: a preview's ``confirm_token``, which only matches while the
package, the framework and its mappings are what the preview saw.

The publisher's identifiers, URIs, titles of association ends, and every
property capcourse does not model (CASE's or not) are kept, so the framework
exports again as it came.
"""

from __future__ import annotations

import functools
import itertools
import logging
import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql as psycopg_sql
from sqlalchemy import JSON, DateTime, Table, Text, Uuid, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal
from capcourse.case.export import ASSOCIATION_COLUMNS, V1P1, FrameworkExport, item_title
from capcourse.case.models import CaseDefinition, DefinitionKind
from capcourse.case.planning import (
    MAX_LISTED,
    AffectedMapping,
    ImportPlan,
    _aware,
    _chunked,
    _label,
    json_text,
    key_for,
    plan_import,
    slug,
)
from capcourse.case.reading import MAX_PROBLEMS, PackageError, ParsedPackage, gc_paused, parse_package, refuse
from capcourse.errors import ConflictError
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.mapping.models import Mapping
from capcourse.mapping.services import unmap
from capcourse.prepared import MAX_PARAMETERS, MAX_ROWS, driver_connection
from capcourse.timestamps import utcnow

__all__ = [
    "AffectedMapping",
    "ConfirmationRequiredError",
    "ImportOutcome",
    "ImportPlan",
    "PackageError",
    "ParsedPackage",
    "apply_import",
    "import_package",
    "key_for",
    "parse_package",
    "plan_import",
    "refuse",
    "report",
    "run_import",
    "slug",
]

logger = logging.getLogger(__name__)

# Step 3: writing.


def _each(convert: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    return [value if value is None else convert(value) for value in values]


def _hex_column(values: Sequence[Any]) -> list[Any]:
    # What SQLAlchemy's Uuid sends a database without a UUID type (``value.hex``), without a
    # Python call per value: two of an item's columns and three of an association's are UUIDs.
    # (The integer's 16 bytes in hex: what UUID.hex gives, at half its cost.)
    return [value if value is None else value.int.to_bytes(16).hex() for value in values]


def _insert_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys), set-based, straight to the driver.

    PostgreSQL gets one ``COPY … FROM STDIN`` (psycopg writes each value as
    its type's text); SQLite multi-row ``INSERT … VALUES (…), (…)`` of a
    statement SQLAlchemy compiled once (a statement per few hundred rows cost
    less than the driver's executemany, which runs the statement once per
    row); other databases an executemany per chunk. Each value goes through
    its column type's own bind processor (remembered per value for the few
    distinct timestamps; UUIDs written as that processor writes them), so what
    reaches the database is what SQLAlchemy would send; what is skipped is
    SQLAlchemy's per-row bookkeeping, which cost more than the database's own
    work. JSON columns are written by orjson.
    """
    if not rows:
        return
    table = table if isinstance(table, Table) else table.__table__
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    values: dict[str, Any] = {}
    #: Per column: a function of the whole column's values, or one of each value that is not None.
    columnwise: list[Callable[[Sequence[Any]], list[Any]] | None] = []
    converters: list[Callable[[Any], Any] | None] = []
    for name in names:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            parameter = bindparam(name, type_=Text)
            values[name] = parameter if dialect.name == "sqlite" else cast(parameter, JSON)
            columnwise.append(None)
            converters.append(json_text)
            continue
        values[name] = bindparam(name, type_=column_type)
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if (
            process is not None
            and isinstance(column_type, Uuid)
            and column_type.as_uuid
            and not (dialect.supports_native_uuid and column_type.native_uuid)
        ):
            columnwise.append(_hex_column)
            converters.append(None)
            continue
        # Timestamps (DateTime, or the UtcDateTime every model's aware DateTime becomes) are a handful of
        # distinct values in tens of thousands of rows: each converted once.
        if process is not None and isinstance(getattr(column_type, "impl", column_type), DateTime):
            process = functools.lru_cache(maxsize=1024)(process)
        columnwise.append(None)
        converters.append(process)
    plan = list(zip(names, columnwise, converters, strict=True))

    take = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    #: (position, what converts that column's values) for the columns that need it.
    conversions: list[tuple[int, Callable[[Sequence[Any]], list[Any]]]] = []
    for at, (_, whole, convert) in enumerate(plan):
        if whole is not None:
            conversions.append((at, whole))
        elif convert is not None:
            conversions.append((at, functools.partial(_each, convert)))

    def converted(chunk: Sequence[dict[str, Any]], order: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
        # Each row's values taken by one itemgetter (in C), then the few columns that need converting
        # converted column by column: a comprehension per column costs far less than a Python loop over
        # every value of every row.
        tuples = list(map(take, chunk))
        if not conversions and order is None:
            return tuples
        columns: list[Sequence[Any]] = list(zip(*tuples, strict=True))
        for at, convert in conversions:
            columns[at] = convert(columns[at])
        if order is not None:
            columns = [columns[i] for i in order]
        return list(zip(*columns, strict=True))

    if dialect.name == "postgresql":
        target = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg_sql.Identifier(*([table.schema] if table.schema else []), table.name),
            psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(name) for name in names),
        )
        # What waits on the connection (its transaction's BEGIN, deferred rows) goes first: see prepared.
        driver = driver_connection(connection)
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(target) as copy:
            for chunk in _chunked(rows):
                for row_values in converted(chunk):
                    copy.write_row(row_values)
        return
    compiled = insert(table).values(values).compile(dialect=dialect)
    order = [names.index(name) for name in compiled.positiontup or ()] if compiled.positional else None
    group = f"({', '.join('?' * len(names))})"
    head, found, tail = compiled.string.partition(f" VALUES {group}")
    if dialect.paramstyle == "qmark" and order is not None and found and not tail:
        per_statement = max(1, min(MAX_ROWS, MAX_PARAMETERS // len(names)))
        for start in range(0, len(rows), per_statement):
            page = converted(rows[start : start + per_statement], order)
            connection.exec_driver_sql(
                f"{head} VALUES {', '.join([group] * len(page))}", tuple(itertools.chain.from_iterable(page))
            )
        return
    for chunk in _chunked(rows):
        if order is not None:
            parameters: list[Any] = converted(chunk, order)
        else:
            parameters = [dict(zip(names, row_values, strict=True)) for row_values in converted(chunk)]
        connection.exec_driver_sql(compiled.string, parameters)


def _keep_associations_from(session: Session, framework_id: uuid.UUID, removed: Sequence[uuid.UUID]) -> None:
    """Other imported frameworks' associations that start at removed items: kept as they came from now on.

    The removal's cascade would take them; their package still carries them,
    so they go back to being kept verbatim (as when their origin was never
    held), and are linked again if the item comes back.
    """
    kind = str(DefinitionKind.ASSOCIATION)
    rows = [
        row
        for chunk in _chunked(removed)
        for row in session.execute(
            select(*ASSOCIATION_COLUMNS).where(
                Association.origin_item_id.in_(chunk), Association.framework_id != framework_id
            )
        )
    ]
    # Numbered in the order their framework exported them, not in the order the database reads them
    # (on PostgreSQL an update moves a row): else importing the same package again could find the
    # kept associations reordered, and report an update, depending on the rows' history.
    rows.sort(key=lambda r: (r.association_type, str(r.origin_item_id), str(r.id)))
    # Each owner's next position, after the associations it keeps already.
    next_position: dict[uuid.UUID, int] = {}
    for row in rows:
        owner = session.get(Framework, row.framework_id)
        if owner is None or owner.imported_at is None:
            continue  # capcourse's own links go with the item, as they always did
        content = FrameworkExport(session, owner, "", V1P1).association(row)
        if content is None:
            continue
        if owner.id not in next_position:
            last = session.scalar(
                select(func.max(CaseDefinition.position)).where(
                    CaseDefinition.framework_id == owner.id, CaseDefinition.kind == kind
                )
            )
            next_position[owner.id] = (last if last is not None else -1) + 1
        session.add(
            CaseDefinition(
                framework_id=owner.id,
                kind=kind,
                identifier=row.id,
                position=next_position[owner.id],
                content=content,
                last_change=row.last_change,
            )
        )
        next_position[owner.id] += 1
    session.flush()


@gc_paused()
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
    _keep_associations_from(session, plan.framework_id, removed)
    # Changed associations are written anew after the items: one whose item is removed and replaced
    # (an identifier the publisher changed) would otherwise go with the item's cascade.
    for chunk in _chunked([*plan.associations_removed, *plan.associations_changed]):
        session.execute(delete(Association).where(Association.id.in_(chunk)))
    # Items that stay but hang below removed ones are lifted out first, so the cascade spares them.
    for chunk in _chunked(plan.lifted):
        session.execute(update(Item), [{"id": i, "parent_id": None} for i in chunk])
    for chunk in _chunked(removed):
        session.execute(delete(Item).where(Item.id.in_(chunk)))
    for chunk in _chunked(plan.rekeyed):
        session.execute(update(Item), [{"id": i, "key": f"~{i}"} for i in chunk])

    if len(plan.items_added) == len(plan.items):  # a new framework: every row, in the plan's order
        _insert_rows(session, Item, list(plan.items.values()))
    else:
        new_items = set(plan.items_added)
        _insert_rows(session, Item, [row for i, row in plan.items.items() if i in new_items])
    rewritten = [plan.items[i] for i in (*plan.items_changed, *plan.items_moved)]
    for chunk in _chunked(rewritten):
        session.execute(update(Item), list(chunk))

    if len(plan.associations_added) == len(plan.associations):  # every row new, in the plan's order
        _insert_rows(session, Association, list(plan.associations.values()))
    else:
        _insert_rows(
            session,
            Association,
            [plan.associations[i] for i in (*plan.associations_added, *plan.associations_changed)],
        )

    if plan.definitions_changed:
        session.execute(delete(CaseDefinition).where(CaseDefinition.framework_id == plan.framework_id))
        _insert_rows(session, CaseDefinition, [{"framework_id": plan.framework_id, **row} for row in plan.definitions])

    if plan.adopted:
        # Kept associations whose origin arrived: rows of their own framework now, linked to the items.
        for chunk in _chunked([kept_id for kept_id, _ in plan.adopted]):
            session.execute(delete(CaseDefinition).where(CaseDefinition.id.in_(chunk)))
        _insert_rows(session, Association, [row for _, row in plan.adopted])

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
        plan.association_counts["added"],
        plan.association_counts["changed"],
        plan.association_counts["removed"],
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


@gc_paused()
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


@gc_paused()
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
        plan.release()
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
    plan.release()
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
        "associations": dict(plan.association_counts),
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
        "normalisations": plan.parsed.notes.report(),
        "warnings": [*plan.parsed.notes.warnings(), *plan.warnings],
    }
