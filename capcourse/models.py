"""Every model of every domain, imported so that the metadata is complete.

Alembic's autogenerate and the drift test compare against ``db.metadata``; a
domain whose models were never imported would look like a table to drop.
"""

from capcourse.accounts.models import ApiKey, ProgrammeMember, User
from capcourse.case.models import CaseDefinition
from capcourse.catalogue.models import Activity, Course, ExternalId, Module, Programme
from capcourse.cohorts.models import Cohort, CohortMember
from capcourse.frameworks.areas import AreaLink
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item
from capcourse.launches.models import Launch
from capcourse.lrs.models import Attachment as LrsAttachment
from capcourse.lrs.models import Document as LrsDocument
from capcourse.lrs.models import StatementIndex
from capcourse.lti.models import (
    LtiAccount,
    LtiContext,
    LtiDeployment,
    LtiKey,
    LtiLineItem,
    LtiPlatform,
    LtiResourceLink,
    LtiScore,
    LtiStoredValue,
)
from capcourse.mapping.models import Mapping, MappingEvent
from capcourse.packages.models import ContentPackage, PackageItem
from capcourse.records.models import (
    Attainment,
    Completion,
    Evidence,
    Learner,
    OutboxEntry,
    PendingRecord,
    StoredStatement,
)
from capcourse.suggest.models import SuggestionDecision
from capcourse.versions.models import MovedMapping, RetiredMapping, VersionMove

__all__ = [
    "Activity",
    "ApiKey",
    "AreaLink",
    "Association",
    "Attainment",
    "CaseDefinition",
    "Cohort",
    "CohortMember",
    "Completion",
    "ContentPackage",
    "Course",
    "Evidence",
    "ExternalId",
    "Framework",
    "IconLegendEntry",
    "Item",
    "Launch",
    "Learner",
    "LrsAttachment",
    "LrsDocument",
    "LtiAccount",
    "LtiContext",
    "LtiDeployment",
    "LtiKey",
    "LtiLineItem",
    "LtiPlatform",
    "LtiResourceLink",
    "LtiScore",
    "LtiStoredValue",
    "Mapping",
    "MappingEvent",
    "Module",
    "MovedMapping",
    "OutboxEntry",
    "PackageItem",
    "PendingRecord",
    "Programme",
    "ProgrammeMember",
    "RetiredMapping",
    "StatementIndex",
    "StoredStatement",
    "SuggestionDecision",
    "User",
    "VersionMove",
]
