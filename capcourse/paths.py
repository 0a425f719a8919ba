"""Locations of the files capcourse ships beside its code."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
#: ``migrations/`` at the top of a source checkout; inside the package once installed
#: from a wheel (setup.py's build step copies it there).
MIGRATIONS_DIR = (
    PACKAGE_DIR.parent / "migrations" if (PACKAGE_DIR.parent / "migrations").is_dir() else PACKAGE_DIR / "migrations"
)
