"""The least an xAPI statement endpoint can do on capcourse's stack: what ``bench/bounds.py`` serves as its floor.

A WSGI app on Flask, served by Granian as capcourse is, that takes ``POST /statements``
(one statement or an array), checks that an ``Authorization`` header came, parses the
body with orjson, gives a statement without an id one, writes each statement as one
row (its id and its JSON) in one transaction, durably as capcourse's database does
(PostgreSQL: a commit per request, fsync and all; SQLite: WAL, ``synchronous=NORMAL``,
``BEGIN IMMEDIATE``), and answers with the ids. No validation, no index, no records:
what is left of a request once capcourse's own work is taken out.

It reads ``FLOOR_DATABASE`` (``sqlite:PATH`` or a ``postgresql://`` URL, whose table it
expects made: :func:`create_table`). It imports nothing of capcourse.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from typing import Any

import orjson
from flask import Flask, Response, request

app = Flask(__name__)
_local = threading.local()
DATABASE = os.environ.get("FLOOR_DATABASE", "")
TABLE_SQL = "CREATE TABLE floor_statements (pk {pk}, id {uuid} UNIQUE NOT NULL, statement {json} NOT NULL)"


def create_table(database: str) -> None:
    """Make the floor's table in ``database`` (as :data:`DATABASE` names it)."""
    if database.startswith("sqlite:"):
        with sqlite3.connect(database.removeprefix("sqlite:")) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(TABLE_SQL.format(pk="INTEGER PRIMARY KEY", uuid="CHAR(32)", json="TEXT"))
        return
    import psycopg

    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(TABLE_SQL.format(pk="BIGSERIAL PRIMARY KEY", uuid="UUID", json="JSONB"))


def _connection() -> Any:
    connection = getattr(_local, "connection", None)
    if connection is None:
        if DATABASE.startswith("sqlite:"):
            connection = sqlite3.connect(DATABASE.removeprefix("sqlite:"), isolation_level=None)
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA synchronous=NORMAL")
        else:
            import psycopg

            connection = psycopg.connect(DATABASE)
        _local.connection = connection
    return connection


@app.post("/statements")
def statements() -> Response:
    """Store the statements of the body, one row each, in one transaction; answer with their ids."""
    if not request.headers.get("Authorization"):
        return Response(status=401)
    body = orjson.loads(request.get_data())
    batch = body if isinstance(body, list) else [body]
    for statement in batch:
        statement.setdefault("id", str(uuid.uuid4()))
    connection = _connection()
    if isinstance(connection, sqlite3.Connection):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO floor_statements (id, statement) VALUES (?, ?)",
            [(uuid.UUID(s["id"]).hex, orjson.dumps(s).decode()) for s in batch],
        )
        connection.execute("COMMIT")
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO floor_statements (id, statement) VALUES (%s, %s)",
                [(uuid.UUID(s["id"]), orjson.dumps(s).decode()) for s in batch],
            )
        connection.commit()
    return Response(orjson.dumps([s["id"] for s in batch]), mimetype="application/json")
