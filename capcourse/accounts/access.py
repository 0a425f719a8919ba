"""Who may read and change which programme.

Every service that touches programme data asks here first, so the API and the
pages enforce the same rules. A programme someone may not read is reported as
not found: guessing identifiers reveals nothing.
"""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import ApiKey, MembershipRole, ProgrammeMember, Role, User
from capcourse.catalogue.models import Programme
from capcourse.errors import ForbiddenError, InvalidInputError, NotFoundError


@dataclass(frozen=True)
class Principal:
    """Whoever makes a request: a signed-in user or an API key."""

    role: Role
    #: Written into audit trails: "Ada Lovelace <ada@example.org>" or "API key cc_ab12… (Moodle)".
    name: str
    user_id: int | None = None
    #: An integration key limited to these programmes; ``None`` when not limited.
    programmes: frozenset[uuid.UUID] | None = None

    def reaches(self, programme_id: uuid.UUID) -> bool:
        """Whether a programme is within this principal's key scope (people are checked by membership)."""
        return self.programmes is None or programme_id in self.programmes

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def principal_for_user(user: User) -> Principal:
    return Principal(role=Role(user.role), name=f"{user.name} <{user.email}>", user_id=user.id)


def principal_for_key(key: ApiKey) -> Principal:
    """A key acts with its own role; a person's key is named after the person in audit trails."""
    label = f"API key {key.prefix}… ({key.name})"
    if key.user is not None:
        label = f"{key.user.name} <{key.user.email}> via {label}"
    scope = None if key.programme_ids is None else frozenset(uuid.UUID(p) for p in key.programme_ids)
    return Principal(role=Role(key.role), name=label, user_id=key.user_id, programmes=scope)


def command_line_principal() -> Principal:
    """Whoever runs a ``capcourse`` command: they hold the server, so they act as an admin (named in audit trails)."""
    return Principal(role=Role.ADMIN, name=f"capcourse CLI ({getpass.getuser()})")


def membership_role(session: Session, principal: Principal, programme_id: uuid.UUID) -> MembershipRole | None:
    if principal.user_id is None:
        return None
    role = session.scalar(
        select(ProgrammeMember.role).where(
            ProgrammeMember.programme_id == programme_id, ProgrammeMember.user_id == principal.user_id
        )
    )
    return MembershipRole(role) if role else None


def readable_programmes(principal: Principal) -> Select[tuple[Programme]]:
    """The programmes ``principal`` may read, as a query to filter or paginate."""
    query = select(Programme)
    if principal.is_admin:
        return query
    if principal.user_id is None:
        return query.where(false())
    member = select(ProgrammeMember.programme_id).where(ProgrammeMember.user_id == principal.user_id)
    return query.where(Programme.id.in_(member))


def programme_for_read(session: Session, principal: Principal, programme_id: uuid.UUID) -> Programme:
    """:raises NotFoundError: no such programme, or one ``principal`` may not read."""
    programme = session.get(Programme, programme_id)
    if programme is None or not (principal.is_admin or membership_role(session, principal, programme_id)):
        raise NotFoundError(f"No programme has the identifier {programme_id}.")
    return programme


def require_content_editor(session: Session, principal: Principal, programme: Programme) -> None:
    """Courses, modules, activities and mappings: admins and the programme's authors.

    :raises ForbiddenError: the principal may read the programme but not change it.
    """
    if principal.is_admin:
        return
    if membership_role(session, principal, programme.id) != MembershipRole.AUTHOR:
        raise ForbiddenError(f"Only the authors of {programme.title!r} may change its courses and mappings.")


def require_programme_manager(session: Session, principal: Principal, programme: Programme) -> None:
    """Programme settings and membership: admins and the programme's leads.

    :raises ForbiddenError: the principal may read the programme but not manage it.
    """
    if principal.is_admin:
        return
    if membership_role(session, principal, programme.id) != MembershipRole.LEAD:
        raise ForbiddenError(f"Only the leads of {programme.title!r} may change its settings and members.")


def require_programme_creator(principal: Principal) -> None:
    """:raises ForbiddenError: only admins and leads create programmes."""
    if principal.role not in (Role.ADMIN, Role.LEAD) or (principal.role == Role.LEAD and principal.user_id is None):
        raise ForbiddenError("Only admins and programme leads may create programmes.")


def check_membership_change(principal: Principal, user: User | None, role: str | None, requested_email: str) -> User:
    """Rules for adding, re-roling (``role``) or removing (``role`` None) a programme member, past being its lead.

    - Nobody but an admin changes their own place: a lead who made themself an
      author could edit content, or leave the programme without a lead.
    - A lead makes programme leads only of accounts that hold the lead role;
      an author account stays an author. (Admins may do either.)
    - For all but admins, an unknown email, a disabled account and an account
      that may not take the role get one answer, so trying emails tells a lead
      nothing about which accounts exist.

    :returns: ``user``, once allowed.
    :raises ForbiddenError: a change to one's own membership.
    :raises InvalidInputError: no account with that email may take that role here.
    """
    if user is not None and user.id == principal.user_id and not principal.is_admin:
        raise ForbiddenError("You cannot change your own place on a programme: ask another lead or an admin.")
    if principal.is_admin and user is not None:
        return user
    may_lead = user is not None and user.role in (Role.LEAD, Role.ADMIN)
    if user is None or not user.is_active or (role == MembershipRole.LEAD and not may_lead):
        raise InvalidInputError(
            f"No account with the email {requested_email} can be made {role or 'a member'} of this programme: "
            "an admin creates accounts, and only accounts with the lead role lead programmes.",
            {"email": ["No account with this email can take this role here."]},
        )
    return user
