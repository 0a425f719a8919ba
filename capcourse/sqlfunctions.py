"""SQL expressions that each database spells its own way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class uuid_text(FunctionElement[str]):  # noqa: N801 - used as a SQL function
    """A ``Uuid`` column's value as its lower-case text ``8-4-4-4-12``, worked out by the database.

    For joins on identifiers kept as text (the statement index's references to
    statements), and for reads of many identifiers (a framework's CASE export:
    making a ``uuid.UUID`` of each only to turn it back into text was a third of
    the export).
    """

    type = String()
    inherit_cache = True
    name = "uuid_text"


@compiles(uuid_text)
def _uuid_text(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL's uuid type reads as its lower-case 8-4-4-4-12 text.
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(uuid_text, "sqlite")
def _uuid_text_sqlite(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy keeps a UUID in SQLite as 32 hex digits, which get their hyphens.
    column = compiler.process(element.clauses, **kw)
    parts = " || '-' || ".join(f"substr({column}, {p})" for p in ("1, 8", "9, 4", "13, 4", "17, 4", "21, 12"))
    return f"lower({parts})"
