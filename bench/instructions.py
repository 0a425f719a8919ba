#!/usr/bin/env python3
"""Instructions per ingest request: this checkout beside another revision, counted by valgrind.

Wall-clock A/B runs of a change worth a few per cent do not settle anything on a
shared 2-core machine: its speed drifts by up to 2× within minutes, and
alternated runs of one tree moved by ±15%. Counting instructions does: valgrind's
callgrind counted the same tree twice within 0.1% at batch 100 and 0.7% at batch 1
(where an API key's cache, kept for some seconds, expires more or less often while
valgrind runs the app some 50 times slower). So this script counts, for each
point, the instructions of N requests in one process (Flask's test client, the app,
SQLite), in this checkout and in a git worktree of ``--base`` (default ``HEAD``),
and prints millions per request and their ratio. Only the requests' own thread is
counted: SQLite's background checkpointer runs 50 ms after commits, so its share
of a run depends on the machine's speed (it moved counts by 2% on a busy machine).

What it does not count: the kernel (file writes, the network), the HTTP server
(Granian), PostgreSQL's server side, and what a cache miss costs. A served web
worker runs about the same instructions per request as counted here, in about
twice the time (caches shared with the client and the server's threads): the
count says whether a change does less, ``bench/ingest.py`` how fast the whole is.

On PostgreSQL (``CAPCOURSE_BENCH_DATABASE_URL``, or ``--database``) it counts the
client side only: capcourse's Python and psycopg, not the server.

Needs valgrind (``apt-get install valgrind``). Each point takes 20–60 s per tree.

A point's statements all come from learners who attained the bench's item already (the steady
state), or, with ``:new`` after it (``postgresql:xapi:1:new``), each from a learner never seen
before: their first success, which creates the learner and attains the item.

Usage: .venv/bin/python bench/instructions.py [--base REV] [--points sqlite:xapi:1,sqlite:xapi:100:new]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, and bench/scorm.py would
# stand in for the scorm package: the tree's packages (PYTHONPATH) are imported instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POINTS = "sqlite:xapi:1,sqlite:xapi:100,sqlite:completions:1,sqlite:completions:100"
#: Requests counted per point, by batch size.
REQUESTS = {1: 200, 100: 10}
WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="the revision to compare with (a worktree of it is made)")
    parser.add_argument("--points", default=None, help=f"database:path:batch[:new], comma-separated [{DEFAULT_POINTS}]")
    parser.add_argument("--database", default=os.environ.get("CAPCOURSE_BENCH_DATABASE_URL", ""))
    parser.add_argument(
        "--child", nargs=5, metavar=("DATABASE", "PATH", "BATCH", "LEARNERS", "REQUESTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        database, path, batch, learners, requests = args.child
        _count_in_this_process(database, path, int(batch), learners == "new", int(requests))
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("bench/instructions.py needs valgrind: apt-get install valgrind")
    points = [_point(p) for p in (args.points or _default_points(args.database)).split(",")]
    base = tempfile.mkdtemp(prefix="capcourse-base-")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", base, args.base], check=True)
    try:
        print(f"Millions of instructions per request, in-process (callgrind): {args.base} beside this checkout.\n")
        print(f"{'point':<44}{args.base[:14]:>16}{'this checkout':>16}{'ratio':>9}")
        for database, path, batch, learners in points:
            url = _database_url(database, args.database)
            counts = [_count(Path(tree), url, path, int(batch), learners) for tree in (base, ROOT)]
            name = f"{database} {'POST /xapi/statements' if path == 'xapi' else 'POST /api/v1/completions'} ×{batch}"
            name += " (new)" if learners == "new" else ""
            print(f"{name:<44}{counts[0]:>16.3f}{counts[1]:>16.3f}{counts[1] / counts[0]:>8.3f}×", flush=True)
        print("\n(ratio = this checkout ÷ the base: below 1, this checkout runs fewer instructions.)")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", base], check=False)


def _point(text: str) -> tuple[str, str, str, str]:
    """``database:path:batch[:new]`` checked, or the script stops saying what a point is."""
    parts = text.strip().split(":")
    if (
        len(parts) not in (3, 4)
        or parts[0] not in ("sqlite", "postgresql")
        or parts[1] not in ("xapi", "completions")
        or parts[3:] not in ([], ["new"])
    ):
        sys.exit(
            f"Not a point: {text!r}. A point is database:path:batch, e.g. sqlite:xapi:100 or postgresql:completions:1,"
            " with :new after it for learners never seen before (postgresql:xapi:1:new)."
        )
    if not parts[2].isdigit() or not 1 <= int(parts[2]) <= 1000:
        sys.exit(f"Not a point: {text!r}. Its batch size is a whole number from 1 to 1000.")
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "same"


def _default_points(database: str) -> str:
    if database.startswith("postgresql"):
        return DEFAULT_POINTS + ",postgresql:xapi:1,postgresql:xapi:100"
    return DEFAULT_POINTS


def _database_url(kind: str, postgresql: str) -> str:
    if kind == "sqlite":
        return "sqlite"
    if not postgresql.startswith("postgresql"):
        sys.exit("A postgresql point needs CAPCOURSE_BENCH_DATABASE_URL or --database.")
    return postgresql


def _count(tree: Path, database: str, path: str, batch: int, learners: str) -> float:
    """Millions of instructions per request of ``tree``'s capcourse at one point."""
    requests = REQUESTS.get(batch, 10)
    with tempfile.TemporaryDirectory(prefix="capcourse-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        # Thread by thread: only the requests' own thread is counted (see the module's docstring).
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out}",
            sys.executable, __file__, "--child", database, path, str(batch), learners, str(requests),
        ]  # fmt: skip
        # The tree's packages come first: capcourse, xapi and scorm from that checkout.
        environment = {**os.environ, "PYTHONPATH": str(tree), "CAPCOURSE_SECRET_KEY": "bench"}
        done = subprocess.run(command, env=environment, cwd=tree, capture_output=True, text=True, check=False)
        # The main thread's file: the test client's requests run on it.
        main = Path(f"{out}-01")
        if done.returncode != 0 or not main.exists():
            raise RuntimeError(f"counting {tree} failed:\n{done.stderr[-2000:]}")
        total = next(int(line.split()[1]) for line in main.read_text().splitlines() if line.startswith("totals:"))
    return total / requests / 1e6


