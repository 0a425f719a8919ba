"""A real third-party LRS for tests: Ralph (ralph-malph), on loopback, storing to files.

Ralph's LRS server needs FastAPI and a pinned click, so it lives in a venv of its
own (``make ralph`` builds ``.venv-ralph``); the tests start and stop it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

RALPH = Path(os.environ.get("CAPCOURSE_RALPH", Path(__file__).resolve().parents[1] / ".venv-ralph" / "bin" / "ralph"))
USER, PASSWORD = "capcourse", "ralph-test-password"
LAUNCHER = Path(__file__).resolve().parent / "ralph_lrs.py"


def require_ralph() -> Path:
    if not RALPH.exists():
        if os.environ.get("CAPCOURSE_REQUIRE_LRS"):
            pytest.fail(f"Ralph not found at {RALPH}: run `make ralph`")
        pytest.skip(f"Ralph not found at {RALPH} (make ralph installs it)")
    return RALPH


@dataclass
class RalphServer:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_AUTH_FILE": str(self.folder / "auth.json"),
            "RALPH_APP_DIR": str(self.folder / "app"),
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.folder / "data"),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(self.folder / "data"),
        }

    def start(self) -> None:
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(RALPH.parent / "python"), str(LAUNCHER), str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = httpx.get(
                    f"{self.endpoint}/statements",
                    auth=(USER, PASSWORD),
                    headers={"X-Experience-API-Version": "1.0.3"},
                    params={"limit": 1},
                    timeout=2,
                )
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Ralph did not start; see {self.folder / 'server.log'}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, 9)  # a crash, not a shutdown: the fault tests mean it
            self.process.wait(timeout=10)
            self.process = None

    def statement_ids(self) -> list[str]:
        """Every statement id Ralph holds, with duplicates if it stored any twice."""
        ids: list[str] = []
        url = f"{self.endpoint}/statements?limit=500"
        while url:
            page = httpx.get(url, auth=(USER, PASSWORD), headers={"X-Experience-API-Version": "1.0.3"}, timeout=10)
            page.raise_for_status()
            body = page.json()
            ids += [s["id"] for s in body["statements"]]
            more = body.get("more")
            url = f"http://127.0.0.1:{self.port}{more}" if more else ""
        return ids


@contextmanager
def ralph(folder: Path) -> Iterator[RalphServer]:
    require_ralph()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    server = RalphServer(folder, free_port())
    subprocess.run(
        [str(RALPH), "auth", "-u", USER, "-p", PASSWORD, "-s", "all", "-M", "mailto:capcourse@example.org", "-w"],
        env=server.env(),
        check=True,
        capture_output=True,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
