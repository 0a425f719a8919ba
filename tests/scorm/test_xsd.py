"""Offline schema validation through the wrapper schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from scorm import ManifestError
from scorm.xsd import ManifestSchema, SchemaError, ValidationError, validate_manifest, wrapper_schema
from tests.scorm.archives import ADL_MANIFESTS, EDGE_CASES, NEEDS_ADL, STANDARDS


@pytest.fixture(scope="module")
def schemas() -> dict[str, ManifestSchema]:
    return {folder: ManifestSchema(STANDARDS / folder) for folder in ("2004-4th", "2004-3rd", "1.2")}


def test_wrapper_imports_the_xml_namespace_first() -> None:
    wrapper = etree.fromstring(wrapper_schema(STANDARDS / "2004-4th"))
    imports = [(element.get("namespace"), element.get("schemaLocation")) for element in wrapper]
    assert imports[0] == ("http://www.w3.org/XML/1998/namespace", "xml.xsd")
    assert ("http://www.imsglobal.org/xsd/imscp_v1p1", "imscp_v1p1.xsd") in imports
    assert ("http://ltsc.ieee.org/xsd/LOM", "lom.xsd") in imports
    assert not any("rootv1p2" in (location or "") for _, location in imports)
    twelve = [element.get("schemaLocation") for element in etree.fromstring(wrapper_schema(STANDARDS / "1.2"))]
    assert twelve == ["ims_xml.xsd", "imscp_rootv1p1p2.xsd", "adlcp_rootv1p2.xsd", "imsmd_rootv1p2p1.xsd"]


@NEEDS_ADL
def test_all_adl_manifests_validate_against_4th_edition(schemas: dict[str, ManifestSchema]) -> None:
    invalid = {path.name: schemas["2004-4th"].validate(path.read_bytes()) for path in ADL_MANIFESTS}
    assert {name: errors for name, errors in invalid.items() if errors} == {}


@NEEDS_ADL
def test_4th_edition_features_fail_the_3rd_edition_schemas(schemas: dict[str, ManifestSchema]) -> None:
    uses_adlseq_objectives = [path for path in ADL_MANIFESTS if b"<adlseq:objectives" in path.read_bytes()]
    assert uses_adlseq_objectives
    errors = schemas["2004-3rd"].validate(uses_adlseq_objectives[0].read_bytes())
    assert errors and all(error.line > 0 for error in errors)


@pytest.mark.parametrize(
    ("name", "folder", "valid"),
    [
        ("emp-2004-no-schemaversion-mixed-adlcp-ns.imsmanifest.xml", "2004-4th", True),
        ("emp-2004-no-schemaversion-mixed-adlcp-ns.imsmanifest.xml", "2004-3rd", False),
        ("emp-2004-4th-broken-default-org.imsmanifest.xml", "2004-4th", True),
        ("emp-dangling-identifierref-1.2.imsmanifest.xml", "1.2", True),
        ("emp-two-orgs-deep-nesting-1.2.imsmanifest.xml", "1.2", True),
        ("emp-prerequisites-wrong-case-1.2.imsmanifest.xml", "1.2", False),
        ("synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml", "2004-4th", True),
        ("emp-two-orgs-deep-nesting-1.2.imsmanifest.xml", "2004-4th", False),
    ],
)
def test_edge_cases(name: str, folder: str, valid: bool, schemas: dict[str, ManifestSchema]) -> None:
    errors = schemas[folder].validate((EDGE_CASES / name).read_bytes())
    assert (errors == []) is valid


def test_errors_carry_the_line(schemas: dict[str, ManifestSchema]) -> None:
    errors = schemas["1.2"].validate((EDGE_CASES / "emp-prerequisites-wrong-case-1.2.imsmanifest.xml").read_bytes())
    assert errors[0].line == 26
    assert "dataFromLMS" in errors[0].message
    assert str(errors[0]).startswith("line 26: ")


def test_validate_manifest_accepts_a_parsed_element() -> None:
    element = etree.fromstring((EDGE_CASES / "emp-dangling-identifierref-1.2.imsmanifest.xml").read_bytes())
    assert validate_manifest(element, STANDARDS / "1.2") == []
    broken = etree.fromstring(b'<manifest xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"/>')
    errors = validate_manifest(broken, STANDARDS / "1.2")
    assert errors and isinstance(errors[0], ValidationError)


def test_hostile_bytes_are_refused_before_validation(schemas: dict[str, ManifestSchema]) -> None:
    data = b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><manifest>&x;</manifest>'
    with pytest.raises(ManifestError) as caught:
        schemas["1.2"].validate(data)
    assert caught.value.reason == "entities"


def test_a_folder_without_schemas(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no schema of the XML namespace"):
        ManifestSchema(tmp_path)
    (tmp_path / "xml.xsd").write_bytes((STANDARDS / "2004-4th" / "xml.xsd").read_bytes())
    with pytest.raises(SchemaError, match="no IMS content-packaging schema"):
        ManifestSchema(tmp_path)
    (tmp_path / "imscp_v1p1.xsd").write_text("<not a schema")
    with pytest.raises(SchemaError, match="do not load"):
        ManifestSchema(tmp_path)
