"""Exporting modules and courses as SCORM packages: valid by ADL's schemas, mappings as LOM, and back again."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import Module
from capcourse.errors import InvalidInputError
from capcourse.extensions import db
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from capcourse.packages import exporting, importing
from capcourse.packages.settings import settings_from
from tests import factories
from tests.conftest import scratch_app
from tests.factories import bearer
from tests.scorm.archives import STANDARDS

pytestmark = pytest.mark.db

MC_2_A = item_id("frontline-lcf-pathway-1", "MC.2.a")
MC_2_B = item_id("frontline-lcf-pathway-1", "MC.2.b")
KSS_7 = item_id("dfe-kss-practice-supervisors-2018", "7")
SCHEMAS = {"2004-4th": "2004-4th", "1.2": "1.2"}


@pytest.fixture(scope="module")
def validators() -> dict[str, scorm.ManifestSchema]:
    return {version: scorm.ManifestSchema(STANDARDS / folder) for version, folder in SCHEMAS.items()}


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme, "Leading supervision")
    module = factories.module(session, course, "Reflective supervision")
    reading = factories.activity(session, module, "Reading: <the> basics & more")
    task = factories.activity(session, module, "Assessed task")
    factories.module(session, course, "Empty module")
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    principal = principal_for_user(author)
    map_items(session, principal, module, [KSS_7], Depth.DEVELOPED)
    map_items(session, principal, task, [MC_2_A, MC_2_B], Depth.ASSESSED)
    session.commit()
    return {
        "programme": programme,
        "course": course,
        "module": module,
        "reading": reading,
        "task": task,
        "author": principal,
        "author_user": author,
        "key": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
    }


def zipped(export: exporting.Export) -> bytes:
    buffer = io.BytesIO()
    exporting.write(export, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("version", ["2004-4th", "1.2"])
def test_a_module_exports_valid_with_its_mappings(
    app: Flask, session: Session, world: dict[str, Any], validators: dict[str, scorm.ManifestSchema], version: str
) -> None:
    data = zipped(exporting.module_export(session, world["module"], settings_from(app.config), version))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest_xml = archive.read("imsmanifest.xml")
        names = set(archive.namelist())
        page = archive.read(f"capcourse/{world['reading'].id}.html").decode()
    assert validators[version].validate(manifest_xml) == []
    assert "capcourse/launch.js" in names
    assert "Reading: &lt;the&gt; basics &amp; more" in page
    manifest = scorm.parse_manifest(manifest_xml)
    assert manifest.version == exporting.VERSIONS[version]
    base = app.config["CAPCOURSE_BASE_URL"]
    assert [(c.framework, c.item, c.level) for c in scorm.competencies(manifest.lom)] == [
        (f"{base}/uri/{framework_id('dfe-kss-practice-supervisors-2018')}", f"{base}/uri/{KSS_7}", "developed")
    ]
    organization = manifest.default_organization
    assert organization is not None and organization.title == "Reflective supervision"
    task = organization.items[1]
    assert task.title == "Assessed task"
    assert task.metadata is not None
    assert {(c.item, c.level) for c in scorm.competencies(task.metadata.lom)} == {
        (f"{base}/uri/{MC_2_A}", "assessed"),
        (f"{base}/uri/{MC_2_B}", "assessed"),
    }
    framework_uris = {c.framework for c in scorm.competencies(task.metadata.lom)}
    assert framework_uris == {f"{base}/uri/{framework_id('frontline-lcf-pathway-1')}"}


def test_an_exported_module_imports_into_a_fresh_install_with_its_mappings(
    app: Flask, session: Session, world: dict[str, Any], tmp_path: Path
) -> None:
    data = zipped(exporting.module_export(session, world["module"], settings_from(app.config)))
    # A session of the fresh install's own (inside a test, db.session is the test's, on the main database).
    with scratch_app(tmp_path, "fresh") as fresh, fresh.app_context(), Session(db.engine) as elsewhere:
        assert elsewhere.scalar(select(func.count()).select_from(Module)) == 0
        programme = factories.programme(elsewhere, "Another organisation's programme")
        course = factories.course(elsewhere, programme, "Imported")
        admin = principal_for_user(factories.user(elsewhere, Role.ADMIN))
        report = importing.import_package(elsewhere, admin, course, io.BytesIO(data), settings_from(fresh.config))
        elsewhere.commit()
        importing.finish(report)
        (module,) = report.modules_created
        assert module.title == "Reflective supervision"
        assert [a.title for a in module.activities] == ["Reading: <the> basics & more", "Assessed task"]
        mapped = {(m.module_id and "module", m.activity_id and m.activity.title, m.item_id, m.depth, m.provenance)
                  for m in report.mappings_created}  # fmt: skip
        assert mapped == {
            ("module", None, KSS_7, "developed", "imported"),
            (None, "Assessed task", MC_2_A, "assessed", "imported"),
            (None, "Assessed task", MC_2_B, "assessed", "imported"),
        }
        assert report.unmatched == []


def test_an_imported_module_exports_with_its_files_and_identifiers(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    source = scorm.PackageSpec(
        identifier="VENDOR-PKG",
        title="Vendor course",
        organization_identifier="VENDOR-ORG",
        items=(scorm.ItemSpec("SCO-1", "Vendor lesson", href="lesson/index.html", files=("lesson/app.js",), mastery_score=0.7),),
    )  # fmt: skip
    upload = io.BytesIO()
    scorm.write_package(source, upload, {"lesson/index.html": b"<html>vendor</html>", "lesson/app.js": b"// js"})
    report = importing.import_package(
        session, world["author"], world["course"], io.BytesIO(upload.getvalue()), settings_from(app.config)
    )
    session.flush()
    (module,) = report.modules_created
    exported = zipped(exporting.module_export(session, module, settings_from(app.config), "1.2"))
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        assert archive.read("lesson/index.html") == b"<html>vendor</html>"
        assert archive.read("lesson/app.js") == b"// js"
        manifest = scorm.parse_manifest(archive.read("imsmanifest.xml"))
    assert manifest.identifier == "VENDOR-PKG"
    assert manifest.default_organization_id == "VENDOR-ORG"
    (item,) = manifest.walk()
    assert (item.identifier, item.passing_score) == ("SCO-1", pytest.approx(0.7))
    # Imported again into the same programme: the same package, updated in place.
    again = importing.import_package(
        session, world["author"], world["course"], io.BytesIO(exported), settings_from(app.config)
    )
    assert (again.first_import, again.package.id, again.modules_created, again.activities_created) == (
        False,
        report.package.id,
        [],
        [],
    )


def test_a_course_exports_one_item_per_module_and_leaves_out_empty_ones(
    app: Flask, session: Session, world: dict[str, Any], validators: dict[str, scorm.ManifestSchema]
) -> None:
    export = exporting.course_export(session, world["course"], settings_from(app.config))
    assert export.skipped == ["Module 'Empty module': no activities."]
    data = zipped(export)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest_xml = archive.read("imsmanifest.xml")
    assert validators["2004-4th"].validate(manifest_xml) == []
    organization = scorm.parse_manifest(manifest_xml).default_organization
    assert organization is not None
    (module_item,) = organization.items
    assert module_item.title == "Reflective supervision" and len(module_item.children) == 2
    empty = session.scalar(select(Module).where(Module.title == "Empty module"))
    with pytest.raises(InvalidInputError, match="no activities"):
        exporting.module_export(session, empty, settings_from(app.config))


def test_export_api_page_and_cli(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, world: dict[str, Any], tmp_path: Path
) -> None:
    module_url = f"/api/v1/modules/{world['module'].id}/scorm"
    response = client.get(module_url, query_string={"version": "1.2"}, headers=world["key"])
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(response.data)).testzip() is None
    response.close()  # the download streams from a temporary file, closed with the response
    assert client.get(module_url, query_string={"version": "2"}, headers=world["key"]).status_code == 422
    course = client.get(f"/api/v1/courses/{world['course'].id}/scorm", headers=world["key"])
    assert course.status_code == 200 and "Empty module" in course.headers["X-Capcourse-Skipped"]
    course.close()
    outsider = bearer(factories.api_key(session, Role.AUTHOR)[1])
    assert client.get(module_url, headers=outsider).status_code == 404

    target = tmp_path / "module.zip"
    result = runner.invoke(args=["scorm", "export", "--module", str(world["module"].id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(target)
    both = runner.invoke(
        args=["scorm", "export", "--module", str(world["module"].id), "--course", str(world["course"].id)]
    )
    assert both.exit_code != 0 and "one of them" in both.output


#: A SCORM 2004 3rd Edition manifest written for these tests: launch data, completion threshold, time limit
#: action, sequencing, the package's own LOM and a metadata file, a query-string launch and item parameters.
EXTRAS_2004 = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="EXTRAS-PKG" version="1" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
    xmlns:lom="http://ltsc.ieee.org/xsd/LOM">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 3rd Edition</schemaversion>
    <adlcp:location>meta/package.xml</adlcp:location>
    <lom:lom><lom:general><lom:title><lom:string language="en">Vendor title</lom:string></lom:title></lom:general>
      <lom:rights><lom:description><lom:string language="en">Licensed to us</lom:string></lom:description></lom:rights>
    </lom:lom>
  </metadata>
  <organizations default="ORG"><organization identifier="ORG"><title>Extras</title>
    <item identifier="LESSON" identifierref="RES" parameters="?mode=quiz">
      <title>Lesson</title>
      <adlcp:timeLimitAction>exit,message</adlcp:timeLimitAction>
      <adlcp:dataFromLMS>level=3</adlcp:dataFromLMS>
      <adlcp:completionThreshold>0.8</adlcp:completionThreshold>
      <imsss:sequencing><imsss:objectives><imsss:primaryObjective objectiveID="P" satisfiedByMeasure="true">
        <imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure></imsss:primaryObjective></imsss:objectives>
      </imsss:sequencing>
    </item>
  </organization></organizations>
  <resources>
    <resource identifier="RES" type="webcontent" adlcp:scormType="sco" href="lesson/index.html?start=1">
      <file href="lesson/index.html"/><file href="lesson/listed-but-absent.js"/>
    </resource>
  </resources>
</manifest>
"""


