"""Manifest parsing: ADL's 189 test manifests, the edge cases, and hostile or odd XML."""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import gc
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from scorm import ManifestError, ScormVersion, parse_manifest, safexml
from scorm.manifest import File, Item, Manifest, Prerequisites, Resource, append_parameters, package_path
from tests.scorm.archives import ADL_MANIFESTS, ADL_PARAMS, EDGE_CASES, NEEDS_ADL, adl_manifest, minimal_manifest

Tree = list[tuple[str, str, str | None, Any]]


def independent_tree(element: Any) -> Tree:
    """Identifier, title, identifierref and children of each item under ``element``, by plain XPath."""
    found: Tree = []
    for item in element.xpath("./*[local-name()='item']"):
        found.append(
            (
                item.get("identifier").strip(),
                item.xpath("string(./*[local-name()='title'])").strip(),
                (item.get("identifierref") or "").strip() or None,
                independent_tree(item),
            )
        )
    return found


def parsed_tree(items: tuple[Item, ...]) -> Tree:
    return [(item.identifier, item.title, item.identifierref, parsed_tree(item.children)) for item in items]


def get_item(manifest: Manifest, identifier: str) -> Item:
    found = manifest.item(identifier)
    assert found is not None, identifier
    return found


def edge(name: str) -> bytes:
    return (EDGE_CASES / name).read_bytes()


# ADL's conformance test manifests --------------------------------------------


@pytest.mark.parametrize("path", ADL_PARAMS, ids=lambda path: path.name.split(".")[0])
def test_adl_manifest_trees(path: Path) -> None:
    data = path.read_bytes()
    manifest = parse_manifest(data)
    root = etree.fromstring(data)
    organizations = root.xpath("./*[local-name()='organizations']/*[local-name()='organization']")
    assert [org.identifier for org in manifest.organizations] == [
        org.get("identifier").strip() for org in organizations
    ]
    for parsed, element in zip(manifest.organizations, organizations, strict=True):
        assert parsed.title == element.xpath("string(./*[local-name()='title'])").strip()
        assert parsed_tree(parsed.items) == independent_tree(element)
    assert manifest.version is ScormVersion.SCORM_2004_4TH
    assert manifest.version_source == "schemaversion"
    assert manifest.identifier == root.get("identifier").strip()
    default = root.xpath("string(./*[local-name()='organizations']/@default)").strip()
    assert manifest.default_organization is not None
    assert manifest.default_organization.identifier == default
    resources = root.xpath("./*[local-name()='resources']/*[local-name()='resource']/@identifier")
    assert sorted(manifest.resources) == sorted(identifier.strip() for identifier in resources)
    for item in manifest.walk():
        assert (item.resource is not None) == (item.identifierref is not None)
        if item.resource is not None:
            assert item.resource.identifier == item.identifierref


@NEEDS_ADL
def test_all_189_adl_manifests_are_there() -> None:
    assert len(ADL_MANIFESTS) == 189


def test_adl_item_details() -> None:
    path = adl_manifest("CM-01")
    manifest = parse_manifest(path.read_bytes())
    first = manifest.organizations[0].items[0]
    assert first.parameters == "?tc=CM-01&act=1"
    assert first.resource is not None
    # xml:base="resources/" on the resource.
    assert first.resource.url == "resources/SequencingTest.htm"
    assert first.launch_url == "resources/SequencingTest.htm?tc=CM-01&act=1"
    assert first.resource.scorm_type == "sco"
    dependencies = [resource.identifier for resource in manifest.dependencies(first.resource)]
    assert dependencies == ["LMSFNCTS01", "JAR01", "ABOUT01", "EMULATION01", "LMSINCLUDE", "BROWSERDETECT01"]
    assert manifest.resources["JAR01"].files[0].path == "common/LMSTest.jar"
    second = manifest.item("activity_2")
    assert second is not None and second.primary_objective is not None
    assert second.primary_objective.satisfied_by_measure is True
    assert second.primary_objective.min_normalized_measure == 0.8
    assert second.passing_score == 0.8


def test_adl_isvisible_and_completion_threshold() -> None:
    cm04d = adl_manifest("CM-04d")
    manifest = parse_manifest(cm04d.read_bytes())
    hidden = manifest.item("activity_3")
    assert hidden is not None and hidden.isvisible is False
    assert get_item(manifest, "activity_1").isvisible is True
    co02a = adl_manifest("CO-02a")
    threshold = get_item(parse_manifest(co02a.read_bytes()), "activity_2").completion_threshold
    assert threshold is not None
    assert (threshold.completed_by_measure, threshold.min_progress_measure, threshold.progress_weight) == (
        True,
        0.5,
        1.0,
    )


