"""xAPI 1.0.3 statements: building, validating and sending them to a Learning Record Store.

A plain library: it never imports flask or capcourse.

- :mod:`xapi.statements` builds statements (verbs, agents, activities, context, result).
- :mod:`xapi.validation` checks a statement against the MUSTs of xAPI 1.0.3 and says
  which property broke which rule.
- :mod:`xapi.comparison` tells a resend from a conflict (the same-statement rules).
- :mod:`xapi.client` posts statements to an LRS.
"""

from xapi.comparison import same_statement
from xapi.statements import (
    ACHIEVED,
    COMPETENCY,
    COMPLETED,
    FAILED,
    PASSED,
    PROGRESSED,
    VOIDED,
    Verb,
    activity,
    agent_from_account,
    agent_from_email,
    agent_key,
    context,
    iso_duration,
    normalise_agent,
    result,
    statement,
    statement_id,
    timestamp,
)
from xapi.validation import (
    StatementError,
    StatementInvalid,
    check_statement,
    is_iri,
    validate_agent,
    validate_statement,
)

__all__ = [
    "ACHIEVED",
    "COMPETENCY",
    "COMPLETED",
    "FAILED",
    "PASSED",
    "PROGRESSED",
    "VOIDED",
    "StatementError",
    "StatementInvalid",
    "Verb",
    "activity",
    "agent_from_account",
    "agent_from_email",
    "agent_key",
    "check_statement",
    "context",
    "is_iri",
    "iso_duration",
    "normalise_agent",
    "result",
    "same_statement",
    "statement",
    "statement_id",
    "timestamp",
    "validate_agent",
    "validate_statement",
]
