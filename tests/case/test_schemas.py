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
    # Identifiers are kept as they came (capcourse keys them case-insensitively).
    assert parsed.items[1]["identifier"] == ident("skill-1").upper()
    assert parsed.definitions["CFItemTypes"][0]["description"] == "Area"
    assert parsed.items[0]["madeUp"] == 1
    kinds = {n["kind"]: n for n in parsed.notes.report()}
    assert kinds["unknown_property"]["examples"] == ["$.CFItems[0].madeUp"]
    assert kinds["null"]["count"] >= 1
    assert kinds["derived_again"]["count"] == 2


# What the official schema refuses, the import refuses when it cannot be represented, and otherwise
# reads with a normalisation the report names at that path.

REFUSED: dict[str, tuple[Any, str]] = {
    "no document": (lambda p: p.pop("CFDocument"), "$"),
    "items not a list": (lambda p: p.update(CFItems={"a": 1}), "$.CFItems"),
    "unknown association type": (
        lambda p: p["CFAssociations"][0].update(associationType="isFriendOf"),
        "$.CFAssociations[0].associationType",
    ),
    "association without origin": (
        lambda p: p["CFAssociations"][1].pop("originNodeURI"),
        "$.CFAssociations[1].originNodeURI",
    ),
    "item without identifier": (lambda p: p["CFItems"][0].pop("identifier"), "$.CFItems[0].identifier"),
    "link with neither identifier nor uri": (
        lambda p: p["CFAssociations"][2].update(destinationNodeURI={"title": "x"}),
        "$.CFAssociations[2].destinationNodeURI.identifier",
    ),
}
NORMALISED: dict[str, tuple[Any, str, str]] = {
    "document without title": (lambda p: p["CFDocument"].pop("title"), "$.CFDocument.title", "default"),
    "creator a number": (
        lambda p: p["CFDocument"].update(creator=7),
        "$.CFDocument.creator",
        "string_from_number",
    ),
    "unknown caseVersion": (
        lambda p: p["CFDocument"].update(caseVersion="2.0"),
        "$.CFDocument.caseVersion",
        "invalid_dropped",
    ),
    "bad status date": (
        lambda p: p["CFDocument"].update(statusStartDate="soon"),
        "$.CFDocument.statusStartDate",
        "invalid_dropped",
    ),
    "subject link without identifier": (
        lambda p: p["CFDocument"].update(subjectURI=[{"title": "x", "uri": "https://x"}]),
        "$.CFDocument.subjectURI[0].identifier",
        "default",
    ),
    "item identifier not a UUID": (
        lambda p: p["CFItems"][0].update(identifier="item-1"),
        "$.CFItems[0].identifier",
        "identifier_not_uuid",
    ),
    "item without fullStatement but an alternative label": (
        lambda p: p["CFItems"][0].pop("fullStatement"),
        "$.CFItems[0].fullStatement",
        "default",
    ),
    "item without lastChangeDateTime": (
        lambda p: p["CFItems"][1].pop("lastChangeDateTime"),
        "$.CFItems[1].lastChangeDateTime",
        "default",
    ),
    "education levels not strings": (
        lambda p: p["CFItems"][0].update(educationLevel=[9, 10]),
        "$.CFItems[0].educationLevel[0]",
        "string_from_number",
    ),
    "destination without uri": (
        lambda p: p["CFAssociations"][2]["destinationNodeURI"].pop("uri"),
        "$.CFAssociations[2].destinationNodeURI.uri",
        "default",
    ),
    "sequence number a word": (
        lambda p: p["CFAssociations"][0].update(sequenceNumber="two"),
        "$.CFAssociations[0].sequenceNumber",
        "invalid_dropped",
    ),
    "sequence number a numeral": (
        lambda p: p["CFAssociations"][0].update(sequenceNumber="2"),
        "$.CFAssociations[0].sequenceNumber",
        "number_from_string",
    ),
    "item type without hierarchy code": (
        lambda p: p["CFDefinitions"]["CFItemTypes"][0].pop("hierarchyCode"),
        "$.CFDefinitions.CFItemTypes[0].hierarchyCode",
        "default",
    ),
    "item type with a null hierarchy code": (
        lambda p: p["CFDefinitions"]["CFItemTypes"][0].update(hierarchyCode=None),
        "$.CFDefinitions.CFItemTypes[0].hierarchyCode",
        "default",
    ),
    "licence without text": (
        lambda p: p["CFDefinitions"]["CFLicenses"][0].pop("licenseText"),
        "$.CFDefinitions.CFLicenses[0].licenseText",
        "default",
    ),
    "association type spelt otherwise": (
        lambda p: p["CFAssociations"][3].update(associationType="ExactMatchOf"),
        "$.CFAssociations[3].associationType",
        "association_type_spelling",
    ),
    "association type without is": (
        lambda p: p["CFAssociations"][3].update(associationType="RelatedTo"),
        "$.CFAssociations[3].associationType",
        "association_type_spelling",
    ),
    "a date written M/D/YYYY": (
        lambda p: p["CFItems"][1].update(statusStartDate="3/4/2025"),
        "$.CFItems[1].statusStartDate",
        "date_reformatted",
    ),
    "extensions an empty list": (
        lambda p: p["CFItems"][1].update(extensions=[]),
        "$.CFItems[1].extensions",
        "invalid_dropped",
    ),
    "a link that is a marker": (
        lambda p: p["CFItems"][1].update(CFItemTypeURI="*CLEAR*"),
        "$.CFItems[1].CFItemTypeURI",
        "invalid_dropped",
    ),
    "rubric level score a word": (
        lambda p: p["CFRubrics"][0]["CFRubricCriteria"][0]["CFRubricCriterionLevels"][0].update(score="high"),
        "$.CFRubrics[0].CFRubricCriteria[0].CFRubricCriterionLevels[0].score",
        "invalid_dropped",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_cannot_be_represented_is_refused_at_its_path(case: str) -> None:
    package = third_party_package()
    assert problems(official_1p1(), package) == []
    breaking, path = REFUSED[case]
    breaking(package)
    assert problems(official_1p1(), package), f"1EdTech's schema accepts {case}"
    with pytest.raises(PackageError) as error:
        parse_package(json.dumps(package).encode())
    assert error.value.errors is not None and path in error.value.errors, error.value.errors


@pytest.mark.parametrize("case", list(NORMALISED))
def test_what_can_be_represented_is_read_and_the_normalisation_named(case: str) -> None:
    package = third_party_package()
    breaking, path, kind = NORMALISED[case]
    breaking(package)
    assert problems(official_1p1(), package), f"1EdTech's schema accepts {case}"
    notes = {n["kind"]: n for n in parse_package(json.dumps(package).encode()).notes.report()}
    assert kind in notes, notes
    assert any(example.split(":")[0] == path for example in notes[kind]["examples"]), notes[kind]
