"""What docs/deployment.md promises of the running units, checked inside the booted container.

Run as root with /srv/capcourse/venv/bin/python after install.sh. Each check prints
one line, ``ok`` or ``FAIL``, with what it saw; the exit status is the number of
failures. Checks: both web instances ready; both delivery workers running; nginx
spreading requests over both instances; completions posted through nginx
delivered to an LRS exactly once; the upgrade's ``systemctl restart capcourse-migrate``
leaving every instance running; restarting the instances in turn without losing a
request through nginx; ``systemctl reload`` restarting workers without
losing a request; ``systemctl restart``; a killed web instance, web worker or
delivery worker started again; nginx failing over while an instance is stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

SITE = "https://capcourse.example.ac.uk"
CERTIFICATE = "/etc/ssl/capcourse/fullchain.pem"
WEB = ("capcourse-web@8001", "capcourse-web@8002")
DELIVERY = ("capcourse-delivery@1", "capcourse-delivery@2")
ENV_FILE = "/etc/capcourse/capcourse.env"
failures: list[str] = []


def report(name: str, ok: bool, seen: object) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {seen}", flush=True)
    if not ok:
        failures.append(name)


def sh(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def main_pid(unit: str) -> int:
    return int(sh("systemctl", "show", "-P", "MainPID", unit) or 0)


def children(pid: int) -> set[int]:
    return {int(p) for p in sh("pgrep", "-P", str(pid)).split()}


def site(path: str, **kwargs: Any) -> httpx.Response:
    """A request through nginx on this machine, as a browser of the public address would send it."""
    with httpx.Client(verify=CERTIFICATE, timeout=30) as client:
        return client.request(kwargs.pop("method", "GET"), SITE + path, **kwargs)


def wait_ready(port: int, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False


def capcourse(*arguments: str) -> str:
    """``capcourse`` as the service user with the units' settings, as the doc's step 5 runs it."""
    command = [
        *("systemd-run", "--quiet", "--wait", "--pipe", "--uid=capcourse", "--gid=capcourse"),
        *("-p", f"EnvironmentFile={ENV_FILE}", "-p", "WorkingDirectory=/srv/capcourse"),
        "/srv/capcourse/venv/bin/capcourse",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def check_no_secret_in_journal() -> None:
    """The settings' secret key appears in no log line (the journal keeps sudo's command lines, for one)."""
    with open(ENV_FILE) as lines:
        key = next(line.split("=", 1)[1].strip() for line in lines if line.startswith("CAPCOURSE_SECRET_KEY="))
    journal = sh("journalctl", "-q", "-o", "cat", "--no-pager")
    report(
        "the secret key is in no journal line", len(key) > 20 and key not in journal, f"{len(journal)} characters read"
    )


class RecordingLrs(ThreadingHTTPServer):
    """The LRS of the settings (127.0.0.1:9000): keeps the id of every statement it is sent, copies included."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 9000), _Handler)
        self.received: list[str] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: RecordingLrs

    def _answer(self, status: int, body: Any = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("X-Experience-API-Version", "1.0.3")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")

    def do_POST(self) -> None:
        body = self._body()
        ids = [str(s["id"]) for s in (body if isinstance(body, list) else [body])]
        with self.server.lock:
            self.server.received.extend(ids)
        self._answer(200, ids)

    def do_PUT(self) -> None:
        self._body()
        with self.server.lock:
            self.server.received.append(parse_qs(urlparse(self.path).query)["statementId"][0])
        self._answer(204)

    def do_GET(self) -> None:
        self._answer(404, {"message": "not kept"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


def check_running() -> None:
    for port in (8001, 8002):
        report(f"capcourse-web@{port} answers /readyz", wait_ready(port, 60), f"127.0.0.1:{port}/readyz")
    for unit in (*WEB, *DELIVERY, "capcourse-lti-scores"):
        state = sh("systemctl", "is-active", unit)
        report(f"{unit} active", state == "active", f"{state}, pid {main_pid(unit)}")
    report("through nginx: /readyz", site("/readyz").status_code == 200, site("/readyz").status_code)


def check_balancing() -> None:
    ids = [site("/healthz").headers.get("X-Request-ID", "") for _ in range(40)]
    served = {}
    for unit in WEB:
        log = sh("journalctl", "-q", "-o", "cat", "-u", unit, "--since", "-5min")
        served[unit] = sum(1 for i in ids if i and i in log)
    report("nginx spreads requests over both instances", all(served.values()) and sum(served.values()) == 40, served)


def check_exactly_once(lrs: RecordingLrs) -> None:
    capcourse("demo", "load", "--if-empty", "--learners", "8")
    key = capcourse("keys", "create", "--name", "deployment check", "--role", "integration", "--all-programmes")
    key = key.split()[-1] if key else ""
    activities = sh(
        "sudo", "-u", "postgres", "psql", "-At", "capcourse", "-c", "SELECT id FROM activities ORDER BY id LIMIT 10"
    ).split()
    query = "SELECT id FROM statements WHERE origin = 'emitted'"
    before = set(sh("sudo", "-u", "postgres", "psql", "-At", "capcourse", "-c", query).split())
    told: list[str] = []
    errors: list[str] = []

    def client(n: int) -> None:
        for batch in range(10):
            body = {
                "completions": [
                    {
                        "learner": {"email": f"client{n}-learner{i}@example.org"},
                        "activity": f"{SITE}/activities/{activities[(batch + i) % len(activities)]}",
                        "outcome": "passed",
                        "success": True,
                        "timestamp": datetime(2026, 11, 30, 9, batch, i, tzinfo=UTC).isoformat(),
                        "idempotency_key": str(uuid.uuid4()),
                    }
                    for i in range(5)
                ]
            }
            try:
                response = site(
                    "/api/v1/completions", method="POST", json=body, headers={"Authorization": f"Bearer {key}"}
                )
            except httpx.HTTPError as error:
                errors.append(repr(error))
                continue
            if response.status_code >= 300:
                errors.append(f"{response.status_code} {response.text[:300]}")
                continue
            for result in response.json()["results"]:
                told.extend(result["statement_ids"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report("completions posted through nginx", not errors and len(told) >= 200, errors[:3] or f"{len(told)} statements")
    emitted = set(sh("sudo", "-u", "postgres", "psql", "-At", "capcourse", "-c", query).split()) - before
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not set(lrs.received) >= emitted:
        time.sleep(0.5)
    time.sleep(3)  # a last moment for any duplicate still in flight
    counts = Counter(i for i in lrs.received if i not in before)
    duplicates = sum(1 for c in counts.values() if c > 1)
    states = sh(
        "sudo", "-u", "postgres", "psql", "-At", "capcourse", "-c", "SELECT state, count(*) FROM outbox GROUP BY state"
    )
    report(
        "every emitted statement delivered exactly once by the two workers",
        set(counts) == emitted and not duplicates and emitted,
        f"{len(emitted)} emitted, {sum(counts.values())} received, {len(set(counts))} distinct, {duplicates} sent twice; outbox {states!r}",
    )


def check_reload() -> None:
    unit, port = WEB[0], 8001
    before, workers = main_pid(unit), children(main_pid(unit))
    answers: list[int | str] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    answers.append(client.get(f"http://127.0.0.1:{port}/readyz").status_code)
                except httpx.TransportError as error:
                    answers.append(type(error).__name__)

    runner = threading.Thread(target=traffic)
    runner.start()
    time.sleep(1)
    subprocess.run(["systemctl", "reload", unit], check=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (children(before) & workers or len(children(before)) < len(workers)):
        time.sleep(0.5)
    time.sleep(2)
    stop.set()
    runner.join()
    bad = [a for a in answers if a != 200]
    report(
        f"systemctl reload {unit}: same main process, new workers, no request lost",
        main_pid(unit) == before and not children(before) & workers and not bad and len(answers) > 10,
        f"main process {before}->{main_pid(unit)}, workers {sorted(workers)}->{sorted(children(before))}, "
        f"{len(answers)} requests, {len(bad)} not 200 {bad[:3]}",
    )


def check_upgrade() -> None:
    """The doc's upgrade starts with `systemctl restart capcourse-migrate`: it must leave every instance running."""
    units = (*WEB, *DELIVERY, "capcourse-lti-scores")
    before = {unit: main_pid(unit) for unit in units}
    subprocess.run(["systemctl", "restart", "capcourse-migrate"], check=True)
    after = {unit: main_pid(unit) for unit in units}
    report("systemctl restart capcourse-migrate leaves the instances running", before == after, f"{before} -> {after}")


def check_rolling_restart() -> None:
    """The doc's upgrade: `systemctl restart` one instance at a time, while requests keep coming through nginx."""
    answers: list[int | str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                answers.append(site("/readyz").status_code)
            except httpx.HTTPError as error:
                answers.append(type(error).__name__)

    runner = threading.Thread(target=traffic)
    runner.start()
    # nginx keeps a server it saw refuse connections out of rotation for fail_timeout, ready or not:
    # the doc waits that long before the next instance (without it, "no live upstreams": 502s).
    with open("/etc/nginx/sites-enabled/capcourse.conf") as conf:
        fail_timeout = max(int(seconds) for seconds in re.findall(r"fail_timeout=(\d+)s", conf.read()))
    ready = []
    for unit, port in zip(WEB, (8001, 8002), strict=True):
        subprocess.run(["systemctl", "restart", unit], check=True)
        ready.append(wait_ready(port))
        time.sleep(fail_timeout + 1)
    stop.set()
    runner.join()
    bad = [a for a in answers if a != 200]
    report(
        "upgrade: systemctl restart of each instance in turn, no request through nginx lost",
        all(ready) and not bad and len(answers) > 10,
        f"{len(answers)} requests, {len(bad)} not 200 {bad[:3]}; {fail_timeout + 1} s between instances",
    )


def check_restart() -> None:
    unit = WEB[1]
    before = main_pid(unit)
    subprocess.run(["systemctl", "restart", unit], check=True)
    ready = wait_ready(8002)
    report(
        f"systemctl restart {unit}",
        ready and main_pid(unit) not in (0, before),
        f"pid {before}->{main_pid(unit)}, ready {ready}",
    )


def check_killed(unit: str, port: int | None, wait: float) -> None:
    before = main_pid(unit)
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and main_pid(unit) in (0, before):
        time.sleep(0.5)
    ready = wait_ready(port) if port else sh("systemctl", "is-active", unit) == "active"
    after = main_pid(unit)
    report(f"kill -9 {unit}: systemd starts it again", after not in (0, before) and ready, f"pid {before}->{after}")


def check_worker_killed() -> None:
    main = main_pid(WEB[0])
    workers = children(main)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (victim in children(main) or len(children(main)) < len(workers)):
        time.sleep(0.5)
    report(
        "kill -9 a web worker: Granian's main process starts another",
        main_pid(WEB[0]) == main and victim not in children(main) and len(children(main)) == len(workers),
        f"workers {sorted(workers)}->{sorted(children(main))}",
    )


def check_failover() -> None:
    subprocess.run(["systemctl", "stop", WEB[0]], check=True)
    statuses = Counter(site("/readyz").status_code for _ in range(20))
    subprocess.run(["systemctl", "start", WEB[0]], check=True)
    report(f"nginx with {WEB[0]} stopped", statuses == Counter({200: 20}), dict(statuses))
    report(f"{WEB[0]} started again", wait_ready(8001), sh("systemctl", "is-active", WEB[0]))


def main() -> int:
    if sys.argv[1:] == ["after-reboot"]:
        check_running()
        return len(failures)
    lrs = RecordingLrs()
    threading.Thread(target=lrs.serve_forever, daemon=True).start()
    check_running()
    check_balancing()
    check_exactly_once(lrs)
    if sys.argv[1:] == ["delivery"]:
        return len(failures)
    check_upgrade()
    check_rolling_restart()
    check_reload()
    check_restart()
    check_worker_killed()
    check_killed(WEB[1], 8002, 60)
    check_killed(DELIVERY[0], None, 60)
    check_failover()
    check_no_secret_in_journal()
    print(f"{len(failures)} failed: {failures}" if failures else "all checks passed", flush=True)
    return len(failures)


if __name__ == "__main__":
    sys.exit(main())
