"""Importing SCORM packages: real ADL packages, competencies into mappings, re-imports, and hostile uploads."""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.catalogue.models import Activity, ExternalId, Module, Status
from capcourse.errors import BadRequestError, ConflictError, ForbiddenError, PayloadTooLargeError
from capcourse.frameworks.uris import node_uri
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Mapping
from capcourse.packages import importing
from capcourse.packages.models import ContentPackage, PackageItem
from capcourse.packages.settings import settings_from
from tests import factories
from tests.scorm.archives import ADL_PARAMS, minimal_manifest, package_around, zip_bytes

pytestmark = pytest.mark.db

BASE = "http://capcourse.test"
MC_2_A = item_id("frontline-lcf-pathway-1", "MC.2.a")
KSS_7 = item_id("dfe-kss-practice-supervisors-2018", "7")
FRONTLINE_URI = node_uri(BASE, framework_id("frontline-lcf-pathway-1"))


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    return {"programme": programme, "course": course, "author": principal_for_user(author)}


def run(app: Flask, session: Session, world: dict[str, Any], data: bytes, course: Any = None) -> importing.ImportReport:
    report = importing.import_package(
        session, world["author"], course or world["course"], io.BytesIO(data), settings_from(app.config)
    )
    session.flush()
    importing.finish(report)
    return report


def folders(app: Flask, package_id: Any = "*") -> list[Path]:
    """Every revision folder under the package folder (of one package, or of all)."""
    return sorted(p for p in Path(app.config["CAPCOURSE_PACKAGE_DIR"]).glob(f"{package_id}/*") if p.is_dir())


def spec(*items: scorm.ItemSpec, identifier: str = "PKG-1", competencies: tuple[scorm.Competency, ...] = ()) -> Any:
    return scorm.PackageSpec(identifier=identifier, title="Supervision basics", items=items, competencies=competencies)


def package(package_spec: Any, version: scorm.ScormVersion = scorm.ScormVersion.SCORM_2004_4TH) -> bytes:
    names = scorm.writer.manifest_files(package_spec)
    buffer = io.BytesIO()
    scorm.write_package(package_spec, buffer, {n: f"<html>{n}</html>".encode() for n in names}, version)
    return buffer.getvalue()


def competency(item: Any, level: str | None = None, framework: str = FRONTLINE_URI) -> scorm.Competency:
    reference = item if isinstance(item, str) else node_uri(BASE, item)
    return scorm.Competency(framework, reference, "statement", level=level)


@pytest.mark.parametrize("manifest", ADL_PARAMS, ids=lambda p: p.name.split(".")[0])
def test_every_adl_test_package_imports(app: Flask, session: Session, world: dict[str, Any], manifest: Path) -> None:
    data = manifest.read_bytes()
    report = run(app, session, world, package_around(data))
    parsed = scorm.parse_manifest(data)
    organization = parsed.default_organization
    assert organization is not None
    leaves = [item for item in organization.walk() if not item.children and item.submanifest is None]
    activities = [a for m in report.modules_created for a in m.activities]
    assert len(activities) >= len(leaves) > 0
    assert report.package.scorm_version == str(parsed.version)
    assert report.package.file_count >= 1
    for activity in activities:
        assert [e.system for e in activity.external_ids] == ["scorm"]
    entries = {e.item_identifier: e for e in report.package.items}
    for leaf in leaves:
        assert entries[leaf.identifier].activity is not None
        if leaf.resource is not None and leaf.resource.path:
            assert entries[leaf.identifier].launch_path == leaf.resource.path
            folder = Path(app.config["CAPCOURSE_PACKAGE_DIR"]) / report.package.storage_path
            assert (folder / leaf.resource.path).is_file()


