"""What launch services and views need from the configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from capcourse.records.settings import RecordsSettings
from capcourse.records.settings import settings_from as records_settings_from


@dataclass(frozen=True)
class LaunchSettings:
    records: RecordsSettings
    #: How long a launch's token lets its player commit.
    lifetime: timedelta
    #: Origins (``https://lms.example.org``) whose pages may commit; ``("*",)`` for any.
    allowed_origins: tuple[str, ...]
    #: The largest commit body read, in bytes.
    max_bytes: int

    @property
    def any_origin(self) -> bool:
        return "*" in self.allowed_origins

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/") in self.allowed_origins


def settings_from(config: Mapping[str, Any]) -> LaunchSettings:
    origins = str(config.get("CAPCOURSE_LAUNCH_ALLOWED_ORIGINS") or "*")
    return LaunchSettings(
        records=records_settings_from(config),
        lifetime=timedelta(hours=int(config["CAPCOURSE_LAUNCH_LIFETIME_HOURS"])),
        # Comma or space separated, as an environment variable is written.
        allowed_origins=tuple(o.rstrip("/") for o in re.split(r"[\s,]+", origins) if o),
        max_bytes=int(config["CAPCOURSE_LAUNCH_MAX_BYTES"]),
    )