def test_objectives_come_from_the_sequencing_collection() -> None:
    co06 = adl_manifest("CO-06")
    item = parse_manifest(co06.read_bytes()).item("activity_2")
    assert item is not None
    assert [(objective.objective_id, objective.primary) for objective in item.objectives] == [("obj1", True)]


def test_padded_identifiers_are_trimmed() -> None:
    cm08 = adl_manifest("CM-08")
    manifest = parse_manifest(cm08.read_bytes())
    assert manifest.item("activity_1") is not None


# Edge cases ------------------------------------------------------------------


def test_malformed_xml_reports_the_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(edge("emp-malformed-xml-1.2.imsmanifest.xml"))
    error = caught.value
    assert error.reason == "malformed"
    assert error.line == 27
    assert str(error).startswith("line 27: the manifest is not well-formed XML")


def test_two_organizations_deep_nesting() -> None:
    manifest = parse_manifest(edge("emp-two-orgs-deep-nesting-1.2.imsmanifest.xml"))
    assert manifest.version is ScormVersion.SCORM_12
    assert [org.identifier for org in manifest.organizations] == ["default_org", "alternate_org"]
    assert manifest.default_organization is manifest.organizations[0]
    module = manifest.organizations[0].items[0]
    # A parent item that also launches a resource (allowed in 1.2).
    assert module.children and module.resource is not None
    assert module.resource.url == "content/module1.html"
    topic = manifest.item("topic_1_1_1_2")
    assert topic is not None and topic.resource is not None
    assert topic.resource.path == "content/topic1_1_1_2.html"
    depth = max(_depth(item) for item in manifest.organizations[0].items)
    assert depth == 4
    assert [item.identifier for item in manifest.organizations[0].walk()] == [
        "module_1", "chapter_1_1", "section_1_1_1", "topic_1_1_1_1", "topic_1_1_1_2", "section_1_1_2",
        "chapter_1_2", "module_2", "chapter_2_1", "section_2_1_1", "module_3",
    ]  # fmt: skip
    assert [item.identifier for item in manifest.organizations[1].walk()] == ["alt_item_1"]


def _depth(item: Item) -> int:
    return 1 + max((_depth(child) for child in item.children), default=0)


def test_dangling_identifierref_names_the_item_and_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(edge("emp-dangling-identifierref-1.2.imsmanifest.xml"))
    error = caught.value
    assert error.reason == "dangling-reference"
    assert error.line == 20
    assert error.element == '<item identifier="item_1">'
    assert str(error) == (
        "line 20, <item identifier=\"item_1\">: identifierref 'non_existent_resource' names no resource or sub-manifest"
    )


def test_dangling_identifierref_when_not_strict() -> None:
    manifest = parse_manifest(edge("emp-dangling-identifierref-1.2.imsmanifest.xml"), strict=False)
    assert [problem.reason for problem in manifest.problems] == ["dangling-reference"]
    assert get_item(manifest, "item_1").resource is None
    assert get_item(manifest, "item_2").launch_url == "content/item2.html"
    assert manifest.resources["resource_1"].scorm_type == "sco"


def test_broken_default_organization() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(edge("emp-2004-4th-broken-default-org.imsmanifest.xml"))
    error = caught.value
    assert error.reason == "dangling-reference"
    assert error.line == 20
    assert error.element == '<organizations default="NONEXISTENT_ORG">'
    assert "'NONEXISTENT_ORG' names no organization" in str(error)
    lenient = parse_manifest(edge("emp-2004-4th-broken-default-org.imsmanifest.xml"), strict=False)
    assert lenient.default_organization is None
    assert lenient.organizations[0].identifier == "CM-01"


def test_no_schemaversion_and_the_12_adlcp_namespace_is_2004() -> None:
    manifest = parse_manifest(edge("emp-2004-no-schemaversion-mixed-adlcp-ns.imsmanifest.xml"))
    assert manifest.version.is_2004
    assert manifest.version is ScormVersion.SCORM_2004_3RD
    assert manifest.version_source == "namespaces"
    assert manifest.schemaversion is None
    assert manifest.resources["res1"].scorm_type == "sco"
    assert get_item(manifest, "item1").launch_url == "index.html"


