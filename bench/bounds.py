#!/usr/bin/env python3
"""How far ingest could go on this stack: capcourse beside what it would be with less of its work.

``bench/ingest.py`` says how capcourse's ingest compares with Learning Locker's. This
says where the rest of capcourse's time goes, in one run, at one client and batches
of 1 and 100, on SQLite and (``CAPCOURSE_BENCH_DATABASE_URL``) PostgreSQL, each rate
beside Learning Locker's (in memory, fresh, before and after, the mean, as ingest.py
measures it):

- **capcourse, as served**: ``POST /xapi/statements`` with ``passed`` statements for a
  mapped activity, so the whole path runs (as ingest.py posts them);
- **capcourse, storing only**: the same statements with the verb ``progressed``, which
  records nothing: stored, indexed for the Statement resource, answered. The most any
  design that records later (outside the request) could reach, before that recording's
  own cost;
- **the stack's floor** (``bench/floor_app.py``): Flask served by Granian with capcourse's
  workers and threads, storing each statement as one row in one durable transaction on
  the same database, with no validation, index or record. The most any design on
  capcourse's stack could reach.

Each point posts fresh statements from one keep-alive client after one untimed batch.
Usage: .venv/bin/python bench/bounds.py [--statements 5000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, and bench/scorm.py would
# stand in for the scorm package: import capcourse's packages as installed instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import sqlalchemy as sa  # noqa: E402

import xapi  # noqa: E402

HERE = Path(__file__).resolve().parent


def _load(name: str) -> Any:
    """A sibling bench script as a module (its helpers), importing capcourse as installed."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ingest = _load("ingest")
floor_app = _load("floor_app")


def storing_only(count: int) -> list[dict[str, Any]]:
    """ingest.py's statements with a verb capcourse records nothing for."""
    return [{**statement, "verb": xapi.PROGRESSED.as_json()} for statement in ingest.statements(count)]


@contextmanager
def floor(kind: str, workers: int, threads: int) -> Iterator[str]:
    """The floor app served by Granian with ``workers`` × ``threads`` (capcourse's) on a fresh database;
    yields its statements URL."""
    folder = Path(tempfile.mkdtemp(prefix="capcourse-bench-floor-"))
    schema = None
    server = None
    try:
        if kind == "sqlite":
            database = f"sqlite:{folder / 'floor.db'}"
        else:
            url = ingest.bench_database_url()
            schema = f"capcourse_floor_{secrets.token_hex(4)}"
            with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            database = f"{plain}{'&' if '?' in plain else '?'}options=-csearch_path%3D{schema}"
        floor_app.create_table(database)
        port = ingest.free_port()
        command = [
            str(Path(sys.executable).parent / "granian"), "--interface", "wsgi",
            "--workers", str(workers), "--blocking-threads", str(threads),
            "--host", "127.0.0.1", "--port", str(port), "floor_app:app",
        ]  # fmt: skip
        server = subprocess.Popen(
            command,
            cwd=HERE,
            env={**os.environ, "FLOOR_DATABASE": database, "PYTHONPATH": str(HERE)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/statements"
        ingest.wait_for(url, server)  # it has no GET: its 405 is an answer
        yield url
    finally:
        if server is not None:
            ingest.stop(server)
        if schema:
            with sa.create_engine(ingest.bench_database_url(), poolclass=sa.pool.NullPool).begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--statements", type=_positive, default=5000, help="per point at batch 100 (a fifth at batch 1)"
    )
    parser.add_argument("--rounds", type=_positive, default=1, help="times each point is measured, every row in turn")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if ingest.bench_database_url().startswith("postgresql") else [])
    batches = (1, 100)
    print(f"Ingest bounds: one client, {args.statements} statements per point at batch 100, "
          f"{ingest.count_for(1, args.statements)} at batch 1; ratios against Learning Locker (in memory).\n")  # fmt: skip
    for kind in kinds:
        with ExitStack() as servers:
            base, key, app, _ = servers.enter_context(ingest.capcourse(kind, ingest.NOWHERE))
            workers, threads = app.config["CAPCOURSE_WEB_WORKERS"], app.config["CAPCOURSE_WEB_THREADS"]
            floor_url = servers.enter_context(floor(kind, int(workers), int(threads)))
            targets = {
                f"capcourse/{kind}, as served": ingest.Target(
                    f"{base}/xapi/statements", ("lms", key), list, ingest.statements
                ),
                f"capcourse/{kind}, storing only": ingest.Target(
                    f"{base}/xapi/statements", ("lms", key), list, storing_only
                ),
                f"the stack's floor on {kind}": ingest.Target(floor_url, ("lms", key), list, ingest.statements),
            }
            rates: dict[str, dict[int, list[float]]] = {name: {b: [] for b in batches} for name in targets}
            reference: dict[int, list[float]] = {b: [] for b in batches}
            for _ in range(args.rounds):
                for batch in batches:
                    count = ingest.count_for(batch, args.statements)
                    before = ingest.reference_rate(count, batch, 1)
                    for name, target in targets.items():
                        rates[name][batch].append(ingest.post_all(target, count, batch, 1))
                    reference[batch].append((before + ingest.reference_rate(count, batch, 1)) / 2)
            header = "".join(f"{f'batch {b}, 1 client':>30}" for b in batches)
            print(f"{'':<44}{header}")
            cells = "".join(f"{f'{_mean(reference[b]):.0f}/s':>30}" for b in batches)
            print(f"{'Learning Locker POST /xAPI/statements':<44}{cells}")
            for name in targets:
                cells = ""
                for b in batches:
                    ratios = [r / ref for r, ref in zip(rates[name][b], reference[b], strict=True)]
                    spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
                    cells += f"{f'{_mean(rates[name][b]):.0f}/s {_mean(ratios):.2f}×{spread}':>30}"
                print(f"{name:<44}{cells}")
            # At batch 1 a request's time is the floor's plus capcourse's own work, one after the other.
            per_request = {name: 1000 / _mean(rates[name][1]) for name in targets}
            floor_ms = per_request[f"the stack's floor on {kind}"]
            budget = 1000 / _mean(reference[1]) - floor_ms
            print(
                f"At batch 1 capcourse's own work (beyond the floor's {floor_ms:.2f} ms a request) takes "
                f"{per_request[f'capcourse/{kind}, as served'] - floor_ms:.2f} ms as served and "
                f"{per_request[f'capcourse/{kind}, storing only'] - floor_ms:.2f} ms storing only; "
                f"matching Learning Locker leaves it {budget:.2f} ms.\n"
            )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


if __name__ == "__main__":
    main()
