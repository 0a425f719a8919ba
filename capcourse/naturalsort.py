"""Natural order for labels people read: "learner 2" before "learner 10", "MC.9" before "MC.10"."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


def natural_key(text: str | None) -> tuple[tuple[int, int | str], ...]:
    """Sort key in which runs of digits compare as numbers and letters ignore case."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold()) for part in _PARTS.split(text or "") if part
    )
