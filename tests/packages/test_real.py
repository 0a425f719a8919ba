"""Real packages (Rustici's golf examples, ../shared/fixtures/scorm/real): import, map, export in both versions.

Every export must validate against ADL's XSDs, launch every SCO at the URL the
original did (query strings and parameters included), keep what the target
version can express (sequencing, objectives, unlisted files …) and name the rest
in its report; imported again, it restores the mappings.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items, mappings_of
from capcourse.packages import exporting, importing
from capcourse.packages.settings import settings_from
from tests import factories
from tests.shared import needs_shared, shared_params, shared_path

pytestmark = [pytest.mark.db, needs_shared("fixtures/scorm/real")]

PACKAGES = shared_params("fixtures/scorm/real", "*.zip")
MC_2_A = item_id("frontline-lcf-pathway-1", "MC.2.a")
IMSSS = "{http://www.imsglobal.org/xsd/imsss}"


def _real(name: str) -> Path:
    return shared_path("fixtures", "scorm", "real", name)


@pytest.fixture(scope="module")
def validators() -> dict[str, scorm.ManifestSchema]:
    standards = shared_path("standards", "scorm")
    return {"2004-4th": scorm.ManifestSchema(standards / "2004-4th"), "1.2": scorm.ManifestSchema(standards / "1.2")}


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    return {"course": course, "author": principal_for_user(author)}


def launches(manifest: scorm.Manifest) -> dict[str, str]:
    """Every launchable item's launch URL, by item identifier (through the version adapter: the content's)."""
    organization = importing.chosen_organization(manifest)[0]
    assert organization is not None
    return {item.identifier: content_url(item.launch_url) for item in organization.walk() if item.launch_url}


def content_url(url: str) -> str:
    """The URL the content opens at: the adapter's ``launch`` with the other parameters it passes on."""
    if not url.startswith(exporting.ADAPTER_PAGE + "?"):
        return url
    query = parse_qs(urlsplit(url).query)
    launch = unquote(query.pop("capcourse_launch")[0])
    query.pop("capcourse_api")
    extra = urlencode([(k, v) for k, values in query.items() for v in values])
    return launch + (("&" if "?" in launch else "?") + extra if extra else "")


def sequencing_count(manifest_xml: bytes) -> int:
    from lxml import etree

    return len(etree.fromstring(manifest_xml).findall(f".//{IMSSS}sequencing"))


@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: getattr(p, "name", str(p)))
@pytest.mark.parametrize("version", ["2004-4th", "1.2"])
def test_a_real_package_exports_in_both_versions_as_it_came(
    app: Flask,
    session: Session,
    world: dict[str, Any],
    validators: dict[str, scorm.ManifestSchema],
    path: Path,
    version: str,
) -> None:
    data = path.read_bytes()
    settings = settings_from(app.config)
    report = importing.import_package(session, world["author"], world["course"], io.BytesIO(data), settings)
    session.flush()
    importing.finish(report)
    activity = report.activities_created[0]
    map_items(session, world["author"], activity, [MC_2_A], Depth.ASSESSED)
    with scorm.open_package(io.BytesIO(data)) as original:
        before = original.manifest()
        original_xml = original.manifest_bytes()
        original_names = set(original.names)

    if len(report.modules_created) == 1:
        export = exporting.module_export(session, report.modules_created[0], settings, version)
    else:
        export = exporting.course_export(session, world["course"], settings, version)
    buffer = io.BytesIO()
    exporting.write(export, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        manifest_xml = archive.read("imsmanifest.xml")
        names = set(archive.namelist())
    assert validators[version].validate(manifest_xml) == [], manifest_xml.decode()
    after = scorm.parse_manifest(manifest_xml)
    # Every SCO launches where it did, query string and parameters included.
    assert launches(after) == launches(before)
    # Every file of the package travels (listed or not), but the other version's XML Schemas.
    kept = {
        n
        for n in original_names
        if not (before.version.is_2004 != (version != "1.2") and "/" not in n and n.endswith((".xsd", ".dtd")))
    }
    assert kept <= names | {"imsmanifest.xml"}
    same_family = before.version.is_2004 == (version != "1.2")
    if same_family:
        assert sequencing_count(manifest_xml) >= sequencing_count(original_xml)
        assert export.not_carried == []
    else:
        if sequencing_count(original_xml):
            assert any("sequencing" in line for line in export.not_carried), export.not_carried
        scos = [e for e in report.package.items if e.scorm_type == "sco"]
        assert len(export.adapted) == len(scos)
        assert ("capcourse/scorm-adapter.js" in names) == bool(scos)
    assert export.missing_files == []

    # Imported again (the same package identifier): updated in place, the mapping kept and carried.
    again = importing.import_package(session, world["author"], world["course"], io.BytesIO(buffer.getvalue()), settings)
    session.flush()
    importing.finish(again)
    assert again.package.id == report.package.id and again.activities_created == []
    assert [m.item_id for m in mappings_of(session, activity)] == [MC_2_A]


def test_exports_keep_launch_query_strings_and_sequencing(app: Flask, session: Session, world: dict[str, Any]) -> None:
    data = _real("SequencingForcedSequential_SCORM20043rdEdition.zip").read_bytes()
    settings = settings_from(app.config)
    report = importing.import_package(session, world["author"], world["course"], io.BytesIO(data), settings)
    session.flush()
    (module,) = report.modules_created
    export = exporting.module_export(session, module, settings, "2004-4th")
    buffer = io.BytesIO()
    exporting.write(export, buffer)
    manifest_xml = zipfile.ZipFile(io.BytesIO(buffer.getvalue())).read("imsmanifest.xml").decode()
    assert 'href="shared/launchpage.html?content=playing"' in manifest_xml
    assert "sequencingCollection" in manifest_xml and 'IDRef="common_seq_rules"' in manifest_xml
    assert 'objectivesGlobalToSystem="false"' in manifest_xml

    as_12 = exporting.module_export(session, module, settings, "1.2")
    assert any("sequencing rules" in line for line in as_12.not_carried)
    assert as_12.report()["not_carried"] == as_12.not_carried