def extras_package() -> bytes:
    from tests.scorm.archives import zip_bytes

    return zip_bytes(
        [
            ("imsmanifest.xml", EXTRAS_2004),
            ("lesson/index.html", b"<html>lesson</html>"),
            ("lesson/lazy/loaded-later.json", b"{}"),
            ("meta/package.xml", b"<lom xmlns='http://ltsc.ieee.org/xsd/LOM'/>"),
        ]
    )


def test_an_export_keeps_what_the_package_had_and_reports_what_the_version_cannot_say(
    app: Flask, session: Session, world: dict[str, Any], validators: dict[str, scorm.ManifestSchema]
) -> None:
    settings = settings_from(app.config)
    report = importing.import_package(session, world["author"], world["course"], io.BytesIO(extras_package()), settings)
    session.flush()
    (module,) = report.modules_created
    export = exporting.module_export(session, module, settings, "2004-4th")
    archive = zipfile.ZipFile(io.BytesIO(zipped(export)))
    manifest_xml = archive.read("imsmanifest.xml")
    assert validators["2004-4th"].validate(manifest_xml) == []
    text = manifest_xml.decode()
    for kept in ("?mode=quiz", "lesson/index.html?start=1", "level=3", "exit,message", "completionThreshold",
                 "minNormalizedMeasure", "Licensed to us", "meta/package.xml"):  # fmt: skip
        assert kept in text, kept
    assert archive.read("lesson/lazy/loaded-later.json") == b"{}"  # not listed, kept
    assert "meta/package.xml" in archive.namelist()
    # A file the package listed but never had: left out, and said so (not a 500).
    assert export.missing_files == ["lesson/listed-but-absent.js"]
    assert "lesson/listed-but-absent.js" not in text
    (item,) = scorm.parse_manifest(manifest_xml).walk()
    assert item.launch_url == "lesson/index.html?start=1&mode=quiz"

    as_12 = exporting.module_export(session, module, settings, "1.2")
    manifest_12 = zipfile.ZipFile(io.BytesIO(zipped(as_12))).read("imsmanifest.xml")
    assert validators["1.2"].validate(manifest_12) == []
    (item_12,) = scorm.parse_manifest(manifest_12).walk()
    assert (item_12.data_from_lms, item_12.time_limit_action) == ("level=3", "exit,message")
    assert item_12.passing_score == pytest.approx(0.6)
    # Content written for 2004, exported as 1.2: it launches through capcourse's adapter, which opens it.
    assert item_12.launch_url == (
        "capcourse/scorm-adapter.html?capcourse_api=2004&capcourse_launch=lesson%2Findex.html%3Fstart%3D1&mode=quiz"
    )
    assert as_12.adapted == ["Lesson"]
    lost = " ".join(as_12.not_carried)
    assert "completion threshold" in lost and "sequencing" in lost and "LOM metadata" in lost


