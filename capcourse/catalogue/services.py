"""Creating, reading and changing programmes, courses, modules and activities.

Every function takes the :class:`~capcourse.accounts.access.Principal` making
the change and checks it first; it only flushes, the caller commits.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.accounts.models import MembershipRole, ProgrammeMember, User
from capcourse.accounts.services import find_user
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError, PreconditionFailedError
from capcourse.frameworks.models import Framework

logger = logging.getLogger(__name__)

Editable = TypeVar("Editable", Programme, Course, Module, Activity)
Content = TypeVar("Content", Course, Module, Activity)


def check_version(entity: Programme | Course | Module | Activity, expected_version: int) -> None:
    """Refuse a change made to an out-of-date copy.

    :raises PreconditionFailedError: someone changed ``entity`` since the client read it.
    """
    if entity.version != expected_version:
        raise PreconditionFailedError(
            f"{type(entity).__name__} {entity.title!r} was changed by someone else "
            f"(you had version {expected_version}, it is now {entity.version}). Reload it and try again.",
            {"version": [f"Current version is {entity.version}."]},
        )


def _frameworks(session: Session, framework_ids: Sequence[uuid.UUID]) -> list[Framework]:
    frameworks = list(session.scalars(select(Framework).where(Framework.id.in_(framework_ids))))
    missing = sorted(str(i) for i in set(framework_ids) - {f.id for f in frameworks})
    if missing:
        raise InvalidInputError(
            "Some frameworks do not exist.", {"framework_ids": [f"Unknown framework: {m}" for m in missing]}
        )
    return frameworks


def _apply(entity: Editable, changes: Mapping[str, Any], fields: Sequence[str]) -> Editable:
    for name in fields:
        if name in changes:
            setattr(entity, name, changes[name])
    return entity


# Programmes


def create_programme(
    session: Session,
    principal: Principal,
    title: str,
    description: str | None = None,
    status: str = "draft",
    framework_ids: Sequence[uuid.UUID] = (),
) -> Programme:
    """Create a programme; a lead who creates one becomes its lead."""
    access.require_programme_creator(principal)
    programme = Programme(
        title=title, description=description, status=status, frameworks=_frameworks(session, framework_ids)
    )
    session.add(programme)
    session.flush()
    if principal.user_id is not None:
        session.add(ProgrammeMember(programme_id=programme.id, user_id=principal.user_id, role=MembershipRole.LEAD))
        session.flush()
    logger.info("Programme %s %r created by %s", programme.id, title, principal.name)
    return programme


def update_programme(
    session: Session, principal: Principal, programme: Programme, expected_version: int, changes: Mapping[str, Any]
) -> Programme:
    access.require_programme_manager(session, principal, programme)
    check_version(programme, expected_version)
    _apply(programme, changes, ("title", "description", "status"))
    if "framework_ids" in changes:
        programme.frameworks = _frameworks(session, changes["framework_ids"])
    session.flush()
    return programme


def list_members(session: Session, principal: Principal, programme: Programme) -> Sequence[ProgrammeMember]:
    return session.scalars(
        select(ProgrammeMember)
        .where(ProgrammeMember.programme_id == programme.id)
        .order_by(ProgrammeMember.id)
        .options(selectinload(ProgrammeMember.user))  # every member is shown with their name and email
    ).all()


def add_member(session: Session, principal: Principal, programme: Programme, email: str, role: str) -> ProgrammeMember:
    """Put a user on a programme as lead or author (or change their role there)."""
    access.require_programme_manager(session, principal, programme)
    if role not in set(MembershipRole):
        raise InvalidInputError(f"Unknown programme role {role!r}.", {"role": ["One of: lead, author."]})
    try:
        found: User | None = find_user(session, email)
    except NotFoundError:
        found = None
    user = access.check_membership_change(principal, found, role, email)
    membership: ProgrammeMember | None = session.scalar(
        select(ProgrammeMember).where(ProgrammeMember.programme_id == programme.id, ProgrammeMember.user_id == user.id)
    )
    if membership is None:
        membership = ProgrammeMember(programme_id=programme.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def remove_member(session: Session, principal: Principal, programme: Programme, user_id: int) -> None:
    access.require_programme_manager(session, principal, programme)
    if user_id == principal.user_id and not principal.is_admin:
        raise ForbiddenError("You cannot change your own place on a programme: ask another lead or an admin.")
    membership = session.scalar(
        select(ProgrammeMember).where(ProgrammeMember.programme_id == programme.id, ProgrammeMember.user_id == user_id)
    )
    if membership is None:
        raise NotFoundError(f"User {user_id} is not a member of {programme.title!r}.")
    session.delete(membership)
    session.flush()


# Courses, modules, activities


def course_for_read(session: Session, principal: Principal, course_id: uuid.UUID) -> Course:
    course = session.get(Course, course_id)
    if course is None:
        raise NotFoundError(f"No course has the identifier {course_id}.")
    try:
        access.programme_for_read(session, principal, course.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No course has the identifier {course_id}.") from error
    return course


def module_for_read(session: Session, principal: Principal, module_id: uuid.UUID) -> Module:
    module = session.get(Module, module_id)
    if module is None:
        raise NotFoundError(f"No module has the identifier {module_id}.")
    try:
        access.programme_for_read(session, principal, module.course.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No module has the identifier {module_id}.") from error
    return module


def activity_for_read(session: Session, principal: Principal, activity_id: uuid.UUID) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFoundError(f"No activity has the identifier {activity_id}.")
    try:
        access.programme_for_read(session, principal, activity.module.course.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No activity has the identifier {activity_id}.") from error
    return activity


def load_contents(session: Session, parent: Programme | Course | Module) -> list[Any]:
    """A programme's courses, a course's modules or a module's activities, in order.

    Each comes with its external identifiers and its own children (which pages
    count) loaded, in three queries however many there are: reading them one
    row at a time was a query per row. ``parent``'s collection is set to them,
    so a template that reads it sends no query either.
    """
    rows: list[Any]
    if isinstance(parent, Programme):
        rows = list(
            session.scalars(
                select(Course)
                .where(Course.programme_id == parent.id)
                .order_by(Course.position)
                .options(selectinload(Course.external_ids), selectinload(Course.modules))
            )
        )
        set_committed_value(parent, "courses", rows)
    elif isinstance(parent, Course):
        rows = list(
            session.scalars(
                select(Module)
                .where(Module.course_id == parent.id)
                .order_by(Module.position)
                .options(selectinload(Module.external_ids), selectinload(Module.activities))
            )
        )
        set_committed_value(parent, "modules", rows)
    else:
        rows = list(
            session.scalars(
                select(Activity)
                .where(Activity.module_id == parent.id)
                .order_by(Activity.position)
                .options(selectinload(Activity.external_ids))
            )
        )
        set_committed_value(parent, "activities", rows)
    return rows


def programme_of(entity: Course | Module | Activity) -> Programme:
    if isinstance(entity, Course):
        return entity.programme
    if isinstance(entity, Module):
        return entity.course.programme
    return entity.module.course.programme


def _set_external_ids(
    session: Session, entity: Course | Module | Activity, external_ids: Sequence[Mapping[str, str]]
) -> None:
    """Replace the entity's external identifiers, unique within its programme.

    :raises InvalidInputError: the same identifier twice in the request.
    :raises ConflictError: another course, module or activity of the programme has it.
    """
    programme = programme_of(entity)
    wanted = [(e["system"].strip(), e["value"].strip()) for e in external_ids]
    duplicates = sorted({pair for pair in wanted if wanted.count(pair) > 1})
    if duplicates:
        raise InvalidInputError(
            "The same external identifier is given twice.",
            {"external_ids": [f"{system}: {value}" for system, value in duplicates]},
        )
    column = {Course: ExternalId.course_id, Module: ExternalId.module_id, Activity: ExternalId.activity_id}[
        type(entity)
    ]
    for system, value in wanted:
        taken = session.scalar(
            select(ExternalId).where(
                ExternalId.programme_id == programme.id,
                ExternalId.system == system,
                ExternalId.value == value,
                (column != entity.id) | column.is_(None),
            )
        )
        if taken is not None:
            raise ConflictError(
                f"The external identifier {system}: {value} already belongs to something else in this programme.",
                {"external_ids": [f"{system}: {value} is taken."]},
            )
    kind = type(entity).__name__.lower()
    # Keep the rows that stay, so the database never sees a kept identifier twice.
    kept = {(e.system, e.value): e for e in entity.external_ids if (e.system, e.value) in wanted}
    for external_id in [e for e in entity.external_ids if (e.system, e.value) not in kept]:
        entity.external_ids.remove(external_id)
    session.flush()
    entity.external_ids.extend(
        ExternalId(programme_id=programme.id, system=system, value=value, **{f"{kind}_id": entity.id})
        for system, value in dict.fromkeys(wanted)
        if (system, value) not in kept
    )


def _next_position(session: Session, column: Any, parent_id: uuid.UUID) -> int:
    return int(session.scalar(select(func.count()).where(column == parent_id)) or 0)


def _basics(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"title": fields["title"], "description": fields.get("description"), "status": fields.get("status", "draft")}


def _add_content(session: Session, entity: Content, fields: Mapping[str, Any]) -> Content:
    session.add(entity)
    session.flush()
    _set_external_ids(session, entity, fields.get("external_ids", []))
    session.flush()
    return entity


def create_course(session: Session, principal: Principal, programme: Programme, fields: Mapping[str, Any]) -> Course:
    """Add a course at the end of the programme."""
    access.require_content_editor(session, principal, programme)
    position = _next_position(session, Course.programme_id, programme.id)
    return _add_content(session, Course(programme=programme, position=position, **_basics(fields)), fields)


def create_module(session: Session, principal: Principal, course: Course, fields: Mapping[str, Any]) -> Module:
    """Add a module at the end of the course."""
    access.require_content_editor(session, principal, course.programme)
    position = _next_position(session, Module.course_id, course.id)
    return _add_content(session, Module(course=course, position=position, **_basics(fields)), fields)


def create_activity(session: Session, principal: Principal, module: Module, fields: Mapping[str, Any]) -> Activity:
    """Add an activity at the end of the module."""
    access.require_content_editor(session, principal, module.course.programme)
    position = _next_position(session, Activity.module_id, module.id)
    return _add_content(session, Activity(module=module, position=position, **_basics(fields)), fields)


def create_activities(
    session: Session, principal: Principal, module: Module, many: Sequence[Mapping[str, Any]]
) -> list[Activity]:
    """Add activities at the end of the module, in the order given, as a set: what an import of many does.

    One position query, one check of all the external identifiers, one flush (not two flushes and a
    query per activity, as :func:`create_activity` one at a time would take).

    :raises InvalidInputError: the same external identifier twice among them.
    :raises ConflictError: something else in the programme has one of their external identifiers.
    """
    programme = module.course.programme
    access.require_content_editor(session, principal, programme)
    if not many:
        return []
    wanted = [[(e["system"].strip(), e["value"].strip()) for e in f.get("external_ids", [])] for f in many]
    pairs = [pair for ids in wanted for pair in ids]
    duplicates = sorted(pair for pair, count in Counter(pairs).items() if count > 1)
    if duplicates:
        raise InvalidInputError(
            "The same external identifier is given twice.",
            {"external_ids": [f"{system}: {value}" for system, value in duplicates]},
        )
    values = sorted({value for _, value in pairs})
    taken: set[tuple[str, str]] = set()
    for start in range(0, len(values), _CHUNK):
        taken.update(
            (system, value)
            for system, value in session.execute(
                select(ExternalId.system, ExternalId.value).where(
                    ExternalId.programme_id == programme.id, ExternalId.value.in_(values[start : start + _CHUNK])
                )
            )
        )
    clash = next((pair for pair in pairs if pair in taken), None)
    if clash is not None:
        system, value = clash
        raise ConflictError(
            f"The external identifier {system}: {value} already belongs to something else in this programme.",
            {"external_ids": [f"{system}: {value} is taken."]},
        )
    position = _next_position(session, Activity.module_id, module.id)
    activities = [
        Activity(
            module=module,
            position=position + n,
            external_ids=[ExternalId(programme_id=programme.id, system=system, value=value) for system, value in ids],
            **_basics(fields),
        )
        for n, (fields, ids) in enumerate(zip(many, wanted, strict=True))
    ]
    session.add_all(activities)
    session.flush()
    return activities


#: How many values go in one IN list (SQLite's bound-parameter limit is far above).
_CHUNK = 500


def update_content(
    session: Session,
    principal: Principal,
    entity: Content,
    expected_version: int,
    changes: Mapping[str, Any],
) -> Content:
    """Change a course, module or activity: title, description, status, position, external ids."""
    access.require_content_editor(session, principal, programme_of(entity))
    check_version(entity, expected_version)
    _apply(entity, changes, ("title", "description", "status", "position"))
    if "external_ids" in changes:
        _set_external_ids(session, entity, changes["external_ids"])
    session.flush()
    return entity
