"""Timestamps always in UTC and always aware, on SQLite as on PostgreSQL.

SQLite has no time zones: SQLAlchemy writes a datetime's wall-clock digits and
reads them back naive, so API answers lost their offset (breaking the documented
``date-time``) and a non-UTC time would have been stored as the wrong instant.
Every ``DateTime(timezone=True)`` column of every model is therefore given
:class:`UtcDateTime` when its table is built (one listener, so no model has to
remember it): values are converted to UTC on the way in and come back aware
(UTC) on the way out. On PostgreSQL (``timestamptz``) this only normalises the
zone of what is read to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, aware, in UTC: what every timestamp capcourse writes starts from."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that stores UTC and always returns aware UTC datetimes.

    A naive datetime handed in is taken as UTC (the project's convention).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite value read through a text expression
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


@event.listens_for(Column, "after_parent_attach")
def _aware_timestamps(column: Column[Any], table: Any) -> None:
    if isinstance(table, Table) and type(column.type) is DateTime and column.type.timezone:
        column.type = UtcDateTime()
