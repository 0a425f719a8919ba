"""Which xAPI verbs of received statements record an outcome, and which take one back.

LMSs and content speak several vocabularies for the same events: ADL's
verbs (which cmi5 and ADL's SCORM profile reuse for completed, passed and
failed), cmi5's ``satisfied`` and ``waived`` from ADL's w3id vocabulary, and
Moodle's EDLM profile, whose ``uncompleted`` withdraws a learner's earlier
completion of an activity. The table is a setting (``CAPCOURSE_XAPI_VERBS``):
a mapping of role to a list of verb IRIs that replaces that role's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import xapi

#: The roles a verb can play, and the outcome each records (retract records none).
ROLES = ("completed", "passed", "failed", "retract")

ADL = "http://adlnet.gov/expapi/verbs/"
W3ID_ADL = "https://w3id.org/xapi/adl/verbs/"
MOODLE_UNCOMPLETED = "https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted"

DEFAULT_VERBS: dict[str, tuple[str, ...]] = {
    # ADL, also what cmi5 and the SCORM profile send for completion; cmi5's satisfied and waived
    # say the learner met (or was excused from) the activity's requirements.
    "completed": (xapi.COMPLETED.id, W3ID_ADL + "satisfied", W3ID_ADL + "waived"),
    "passed": (xapi.PASSED.id,),
    "failed": (xapi.FAILED.id,),
    "retract": (MOODLE_UNCOMPLETED,),
}


@dataclass(frozen=True)
class VerbTable:
    """Verb IRI → role (completed, passed, failed or retract)."""

    roles: Mapping[str, str]

    def role(self, verb_id: str) -> str | None:
        return self.roles.get(verb_id)


def verb_table(setting: Mapping[str, Any] | None = None) -> VerbTable:
    """The defaults, each role named in ``setting`` replaced by its list.

    :raises ValueError: an unknown role, a list that is not of strings, or a verb given two roles.
    """
    chosen: dict[str, tuple[str, ...]] = dict(DEFAULT_VERBS)
    for role, verbs in (setting or {}).items():
        if role not in ROLES:
            raise ValueError(f"CAPCOURSE_XAPI_VERBS: unknown role {role!r} (one of {', '.join(ROLES)})")
        if isinstance(verbs, str) or not all(isinstance(v, str) for v in verbs):
            raise ValueError(f"CAPCOURSE_XAPI_VERBS[{role!r}] must be a list of verb IRIs")
        chosen[role] = tuple(verbs)
    roles: dict[str, str] = {}
    for role, verbs in chosen.items():
        for verb in verbs:
            if verb == xapi.VOIDED.id or roles.get(verb, role) != role:
                raise ValueError(f"CAPCOURSE_XAPI_VERBS: {verb} has two roles")
            roles[verb] = role
    return VerbTable(roles)


DEFAULT_TABLE = verb_table()
