"""A SCORM package played in headless Chromium with scorm-again as the LMS's API, committing to capcourse.

The test plays the LMS: it starts a launch through capcourse's API with an
integration key, serves a player page on another loopback origin that makes
scorm-again the SCORM API (``window.API`` for 1.2, ``window.API_1484_11`` for
2004) with the launch's settings, and opens the package's SCO in a frame. The
learner clicks; capcourse must have recorded the completion and emitted its
statement.

SCORM 1.2 runs scorm-again with the launch's settings (synchronous XHR, the
final commit by ``sendBeacon`` to the capability URL) and
``renderCommonCommitFields``; SCORM 2004 commits with ``fetch``, the token in
an ``Authorization`` header and the flat ``cmi.*`` form, so both commit
endpoints and the body shapes meet a real browser and CORS.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
import xapi
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.catalogue.models import Activity, Course, Module, Programme
from capcourse.extensions import db
from capcourse.records.models import Completion
from scorm import ItemSpec, PackageSpec, ScormVersion, write_package
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app

pytestmark = pytest.mark.browser

SCORM_AGAIN = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "scorm-again" / "dist" / "esm"
T = TypeVar("T")

#: The SCO: finds the API the standard way, reports that the learner started, and on a click
#: sets completion, success, a score and the session time and finishes (the final commit).
SCO_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Check your understanding</title></head>
<body>
  <h1>Check your understanding</h1>
  <p id="status" role="status">Looking for the learning platform…</p>
  <button type="button" id="complete" disabled>Complete the activity</button>
  <script>
  (function () {
    "use strict";
    /* SCORM API discovery: this window and its parents, then the opener's. */
    function search(win, name) {
      for (var hops = 0; win && hops < 10; hops += 1) {
        if (win[name]) { return win[name]; }
        if (win.parent === win) { break; }
        win = win.parent;
      }
      return null;
    }
    function find(name) { return search(window, name) || (window.opener ? search(window.opener, name) : null); }
    var status = document.getElementById("status");
    var button = document.getElementById("complete");
    var api2004 = find("API_1484_11");
    var api12 = api2004 ? null : find("API");
    var started, saved;
    if (api2004) {
      started = api2004.Initialize("");
      api2004.SetValue("cmi.completion_status", "incomplete");
      saved = api2004.Commit("");
    } else if (api12) {
      started = api12.LMSInitialize("");
      api12.LMSSetValue("cmi.core.lesson_status", "incomplete");
      saved = api12.LMSCommit("");
    } else {
      status.textContent = "No learning platform found.";
      return;
    }
    status.textContent = "Started: " + started + "; saved: " + saved;
    button.disabled = false;
    button.addEventListener("click", function () {
      var finished;
      button.disabled = true;
      if (api2004) {
        api2004.SetValue("cmi.score.raw", "90");
        api2004.SetValue("cmi.score.min", "0");
        api2004.SetValue("cmi.score.max", "100");
        api2004.SetValue("cmi.score.scaled", "0.9");
        api2004.SetValue("cmi.completion_status", "completed");
        api2004.SetValue("cmi.success_status", "passed");
        api2004.SetValue("cmi.session_time", "PT1M30S");
        api2004.SetValue("cmi.exit", "normal");
        finished = api2004.Terminate("");
      } else {
        api12.LMSSetValue("cmi.core.score.raw", "90");
        api12.LMSSetValue("cmi.core.score.min", "0");
        api12.LMSSetValue("cmi.core.score.max", "100");
        api12.LMSSetValue("cmi.core.lesson_status", "passed");
        api12.LMSSetValue("cmi.core.session_time", "00:01:30");
        finished = api12.LMSFinish("");
      }
      status.textContent = "Finished: " + finished;
    });
  }());
  </script>
</body>
</html>
"""

#: The LMS's player page: scorm-again as the SCORM API, the SCO in a frame.
PLAYER_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>LMS player</title></head>
<body>
  <h1>LMS player</h1>
  <ul id="events" aria-label="Commit events"></ul>
  <iframe id="content" title="Activity" width="900" height="300"></iframe>
  <script type="application/json" id="settings">{settings}</script>
  <script type="module">
    import {{ {api_class} }} from "./scorm-again/{module}";
    const api = new {api_class}(JSON.parse(document.getElementById("settings").textContent));
    window.{api_global} = api;
    /* Fired for commits sent with fetch (useAsynchronousCommits). */
    for (const name of ["CommitSuccess", "CommitError"]) {{
      api.on(name, () => {{
        const item = document.createElement("li");
        item.textContent = name;
        document.getElementById("events").append(item);
      }});
    }}
    document.getElementById("content").src = {launch_url};
  </script>