def test_a_course_shaped_package_makes_a_module_per_top_item(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    data = package(
        spec(
            scorm.ItemSpec(
                "MOD-A",
                "Supervision",
                competencies=(competency(MC_2_A, "developed"),),
                children=(
                    scorm.ItemSpec("A1", "Reading", href="a1.html"),
                    scorm.ItemSpec(
                        "PART",
                        "Practice",
                        children=(scorm.ItemSpec("A2", "Role play", href="a2.html", mastery_score=0.8),),
                    ),
                ),
            ),
            scorm.ItemSpec("MOD-B", "Decisions", children=(scorm.ItemSpec("B1", "Case study", href="b1.html"),)),
            competencies=(competency(KSS_7),),
        )
    )
    report = run(app, session, world, data)
    assert [m.title for m in report.modules_created] == ["Supervision", "Decisions"]
    assert [a.title for a in report.modules_created[0].activities] == ["Reading", "Practice › Role play"]
    entries = {e.item_identifier: e for e in report.package.items}
    assert entries["A2"].passing_score == pytest.approx(0.8)
    assert entries["MOD-A"].module is report.modules_created[0]
    (mapping,) = report.mappings_created
    assert (mapping.module_id, mapping.item_id, mapping.depth, mapping.provenance) == (
        report.modules_created[0].id,
        MC_2_A,
        "developed",
        "imported",
    )
    assert report.not_applied == [f"{node_uri(BASE, KSS_7)} (statement)"]
    external = session.scalars(select(ExternalId.value).where(ExternalId.programme_id == world["programme"].id))
    assert set(external) == {"PKG-1/MOD-A", "PKG-1/MOD-B", "PKG-1/A1", "PKG-1/A2", "PKG-1/B1"}


def test_a_module_shaped_package_maps_its_competencies(app: Flask, session: Session, world: dict[str, Any]) -> None:
    case_uri = f"https://case.example.org/ims/case/v1p1/CFItems/{KSS_7}"
    data = package(
        spec(
            scorm.ItemSpec("SCO", "The only SCO", href="index.html", competencies=(competency(case_uri, "assessed"),)),
            competencies=(
                competency(MC_2_A),  # no level: introduced
                competency(str(KSS_7), "nonsense"),  # a bare identifier; an unknown level
                competency("https://elsewhere.example.org/competencies/42"),
            ),
        ),
        scorm.ScormVersion.SCORM_12,
    )
    report = run(app, session, world, data)
    (module,) = report.modules_created
    assert module.title == "Supervision basics"
    assert [a.title for a in module.activities] == ["The only SCO"]
    found = {(m.module_id or m.activity_id, m.item_id, m.depth) for m in report.mappings_created}
    assert found == {
        (module.id, MC_2_A, "introduced"),
        (module.id, KSS_7, "introduced"),
        (module.activities[0].id, KSS_7, "assessed"),
    }
    assert report.unmatched == ["https://elsewhere.example.org/competencies/42 (statement)"]


def test_a_new_version_updates_in_place_and_keeps_mappings_and_records(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    first = spec(
        scorm.ItemSpec("A", "Lesson A", href="a.html", competencies=(competency(MC_2_A, "assessed"),)),
        scorm.ItemSpec("B", "Lesson B", href="b.html"),
    )
    report = run(app, session, world, package(first))
    (module,) = report.modules_created
    lesson_a, lesson_b = module.activities
    # An author deepens nothing but changes the imported depth and adds a mapping of their own.
    mapping = session.scalar(select(Mapping).where(Mapping.activity_id == lesson_a.id))
    mapping.depth = "developed"
    session.flush()
    (old_folder,) = folders(app, report.package.id)

    second = spec(
        scorm.ItemSpec("A", "Lesson A, revised", href="a.html", competencies=(competency(MC_2_A, "assessed"),)),
        scorm.ItemSpec("C", "Lesson C", href="c.html"),
    )
    again = run(app, session, world, package(second))
    assert again.package.id == report.package.id and again.package.revision == 2
    assert not again.first_import and again.modules_created == []
    assert [a.title for a in again.activities_updated] == ["Lesson A, revised"]
    assert [a.title for a in again.activities_created] == ["Lesson C"]
    assert again.activities_retired == [lesson_b] and lesson_b.status == Status.RETIRED
    assert again.mappings_created == []
    assert session.scalar(select(Mapping.depth).where(Mapping.activity_id == lesson_a.id)) == "developed"
    (new_folder,) = folders(app, report.package.id)
    assert new_folder != old_folder and not old_folder.exists()
    assert (new_folder / "c.html").is_file()

    third = run(app, session, world, package(first))  # B comes back; C goes
    assert [a.title for a in third.activities_updated] == ["Lesson A", "Lesson B"]
    assert lesson_b.status == Status.DRAFT
    assert session.scalar(select(func.count()).select_from(Activity).where(Activity.module_id == module.id)) == 3


def test_the_same_package_in_another_course_is_refused(app: Flask, session: Session, world: dict[str, Any]) -> None:
    data = package(spec(scorm.ItemSpec("A", "Lesson A", href="a.html")))
    run(app, session, world, data)
    other = factories.course(session, world["programme"], "Another course")
    with pytest.raises(ConflictError, match="was imported into the course"):
        run(app, session, world, data, other)


HOSTILE_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"><organizations/><resources/>
<metadata><schemaversion>&secret;</schemaversion></metadata></manifest>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<manifest identifier="&lol3;"/>"""


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"this is not a zip", BadRequestError, "not a zip"),
        (zip_bytes([("readme.txt", b"hello")]), BadRequestError, "imsmanifest.xml"),
        (zip_bytes([("imsmanifest.xml", HOSTILE_ENTITY)]), BadRequestError, "entit"),
        (zip_bytes([("imsmanifest.xml", LAUGHS)]), BadRequestError, "entit"),
        (zip_bytes([("imsmanifest.xml", minimal_manifest()), ("../evil.html", b"x")]), BadRequestError, "outside"),
        (zip_bytes([("imsmanifest.xml", minimal_manifest())]), BadRequestError, "launch page"),
        (zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"\0" * (50 << 20))]), PayloadTooLargeError, "inflates"),
        (zip_bytes([("imsmanifest.xml", b"<manifest><unclosed></manifest>")]), BadRequestError, "line"),
    ],
    ids=["not-a-zip", "no-manifest", "external-entity", "billion-laughs", "zip-slip", "missing-launch", "zip-bomb", "malformed"],
)  # fmt: skip
def test_bad_packages_are_refused_and_leave_nothing(
    app: Flask, session: Session, world: dict[str, Any], data: bytes, error: type[Exception], words: str
) -> None:
    before = folders(app)
    with pytest.raises(error) as raised:
        run(app, session, world, data)
    described = f"{raised.value} {getattr(raised.value, 'errors', '')}".lower()
    assert words in described
    assert folders(app) == before
    assert session.scalar(select(func.count()).select_from(ContentPackage)) == 0
    assert session.scalar(select(func.count()).select_from(Module)) == 0


def test_paths_outside_the_package_are_never_kept(app: Flask, session: Session, world: dict[str, Any]) -> None:
    escaping = minimal_manifest("../outside.html")
    with pytest.raises(BadRequestError) as raised:
        run(app, session, world, zip_bytes([("imsmanifest.xml", escaping)]))
    assert "outside the package" in str(raised.value.errors)
    sneaky = minimal_manifest("index.html", ("../../etc/passwd", "/etc/hosts", "ok.js"))
    data = zip_bytes([("imsmanifest.xml", sneaky), ("index.html", b"<html/>"), ("ok.js", b"//")])
    report = run(app, session, world, data)
    (entry,) = [e for e in report.package.items if e.activity is not None]
    assert entry.files == ["ok.js"]


def test_an_organization_may_share_its_identifier_with_an_item(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    manifest = minimal_manifest().replace(b'identifier="I"', b'identifier="O"')
    report = run(app, session, world, zip_bytes([("imsmanifest.xml", manifest), ("index.html", b"<html/>")]))
    assert sorted(e.item_identifier for e in report.package.items) == ["O", "O#organization"]


def test_an_import_that_fails_late_removes_its_files(
    app: Flask, session: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(importing, "_apply", broken)
    before = folders(app)
    with pytest.raises(RuntimeError):
        run(app, session, world, package(spec(scorm.ItemSpec("A", "Lesson A", href="a.html"))))
    assert folders(app) == before


def test_only_authors_import(app: Flask, session: Session, world: dict[str, Any]) -> None:
    lead = factories.user(session, Role.LEAD)
    factories.member(session, world["programme"], lead, MembershipRole.LEAD)
    before = folders(app)
    with pytest.raises(ForbiddenError):
        importing.import_package(
            session,
            principal_for_user(lead),
            world["course"],
            io.BytesIO(package(spec(scorm.ItemSpec("A", "A", href="a.html")))),
            settings_from(app.config),
        )
    assert folders(app) == before


def test_package_items_record_launch_data(app: Flask, session: Session, world: dict[str, Any]) -> None:
    data = package(
        spec(scorm.ItemSpec("A", "Lesson A", href="a/index.html", files=("a/app.js",), parameters="?page=2")),
        scorm.ScormVersion.SCORM_12,
    )
    report = run(app, session, world, data)
    entry = session.scalar(select(PackageItem).where(PackageItem.item_identifier == "A"))
    assert (entry.launch_path, entry.parameters, entry.files, entry.scorm_type) == (
        "a/index.html",
        "?page=2",
        ["a/app.js"],
        "sco",
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert report.package.file_count == len(archive.namelist())


#: Written for these tests: what LMSs accept and capcourse once refused. The default organization names
#: none, a metadata file is missing, an item launches content and has children, and the zip carries
#: macOS and Windows leftovers, in a folder of its own.
TOLERANT_12 = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="TOLERANT" version="1.0" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion>
    <adlcp:location>metadata/course.xml</adlcp:location></metadata>
  <organizations default="NO-SUCH-ORG">
    <organization identifier="ORG-A"><title>Tolerant course</title>
      <item identifier="INTRO" identifierref="R-INTRO"><title>Introduction</title>
        <item identifier="PART-1" identifierref="R-PART-1"><title>Part one</title></item>
        <item identifier="PART-2" identifierref="R-PART-2"><title>Part two</title></item>
      </item>
    </organization>
    <organization identifier="ORG-B"><title>Other path</title>
      <item identifier="OTHER" identifierref="R-PART-1"><title>Elsewhere</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="R-INTRO" type="webcontent" adlcp:scormtype="sco" href="intro.html"><file href="intro.html"/></resource>
    <resource identifier="R-PART-1" type="webcontent" adlcp:scormtype="sco" href="one.html"><file href="one.html"/></resource>
    <resource identifier="R-PART-2" type="webcontent" adlcp:scormtype="sco" href="two.html">
      <file href="two.html"/><file href="gone-1.js"/><file href="gone-2.js"/><file href="gone-3.js"/></resource>
  </resources>
</manifest>
"""


def tolerant_zip(folder: str = "") -> bytes:
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        (f"{folder}imsmanifest.xml", TOLERANT_12),
        (f"{folder}intro.html", b"<html>intro</html>"),
        (f"{folder}one.html", b"<html>one</html>"),
        (f"{folder}two.html", b"<html>two</html>"),
        ("__MACOSX/._intro.html", b"\0\0"),
        (f"{folder}.DS_Store", b"\0"),
        (f"{folder}Thumbs.db", b"\0"),
    ]
    return zip_bytes(entries)


def test_packages_lms_accept_import_with_warnings_grouped(app: Flask, session: Session, world: dict[str, Any]) -> None:
    report = run(app, session, world, tolerant_zip("course/"))
    (module,) = report.modules_created
    # The first organization; its one top-level item has children, so it is the module; it also launches
    # content, so it is the module's first activity too, its children after it.
    assert module.title == "Introduction"
    assert [a.title for a in module.activities] == ["Introduction", "Part one", "Part two"]
    assert {e.item_identifier for e in report.package.items} == {"INTRO#module", "INTRO", "PART-1", "PART-2"}
    folder = settings_from(app.config).folder / report.package.storage_path
    assert sorted(p.name for p in folder.iterdir()) == ["imsmanifest.xml", "intro.html", "one.html", "two.html"]
    groups = {group.message: group for group in report.warning_groups}
    messages = " | ".join(groups)
    assert "'NO-SUCH-ORG' does not exist" in messages and "'Tolerant course'" in messages
    assert "folder 'course/'" in messages
    assert "Metadata files" in messages
    assert "sub-items" in messages
    leftovers = next(g for g in groups.values() if g.message.startswith("Files operating systems"))
    assert leftovers.count == 3
    missing = groups["Files the manifest lists are not in the package"]
    assert (missing.count, missing.examples) == (3, ["gone-1.js", "gone-2.js", "gone-3.js"])
    assert report.warnings[-1] == "Files the manifest lists are not in the package (3): gone-1.js, gone-2.js, gone-3.js"
    assert not any("-" in w.split(":")[0] and w.split(":")[0].islower() for w in report.warnings)  # no codes


def test_ten_thousand_missing_files_are_one_warning(app: Flask, session: Session, world: dict[str, Any]) -> None:
    files = "".join(f'<file href="assets/f{n}.png"/>' for n in range(10_000))
    manifest = minimal_manifest().replace(b'<file href="index.html"/>', f'<file href="index.html"/>{files}'.encode())
    report = run(app, session, world, zip_bytes([("imsmanifest.xml", manifest), ("index.html", b"<html/>")]))
    (group,) = report.warning_groups
    assert group.count == 10_000 and len(group.examples) == importing.EXAMPLES
    assert len(" ".join(report.warnings)) < 300


def test_bad_packages_are_still_refused_after_the_tolerant_ones(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    dangling = TOLERANT_12.replace(b'identifierref="R-PART-1"><title>Part one', b'identifierref="NOPE"><title>Part one')
    before = folders(app)
    with pytest.raises(BadRequestError, match="NOPE"):
        run(app, session, world, zip_bytes([("imsmanifest.xml", dangling), ("intro.html", b""), ("one.html", b"")]))
    assert folders(app) == before
    assert session.scalar(select(func.count()).select_from(ContentPackage)) == 0


@pytest.mark.parametrize("spooled", [False, True], ids=["in-memory", "spooled-to-disk"])
def test_the_package_digest_is_the_sha256_of_the_upload(
    app: Flask, session: Session, world: dict[str, Any], tmp_path: Path, spooled: bool
) -> None:
    data = package(spec(scorm.ItemSpec("A", "Lesson A", href="a.html")))
    if not spooled:
        upload: Any = io.BytesIO(data)
    else:
        # As werkzeug spools a big upload: a file with a descriptor, read beside the import by a thread.
        upload = tempfile.SpooledTemporaryFile(max_size=16, dir=tmp_path)  # noqa: SIM115 - closed below
        upload.write(data)
    with upload:
        report = importing.import_package(session, world["author"], world["course"], upload, settings_from(app.config))
    assert report.package.sha256 == hashlib.sha256(data).hexdigest()


def test_a_refused_import_stops_reading_the_upload_before_it_returns(
    app: Flask, session: Session, world: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK not a zip" + bytes(3 << 20))
    threads = threading.active_count()
    with path.open("rb") as upload, pytest.raises(BadRequestError):
        importing.import_package(session, world["author"], world["course"], upload, settings_from(app.config))
    assert threading.active_count() == threads
