"""Exported manifests validate against ADL's schemas and read back the same; packages carry their files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from scorm import (
    Competency,
    ItemSpec,
    PackageSpec,
    ScormVersion,
    build_manifest,
    competencies,
    open_package,
    parse_manifest,
    write_package,
    xml_identifier,
)
from scorm.xsd import ManifestSchema
from tests.scorm.archives import STANDARDS

FRAMEWORK = "https://capcourse.example.org/uri/frameworks/kss-supervisors-2018"
LEADS = Competency(
    FRAMEWORK, "https://capcourse.example.org/uri/items/1", "Promote and govern excellent practice", level="assessed"
)
COACHES = Competency(
    FRAMEWORK, "https://capcourse.example.org/uri/items/2", "Developing excellent practitioners", "en-GB", "developed"
)
OTHER = Competency(
    "https://capcourse.example.org/uri/frameworks/sssc", "https://capcourse.example.org/uri/items/3", "Vision"
)

SPEC = PackageSpec(
    identifier="COURSE-supervision",
    title="Practice supervision",
    description="A course for new practice supervisors.",
    competencies=(LEADS, OTHER),
    items=(
        ItemSpec(
            "MODULE-1",
            "Module 1: Supervision",
            children=(
                ItemSpec(
                    "ACT-1",
                    "Activity 1",
                    href="module1/activity1/index.html",
                    files=("module1/activity1/app.js",),
                    mastery_score=0.8,
                    competencies=(LEADS, COACHES),
                ),
                ItemSpec("ACT-2", "Activity 2 & more", href="module1/activity 2.html", parameters="?mode=review"),
            ),
        ),
        ItemSpec("ACT-3", "Assessment", href="assessment/index.html", mastery_score=0.65, competencies=(OTHER,)),
    ),
    shared_files=("shared/scorm-api.js",),
)

CONTENT = {
    "module1/activity1/index.html": b"<html>1</html>",
    "module1/activity1/app.js": b"// app",
    "module1/activity 2.html": b"<html>2</html>",
    "assessment/index.html": b"<html>3</html>",
    "shared/scorm-api.js": b"// api",
}


@pytest.fixture(scope="module")
def schemas() -> dict[str, ManifestSchema]:
    return {folder: ManifestSchema(STANDARDS / folder) for folder in ("2004-4th", "2004-3rd", "1.2")}


@pytest.mark.parametrize(
    ("version", "folders"),
    [
        (ScormVersion.SCORM_2004_4TH, ("2004-4th", "2004-3rd")),
        (ScormVersion.SCORM_2004_3RD, ("2004-4th", "2004-3rd")),
        (ScormVersion.SCORM_12, ("1.2",)),
    ],
)
def test_manifest_validates(
    version: ScormVersion, folders: tuple[str, ...], schemas: dict[str, ManifestSchema]
) -> None:
    manifest = build_manifest(SPEC, version)
    for folder in folders:
        assert schemas[folder].validate(manifest) == [], folder


def test_the_12_manifest_does_not_pass_as_2004(schemas: dict[str, ManifestSchema]) -> None:
    assert schemas["2004-4th"].validate(build_manifest(SPEC, ScormVersion.SCORM_12)) != []


@pytest.mark.parametrize("version", [ScormVersion.SCORM_2004_4TH, ScormVersion.SCORM_2004_3RD, ScormVersion.SCORM_12])
def test_round_trip(version: ScormVersion) -> None:
    manifest = parse_manifest(build_manifest(SPEC, version))
    assert (manifest.version, manifest.version_source) == (version, "schemaversion")
    assert manifest.identifier == SPEC.identifier
    assert manifest.default_organization is not None
    assert manifest.default_organization.title == SPEC.title
    assert competencies(manifest.lom) == (LEADS, OTHER)
    assert manifest.lom is not None and manifest.lom.title_text == SPEC.title
    items = {item.identifier: item for item in manifest.walk()}
    assert [item.identifier for item in manifest.walk()] == ["MODULE-1", "ACT-1", "ACT-2", "ACT-3"]
    assert items["MODULE-1"].resource is None
    act1 = items["ACT-1"]
    assert act1.metadata is not None
    assert competencies(act1.metadata.lom) == (LEADS, COACHES)
    assert act1.passing_score == pytest.approx(0.8)
    assert items["ACT-3"].passing_score == pytest.approx(0.65)
    assert items["ACT-2"].passing_score is None
    assert items["ACT-2"].title == "Activity 2 & more"
    assert items["ACT-2"].launch_url == "module1/activity%202.html?mode=review"
    assert act1.resource is not None and act1.resource.is_sco
    assert [file.path for file in act1.resource.files] == ["module1/activity1/index.html", "module1/activity1/app.js"]
    assert [dependency.path for dependency in manifest.dependencies(act1.resource)] == [None]
    shared = manifest.dependencies(act1.resource)[0]
    assert (shared.scorm_type, [file.path for file in shared.files]) == ("asset", ["shared/scorm-api.js"])
    if version is ScormVersion.SCORM_12:
        assert act1.masteryscore == 80
    else:
        assert act1.primary_objective is not None and act1.primary_objective.satisfied_by_measure


def test_write_package_streams_files_and_reads_back(tmp_path: Path) -> None:
    sources = {}
    for name, data in CONTENT.items():
        path = tmp_path / "source" / name.replace("/", "__")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        sources[name] = path
    content: dict[str, Path | bytes] = {**sources, "shared/scorm-api.js": CONTENT["shared/scorm-api.js"]}
    target = tmp_path / "course.zip"
    written = write_package(SPEC, target, content)
    assert written[0] == "imsmanifest.xml"
    assert sorted(written[1:]) == sorted(CONTENT)
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist()[0] == "imsmanifest.xml"
        assert archive.read("module1/activity 2.html") == b"<html>2</html>"
    with open_package(target) as package:
        manifest = package.manifest()
        assert manifest.version is ScormVersion.SCORM_2004_4TH
        assert package.missing_files(manifest) == ()
        assert package.read("module1/activity1/app.js") == b"// app"


def test_write_package_to_a_stream_with_control_documents() -> None:
    buffer = io.BytesIO()
    written = write_package(SPEC, buffer, CONTENT, ScormVersion.SCORM_12, control_documents=STANDARDS / "1.2")
    assert {"imscp_rootv1p1p2.xsd", "adlcp_rootv1p2.xsd", "imsmd_rootv1p2p1.xsd", "ims_xml.xsd"} <= set(written)
    buffer.seek(0)
    with open_package(buffer) as package:
        assert package.manifest().version is ScormVersion.SCORM_12
        assert package.read("adlcp_rootv1p2.xsd") == (STANDARDS / "1.2" / "adlcp_rootv1p2.xsd").read_bytes()


def test_control_documents_keep_their_subfolders() -> None:
    buffer = io.BytesIO()
    written = write_package(SPEC, buffer, CONTENT, control_documents=STANDARDS / "2004-4th")
    assert {"imscp_v1p1.xsd", "lom.xsd", "common/elementTypes.xsd", "vocab/strict.xsd"} <= set(written)


def test_content_must_match_the_manifest() -> None:
    partial = dict(CONTENT)
    del partial["assessment/index.html"]
    with pytest.raises(ValueError, match=r"no content given for 'assessment/index\.html'"):
        write_package(SPEC, io.BytesIO(), partial)
    with pytest.raises(ValueError, match=r"content not named by the manifest: 'stray\.txt'"):
        write_package(SPEC, io.BytesIO(), {**CONTENT, "stray.txt": b""})


def leaf(identifier: str = "A", **changes: object) -> ItemSpec:
    values: dict[str, object] = {"identifier": identifier, "title": "A", "href": "a.html"}
    values.update(changes)
    return ItemSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (PackageSpec("1-course", "T", (leaf(),)), "'1-course' is not a valid manifest identifier"),
        (PackageSpec("C", "T", (leaf("X"), leaf("X"))), "identifiers used twice: RES-X, X"),
        (PackageSpec("C", "T", (leaf("C"),)), "identifiers used twice: C"),
        (PackageSpec("C", "T", (leaf(href=None),)), "has neither an href nor children"),
        (PackageSpec("C", "T", (leaf(children=(leaf("B"),)),)), "only leaf items launch content"),
        (PackageSpec("C", "T", (leaf(mastery_score=80),)), "mastery_score 80 is not between 0 and 1"),
        (PackageSpec("C", "T", (leaf(href="../x.html"),)), "points outside the package"),
        (PackageSpec("C", "T", (leaf(href="/x.html"),)), "absolute path"),
        (PackageSpec("C", "T", (leaf(href="./x.html"),)), "not a plain package path"),
        (PackageSpec("C", "T", (leaf(title=" "),)), "has no title"),
        (PackageSpec("C", "T", ()), "at least one item"),
    ],
)
def test_invalid_specs_are_refused(spec: PackageSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_manifest(spec)


def test_a_12_parent_may_launch_content(schemas: dict[str, ManifestSchema]) -> None:
    spec = PackageSpec("C", "T", (leaf(children=(leaf("B", href="b.html"),)),))
    manifest = build_manifest(spec, ScormVersion.SCORM_12)
    assert schemas["1.2"].validate(manifest) == []
    parent = parse_manifest(manifest).item("A")
    assert parent is not None and parent.resource is not None and parent.children


def test_2nd_edition_is_not_written() -> None:
    with pytest.raises(ValueError, match="not supported"):
        build_manifest(SPEC, ScormVersion.SCORM_2004_2ND)


def test_xml_identifier() -> None:
    assert xml_identifier("5f0c1d3e-aaaa-bbbb") == "ID-5f0c1d3e-aaaa-bbbb"
    assert xml_identifier("module 1: intro") == "module-1-intro"
    assert xml_identifier("abc", prefix="X-") == "abc"
    assert xml_identifier("") == "X"
    spec = PackageSpec(xml_identifier("9d2b"), "T", (leaf(xml_identifier("7:a/b")),))
    assert parse_manifest(build_manifest(spec)).identifier == "ID-9d2b"
