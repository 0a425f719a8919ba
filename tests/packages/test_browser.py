"""An author imports a real SCORM 2004 package on the course page, maps a module, and exports it, in Chromium."""

from __future__ import annotations

import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.models import Role
from capcourse.accounts.services import create_user
from capcourse.catalogue.models import Course, Programme
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
from tests.browser import CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import scratch_app
from tests.factories import PASSWORD
from tests.scorm.archives import adl_manifest, package_around

pytestmark = pytest.mark.browser

# An ADL test package with a real organization tree (several SCOs).
SEQUENCING = adl_manifest("SX-02")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, uuid.UUID]]:
    course_id = uuid.uuid4()

    def prepare(session: Session) -> None:
        create_user(session, "author@example.org", "Ada Author", Role.ADMIN, PASSWORD)
        programme = Programme(id=uuid.uuid4(), title="Pathway 1", version=1)
        programme.frameworks = [session.get(Framework, framework_id("frontline-lcf-pathway-1"))]
        session.add(programme)
        session.add(Course(id=course_id, programme=programme, title="Leading supervision", version=1))

    with scratch_app(tmp_path_factory.mktemp("packages"), "packages", prepare) as app, live_server(app) as url:
        yield url, course_id


def test_an_author_imports_a_package_maps_and_exports_it(served: tuple[str, uuid.UUID], tmp_path: Path) -> None:
    url, course_id = served
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    upload = tmp_path / "sx02.zip"
    upload.write_bytes(package_around(SEQUENCING.read_bytes()))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=url, accept_downloads=True)
        page: Any = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill("author@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"/courses/{course_id}")

        page.get_by_label("Package (.zip)").set_input_files(str(upload))
        page.get_by_role("button", name="Import package").click()
        expect(page.get_by_role("heading", name="What the last import did")).to_be_visible()
        expect(page.get_by_text("Modules: 1 created")).to_be_visible()
        page.screenshot(path=str(tmp_path / "imported.png"), full_page=True)

        # The module in the catalogue: map it to an item, then export it.
        page.locator("ul.content-list a").first.click()
        expect(page.locator("p.item-type")).to_contain_text("Module")
        page.get_by_label("Filter").fill("emotional labour")
        page.locator("li.node.match input[type=checkbox]").check()
        page.get_by_role("button", name="Map selected items").click()
        expect(page.locator("ul.chips")).to_contain_text("LCF.EC.1.a")
        with page.expect_download() as download:
            page.get_by_role("link", name="SCORM 2004-4th").click()
        saved = tmp_path / "export.zip"
        download.value.save_as(saved)
        context.close()
        browser.close()

    with zipfile.ZipFile(saved) as archive:
        manifest = scorm.parse_manifest(archive.read("imsmanifest.xml"))
    assert [c.item.rsplit("/", 1)[-1] for c in scorm.competencies(manifest.lom)] == [
        str(item_id("frontline-lcf-pathway-1", "EC.1.a"))
    ]


def test_a_100_mb_package_uploads_from_the_course_page(served: tuple[str, uuid.UUID], tmp_path: Path) -> None:
    """Far past the request cap for forms (16 MiB): the page's upload goes up to the package cap."""
    url, course_id = served
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from tests.scorm.archives import minimal_manifest

    upload = tmp_path / "big.zip"
    with zipfile.ZipFile(upload, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("imsmanifest.xml", minimal_manifest().replace(b'identifier="M"', b'identifier="BIG"'))
        archive.writestr("index.html", b"<html>big</html>")
        with archive.open("media/video.bin", "w") as video:
            for _ in range(100):
                video.write(os.urandom(1 << 20))
    assert upload.stat().st_size > 100 << 20
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=url)
        page: Any = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill("author@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"/courses/{course_id}")
        page.get_by_label("Package (.zip)").set_input_files(str(upload))
        page.get_by_role("button", name="Import package").click()
        expect(page.get_by_role("heading", name="What the last import did")).to_be_visible(timeout=120_000)
        expect(page.locator("dl.meta")).to_contain_text("MiB unpacked")
        context.close()
        browser.close()
