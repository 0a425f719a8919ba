"""Whether two statements are the same statement (xAPI 1.0.3 Data 2.3.1, Communication 2.1.2).

An LRS that receives a statement id it holds must tell a resend (same
statement: accept it again) from a conflict (other content: 409). The
specification's exceptions to immutability do not make two statements
different: what the LRS sets or may set (``stored``, ``authority``,
``version``, and a ``timestamp`` only one of them carries), the case of the
id, the order of a Group's members, a context activity sent alone rather than
in an array, and how a timestamp is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from xapi.types import JSON

#: Set by the LRS (Data 2.3.1): never a difference.
LRS_SET = ("stored", "authority", "version")


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _normal(v) for k, v in value.items()}
    if isinstance(out.get("member"), list):
        out["member"] = sorted(out["member"], key=lambda m: json.dumps(m, sort_keys=True))
    activities = out.get("contextActivities")
    if isinstance(activities, dict):
        out["contextActivities"] = {k: v if isinstance(v, list) else [v] for k, v in activities.items()}
    if isinstance(out.get("objectType"), str) and out.get("objectType") == "StatementRef":
        out["id"] = str(out.get("id", "")).lower()
    return out


def _moment(value: JSON) -> datetime | str:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return json.dumps(value)


def same_statement(first: Mapping[str, JSON], second: Mapping[str, JSON]) -> bool:
    """Whether ``second`` is a resend of ``first`` by the specification's rules."""
    a = {k: v for k, v in first.items() if k not in LRS_SET}
    b = {k: v for k, v in second.items() if k not in LRS_SET}
    if "timestamp" in a and "timestamp" in b:
        if _moment(a.pop("timestamp")) != _moment(b.pop("timestamp")):
            return False
    else:
        a.pop("timestamp", None)
        b.pop("timestamp", None)
    if "id" in a and "id" in b:
        if str(a.pop("id")).lower() != str(b.pop("id")).lower():
            return False
    else:
        a.pop("id", None)
        b.pop("id", None)
    return bool(_normal(a) == _normal(b))
