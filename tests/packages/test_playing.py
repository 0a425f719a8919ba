"""Real packages, imported and exported by capcourse in both SCORM versions, played in Chromium under scorm-again.

The test is the LMS: it imports each of the golf examples (../shared/fixtures/scorm/real)
into capcourse, exports it as SCORM 2004 4th Edition and as 1.2, unpacks the export, starts
a launch for a learner, and plays the SCO in a player page whose SCORM API is scorm-again
(``Scorm2004API`` or ``Scorm12API``, with the launch's settings). The learner pages through
to the end; capcourse must record a completion. Content exported as the other version
(2004 content as 1.2, 1.2 content as 2004) runs through capcourse's run-time adapter, so
these runs are the conversion's test too.

The golf examples whose resources are assets (ContentPackagingOneFilePerSCO) never call a
SCORM API: nothing can report their completion, so the test only checks they open.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_api_key
from capcourse.catalogue.models import Course, Programme
from capcourse.extensions import db
from capcourse.packages.models import ContentPackage, PackageItem
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.launches.test_browser import PLAYER_PAGE, require_scorm_again, static_server, wait_for
from tests.shared import needs_shared, shared_params

pytestmark = [pytest.mark.browser, needs_shared("fixtures/scorm/real")]

PACKAGES = shared_params("fixtures/scorm/real", "*.zip")
#: The SCO each package is played through: one that pages to its end and reports (not a test to answer).
PREFERRED = ("playing_item", "item_1")


@dataclass
class Served:
    url: str
    admin: dict[str, str]
    lms: dict[str, str]
    courses: dict[str, str]
    app: Any


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_chromium()
    require_scorm_again()
    made: dict[str, Any] = {"courses": {}}

    def prepare(session: Session) -> None:
        programme = Programme(title="Golf, for everyone")
        session.add(programme)
        for path in PACKAGES:
            name = getattr(path, "name", "none")
            course = Course(programme=programme, title=name)
            session.add(course)
            session.flush()
            made["courses"][name] = str(course.id)
        made["admin"] = create_api_key(session, "Author", Role.ADMIN)[1]
        made["lms"] = create_api_key(session, "LMS", Role.INTEGRATION)[1]

    with scratch_app(tmp_path_factory.mktemp("playing"), "playing", prepare) as app, live_server(app) as url:
        app.config["CAPCOURSE_BASE_URL"] = url
        yield Served(
            url,
            {"Authorization": f"Bearer {made['admin']}"},
            {"Authorization": f"Bearer {made['lms']}"},
            made["courses"],
            app,
        )


def chosen_sco(served: Served, course_id: str) -> tuple[str, str | None]:
    """(activity id, item identifier) of the SCO to play; the item is None when the package has only assets."""
    with served.app.app_context(), Session(db.engine) as session:
        entries = session.scalars(
            select(PackageItem)
            .join(ContentPackage)
            .where(ContentPackage.course_id == uuid.UUID(course_id), PackageItem.activity_id.is_not(None))
            .order_by(PackageItem.position)
        ).all()
        scos = [(str(e.activity_id), e.item_identifier) for e in entries if e.scorm_type == "sco"]
        if not scos:
            return str(entries[0].activity_id), None
        for preferred in PREFERRED:
            for sco in scos:
                if sco[1] == preferred:
                    return sco
        return scos[0]


def export_of(served: Served, path: Path, version: str) -> bytes:
    """The package imported into its course (again: a new revision), and the course exported as ``version``."""
    course = served.courses[path.name]
    with httpx.Client(base_url=served.url, headers=served.admin, timeout=60) as api:
        imported = api.post(
            f"/api/v1/courses/{course}/packages",
            files={"file": (path.name, path.read_bytes(), "application/zip")},
        )
        assert imported.status_code == 201, imported.text
        exported = api.get(f"/api/v1/courses/{course}/scorm", params={"version": version})
        assert exported.status_code == 200, exported.text
        return exported.content


def lms_site(site: Path, package: bytes, identifier: str | None, version: str, launch: dict[str, Any]) -> str:
    """Unpack the package as an LMS would and write the player page; the SCO's launch URL."""
    folder = site / "package"
    folder.mkdir(parents=True)
    with scorm.open_package(io.BytesIO(package)) as opened:
        manifest = opened.manifest()
        opened.extract(folder)
    organization = manifest.default_organization
    assert organization is not None
    items = [item for item in organization.walk() if item.launch_url]
    item = next((i for i in items if i.identifier == identifier), items[0])
    assert item.launch_url is not None
    scripts = require_scorm_again()
    api_class, module, api_global = (
        ("Scorm12API", "scorm12.js", "API") if version == "1.2" else ("Scorm2004API", "scorm2004.js", "API_1484_11")
    )
    (site / "scorm-again").mkdir()
    shutil.copy(scripts / module, site / "scorm-again" / module)
    (site / "player.html").write_text(
        PLAYER_PAGE.format(
            settings=json.dumps(launch["scorm_again"]).replace("</", "<\\/"),
            api_class=api_class,
            module=module,
            api_global=api_global,
            launch_url=json.dumps(f"package/{item.launch_url}"),
        ),
        encoding="utf-8",
    )
    return item.launch_url


