"""Learning Locker's statement service, a real third-party LRS for tests, on loopback.

``make learning-locker`` installs the npm package ``xapi-statements`` (Learning
Locker's xAPI statement service, GPL-3.0; run, never copied) into
``.learning-locker/``. Started with in-memory models and test auth and events it
needs neither MongoDB nor Redis; it accepts any Basic credentials. It listens on
every interface by itself, so ``scripts/loopback.js`` is preloaded to bind
it to 127.0.0.1, on a free port picked at run time.

Being in memory, a restarted service holds nothing of what it held before.

Use the ``learning_locker`` fixture, or :func:`learning_locker` as a context
manager. Without Node.js or the package the tests are skipped with a note
(``CAPCOURSE_REQUIRE_LRS=1``, set by CI, fails them instead).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVICE = Path(
    os.environ.get(
        "CAPCOURSE_LEARNING_LOCKER",
        ROOT / ".learning-locker" / "node_modules" / "xapi-statements" / "dist" / "server.js",
    )
)
PRELOAD = Path(__file__).resolve().parents[1] / "scripts" / "loopback.js"
USER, PASSWORD = "capcourse", "learning-locker-test-password"
HEADERS = {"X-Experience-API-Version": "1.0.3"}


def require_learning_locker() -> tuple[str, Path]:
    """``node`` and the service's entry point, or a skip (a failure in CI) saying what is missing."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js (node) is not installed"
    elif not SERVICE.exists():
        missing = f"Learning Locker's statement service is not at {SERVICE}: run `make learning-locker`"
    if missing:
        if os.environ.get("CAPCOURSE_REQUIRE_LRS"):
            pytest.fail(missing)
        pytest.skip(missing)
    assert node is not None
    return node, SERVICE


@dataclass
class LearningLockerServer:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The LRS endpoint setting (statements are at ``…/xAPI/statements``)."""
        return f"http://127.0.0.1:{self.port}/xAPI"

    def start(self) -> None:
        node, service = require_learning_locker()
        (self.folder / "storage").mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "MODELS_REPO": "memory",
            "AUTH_REPO": "test",
            "EVENTS_REPO": "test",
            "STORAGE_REPO": "local",
            "FS_LOCAL_STORAGE_DIR": str(self.folder / "storage"),
            "EXPRESS_PORT": str(self.port),
        }
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [node, "-r", str(PRELOAD), str(service)],
            env=environment,
            cwd=self.folder,  # it writes access logs under ./storage whatever the settings say
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                response = httpx.get(
                    f"{self.endpoint}/statements",
                    auth=(USER, PASSWORD),
                    headers=HEADERS,
                    params={"limit": 1},
                    timeout=2,
                )
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Learning Locker did not start; see {self.folder / 'server.log'}")

    def stop(self) -> None:
        """SIGKILL: a crash, not a shutdown (the fault tests mean it)."""
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def statement_ids(self) -> list[str]:
        """Every statement id the service holds, with duplicates if it stored any twice."""
        ids: list[str] = []
        url = f"{self.endpoint}/statements?limit=100"
        while url:
            page = httpx.get(url, auth=(USER, PASSWORD), headers=HEADERS, timeout=10)
            page.raise_for_status()
            body = page.json()
            ids += [s["id"] for s in body["statements"]]
            more = body.get("more")
            url = f"http://127.0.0.1:{self.port}{more}" if more else ""
        return ids


@contextmanager
def learning_locker(folder: Path) -> Iterator[LearningLockerServer]:
    """A started service on a free loopback port; killed on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    server = LearningLockerServer(folder, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def learning_locker_server(tmp_path: Path) -> Iterator[LearningLockerServer]:
    """Learning Locker's statement service for one test."""
    with learning_locker(tmp_path / "learning-locker") as server:
        yield server
