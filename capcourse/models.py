"""Every model of every domain, imported so that the metadata is complete.

Alembic's autogenerate and the drift test compare against ``db.metadata``; a
domain whose models were never imported would look like a table to drop.
"""

from capcourse.accounts.models import ApiKey, ProgrammeMember, User
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item
from capcourse.mapping.models import Mapping, MappingEvent
from capcourse.records.models import (
    Attainment,
    Completion,
    Evidence,
    Learner,
    OutboxEntry,
    PendingRecord,
    StoredStatement,
)

__all__ = [
    "Activity",
    "ApiKey",
    "Association",
    "Attainment",
    "Cohort",
    "CohortMember",
    "Completion",
    "Course",
    "Evidence",
    "ExternalId",
    "Framework",
    "IconLegendEntry",
    "Item",
    "Learner",
    "Mapping",
    "MappingEvent",
    "Module",
    "OutboxEntry",
    "PendingRecord",
    "Programme",
    "ProgrammeMember",
    "StoredStatement",
    "User",
]