def test_a_missing_launch_page_is_a_409_with_the_list_and_the_report_says_what_is_left_out(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    settings = settings_from(app.config)
    report = importing.import_package(session, world["author"], world["course"], io.BytesIO(extras_package()), settings)
    session.commit()
    importing.finish(report)
    (module,) = report.modules_created
    answer = client.get(
        f"/api/v1/modules/{module.id}/scorm/report", query_string={"version": "1.2"}, headers=world["key"]
    )
    assert answer.status_code == 200
    assert answer.json["missing_files"] == ["lesson/listed-but-absent.js"]
    assert any("completion threshold" in line for line in answer.json["not_carried"])
    download = client.get(f"/api/v1/modules/{module.id}/scorm", headers=world["key"])
    assert download.status_code == 200 and int(download.headers["X-Capcourse-Export-Notes"]) >= 1
    download.close()

    (settings.folder / report.package.storage_path / "lesson" / "index.html").unlink()
    refused = client.get(f"/api/v1/modules/{module.id}/scorm", headers=world["key"])
    assert refused.status_code == 409
    assert refused.json["errors"]["files"] == ["Lesson: lesson/index.html"]


@pytest.mark.parametrize("version", ["2004-4th", "1.2"])
def test_a_sco_with_children_exports_as_a_group_that_launches_it_first(
    app: Flask, session: Session, world: dict[str, Any], validators: dict[str, scorm.ManifestSchema], version: str
) -> None:
    from tests.packages.test_importing import tolerant_zip

    settings = settings_from(app.config)
    course = factories.course(session, world["programme"], "Tolerant")
    report = importing.import_package(session, world["author"], course, io.BytesIO(tolerant_zip()), settings)
    session.flush()
    (module,) = report.modules_created
    export = exporting.course_export(session, module.course, settings, version)
    archive = zipfile.ZipFile(io.BytesIO(zipped(export)))
    manifest_xml = archive.read("imsmanifest.xml")
    assert validators[version].validate(manifest_xml) == []
    manifest = scorm.parse_manifest(manifest_xml)
    organization = manifest.default_organization
    assert organization is not None and organization.identifier == "ORG-A"
    (group,) = organization.items
    assert group.title == "Introduction"
    adapter = "capcourse/scorm-adapter.html?capcourse_api=1.2&capcourse_launch=" if version != "1.2" else ""
    assert [(i.identifier, i.launch_url) for i in group.children] == [
        ("INTRO", f"{adapter}intro.html"),
        ("PART-1", f"{adapter}one.html"),
        ("PART-2", f"{adapter}two.html"),
    ]
    assert export.missing_files == ["gone-1.js", "gone-2.js", "gone-3.js"]


def test_the_export_report_page_says_what_each_version_keeps(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    from tests.pages import sign_in

    settings = settings_from(app.config)
    report = importing.import_package(session, world["author"], world["course"], io.BytesIO(extras_package()), settings)
    session.commit()
    importing.finish(report)
    (module,) = report.modules_created
    sign_in(client, world["author_user"].email)
    module_page = client.get(f"/modules/{module.id}").get_data(as_text=True)
    assert f"/modules/{module.id}/scorm-report" in module_page
    page = client.get(f"/modules/{module.id}/scorm-report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SCORM 2004-4th" in html and "SCORM 1.2" in html
    assert "completion threshold" in html and "listed-but-absent.js" in html
    assert "scorm-adapter.html" in html  # the 1.2 export launches the 2004 lesson through the adapter
    assert client.get(f"/courses/{world['course'].id}/scorm-report").status_code == 200
