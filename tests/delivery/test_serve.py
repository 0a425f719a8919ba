"""``capcourse serve`` (the last step of ``make run``) really serves, in a process of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import drop_database, make_database

pytestmark = pytest.mark.db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_capcourse_serve_answers_on_its_port(tmp_path: Path) -> None:
    database = make_database(tmp_path, "serve")
    port = free_port()
    environment = {
        **os.environ,
        "CAPCOURSE_DATABASE_URL": database.url,
        "CAPCOURSE_SECRET_KEY": "serve-test",
        "CAPCOURSE_PACKAGE_DIR": str(tmp_path / "packages"),
    }
    if database.schema:
        environment["PGOPTIONS"] = f"-csearch_path={database.schema}"
    command = [str(Path(sys.executable).parent / "capcourse")]
    try:
        subprocess.run([*command, "db", "upgrade"], env=environment, check=True, capture_output=True, timeout=120)
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline, answer = time.monotonic() + 30, None
            while answer is None and time.monotonic() < deadline and server.poll() is None:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/frameworks", timeout=2)
                except httpx.TransportError:
                    time.sleep(0.2)
            assert answer is not None, f"nothing answered; serve printed: {_output(server)}"
            assert answer.status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=10)
            if server.stdout:
                server.stdout.close()
    finally:
        drop_database(database)


def _output(server: subprocess.Popen[bytes]) -> str:
    server.terminate()
    out, _ = server.communicate(timeout=10)
    return out.decode(errors="replace")