def test_prerequisites_and_wrong_case_adlcp_elements() -> None:
    manifest = parse_manifest(edge("emp-prerequisites-wrong-case-1.2.imsmanifest.xml"))
    assert manifest.version is ScormVersion.SCORM_12
    items = {item.identifier: item for item in manifest.walk()}
    assert items["module1"].prerequisites is None  # empty expression
    assert items["module1"].masteryscore == 80
    assert items["module1"].passing_score == 0.8
    assert items["module1"].max_time_allowed == "02:30:00"
    assert items["module2"].prerequisites is not None
    assert (items["module2"].prerequisites.expression, items["module2"].prerequisites.type) == (
        "module1",
        "aicc_script",
    )
    # adlcp:dataFromLMS is the 2004 spelling; the 1.2 one is datafromlms. Both are read.
    assert items["module2"].data_from_lms == "custom_data_for_module2"
    assert items["module3"].time_limit_action == "exit,message"
    assert items["module4"].prerequisites == Prerequisites("(module1 AND module2) OR module3")
    assert items["module4"].passing_score == 0.9
    assert {resource.scorm_type for resource in manifest.resources.values()} == {"sco"}


def test_synthetic_multi_organization_sub_manifest() -> None:
    manifest = parse_manifest(edge("synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml"))
    assert manifest.default_organization_id == "ORG-B"
    assert (
        manifest.default_organization is not None and manifest.default_organization.title == "Route B: assessment only"
    )
    assert [org.identifier for org in manifest.organizations] == ["ORG-A", "ORG-B"]
    unit1 = manifest.item("A1")
    assert unit1 is not None and unit1.resource is not None
    assert unit1.resource.base == "content/unit1/"
    assert unit1.resource.path == "content/unit1/index.html"
    assert [dependency.identifier for dependency in manifest.dependencies(unit1.resource)] == ["RES-SHARED"]
    shared = manifest.resources["RES-SHARED"]
    assert (shared.href, shared.url, shared.scorm_type) == (None, None, "asset")
    assert [file.path for file in shared.files] == ["content/shared/api.js"]
    unit2 = manifest.item("A2")
    assert unit2 is not None and unit2.resource is None and unit2.submanifest is not None
    submanifest = unit2.submanifest
    assert submanifest.identifier == "SUB-1"
    assert submanifest is manifest.submanifests[0]
    assert submanifest.version is ScormVersion.SCORM_2004_4TH
    assert submanifest.default_organization is not None
    assert [item.identifier for item in submanifest.walk()] == ["S1"]
    s1 = get_item(submanifest, "S1")
    assert s1.resource is not None and s1.resource.path == "unit2/index.html"
    assert {resource.identifier for resource in manifest.all_resources()} == {
        "RES-1",
        "RES-2",
        "RES-SHARED",
        "SUB-RES-1",
    }
    assessment = manifest.item("B1")
    assert assessment is not None and assessment.primary_objective is not None
    assert assessment.primary_objective.objective_id == "urn:example:objective:assess"
    assert assessment.primary_objective.min_normalized_measure == 0.7
    assert assessment.passing_score == 0.7


# Hostile and unusual XML -----------------------------------------------------


def test_external_entity_is_refused_and_never_read() -> None:
    data = b"""<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2">
  <organizations default="O"><organization identifier="O"><title>&secret;</title></organization></organizations>
  <resources/>
</manifest>"""
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert caught.value.reason == "entities"
    assert "secret" in str(caught.value)
    assert "root:" not in str(caught.value)


def test_external_parameter_entity_is_refused() -> None:
    data = b"""<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"/>"""
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert caught.value.reason == "entities"


def test_billion_laughs_is_refused_without_expanding() -> None:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    data = (
        '<?xml version="1.0"?>\n<!DOCTYPE manifest [\n' + "\n".join(lines) + "\n]>\n"
        '<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2">'
        "<organizations><organization identifier='O'><title>&lol9;</title></organization></organizations>"
        "<resources/></manifest>"
    ).encode()
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert caught.value.reason == "entities"
    assert len(str(caught.value)) < 500


def test_a_doctype_without_entities_is_accepted() -> None:
    data = minimal_manifest().replace(b"<manifest ", b"<!DOCTYPE manifest>\n<manifest ", 1)
    assert parse_manifest(data).identifier == "M"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_byte_order_marks(encoding: str) -> None:
    text = minimal_manifest().decode("utf-8").replace("<title>T</title>", "<title>Café ✓</title>")
    if encoding == "utf-8-sig":
        data = text.encode("utf-8-sig")
    else:
        text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
        bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
        data = bom + text.encode(encoding)
        assert data[:2] in {codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE}
    manifest = parse_manifest(data)
    assert manifest.organizations[0].title == "Café ✓"


def test_whitespace_before_the_declaration_keeps_line_numbers() -> None:
    broken = b"\n\n" + minimal_manifest().replace(b'identifierref="R"', b'identifierref="NOPE"')
    with pytest.raises(ManifestError) as caught:
        parse_manifest(broken)
    assert caught.value.line == 8
    latin = b"  " + minimal_manifest().replace(b"UTF-8", b"ISO-8859-1").replace(
        b"<title>T<", "<title>é<".encode("latin-1")
    )
    assert parse_manifest(latin).organizations[0].title == "é"


