"""Reading imported packages, with the programme's access rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal, programme_for_read
from capcourse.catalogue.models import Course
from capcourse.errors import NotFoundError
from capcourse.packages.models import ContentPackage


def packages_of(session: Session, course: Course) -> Sequence[ContentPackage]:
    """The packages imported into ``course``, newest first."""
    return session.scalars(
        select(ContentPackage).where(ContentPackage.course_id == course.id).order_by(ContentPackage.imported_at.desc())
    ).all()


def package_for_read(session: Session, principal: Principal, package_id: uuid.UUID) -> ContentPackage:
    """:raises NotFoundError: no such package, or one of a programme ``principal`` may not read."""
    package = session.get(ContentPackage, package_id)
    try:
        if package is not None:
            programme_for_read(session, principal, package.programme_id)
    except NotFoundError:
        package = None
    if package is None:
        raise NotFoundError(f"No package has the identifier {package_id}.")
    return package
