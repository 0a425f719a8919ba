"""Packages that reproduce, one class at a time, what real CASE publishers get wrong or do unusually.

Written for these tests from what public packages do (OpenCASE exports,
OpenSALT samples, a consortium's provider, CASE 1.0 tools); no third-party
package is copied. Each builder starts from :func:`third_party_package` (a
valid CASE 1.1 package) or from nothing, and changes one kind of thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capcourse.identifiers import item_id
from tests.case.standards import ident, third_party_package

STAMP = "2025-03-04T05:06:07+00:00"


@dataclass(frozen=True)
class Deviation:
    build: Callable[[], dict[str, Any]]
    #: Normalisation kinds the import report must name.
    kinds: frozenset[str]
    #: The CASE version to export it again as.
    version: str = "1.1"
    #: Whether the package has items a programme can map to.
    mappable: bool = True
    #: Whether 1EdTech's schema accepts the export as it came (not when the package carries non-CASE properties).
    valid_export: bool = True
    #: Whether it accepts the strict export (not when identifiers are no UUIDs: they are kept, being referred to).
    valid_strict_export: bool = True


def nulls() -> dict[str, Any]:
    """OpenCASE writes ``null`` for what it has not: optional properties, and required hierarchy codes."""
    package = third_party_package("Nulls everywhere")
    package["CFDefinitions"]["CFItemTypes"][0]["hierarchyCode"] = None
    package["CFDefinitions"]["CFSubjects"][0]["hierarchyCode"] = None
    package["CFDefinitions"]["CFSubjects"][0]["description"] = None
    package["CFItems"][0]["notes"] = None
    package["CFItems"][1]["conceptKeywords"] = None
    package["CFItems"][2]["educationLevel"] = [None, "09"]
    package["CFAssociations"][3]["CFAssociationGroupingURI"] = None
    package["CFDocument"]["officialSourceURL"] = None
    return package


def strings_for_numbers() -> dict[str, Any]:
    """Numbers as strings (an OpenSALT sample's sequence numbers; rubric scores), numbers as strings' place."""
    package = third_party_package("Numbers as strings")
    for association in package["CFAssociations"][:2]:
        association["sequenceNumber"] = str(association["sequenceNumber"])
    criterion = package["CFRubrics"][0]["CFRubricCriteria"][0]
    criterion["weight"] = "1.5"
    criterion["position"] = "1"
    criterion["CFRubricCriterionLevels"][0]["score"] = "3"
    package["CFDocument"]["version"] = 2  # a number where CASE wants a string
    return package


def integer_scores() -> dict[str, Any]:
    """Whole numbers stay whole: a score of 2 must not come back as 2.0."""
    package = third_party_package("Whole scores")
    criterion = package["CFRubrics"][0]["CFRubricCriteria"][0]
    criterion["weight"] = 1
    criterion["CFRubricCriterionLevels"][0]["score"] = 2
    criterion["CFRubricCriterionLevels"].append(
        {
            "identifier": ident("level-2"),
            "uri": f"https://case.example.org/CFRubricCriterionLevels/{ident('level-2')}",
            "quality": "Partly accurate",
            "score": 0.5,
            "position": 2,
            "lastChangeDateTime": STAMP,
        }
    )
    return package


def other_uris() -> dict[str, Any]:
    """Destinations the package does not hold, named by ``local:``, ``urn:`` and relative URIs."""
    package = third_party_package("Local and relative references")
    package["CFAssociations"][3]["destinationNodeURI"] = {
        "title": "Data protection",
        "identifier": ident("elsewhere"),
        "uri": f"local:{ident('elsewhere')}",
    }
    package["CFAssociations"][4]["destinationNodeURI"] = {
        "title": "Utilise un système de dossiers",
        "identifier": "FR-DS-1-1",
        "uri": "../items/FR-DS-1-1",
    }
    package["CFAssociations"].append(
        {
            "identifier": ident("a-urn"),
            "uri": f"urn:case:association:{ident('a-urn')}",
            "associationType": "isRelatedTo",
            "originNodeURI": package["CFAssociations"][1]["originNodeURI"],
            "destinationNodeURI": {"title": "GDPR", "identifier": "urn:eu:gdpr", "uri": "urn:eu:gdpr"},
            "lastChangeDateTime": STAMP,
        }
    )
    return package


def loose_identifiers() -> dict[str, Any]:
    """Identifiers that are not RFC 4122 (nil-like, upper case) or no UUID at all."""
    package = third_party_package("Loose identifiers")
    old, new = ident("skill-2"), "SKILL-0002"
    package["CFItems"][2]["identifier"] = new
    for association in package["CFAssociations"]:
        for end in ("originNodeURI", "destinationNodeURI"):
            if association[end]["identifier"] == old:
                association[end]["identifier"] = new
    package["CFItems"][1]["identifier"] = package["CFItems"][1]["identifier"].upper()
    for association in package["CFAssociations"]:
        for end in ("originNodeURI", "destinationNodeURI"):
            if association[end]["identifier"] == ident("skill-1"):
                association[end]["identifier"] = ident("skill-1").upper()
    package["CFAssociations"][0]["identifier"] = "00000000-0000-0000-0000-00000000000a"
    return package


def missing_descriptions() -> dict[str, Any]:
    """CASE 1.0 made item types' descriptions optional; many tools leave them and others out."""
    package = third_party_package("No descriptions")
    for item_type in package["CFDefinitions"]["CFItemTypes"]:
        del item_type["description"]
    del package["CFDefinitions"]["CFAssociationGroupings"][0]["description"]
    return package


def document_ends() -> dict[str, Any]:
    """Associations starting at the document (``replacedBy`` a newer one) and ending at another document."""
    package = third_party_package("Document ends")
    document = package["CFDocument"]
    newer = ident("newer-doc")
    package["CFAssociations"].append(
        {
            "identifier": ident("a-replaced"),
            "uri": f"https://case.example.org/uri/{ident('a-replaced')}",
            "associationType": "replacedBy",
            "originNodeURI": {"title": document["title"], "identifier": document["identifier"], "uri": document["uri"]},
            "destinationNodeURI": {
                "title": "Digital skills 3",
                "identifier": newer,
                "uri": f"https://case.example.org/uri/{newer}",
            },
            "lastChangeDateTime": STAMP,
        }
    )
    package["CFAssociations"].append(
        {
            "identifier": ident("a-part"),
            "uri": f"https://case.example.org/uri/{ident('a-part')}",
            "associationType": "isPartOf",
            "originNodeURI": package["CFAssociations"][0]["originNodeURI"],
            "destinationNodeURI": {
                "title": "Digital skills 3",
                "identifier": newer,
                "uri": f"https://case.example.org/uri/{newer}",
            },
            "lastChangeDateTime": STAMP,
        }
    )
    return package


def crosswalk_only() -> dict[str, Any]:
    """A document with no items: only associations between items of other frameworks (one shipped, one not)."""
    doc = ident("crosswalk-doc")
    supervisor = item_id("dfe-kss-practice-supervisors-2018", "1")
    leader = item_id("dfe-kss-practice-leaders-2018", "1")
    return {
        "CFDocument": {
            "identifier": doc,
            "uri": f"https://crosswalk.example.org/uri/{doc}",
            "creator": "Example Crosswalk Service",
            "title": "Crosswalk: KSS and a national registry",
            "lastChangeDateTime": STAMP,
        },
        "CFAssociations": [
            {
                "identifier": ident("x-1"),
                "uri": f"https://crosswalk.example.org/uri/{ident('x-1')}",
                "associationType": "exactMatchOf",
                "originNodeURI": {
                    "title": "National 4.2",
                    "identifier": ident("national-4-2"),
                    "uri": f"https://registry.example.net/items/{ident('national-4-2')}",
                },
                "destinationNodeURI": {
                    "title": "KSS PS 1",
                    "identifier": str(supervisor),
                    "uri": f"https://capcourse.example/uri/{supervisor}",
                },
                "lastChangeDateTime": STAMP,
            },
            {
                "identifier": ident("x-2"),
                "uri": f"https://crosswalk.example.org/uri/{ident('x-2')}",
                "associationType": "isRelatedTo",
                "originNodeURI": {
                    "title": "KSS PS 1",
                    "identifier": str(supervisor),
                    "uri": f"https://capcourse.example/uri/{supervisor}",
                },
                "destinationNodeURI": {
                    "title": "KSS PL 1",
                    "identifier": str(leader),
                    "uri": f"https://capcourse.example/uri/{leader}",
                },
                "lastChangeDateTime": STAMP,
            },
        ],
    }


def unknown_properties() -> dict[str, Any]:
    """Properties no CASE version defines, which publishers add (``educationalLevel``, ``CFItemAssociationURI``)."""
    package = third_party_package("Extra properties")
    package["CFItems"][0]["educationalLevel"] = ["KS4"]
    package["CFItems"][1]["CFItemTypeURI"]["typeCode"] = "skill"
    package["CFAssociations"][3]["CFItemAssociationURI"] = {
        "title": "Crosswalk",
        "identifier": ident("item-association"),
        "uri": "https://case.example.org/CFItemAssociations/x",
    }
    package["CFDocument"]["publisherURI"] = "https://example.org/"
    package["CFDefinitions"]["CFItemTypes"][0]["color"] = "#004488"
    package["generatedBy"] = "Example Tool 4.1"
    return package


def tree_as_published() -> dict[str, Any]:
    """``isChildOf`` links only, whose ends' titles and URIs are the publisher's own (not capcourse's)."""
    package = third_party_package("Tree as published")
    package["CFAssociations"] = package["CFAssociations"][:3]
    for association in package["CFAssociations"]:
        association["originNodeURI"]["title"] = "Node " + association["originNodeURI"]["title"]
        association["originNodeURI"]["uri"] = (
            "https://publisher.example/nodes/" + association["originNodeURI"]["identifier"]
        )
        association["destinationNodeURI"]["title"] = association["destinationNodeURI"]["title"].upper()
    package["CFAssociations"][0]["notes"] = "Top level."
    return package


def long_values() -> dict[str, Any]:
    """Values longer than capcourse's columns: kept whole for the export."""
    package = third_party_package("Long values")
    package["CFItems"][0]["humanCodingScheme"] = "DS." + "1." * 80
    package["CFItems"][0]["uri"] = "https://case.example.org/uri/" + "x" * 600
    package["CFDocument"]["version"] = "v" * 150
    return package


def case_1p0() -> dict[str, Any]:
    """A CASE 1.0 package: links to the package and document, one string for a list, date-times for dates."""
    package = third_party_package("A CASE 1.0 package")
    document = package["CFDocument"]
    for name in ("caseVersion", "frameworkType", "extensions"):
        document.pop(name)
    document["CFPackageURI"] = {
        "title": document["title"],
        "identifier": document["identifier"],
        "uri": document["uri"],
    }
    document["subject"] = "Social care"
    document["statusStartDate"] = "2025-01-01T00:00:00+00:00"
    link = {"title": document["title"], "identifier": document["identifier"], "uri": document["uri"]}
    for item in package["CFItems"]:
        item.pop("extensions", None)
        item["CFDocumentURI"] = link
    for association in package["CFAssociations"]:
        association.pop("notes", None)
        association["destinationNodeURI"].pop("targetType", None)
        association["CFDocumentURI"] = link
    package["CFAssociations"] = [a for a in package["CFAssociations"] if a["associationType"] != "isTranslationOf"]
    package.pop("extensions")
    return package


def cycle() -> dict[str, Any]:
    """An item tree whose isChildOf links go round."""
    package = third_party_package("A cycle")
    package["CFAssociations"][0]["destinationNodeURI"] = package["CFAssociations"][1]["originNodeURI"]
    return package


DEVIATIONS: dict[str, Deviation] = {
    "nulls": Deviation(nulls, frozenset({"null", "default"})),
    "strings for numbers": Deviation(strings_for_numbers, frozenset({"number_from_string", "string_from_number"})),
    "integer scores": Deviation(integer_scores, frozenset()),
    "local, urn and relative URIs": Deviation(other_uris, frozenset()),
    # Kept as they came: 1EdTech's schema wants UUIDs, so the export is as (in)valid as the package.
    "loose identifiers": Deviation(
        loose_identifiers,
        frozenset({"identifier_not_uuid", "identifier_not_rfc4122"}),
        valid_export=False,
        valid_strict_export=False,
    ),
    "missing descriptions": Deviation(missing_descriptions, frozenset({"default"})),
    "associations at documents": Deviation(document_ends, frozenset()),
    "crosswalk only": Deviation(crosswalk_only, frozenset(), mappable=False),
    "unknown properties": Deviation(unknown_properties, frozenset({"unknown_property"}), valid_export=False),
    "isChildOf as published": Deviation(tree_as_published, frozenset()),
    "long values": Deviation(long_values, frozenset()),
    "CASE 1.0": Deviation(
        case_1p0, frozenset({"derived_again", "list_from_string", "date_from_date_time"}), version="1.0"
    ),
    "a cycle": Deviation(cycle, frozenset({"tree_cycle"})),
}
