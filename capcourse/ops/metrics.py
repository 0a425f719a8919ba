"""Prometheus metrics at ``/metrics`` (prometheus-client).

- ``capcourse_http_requests_total{method, route, status}`` and
  ``capcourse_http_request_duration_seconds{method, route}``: request rates and
  latencies, by URL rule (``/api/v1/cohorts/<uuid:cohort_id>``), never by raw path.
- ``capcourse_ingested_rows_total{table}``: rows committed to ``completions``,
  ``statements`` (received and emitted) and ``pending_records``: ingest rates,
  counted from the inserts a transaction made, once it commits.
- ``capcourse_outbox_entries{destination, state}`` (``pending``, ``dead``) and
  ``capcourse_outbox_oldest_pending_seconds{destination}``: the delivery backlog
  and dead letters, read from the database at each scrape (so they are right
  whichever process delivers).
- ``capcourse_database_up``: 1 when the scrape could read the database.

Several processes (web workers, the delivery worker): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder shared by them, before any of
them starts (:func:`prepare_multiprocess` does it); a scrape of any worker then
reports the sum of all, a worker that exited included (its counts stand: the
metrics here are counters and histograms, no live gauge to mark dead).
prometheus-client picks its storage when it is first imported, so this module
imports it only when a metric is first used (in the worker, after the fork),
never when the app is created.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, g, has_app_context, request
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert
from werkzeug.wrappers import Response

from capcourse.extensions import db
from capcourse.prepared import INSERT_HOOKS

#: Tables whose committed inserts count as ingest.
INGEST_TABLES = ("completions", "statements", "pending_records")
#: Latency buckets (seconds): a JSON call takes milliseconds, an import seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PENDING_KEY = "capcourse_ingest_pending"


@dataclass(frozen=True)
class Instruments:
    requests: Any
    latency: Any
    ingested: Any


#: Held while the metrics are first made: ``functools.cache`` alone lets the first requests of a new
#: worker's threads each make and register them, and all but one fail (DuplicateTimeseries, a 500).
_FIRST_USE = threading.Lock()


def instruments() -> Instruments:
    """The process's metrics, created on first use (see the module docstring for why), by one thread."""
    with _FIRST_USE:
        return _make_instruments()


@cache
def _make_instruments() -> Instruments:
    from prometheus_client import Counter, Histogram

    return Instruments(
        requests=Counter("capcourse_http_requests", "HTTP requests answered.", ["method", "route", "status"]),
        latency=Histogram(
            "capcourse_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=BUCKETS,
        ),
        ingested=Counter("capcourse_ingested_rows", "Rows committed by ingest, by table.", ["table"]),
    )


def prepare_multiprocess(directory: str | Path) -> None:
    """Make ``directory`` the (emptied) shared metrics folder of the processes about to start.

    Call it in the parent, before forking workers or starting the delivery worker.
    """
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def _observe(response: Response) -> Response:
    started = g.get("request_started")
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    tools = instruments()
    tools.requests.labels(request.method, route, str(response.status_code)).inc()
    if started is not None:
        tools.latency.labels(request.method, route).observe(time.perf_counter() - started)
    return response


@event.listens_for(Engine, "after_execute")
def _count_inserts(conn: Connection, clause: Any, multiparams: Any, params: Any, options: Any, result: Any) -> None:
    if not isinstance(clause, Insert):
        return
    table = getattr(clause.table, "name", None)
    if table not in INGEST_TABLES:
        return
    rows = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else max(1, len(multiparams))
    _count_rows(conn, table, rows)


def _count_rows(conn: Connection, table: str, rows: int) -> None:
    """Count rows inserted into an ingest table; they are added to the metric when the transaction commits."""
    if table not in INGEST_TABLES:
        return
    pending = conn.info.setdefault(_PENDING_KEY, {})
    pending[table] = pending.get(table, 0) + rows


# Inserts run on the driver's cursor (the ingest path) pass no SQLAlchemy event: they report here.
INSERT_HOOKS.append(_count_rows)


@event.listens_for(Engine, "commit")
def _committed(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING_KEY, None)
    if pending:
        ingested = instruments().ingested
        for table, rows in pending.items():
            ingested.labels(table).inc(rows)


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: Connection) -> None:
    conn.info.pop(_PENDING_KEY, None)


class DatabaseCollector:
    """Delivery backlog and dead letters, read from the database at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from capcourse.records.models import DeliveryState, OutboxEntry

        up = GaugeMetricFamily("capcourse_database_up", "1 when the database answered the scrape.")
        entries = GaugeMetricFamily(
            "capcourse_outbox_entries", "Outbox entries not delivered, by state.", labels=["destination", "state"]
        )
        oldest = GaugeMetricFamily(
            "capcourse_outbox_oldest_pending_seconds",
            "Age of the oldest statement waiting for delivery.",
            labels=["destination"],
        )
        try:
            # Called inside the /metrics request: its session, closed with the request.
            with self.app.app_context() if not has_app_context() else nullcontext():
                rows = db.session.execute(
                    select(OutboxEntry.destination, OutboxEntry.state, func.count(), func.min(OutboxEntry.created_at))
                    .where(OutboxEntry.state.in_([DeliveryState.PENDING, DeliveryState.DEAD]))
                    .group_by(OutboxEntry.destination, OutboxEntry.state)
                ).all()
        except Exception:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        now = datetime.now(UTC)
        for destination, state, count, first in rows:
            entries.add_metric([destination, str(state)], count)
            if state == DeliveryState.PENDING and first is not None:
                first = first if first.tzinfo else first.replace(tzinfo=UTC)
                oldest.add_metric([destination], max(0.0, (now - first).total_seconds()))
        yield from (up, entries, oldest)


class _ProcessCollector:
    """This process's own metrics (when not in multiprocess mode)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def exposition(app: Flask) -> tuple[bytes, str]:
    """The metrics text and its content type, for one scrape."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    instruments()  # every metric appears from the first scrape, at 0
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector(app))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def init_app(app: Flask) -> None:
    """Observe every request's route, status and duration."""
    app.after_request(_observe)
