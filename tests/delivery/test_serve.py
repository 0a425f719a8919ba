"""``capcourse serve`` (the last step of ``make run``) really serves, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import drop_database, free_port, make_database

pytestmark = pytest.mark.db


def test_capcourse_serve_answers_with_granian_and_runs_one_process_per_background_worker(tmp_path: Path) -> None:
    database = make_database(tmp_path, "serve")
    port = free_port()
    environment = {
        **os.environ,
        "CAPCOURSE_DATABASE_URL": database.url,
        "CAPCOURSE_SECRET_KEY": "serve-test",
        "CAPCOURSE_PACKAGE_DIR": str(tmp_path / "packages"),
        # Nothing listens there: the delivery worker just retries, which is all this test needs.
        "CAPCOURSE_LRS_ENDPOINT": f"http://127.0.0.1:{free_port()}/xapi",
    }
    if database.schema:
        environment["PGOPTIONS"] = f"-csearch_path={database.schema}"
    command = [str(Path(sys.executable).parent / "capcourse")]
    try:
        subprocess.run([*command, "db", "upgrade"], env=environment, check=True, capture_output=True, timeout=120)
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        delivery_pid = scores_pid = None
        try:
            # The web workers import the app: on a busy machine (CI shares its cores) that takes long.
            deadline, answer = time.monotonic() + 120, None
            while answer is None and time.monotonic() < deadline and server.poll() is None:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/frameworks", timeout=2)
                except httpx.TransportError:
                    time.sleep(0.2)
            assert answer is not None, f"nothing answered; serve printed: {_output(server)}"
            assert answer.status_code == 200
            assert answer.headers["Server"] == "granian"
            children = _children(server.pid)
            delivery = [pid for pid, line in children.items() if "delivery run" in line]
            assert len(delivery) == 1, children  # one delivery process, not one per web worker
            scores = [pid for pid, line in children.items() if "lti scores run" in line]
            assert len(scores) == 1, children  # one poster of LMS gradebook scores
            delivery_pid, scores_pid = delivery[0], scores[0]
            assert len(children) == 4, children  # and two web workers
        finally:
            server.terminate()
            server.wait(timeout=40)
            if server.stdout:
                server.stdout.close()
        # Stopping the server stops its background workers too.
        assert delivery_pid is not None and not Path(f"/proc/{delivery_pid}").exists()
        assert scores_pid is not None and not Path(f"/proc/{scores_pid}").exists()
    finally:
        drop_database(database)


def _children(pid: int) -> dict[int, str]:
    """Child processes of ``pid`` with their command lines (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
    return found


def _output(server: subprocess.Popen[bytes]) -> str:
    server.terminate()
    out, _ = server.communicate(timeout=10)
    return out.decode(errors="replace")
