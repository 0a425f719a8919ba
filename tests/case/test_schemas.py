"""The CASE schemas capcourse validates imports with agree with 1EdTech's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capcourse.case.importing import PackageError, parse_package
from tests.case.standards import ident, official_1p1, problems, third_party_package


def test_looser_real_world_packages_are_read_and_normalised() -> None:
    package = third_party_package()
    package["CFDocument"]["CFPackageURI"] = {"title": "x", "identifier": ident("doc"), "uri": "https://x.example/p"}
    package["CFDocument"]["statusStartDate"] = "2025-01-01T10:00:00+00:00"  # a 1.0 date-time
    package["CFDocument"]["subject"] = "Social care"  # a 1.0 string
    package["CFDocument"]["notes"] = None  # OpenCASE writes nulls
    package["CFItems"][0]["CFDocumentURI"] = {"title": "x", "identifier": ident("doc"), "uri": "https://x.example/d"}
    package["CFItems"][0]["madeUp"] = 1
    package["CFItems"][1]["identifier"] = package["CFItems"][1]["identifier"].upper()
    del package["CFDefinitions"]["CFItemTypes"][0]["description"]  # optional in 1.0
    parsed = parse_package(json.dumps(package).encode())
    assert parsed.document["statusStartDate"] == "2025-01-01"
    assert parsed.document["subject"] == ["Social care"]
    assert "notes" not in parsed.document and "CFPackageURI" not in parsed.document
    assert parsed.items[1]["identifier"] == ident("skill-1")
    assert parsed.definitions["CFItemTypes"][0]["description"] == "Area"
    assert "$.CFItems[*].madeUp: not a CASE property; not kept." in parsed.warnings
    assert any("null" in w for w in parsed.warnings)


# The official schema and capcourse's import agree on what is broken.

BROKEN: dict[str, tuple[Any, str]] = {
    "no document": (lambda p: p.pop("CFDocument"), "$.CFDocument"),
    "document without title": (lambda p: p["CFDocument"].pop("title"), "$.CFDocument.title"),
    "creator a number": (lambda p: p["CFDocument"].update(creator=7), "$.CFDocument.creator"),
    "unknown caseVersion": (lambda p: p["CFDocument"].update(caseVersion="2.0"), "$.CFDocument.caseVersion"),
    "bad status date": (lambda p: p["CFDocument"].update(statusStartDate="soon"), "$.CFDocument.statusStartDate"),
    "subject link without identifier": (
        lambda p: p["CFDocument"].update(subjectURI=[{"title": "x", "uri": "https://x"}]),
        "$.CFDocument.subjectURI[0].identifier",
    ),
    "items not a list": (lambda p: p.update(CFItems={"a": 1}), "$.CFItems"),
    "item identifier not a UUID": (lambda p: p["CFItems"][0].update(identifier="item-1"), "$.CFItems[0].identifier"),
    "item without fullStatement": (lambda p: p["CFItems"][0].pop("fullStatement"), "$.CFItems[0].fullStatement"),
    "item without lastChangeDateTime": (
        lambda p: p["CFItems"][1].pop("lastChangeDateTime"),
        "$.CFItems[1].lastChangeDateTime",
    ),
    "education levels not strings": (
        lambda p: p["CFItems"][0].update(educationLevel=[9, 10]),
        "$.CFItems[0].educationLevel[0]",
    ),
    "unknown association type": (
        lambda p: p["CFAssociations"][0].update(associationType="isFriendOf"),
        "$.CFAssociations[0].associationType",
    ),
    "association without origin": (
        lambda p: p["CFAssociations"][1].pop("originNodeURI"),
        "$.CFAssociations[1].originNodeURI",
    ),
    "destination without uri": (
        lambda p: p["CFAssociations"][2]["destinationNodeURI"].pop("uri"),
        "$.CFAssociations[2].destinationNodeURI.uri",
    ),
    "sequence number a string": (
        lambda p: p["CFAssociations"][0].update(sequenceNumber="two"),
        "$.CFAssociations[0].sequenceNumber",
    ),
    "item type without hierarchy code": (
        lambda p: p["CFDefinitions"]["CFItemTypes"][0].pop("hierarchyCode"),
        "$.CFDefinitions.CFItemTypes[0].hierarchyCode",
    ),
    "licence without text": (
        lambda p: p["CFDefinitions"]["CFLicenses"][0].pop("licenseText"),
        "$.CFDefinitions.CFLicenses[0].licenseText",
    ),
    "rubric level score a string": (
        lambda p: p["CFRubrics"][0]["CFRubricCriteria"][0]["CFRubricCriterionLevels"][0].update(score="high"),
        "$.CFRubrics[0].CFRubricCriteria[0].CFRubricCriterionLevels[0].score",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_what_the_official_schema_refuses_the_import_refuses(case: str) -> None:
    package = third_party_package()
    assert problems(official_1p1(), package) == []
    breaking, path = BROKEN[case]
    breaking(package)
    assert problems(official_1p1(), package), f"1EdTech's schema accepts {case}"
    with pytest.raises(PackageError) as error:
        parse_package(json.dumps(package).encode())
    assert error.value.errors is not None and path in error.value.errors, error.value.errors