def test_unusual_prefixes_read_the_same() -> None:
    original = edge("synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml")
    text = original.decode()
    text = text.replace(
        'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"', 'xmlns:c="http://www.imsglobal.org/xsd/imscp_v1p1"'
    )
    text = re.sub(r"<(/?)(manifest|metadata|schema|schemaversion|organizations|organization|title|item|resources"
                  r"|resource|file|dependency)\b", r"<\1c:\2", text)  # fmt: skip
    text = text.replace("adlcp:", "ADL_CP_1:").replace("xmlns:adlcp=", "xmlns:ADL_CP_1=")
    text = text.replace("imsss:", "seq:").replace("xmlns:imsss=", "xmlns:seq=")
    assert "<item " not in text and "<c:item " in text and "adlcp:" not in text
    assert _summary(parse_manifest(text.encode())) == _summary(parse_manifest(original))


def test_titles_items_and_files_in_another_cp_namespace_than_the_root_read_the_same() -> None:
    """The parser tells the root namespace's titles, items and files by a shortcut; the same elements in another
    IMS CP namespace, or in none, are read as they are, and none in a namespace that is no IMS CP one."""
    original = edge("synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml")
    other = 'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"'
    text = original.decode()
    for name in ("title", "item", "file"):
        text = re.sub(rf"<{name}\b", f"<{name} {other}", text, count=2)
        text = re.sub(rf"<{name}\b(?! xmlns)", f'<{name} xmlns=""', text, count=2)
    assert other in text and 'xmlns=""' in text
    # Elements of the same names in a namespace that is no IMS CP one are not the item's title, items or files.
    foreign = '<title xmlns="urn:other">Not the title</title><item xmlns="urn:other" identifier="X"/>'
    text = re.sub(r"(<item\b[^>]*>)", rf"\1{foreign}", text, count=3)
    text = re.sub(r"(<resource\b[^>]*>)", r'\1<file xmlns="urn:other" href="nowhere.html"/>', text, count=3)
    assert text.count("urn:other") == 9
    expected = parse_manifest(original)
    assert parse_manifest(text.encode()) == expected
    assert [vars(item) for item in parse_manifest(text.encode()).walk()] == [vars(item) for item in expected.walk()]


def _summary(manifest: Manifest) -> Any:
    return (
        manifest.identifier,
        manifest.version,
        manifest.default_organization_id,
        [(org.identifier, parsed_tree(org.items)) for org in manifest.organizations],
        sorted((r.identifier, r.scorm_type, r.path, r.dependencies) for r in manifest.all_resources()),
        [item.passing_score for item in manifest.walk()],
    )


def test_a_manifest_in_an_unknown_cp_namespace_is_read() -> None:
    data = minimal_manifest().replace(
        b"http://www.imsproject.org/xsd/imscp_rootv1p1p2", b"http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
    )
    manifest = parse_manifest(data)
    assert get_item(manifest, "I").launch_url == "index.html"
    assert manifest.version is ScormVersion.SCORM_12


def test_not_a_manifest() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(b"<html><body/></html>")
    assert caught.value.reason == "not-a-manifest"
    assert caught.value.line == 1


def test_duplicate_identifiers_and_dangling_dependencies_are_all_reported() -> None:
    data = minimal_manifest().replace(
        b"</resources>",
        b'<resource identifier="R" type="webcontent"><file href="b.html"/></resource>'
        b'<resource identifier="S" type="webcontent"><dependency identifierref="GONE"/></resource></resources>',
    )
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    problems = caught.value.problems
    assert [(problem.reason, problem.element) for problem in problems] == [
        ("duplicate-identifier", '<resource identifier="R">'),
        ("dangling-reference", '<dependency identifierref="GONE">'),
    ]
    assert all(problem.line == 8 for problem in problems)
    assert str(caught.value).startswith("2 problems in the manifest:\n- line 8")


def test_items_must_not_share_identifiers_but_may_share_one_with_a_resource() -> None:
    shared_with_resource = minimal_manifest().replace(
        b'identifier="I" identifierref="R"', b'identifier="R" identifierref="R"'
    )
    assert get_item(parse_manifest(shared_with_resource), "R").resource is not None
    twice = minimal_manifest().replace(
        b"<title>Lesson</title></item>",
        b'<title>Lesson</title></item><item identifier="I" identifierref="R"><title>Again</title></item>',
    )
    with pytest.raises(ManifestError) as caught:
        parse_manifest(twice)
    assert caught.value.reason == "duplicate-identifier"
    assert caught.value.element == '<item identifier="I">'
    assert "first used on line 6" in str(caught.value)