def page_through(page: Any, seconds: float = 30) -> int:
    """Click every enabled "Next" button in any frame until there is none; how many clicks."""
    clicks = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        clicked = False
        for frame in page.frames:
            button = frame.locator("#butNext")
            try:
                if button.count() and button.first.is_enabled():
                    button.first.click()
                    clicks += 1
                    clicked = True
                    break
            except Exception:
                continue
        if not clicked:
            if clicks:
                return clicks
            time.sleep(0.3)  # the content is still loading
            if time.monotonic() > deadline - seconds + 5:
                return clicks
        else:
            time.sleep(0.3)
    return clicks


@pytest.mark.parametrize("version", ["2004-4th", "1.2"])
@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: getattr(p, "name", str(p)))
def test_a_real_package_exported_in_either_version_plays_and_reports_a_completion(
    served: Served, tmp_path: Path, path: Path, version: str
) -> None:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    package = export_of(served, path, version)
    activity_id, identifier = chosen_sco(served, served.courses[path.name])
    with httpx.Client(base_url=served.url, headers=served.lms) as api:
        response = api.post(
            "/api/v1/launches",
            json={"learner": {"email": f"{uuid.uuid4().hex[:8]}@example.org"}, "activity": activity_id},
        )
        assert response.status_code == 201, response.text
        launch = response.json()
    launch_url = lms_site(tmp_path / "lms", package, identifier, version, launch)

    console: list[str] = []
    with static_server(tmp_path / "lms") as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{site}/player.html")
        page.wait_for_load_state("networkidle")
        if identifier is None:
            # Assets only: the content opens, and nothing (rightly) reports a completion.
            assert any(frame.url.endswith(launch_url.split("?")[0]) for frame in page.frames), launch_url
            browser.close()
            return
        page_through(page)
        # Leaving the content ends the attempt (Terminate / LMSFinish in its unload handler).
        page.evaluate("document.getElementById('content').src = 'about:blank'")
        with httpx.Client(base_url=served.url, headers=served.lms) as api:

            def recorded() -> dict[str, Any] | None:
                status = api.get(f"/api/v1/launches/{launch['id']}").json()
                return status if status["completions"] else None

            try:
                status = wait_for(recorded, f"a completion from {launch_url}", seconds=30)
            except BaseException:
                last = api.get(f"/api/v1/launches/{launch['id']}").json()
                pytest.fail(f"no completion from {launch_url}: launch {last}; console {console[-10:]}")
        browser.close()
    (completion, *_) = status["completions"]
    assert completion["outcome"] in {"completed", "passed"}, status
