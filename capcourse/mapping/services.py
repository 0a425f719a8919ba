"""Mapping modules and activities to framework items, one by one or in bulk.

Every change writes a :class:`~capcourse.mapping.models.MappingEvent` in the
same transaction, so the audit trail and the mappings can never disagree.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, contains_eager

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.catalogue.services import programme_of
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError, PreconditionFailedError
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Depth, Mapping, MappingEvent, MappingProvenance
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

Target = Module | Activity

#: Called with the session, a programme's id and the items whose mappings in it have just changed, in the
#: same transaction: how the learning records' evidence follows the mappings (``capcourse.records``
#: registers it) without this layer importing the one above it.
MAPPED_HOOKS: list[Callable[[Session, uuid.UUID, Collection[uuid.UUID]], None]] = []


def _mappings_changed(session: Session, programme_id: uuid.UUID, item_ids: Collection[uuid.UUID]) -> None:
    for hook in MAPPED_HOOKS:
        hook(session, programme_id, item_ids)


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int
    unchanged: int


def _item_label(item: Item) -> str:
    name = item.abbreviated_statement or item.full_statement
    # With the version: a code may name other text in another version of the framework.
    version = item.framework.version
    code = f"{item.code} ({version})" if item.code and version else item.code
    return (f"{code} {name}" if code else name)[:500]


def _record(
    session: Session, principal: Principal, mapping: Mapping, target: Target, action: str, before: str | None
) -> None:
    session.add(
        MappingEvent(
            programme_id=mapping.programme_id,
            mapping_id=mapping.id,
            module_id=mapping.module_id,
            activity_id=mapping.activity_id,
            target_title=target.title,
            item_id=mapping.item_id,
            item_label=_item_label(mapping.item),
            action=action,
            depth_before=before,
            depth_after=None if action == "deleted" else mapping.depth,
            actor=principal.name,
            at=utcnow(),
        )
    )


def _items(session: Session, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Item]:
    items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    missing = [str(i) for i in item_ids if i not in items]
    if missing:
        raise InvalidInputError(
            "Some framework items do not exist.", {"item_ids": [f"Unknown item: {m}" for m in missing]}
        )
    return items


def _check_depth(depth: str) -> None:
    if depth not in set(Depth):
        raise InvalidInputError(f"Unknown depth {depth!r}.", {"depth": [f"One of: {', '.join(Depth)}"]})


def mappings_of(session: Session, target: Target) -> Sequence[Mapping]:
    column = Mapping.module_id if isinstance(target, Module) else Mapping.activity_id
    # The item (joined anyway) and its framework come with the rows: the API shows both for each mapping.
    return session.scalars(
        select(Mapping)
        .join(Item, Item.id == Mapping.item_id)
        .where(column == target.id)
        .order_by(Item.code)
        .options(contains_eager(Mapping.item).selectinload(Item.framework))
    ).all()


def _existing(session: Session, target: Target, item_id: uuid.UUID) -> Mapping | None:
    column = Mapping.module_id if isinstance(target, Module) else Mapping.activity_id
    mapping: Mapping | None = session.scalar(select(Mapping).where(column == target.id, Mapping.item_id == item_id))
    return mapping


def _new_mapping(
    session: Session, principal: Principal, target: Target, item: Item, depth: str, provenance: str
) -> Mapping:
    now = utcnow()
    mapping = Mapping(
        programme_id=programme_of(target).id,
        module_id=target.id if isinstance(target, Module) else None,
        activity_id=target.id if isinstance(target, Activity) else None,
        item=item,
        item_id=item.id,
        depth=depth,
        provenance=provenance,
        created_by=principal.name,
        created_at=now,
        updated_by=principal.name,
        updated_at=now,
    )
    session.add(mapping)
    session.flush()
    _record(session, principal, mapping, target, "created", None)
    return mapping


def map_items(
    session: Session,
    principal: Principal,
    target: Target,
    item_ids: Sequence[uuid.UUID],
    depth: str,
    provenance: str = MappingProvenance.AUTHORED,
) -> list[Mapping]:
    """Map ``target`` to each item at ``depth``: all of them or, on any problem, none.

    :raises InvalidInputError: unknown item or depth, or no item given.
    :raises ConflictError: the target is already mapped to one of the items.
    """
    access.require_content_editor(session, principal, programme_of(target))
    _check_depth(depth)
    if not item_ids:
        raise InvalidInputError("Choose at least one item to map.", {"item_ids": ["Must not be empty."]})
    items = _items(session, item_ids)
    already = [_item_label(items[i]) for i in dict.fromkeys(item_ids) if _existing(session, target, i)]
    if already:
        raise ConflictError(
            f"{target.title!r} is already mapped to {', '.join(already)}; change the depth of that mapping instead.",
            {"item_ids": [f"Already mapped: {label}" for label in already]},
        )
    mappings = [_new_mapping(session, principal, target, items[i], depth, provenance) for i in dict.fromkeys(item_ids)]
    _mappings_changed(session, programme_of(target).id, list(items))
    logger.info("%s mapped %r to %d item(s)", principal.name, target.title, len(mappings))
    return mappings


def mapping_for_read(session: Session, principal: Principal, mapping_id: uuid.UUID) -> Mapping:
    mapping = session.get(Mapping, mapping_id)
    if mapping is None:
        raise NotFoundError(f"No mapping has the identifier {mapping_id}.")
    try:
        access.programme_for_read(session, principal, mapping.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No mapping has the identifier {mapping_id}.") from error
    return mapping


def _target(mapping: Mapping) -> Target:
    target = mapping.module or mapping.activity
    assert target is not None  # a check constraint guarantees one of the two
    return target


def _check_version(mapping: Mapping, expected_version: int | None) -> None:
    if expected_version is not None and mapping.version != expected_version:
        raise PreconditionFailedError(
            f"The mapping to {_item_label(mapping.item)} was changed by someone else. Reload it and try again.",
            {"version": [f"Current version is {mapping.version}."]},
        )


def change_depth(
    session: Session, principal: Principal, mapping: Mapping, depth: str, expected_version: int | None
) -> Mapping:
    access.require_content_editor(session, principal, programme_of(_target(mapping)))
    _check_depth(depth)
    _check_version(mapping, expected_version)
    if mapping.depth != depth:
        before = mapping.depth
        mapping.depth = depth
        mapping.updated_by = principal.name
        mapping.updated_at = utcnow()
        session.flush()
        _record(session, principal, mapping, _target(mapping), "updated", before)
        session.flush()
    return mapping


def unmap(session: Session, principal: Principal, mapping: Mapping, expected_version: int | None) -> None:
    """Remove a mapping; its history stays."""
    target = _target(mapping)
    access.require_content_editor(session, principal, programme_of(target))
    _check_version(mapping, expected_version)
    _record(session, principal, mapping, target, "deleted", mapping.depth)
    session.delete(mapping)
    session.flush()
    _mappings_changed(session, mapping.programme_id, [mapping.item_id])


def bulk_map(
    session: Session,
    principal: Principal,
    programme: Programme,
    module_ids: Sequence[uuid.UUID],
    activity_ids: Sequence[uuid.UUID],
    item_ids: Sequence[uuid.UUID],
    depth: str,
) -> BulkResult:
    """Map every module and activity to every item at ``depth``, in one transaction.

    Pairs that exist already take the new depth. Nothing is written unless
    every target belongs to ``programme`` and every item exists.
    """
    access.require_content_editor(session, principal, programme)
    _check_depth(depth)
    if not item_ids or not (module_ids or activity_ids):
        raise InvalidInputError(
            "Choose at least one module or activity and at least one item.",
            {"item_ids" if not item_ids else "module_ids": ["Must not be empty."]},
        )
    items = _items(session, item_ids)
    modules = list(
        session.scalars(
            select(Module).join(Course).where(Module.id.in_(module_ids), Course.programme_id == programme.id)
        )
    )
    activities = list(
        session.scalars(
            select(Activity)
            .join(Module)
            .join(Course)
            .where(Activity.id.in_(activity_ids), Course.programme_id == programme.id)
        )
    )
    errors: dict[str, list[str]] = {}
    unknown_modules = set(module_ids) - {m.id for m in modules}
    unknown_activities = set(activity_ids) - {a.id for a in activities}
    if unknown_modules:
        errors["module_ids"] = [f"Not a module of this programme: {m}" for m in sorted(map(str, unknown_modules))]
    if unknown_activities:
        errors["activity_ids"] = [
            f"Not an activity of this programme: {a}" for a in sorted(map(str, unknown_activities))
        ]
    if errors:
        raise InvalidInputError("Some modules or activities are not in this programme.", errors)

    targets: list[Target] = [*modules, *activities]
    pairs = [(target, items[item_id]) for target in targets for item_id in dict.fromkeys(item_ids)]
    result = _map_pairs(session, principal, pairs, depth)
    logger.info("%s bulk-mapped %d targets × %d items", principal.name, len(targets), len(item_ids))
    return result


def _map_pairs(session: Session, principal: Principal, pairs: Sequence[tuple[Target, Item]], depth: str) -> BulkResult:
    created = updated = unchanged = 0
    fresh: dict[uuid.UUID, set[uuid.UUID]] = {}
    for target, item in pairs:
        mapping = _existing(session, target, item.id)
        if mapping is None:
            _new_mapping(session, principal, target, item, depth, MappingProvenance.AUTHORED)
            fresh.setdefault(programme_of(target).id, set()).add(item.id)
            created += 1
        elif mapping.depth != depth:
            change_depth(session, principal, mapping, depth, None)
            updated += 1
        else:
            unchanged += 1
    for programme_id, item_ids in fresh.items():
        _mappings_changed(session, programme_id, item_ids)
    return BulkResult(created, updated, unchanged)


def map_grid(
    session: Session,
    principal: Principal,
    course: Course,
    pairs: Sequence[tuple[uuid.UUID, uuid.UUID]],
    depth: str,
) -> BulkResult:
    """Map the (module, item) pairs ticked on a course's grid, at ``depth``.

    :raises InvalidInputError: a module outside the course, an unknown item or depth.
    """
    access.require_content_editor(session, principal, course.programme)
    _check_depth(depth)
    if not pairs:
        raise InvalidInputError("Tick at least one cell of the grid.", {"pairs": ["Must not be empty."]})
    modules = {m.id: m for m in course.modules}
    strangers = sorted({str(m) for m, _ in pairs if m not in modules})
    if strangers:
        raise InvalidInputError(
            "Some modules are not in this course.", {"pairs": [f"Not a module of this course: {m}" for m in strangers]}
        )
    items = _items(session, list(dict.fromkeys(i for _, i in pairs)))
    return _map_pairs(session, principal, [(modules[m], items[i]) for m, i in dict.fromkeys(pairs)], depth)


def history_query(programme: Programme) -> Select[tuple[MappingEvent]]:
    """The programme's mapping changes, newest first."""
    return (
        select(MappingEvent)
        .where(MappingEvent.programme_id == programme.id)
        .order_by(MappingEvent.at.desc(), MappingEvent.id.desc())
    )