def test_missing_identifiers_and_bad_values_are_problems() -> None:
    data = minimal_manifest().replace(
        b'<item identifier="I" identifierref="R">', b'<item identifierref="R" isvisible="maybe">'
    )
    data = data.replace(b"<title>Lesson</title>", b"<title>Lesson</title><adlcp:masteryscore>lots</adlcp:masteryscore>")
    manifest = parse_manifest(data, strict=False)
    assert [problem.reason for problem in manifest.problems] == ["missing", "invalid-value", "invalid-value"]
    assert "masteryscore 'lots' is not a number between 0 and 100" in manifest.problems[2].message


def test_inline_lom_in_both_shapes() -> None:
    ieee = edge("synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml").replace(
        b"<schemaversion>2004 4th Edition</schemaversion>",
        b"<schemaversion>2004 4th Edition</schemaversion><lom:lom><lom:general><lom:title>"
        b'<lom:string language="en">Synthetic</lom:string></lom:title></lom:general></lom:lom>',
    )
    lom = parse_manifest(ieee).lom
    assert lom is not None and lom.title_text == "Synthetic"
    imsmd = minimal_manifest().replace(
        b"<title>Lesson</title>",
        b'<title>Lesson</title><metadata><imsmd:lom xmlns:imsmd="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1">'
        b'<imsmd:general><imsmd:keyword><imsmd:langstring xml:lang="en">leadership</imsmd:langstring>'
        b"</imsmd:keyword></imsmd:general></imsmd:lom></metadata>",
    )
    item = parse_manifest(imsmd).item("I")
    assert item is not None and item.metadata is not None and item.metadata.lom is not None
    assert item.metadata.lom.keywords[0][0].value == "leadership"


def test_metadata_location_without_a_loader_is_recorded() -> None:
    data = minimal_manifest().replace(
        b"<schemaversion>1.2</schemaversion>",
        b"<schemaversion>1.2</schemaversion><adlcp:location>course.xml</adlcp:location>",
    )
    manifest = parse_manifest(data)
    assert manifest.metadata is not None
    assert (manifest.metadata.location, manifest.metadata.lom) == ("course.xml", None)
    loaded = parse_manifest(
        data, metadata_loader=lambda path: b"<lom><general><title><string>Loaded</string></title></general></lom>"
    )
    assert loaded.lom is not None and loaded.lom.title_text == "Loaded"
    refused = parse_manifest(data, metadata_loader=lambda path: b"<lom><unclosed></lom>", strict=False)
    assert [problem.reason for problem in refused.problems] == ["metadata"]
    assert "course.xml" in refused.problems[0].message


def test_launch_parameters() -> None:
    assert append_parameters("a.html", None) == "a.html"
    assert append_parameters("a.html", "?x=1") == "a.html?x=1"
    assert append_parameters("a.html?y=2", "?x=1") == "a.html?y=2&x=1"
    assert append_parameters("a.html?y=2", "&x=1") == "a.html?y=2&x=1"
    assert append_parameters("a.html#top", "x=1") == "a.html?x=1#top"
    assert append_parameters("a.html", "#part") == "a.html#part"
    assert append_parameters("a.html#top", "#part") == "a.html#top"


def test_package_paths() -> None:
    assert package_path("content/a%20b.html?x=1#y") == "content/a b.html"
    assert package_path("./a/../b.html") == "b.html"
    assert package_path("http://example.org/a.html") is None


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_xml_base_is_read_in_any_encoding(encoding: str) -> None:
    """A resource's xml:base is read in a document in UTF-8 or UTF-16."""
    text = (
        minimal_manifest()
        .decode("utf-8")
        .replace('identifier="R"', 'identifier="R" xml:base="lessons/"', 1)
        .replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    )
    manifest = parse_manifest(text.encode(encoding))
    resource = manifest.resources["R"]
    assert resource.base == "lessons/" and resource.path is not None and resource.path.startswith("lessons/")
    assert all(file.path and file.path.startswith("lessons/") for file in resource.files)


def test_parsed_objects_are_whole_dataclasses() -> None:
    """Items, resources and files are built without __init__ for speed, with only the fields that differ from
    their defaults set: each reads every field, and equals the instance __init__ builds from the same values."""
    manifest = parse_manifest(adl_manifest("CM-01").read_bytes())
    objects: list[Any] = [*manifest.walk(), *manifest.resources.values()]
    objects += [file for resource in manifest.resources.values() for file in resource.files]
    assert len(objects) > 10
    for value in objects:
        fields = {field.name: field for field in dataclasses.fields(value)}
        assert set(vars(value)) <= set(fields)
        for name in set(fields) - set(vars(value)):
            # Left out: it reads as the field's default, which the class holds as an attribute.
            assert fields[name].default is not dataclasses.MISSING
            assert getattr(value, name) == fields[name].default
        rebuilt = type(value)(**{name: getattr(value, name) for name in fields})
        assert rebuilt == value
        assert hash(rebuilt) == hash(value)
        assert repr(rebuilt) == repr(value)
        assert dataclasses.replace(value) == value


