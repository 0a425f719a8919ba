"""What the package services need from the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scorm


@dataclass(frozen=True)
class PackageSettings:
    base_url: str
    #: Where imported packages' files are kept, one folder per package revision.
    folder: Path
    #: The largest upload (the zip itself), in bytes.
    max_upload: int
    #: What a package may unpack to.
    limits: scorm.Limits


def settings_from(config: Mapping[str, Any]) -> PackageSettings:
    return PackageSettings(
        base_url=str(config["CAPCOURSE_BASE_URL"]),
        folder=Path(config["CAPCOURSE_PACKAGE_DIR"]),
        max_upload=int(config["CAPCOURSE_PACKAGE_MAX_BYTES"]),
        limits=scorm.Limits(
            max_total_size=int(config["CAPCOURSE_PACKAGE_MAX_UNPACKED_BYTES"]),
            max_files=int(config["CAPCOURSE_PACKAGE_MAX_FILES"]),
        ),
    )