</body>
</html>
"""


def require_scorm_again() -> Path:
    """scorm-again's browser builds, or skip (fail in CI, where ``make test`` installs them)."""
    if not (SCORM_AGAIN / "scorm12.js").is_file():
        message = (
            "scorm-again is not installed in tests/js/node_modules: run `make scorm-again` (npm ci --prefix tests/js)"
        )
        if os.environ.get("CAPCOURSE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return SCORM_AGAIN


def build_package(version: ScormVersion) -> bytes:
    """The SCORM package the learner plays: one SCO, mastery score 80 %.

    The one place that makes the package: when capcourse exports its own
    (a module's simple launch page), this returns that export instead.
    """
    spec = PackageSpec(
        identifier="capcourse-launch-test",
        title="Reflective supervision",
        items=(
            ItemSpec(identifier="ITEM-1", title="Check your understanding", href="sco/index.html", mastery_score=0.8),
        ),
    )
    buffer = io.BytesIO()
    write_package(spec, buffer, {"sco/index.html": SCO_PAGE.encode()}, version)
    return buffer.getvalue()


def unpack(package: bytes, folder: Path) -> scorm.Item:
    """What an LMS does with an uploaded package: open it safely, extract it, find the SCO to launch."""
    folder.mkdir()
    with scorm.open_package(io.BytesIO(package)) as opened:
        manifest = opened.manifest()
        opened.extract(folder)
    organization = manifest.default_organization
    assert organization is not None
    return next(item for item in organization.walk() if item.launch_url)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free loopback port (the LMS's origin); yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def wait_for(check: Callable[[], T | None], what: str, seconds: float = 20) -> T:
    """Poll ``check`` until it gives something (a commit's request runs after the click returns)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


@dataclass
class Served:
    app: Flask
    url: str
    key: str
    activity_id: str
    module_id: str
    #: An author's key, for exporting the module.
    author_key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Say what is missing before building a database for nothing.
    require_chromium()
    require_scorm_again()
    made: dict[str, str] = {}

    def prepare(session: Session) -> None:
        programme = Programme(title="Pathway 1, 2026 cohort")
        course = Course(programme=programme, title="Leading supervision")
        module = Module(course=course, title="Reflective supervision")
        activity = Activity(module=module, title="Check your understanding")
        session.add_all([programme, course, module, activity])
        session.flush()
        made["activity_id"], made["module_id"] = str(activity.id), str(module.id)
        made["key"] = create_api_key(session, "Moodle", Role.INTEGRATION)[1]
        made["author_key"] = create_api_key(session, "Exports", Role.ADMIN)[1]

    with scratch_app(tmp_path_factory.mktemp("launches"), "launches", prepare) as app, live_server(app) as url:
        # The launch's commit URL and the statements' IRIs name the address capcourse is served on.
        app.config["CAPCOURSE_BASE_URL"] = url
        yield Served(app, url, made["key"], made["activity_id"], made["module_id"], made["author_key"])


@pytest.mark.parametrize("version", [ScormVersion.SCORM_12, ScormVersion.SCORM_2004_4TH], ids=["1.2", "2004"])
def test_a_learner_completes_a_package_and_capcourse_records_it(
    served: Served, tmp_path: Path, version: ScormVersion
) -> None:
    executable = require_chromium()
    scripts = require_scorm_again()
    from playwright.sync_api import expect, sync_playwright

    # The LMS unpacks the package and starts a launch for the learner.
    site = tmp_path / "lms"
    site.mkdir()
    sco = unpack(build_package(version), site / "package")
    assert sco.passing_score == 0.8
    lms = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.url, headers=lms) as api:
        response = api.post(
            "/api/v1/launches",
            json={
                "learner": {"email": "ada.learner@example.org", "name": "Ada Learner"},
                "activity": served.activity_id,
                "passing_score": sco.passing_score,
            },
        )
        assert response.status_code == 201, response.text
        launch = response.json()

    settings: dict[str, Any] = dict(launch["scorm_again"])
    if version.is_2004:
        settings.update(
            lmsCommitUrl=launch["bearer_commit_url"],
            xhrHeaders={"Authorization": f"Bearer {launch['token']}"},
            useAsynchronousCommits=True,
            asyncModeBeaconBehavior="never",
            dataCommitFormat="flattened",
        )
        api_class, module, api_global = "Scorm2004API", "scorm2004.js", "API_1484_11"
    else:
        # The launch's settings as they come, and the summary fields some LMSs ask for.
        settings.update(renderCommonCommitFields=True)
        api_class, module, api_global = "Scorm12API", "scorm12.js", "API"
    (site / "scorm-again").mkdir()
    shutil.copy(scripts / module, site / "scorm-again" / module)
    player = PLAYER_PAGE.format(
        settings=json.dumps(settings).replace("</", "<\\/"),
        api_class=api_class,
        module=module,
        api_global=api_global,
        launch_url=json.dumps(f"package/{sco.launch_url}"),
    )
    (site / "player.html").write_text(player, encoding="utf-8")

    console: list[str] = []
    with static_server(site) as lms_site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(f"{lms_site}/player.html")
        frame = page.frame_locator("#content")
        # The intermediate commit went through: scorm-again took capcourse's answer as success.
        expect(frame.locator("#status")).to_have_text("Started: true; saved: true")
        frame.get_by_role("button", name="Complete the activity").click()
        expect(frame.locator("#status")).to_have_text("Finished: true")

        with httpx.Client(base_url=served.url, headers=lms) as api:

            def recorded() -> dict[str, Any] | None:
                status = api.get(f"/api/v1/launches/{launch['id']}").json()
                return status if status["completions"] else None

            status = wait_for(recorded, f"the completion (browser console: {console})")
            if version.is_2004:
                # Commits by fetch report their result as events: both commits succeeded.
                expect(page.locator("#events li")).to_have_text(["CommitSuccess", "CommitSuccess"])
            browser.close()

            assert status["commits"] == 2 and status["outcome"] == "passed", status
            (completion,) = status["completions"]
            assert completion["outcome"] == "passed" and completion["success"] is True
            assert (completion["score_scaled"], completion["score_raw"]) == (0.9, 90)
            assert completion["duration_seconds"] == 90

            # The statement is in capcourse's store, in the launch's registration.
            found = api.get(
                "/xapi/statements",
                params={"registration": launch["registration"]},
                headers={"X-Experience-API-Version": "1.0.3"},
            )
            assert found.status_code == 200, found.text
            statements = [s for s in found.json()["statements"] if s["verb"]["id"] == xapi.PASSED.id]
            (statement,) = statements
            assert statement["id"] == completion["statement_id"]
            assert xapi.validate_statement(statement) == []
            assert statement["object"]["id"] == f"{served.url}/activities/{served.activity_id}"
            assert statement["actor"]["mbox"] == "mailto:ada.learner@example.org"
            assert statement["result"]["score"] == {"scaled": 0.9, "raw": 90.0, "min": 0.0, "max": 100.0}
            assert statement["result"]["duration"] == "PT1M30S"

    with served.app.app_context(), Session(db.engine) as session:
        stored = session.scalar(select(Completion).where(Completion.id == uuid.UUID(completion["id"])))
        assert stored is not None
        assert (stored.source, stored.idempotency_key) == ("scorm", f"scorm:{launch['id']}:passed")


@pytest.mark.parametrize("version", ["1.2", "2004-4th"])
def test_an_exported_module_played_in_an_lms_records_a_completion(served: Served, tmp_path: Path, version: str) -> None:
    """capcourse's own export (the simple launch page of an activity without content), played by scorm-again."""
    executable = require_chromium()
    scripts = require_scorm_again()
    from playwright.sync_api import expect, sync_playwright

    with httpx.Client(base_url=served.url) as api:
        exported = api.get(
            f"/api/v1/modules/{served.module_id}/scorm",
            params={"version": version},
            headers={"Authorization": f"Bearer {served.author_key}"},
        )
        assert exported.status_code == 200, exported.text
        launch = api.post(
            "/api/v1/launches",
            json={
                "learner": {"email": "ben.learner@example.org", "name": "Ben Learner"},
                "activity": served.activity_id,
            },
            headers={"Authorization": f"Bearer {served.key}"},
        ).json()
    site = tmp_path / "lms"
    site.mkdir()
    sco = unpack(exported.content, site / "package")
    api_class, module, api_global = (
        ("Scorm12API", "scorm12.js", "API") if version == "1.2" else ("Scorm2004API", "scorm2004.js", "API_1484_11")
    )
    (site / "scorm-again").mkdir()
    shutil.copy(scripts / module, site / "scorm-again" / module)
    (site / "player.html").write_text(
        PLAYER_PAGE.format(
            # The launch's settings exactly as capcourse gives them to the LMS.
            settings=json.dumps(launch["scorm_again"]).replace("</", "<\\/"),
            api_class=api_class,
            module=module,
            api_global=api_global,
            launch_url=json.dumps(f"package/{sco.launch_url}"),
        ),
        encoding="utf-8",
    )
    with static_server(site) as lms_site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.goto(f"{lms_site}/player.html")
        frame = page.frame_locator("#content")
        expect(frame.get_by_role("heading", level=1)).to_have_text("Check your understanding")
        frame.get_by_role("button", name="I have completed this activity").click()
        expect(frame.locator("#status")).to_have_text("Recorded as completed: your learning platform accepted it.")

        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {served.key}"}) as api:

            def recorded() -> dict[str, Any] | None:
                status = api.get(f"/api/v1/launches/{launch['id']}").json()
                return status if status["completions"] else None

            status = wait_for(recorded, "the completion of the exported package")
            browser.close()
            (completion,) = status["completions"]
            # The launch page reports completion only: success unknown, not success.
            assert (completion["outcome"], completion["success"]) == ("completed", None)
            found = api.get(
                "/xapi/statements",
                params={"registration": launch["registration"]},
                headers={"X-Experience-API-Version": "1.0.3"},
            ).json()["statements"]
            (statement,) = [s for s in found if s["verb"]["id"] == xapi.COMPLETED.id]
            assert statement["id"] == completion["statement_id"]
            assert xapi.validate_statement(statement) == []
            assert statement["actor"]["mbox"] == "mailto:ben.learner@example.org"