@pytest.mark.parametrize("cls", [Item, Resource, File])
def test_built_classes_keep_plain_defaults(cls: type) -> None:
    """The parser leaves fields at their default out of the instance: every default must be a plain class
    attribute, never a default_factory (which leaves none)."""
    for field in dataclasses.fields(cls):
        assert field.default_factory is dataclasses.MISSING, field.name
        if field.default is not dataclasses.MISSING:
            assert cls.__dict__[field.name] == field.default, field.name


# The parser's shortcuts read the same as the long way ---------------------------------------------------------


def _real_manifests() -> list[bytes]:
    """The manifests of the playable real packages in ../shared (none without it)."""
    found = []
    for archive in sorted((EDGE_CASES.parent / "real").glob("*.zip")):
        with zipfile.ZipFile(archive) as package:
            found.append(package.read("imsmanifest.xml"))
    return found


def _keeping_blank_text(monkeypatch: pytest.MonkeyPatch, data: bytes) -> Manifest:
    """``data`` parsed from a tree that keeps the whitespace between elements (the parser drops it)."""
    parse = safexml.parse
    with monkeypatch.context() as patch:
        patch.setattr(safexml, "parse", lambda data, what="manifest", **_: parse(data, what, keep_blank_text=True))
        return parse_manifest(data, strict=False)