def _count_in_this_process(database: str, path: str, batch: int, new_learners: bool, requests: int) -> None:
    """The child: an app on a fresh database, warmed up, then ``requests`` requests with counting on.

    :param new_learners: each statement from a learner never seen before, instead of the bench's learners.
    """
    ingest = _load_ingest()
    folder = tempfile.mkdtemp(prefix="capcourse-instructions-")
    options: dict[str, Any] = {}
    schema = None
    if database == "sqlite":
        url = f"sqlite:///{folder}/bench.db"
    else:
        import sqlalchemy as sa

        url, schema = database, f"capcourse_instructions_{secrets.token_hex(4)}"
        with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        options = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = ingest.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "CAPCOURSE_PACKAGE_DIR": f"{folder}/packages",
            "CAPCOURSE_LRS_DESTINATIONS": {"default": {"endpoint": ingest.NOWHERE}},
        }
    )
    try:
        key = ingest.prepare(app)
        client = app.test_client()
        batches = range(WARM_UP + requests)
        if path == "xapi":
            url_path, headers = "/xapi/statements", {"Authorization": f"Bearer {key}", **ingest.HEADERS}
            bodies = [json.dumps(_learners(ingest.statements(batch), "actor", r, new_learners)) for r in batches]
        else:
            url_path, headers = "/api/v1/completions", {"Authorization": f"Bearer {key}"}
            bodies = [
                json.dumps({"completions": _learners(ingest.completions(batch), "learner", r, new_learners)})
                for r in batches
            ]
        headers["Content-Type"] = "application/json"
        for body in bodies[:WARM_UP]:
            _post(client, url_path, body, headers)
        # As a served worker does at start-up (capcourse.server.freeze_start_up).
        gc.collect()
        gc.freeze()
        subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
        for body in bodies[WARM_UP:]:
            _post(client, url_path, body, headers)
        subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True)
    finally:
        with app.app_context():
            ingest.db.engine.dispose()
        if schema:
            import sqlalchemy as sa

            with sa.create_engine(url, poolclass=sa.pool.NullPool).begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(folder, ignore_errors=True)


def _learners(items: list[dict[str, Any]], field: str, request: int, new: bool) -> list[dict[str, Any]]:
    """``items`` as they are, or (``new``) each from a learner of its own, never seen before."""
    if not new:
        return items
    emails = (f"first{request}.{n}@example.org" for n in range(len(items)))
    if field == "learner":  # the completions API's learner
        return [{**item, field: {"email": email}} for item, email in zip(items, emails, strict=False)]
    return [{**item, field: {"mbox": f"mailto:{email}"}} for item, email in zip(items, emails, strict=False)]


def _post(client: Any, path: str, body: str, headers: dict[str, str]) -> None:
    response = client.post(path, data=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")


def _load_ingest() -> Any:
    """bench/ingest.py (its set-up and statements), importing capcourse from ``PYTHONPATH``'s tree."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
