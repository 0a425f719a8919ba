"""What records services need from the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capcourse.records.verbs import DEFAULT_TABLE, VerbTable, verb_table


@dataclass(frozen=True)
class RecordsSettings:
    base_url: str
    #: Names of the LRS destinations every emitted statement is queued for.
    destinations: tuple[str, ...]
    #: Which verbs of received statements count as completed, passed, failed, or retract.
    verbs: VerbTable = DEFAULT_TABLE


def settings_from(config: Mapping[str, Any]) -> RecordsSettings:
    return RecordsSettings(
        base_url=str(config["CAPCOURSE_BASE_URL"]),
        destinations=tuple(sorted(config.get("CAPCOURSE_LRS_DESTINATIONS") or {})),
        verbs=verb_table(config.get("CAPCOURSE_XAPI_VERBS")),
    )