def test_dropping_blank_text_changes_nothing_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every manifest at hand (ADL's 189, the edge cases, the real packages, and ones with markup in their
    texts and xml:space) reads as from a tree that keeps the whitespace between elements."""
    documents = [path.read_bytes() for path in ADL_MANIFESTS]
    documents += [path.read_bytes() for path in sorted(EDGE_CASES.glob("*.xml")) if "malformed" not in path.name]
    documents += _real_manifests()
    lesson = "<title>Lesson</title>"
    documents += [
        minimal_manifest().replace(lesson.encode(), text.encode())
        for text in (
            "<title> <!-- note --> Lesson <b>one</b> <i>two</i> </title>",
            '<title xml:space="preserve">  </title>',
            "<title>\n  </title>",
            "<title><b>one</b> <i>two</i></title>",
        )
    ]
    lom = b"<lom><general><title><string language='en'><b>one</b> <i>two</i></string></title></general></lom>"
    documents.append(minimal_manifest().replace(b"</metadata>", lom + b"</metadata>"))
    assert len(documents) >= 5
    for data in documents:
        assert parse_manifest(data, strict=False) == _keeping_blank_text(monkeypatch, data)


URL_CASES = [
    "index.html", "a/b/c.js", "a b.html", "x", "a.b/c", "a/", "a/\n", "a/\nb", "/a", ".a", "./a", "../a", "a/./b",
    "a//b", "a/.b", "a?x=1", "a#top", "a%20b", "http://h/a", "a\\b", "", "a:b", "é/ü.html", "a/b.", "a..b",
    "a./b", "a\n", "a.\nb", "b/c\n.d", "\n", ".",
]  # fmt: skip


@pytest.mark.parametrize("first", URL_CASES)
def test_all_urls_checked_at_once_as_one_by_one(first: str) -> None:
    """manifest._all_plain says of a list of URLs exactly what the one-URL test says of each of them."""
    from scorm.manifest import _NOT_PLAIN, _all_plain

    def plain(url: str) -> bool:
        return bool(url) and not _NOT_PLAIN.search(url)

    for others in ([], ["index.html"], ["a/b.js", "c.png"], URL_CASES):
        for urls in ([first, *others], [*others, first], [*others[:1], first, *others[1:]]):
            assert _all_plain(urls) == all(plain(url) for url in urls), urls


def test_one_url_to_resolve_among_plain_ones() -> None:
    """Paths are the URLs as written until one needs resolving: then each is worked out, the plain ones too."""
    data = minimal_manifest(extra_files=("lib/app.js", "media/a%20b.mp4", "./css/../site.css", "img/logo.png"))
    manifest = parse_manifest(data)
    assert [file.path for file in manifest.resources["R"].files] == [
        "index.html", "lib/app.js", "media/a b.mp4", "site.css", "img/logo.png"
    ]  # fmt: skip
    assert manifest.resources["R"].path == "index.html"
    plain = parse_manifest(minimal_manifest(extra_files=("lib/app.js",)))
    assert [file.path for file in plain.resources["R"].files] == ["index.html", "lib/app.js"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_item_options_are_read_in_any_encoding(encoding: str) -> None:
    """An item's isvisible and parameters are read in a document in UTF-8 or UTF-16; an item without them has
    the defaults."""
    text = (
        minimal_manifest()
        .decode("utf-8")
        .replace('identifierref="R"', 'identifierref="R" isvisible="false" parameters="?page=2"', 1)
        .replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    )
    item = get_item(parse_manifest(text.encode(encoding)), "I")
    assert (item.isvisible, item.parameters, item.launch_url) == (False, "?page=2", "index.html?page=2")
    plain = get_item(parse_manifest(minimal_manifest().decode().encode(encoding)), "I")
    assert (plain.isvisible, plain.parameters) == (True, None)


def test_markup_in_a_title_keeps_its_spaces() -> None:
    """The parser drops blank text between elements; a title with markup (outside the schema, but seen) is
    read again from a tree that keeps it."""
    data = minimal_manifest().replace(b"<title>Lesson</title>", b"<title><b>one</b> <i>two</i></title>")
    assert get_item(parse_manifest(data), "I").title == "one two"
    lom = b"<lom><general><title><string language='en'><b>A</b> <i>B</i></string></title></general></lom>"
    manifest = parse_manifest(minimal_manifest().replace(b"</metadata>", lom + b"</metadata>"))
    assert manifest.lom is not None and [string.value for string in manifest.lom.title] == ["A B"]


def test_walk_is_depth_first_in_document_order() -> None:
    """Item.walk and Organization.walk go depth first, parents before children, siblings in order."""
    from scorm.manifest import Organization

    def tree(name: str, depth: int) -> Item:
        children = () if depth == 0 else tuple(tree(f"{name}.{n}", depth - 1) for n in range(3))
        return Item(name, name, children=children)

    def expected(item: Item) -> list[str]:
        return [item.identifier] + [name for child in item.children for name in expected(child)]

    top = (tree("a", 3), tree("b", 0), tree("c", 2))
    assert [item.identifier for item in top[0].walk()] == expected(top[0])
    assert [item.identifier for item in top[1].walk()] == ["b"]
    organization = Organization("O", "O", items=top)
    assert [item.identifier for item in organization.walk()] == [name for item in top for name in expected(item)]
    assert list(Organization("E", "E").walk()) == []


@pytest.mark.parametrize("enabled", [True, False], ids=["collector-on", "collector-off"])
@pytest.mark.parametrize("data", [minimal_manifest(), b"<manifest><unclosed></manifest>"], ids=["parsed", "refused"])
def test_parsing_leaves_the_garbage_collector_as_it_found_it(enabled: bool, data: bytes) -> None:
    before = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with contextlib.suppress(ManifestError):
            parse_manifest(data, strict=False)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if before else gc.disable()


def _big_manifest(items: int = 1_000) -> bytes:
    """A manifest of ``items`` items and resources, past the size from which the parse spares the collector."""
    from scorm import ItemSpec, PackageSpec, build_manifest
    from scorm.manifest import _MANY_OBJECTS

    spec = PackageSpec(
        identifier="BIG",
        title="Big",
        items=tuple(
            ItemSpec(f"I{n}", f"Item {n}", href=f"i{n}/index.html", files=(f"i{n}/a.js",)) for n in range(items)
        ),
    )
    data = build_manifest(spec)
    assert len(data) >= _MANY_OBJECTS
    return data


class _Cycle:
    """Garbage only the cyclic collector frees: it points at itself."""

    def __init__(self) -> None:
        self.me = self


def test_a_big_manifest_leaves_no_collection_due_and_nothing_older_unexamined() -> None:
    """Parsing a big manifest leaves none of what it made in the young generations (no collection walks its
    thousands of objects after), but what the process made before the call is examined as a collection would:
    a garbage cycle made just before is freed; nothing is left frozen."""
    import weakref

    data = _big_manifest()
    before = gc.isenabled()
    gc.enable()
    try:
        garbage = _Cycle()
        freed = weakref.ref(garbage)
        del garbage
        manifest = parse_manifest(data)
        young = {id(value) for generation in (0, 1) for value in gc.get_objects(generation)}
        assert freed() is None
        assert gc.get_freeze_count() == 0
        items = list(manifest.walk())
        assert len(items) == 1_000
        assert not any(id(value) in young for value in (manifest, *items, *manifest.resources.values()))
        assert parse_manifest(data) == manifest
    finally:
        gc.enable() if before else gc.disable()


def test_objects_frozen_by_the_process_stay_frozen() -> None:
    """A process that froze objects (a server before it forks) finds them frozen after a big parse."""
    data = _big_manifest()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        parse_manifest(data)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_with_the_collector_off_a_big_parse_collects_nothing() -> None:
    """With the collector off, the parse leaves it off and frees no cycle: it does not run it either."""
    import weakref

    data = _big_manifest()
    before = gc.isenabled()
    gc.disable()
    try:
        garbage = _Cycle()
        freed = weakref.ref(garbage)
        del garbage
        parse_manifest(data)
        assert freed() is not None
        assert not gc.isenabled()
    finally:
        gc.collect()
        gc.enable() if before else gc.disable()


def _tree_freed_in_fast_bins_off(monkeypatch: pytest.MonkeyPatch, data: bytes, identifier: str) -> list[bool]:
    """Parse ``data`` with :func:`safexml.fast_bins_off` replaced by a recorder: one entry per use, true when no
    element of the manifest ``identifier`` was left alive at the end of the block (its tree freed in it)."""
    from lxml import etree

    uses: list[bool] = []

    @contextlib.contextmanager
    def recorder() -> Any:
        yield
        alive = [
            element
            for element in gc.get_objects()
            if isinstance(element, etree._Element) and element.getroottree().getroot().get("identifier") == identifier
        ]
        uses.append(not alive)

    monkeypatch.setattr(safexml, "fast_bins_off", recorder)
    parse_manifest(data)
    return uses


def test_a_big_manifest_tree_is_freed_with_the_fast_bins_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree of a big manifest is freed (its last element gone) inside fast_bins_off; a small one's is
    freed without it, and the result is the same either way."""
    big = _big_manifest()
    assert _tree_freed_in_fast_bins_off(monkeypatch, big, "BIG") == [True]
    assert _tree_freed_in_fast_bins_off(monkeypatch, minimal_manifest(), "M") == []
    monkeypatch.undo()
    assert parse_manifest(big) == parse_manifest(big)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('identifier="P" isvisible="false"', (False, None)),
        ('identifier="P" parameters="?a=1"', (True, "?a=1")),
        ('isvisible="false" identifier="P" parameters=""', (False, "")),
        ('identifier="P" xmlns:x="urn:x" x:isvisible="false"', (True, None)),
        ('identifier="P"', (True, None)),
    ],
)
def test_item_options_of_an_item_without_identifierref(attributes: str, expected: tuple[bool, str | None]) -> None:
    """An item's isvisible and parameters are read when it has attributes beyond identifier and identifierref,
    whichever those are (a parent item has no identifierref); one in another namespace is not theirs."""
    data = (
        minimal_manifest()
        .replace(
            b'<item identifier="I" identifierref="R">',
            f"<item {attributes}>".encode() + b'<title>P</title><item identifier="I" identifierref="R">',
        )
        .replace(b"</item>", b"</item></item>", 1)
    )
    item = get_item(parse_manifest(data), "P")
    assert (item.isvisible, item.parameters) == expected
    assert [child.identifier for child in item.children] == ["I"]


