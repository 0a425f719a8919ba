"""JSON types for statements."""

from __future__ import annotations

from typing import TypeAlias

# A recursive alias needs the string form; ruff's UP007 cannot see that.
JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None
JSONObject = dict[str, JSON]
LanguageMap = dict[str, str]