def test_an_item_with_no_identifier_still_has_its_options_read() -> None:
    """The attribute count does not take a missing identifier for one: the item's isvisible is still read."""
    data = minimal_manifest().replace(b'identifierref="R"', b'identifierref="R" isvisible="no"', 1)
    data = data.replace(b'<item identifier="I" ', b"<item ", 1)
    manifest = parse_manifest(data, strict=False)
    assert [(problem.reason, problem.message) for problem in manifest.problems] == [
        ("missing", "<item> has no identifier"),
        ("invalid-value", "isvisible 'no' is neither true nor false"),
    ]


@pytest.mark.parametrize(
    ("attributes", "base"),
    [
        ('identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html" xml:base="a/"', "a/"),
        ('xml:base="a/" identifier="R" href="index.html"', "a/"),
        ('identifier="R" xml:base="a/"', "a/"),
        ('identifier="R" scormtype="sco" xml:base="a/" href="index.html"', "a/"),
        ('identifier="R" adlcp:scormType="sco" adlcp:scormtype="sco" xml:base="a/"', "a/"),
        ('identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html" other="x"', ""),
        ('identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html"', ""),
    ],
)
def test_a_resource_xml_base_among_any_attributes(attributes: str, base: str) -> None:
    """A resource's xml:base is read whichever of identifier, type, scormType and href it has beside it (the
    parser asks for it only when the resource has attributes beyond those)."""
    data = minimal_manifest().replace(
        b'identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html"', attributes.encode()
    )
    resource = parse_manifest(data).resources["R"]
    assert resource.base == base
    assert [file.path for file in resource.files] == [f"{base}index.html"]
