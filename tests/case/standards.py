"""1EdTech's CASE schemas (from ``../shared/standards/case``) as validators, and test packages.

The schemas are read where they are, never copied into the project. Which
validator reads which file follows SOURCES.md beside them: the official 1.1
package schema is draft 2019-09, the transcribed OpenSALT one 2020-12, the 1.0
package schema and the OpenAPI components draft 4.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft201909Validator, Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator

from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from tests.shared import SHARED, shared_params

STANDARDS = SHARED / "standards" / "case"
FIXTURES = SHARED / "fixtures" / "case"
#: The real packages other CASE tools published (all six OpenSALT fixtures).
FIXTURE_FILES = shared_params("fixtures/case", "*.json")
BASE_URL = "http://capcourse.test"
#: Who imports in service-level tests.
ADMIN_PRINCIPAL = Principal(role=Role.ADMIN, name="Test admin <admin@example.org>")


# RFC 3339 date-time, as JSON Schema's "date-time" format means it. jsonschema checks
# that format only with an optional package; without it every string would pass, and
# the 1.0 schema's oneOf(date, date-time) would then reject every date.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.fromisoformat(value.replace("z", "Z"))
        return True

    return checker


@functools.cache
def _document(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STANDARDS / name).read_text(encoding="utf-8"))
    return data


def official_1p1() -> Validator:
    """1EdTech's CASE 1.1 CFPackage schema (draft 2019-09)."""
    return Draft201909Validator(_document("case_v1p1_cfpackage-jsonschema1.json"), format_checker=format_checker())


def transcribed_1p1() -> Validator:
    """The CASE 1.1 package schema as OpenSALT ships it (2020-12; RFC 4122 identifiers)."""
    return Draft202012Validator(_document("case-v1p1-cfpackage-schema.json"), format_checker=format_checker())


def package_1p0() -> Validator:
    """The CASE 1.0 CFPackage schema (draft 4 style)."""
    return Draft4Validator(_document("case-v1p0-cfpackage-schema.json"), format_checker=format_checker())


def openapi(component: str) -> Validator:
    """A component of 1EdTech's CASE 1.1 OpenAPI document, e.g. ``CFItemDType``."""
    components = _document("imscasev1p1_openapi3_v1p0.json")["components"]
    return Draft4Validator(
        {"$ref": f"#/components/schemas/{component}", "components": components}, format_checker=format_checker()
    )


def swagger_1p0(definition: str) -> Validator:
    """A definition of the CASE 1.0 Swagger document, e.g. ``imsx_StatusInfo.Type``."""
    definitions = _document("case-v1p0-swagger.json")["definitions"]
    return Draft4Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": definitions}, format_checker=format_checker()
    )


def problems(validator: Validator, instance: Any) -> list[str]:
    """Every error, as ``path: message``, for assertion messages."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}" for error in validator.iter_errors(instance)
    ]


def fixture(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def identifiers(package: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The identifiers of a package's items and of its associations."""
    return (
        {item["identifier"] for item in package.get("CFItems", [])},
        {association["identifier"] for association in package.get("CFAssociations", [])},
    )


def unordered(package: dict[str, Any]) -> dict[str, Any]:
    """A package with its lists in identifier order, to compare packages ignoring order."""
    result = copy.deepcopy(package)
    for name in ("CFItems", "CFAssociations", "CFRubrics"):
        if name in result:
            result[name] = sorted(result[name], key=lambda x: x["identifier"])
    for name, members in result.get("CFDefinitions", {}).items():
        if isinstance(members, list):
            result["CFDefinitions"][name] = sorted(members, key=lambda x: x["identifier"])
    return result


_NS = uuid.UUID("6f1d3c2e-8a51-4c8e-9a57-0d7b1e4c9f00")


def ident(name: str) -> str:
    """A stable RFC 4122 identifier for a test object."""
    return str(uuid.uuid5(_NS, name))


def third_party_package(title: str = "Digital skills for social care") -> dict[str, Any]:
    """A CASE 1.1 package as another tool writes it, using what capcourse does not model.

    Concepts, subjects, a licence, an association grouping, a rubric, item
    properties such as educationLevel and alternativeLabel, a foreign
    extension, and associations to a framework capcourse does not hold.
    """
    doc, stamp = ident("doc"), "2025-03-04T05:06:07+00:00"
    base = "https://case.example.org/uri"

    def link(kind: str, name: str, title: str) -> dict[str, str]:
        return {"title": title, "identifier": ident(name), "uri": f"https://case.example.org/{kind}/{ident(name)}"}

    def item(name: str, statement: str, **more: Any) -> dict[str, Any]:
        return {
            "identifier": ident(name),
            "uri": f"{base}/{ident(name)}",
            "fullStatement": statement,
            "lastChangeDateTime": stamp,
            **more,
        }

    # Tools title a link to an item with its code, as capcourse does.
    codes = {"area": "DS.1", "skill-1": "DS.1.1", "skill-2": "DS.1.2"}

    def child(name: str, origin: str, destination: str, sequence: int) -> dict[str, Any]:
        target = {"title": title, "identifier": doc, "uri": f"{base}/{doc}"} if destination == "doc" else None
        return {
            "identifier": ident(name),
            "uri": f"{base}/{ident(name)}",
            "associationType": "isChildOf",
            "originNodeURI": {"title": codes[origin], "identifier": ident(origin), "uri": f"{base}/{ident(origin)}"},
            "destinationNodeURI": target
            or {"title": codes[destination], "identifier": ident(destination), "uri": f"{base}/{ident(destination)}"},
            "sequenceNumber": sequence,
            "lastChangeDateTime": stamp,
        }

    return {
        "CFDocument": {
            "identifier": doc,
            "uri": f"{base}/{doc}",
            "caseVersion": "1.1",
            "frameworkType": "Competency framework",
            "creator": "Example Skills Council",
            "title": title,
            "lastChangeDateTime": stamp,
            "publisher": "Example Skills Council",
            "version": "2",
            "adoptionStatus": "Adopted",
            "language": "en",
            "subject": ["Social care"],
            "subjectURI": [link("CFSubjects", "subject-care", "Social care")],
            "statusStartDate": "2025-01-01",
            "licenseURI": link("CFLicenses", "licence", "CC BY 4.0"),
            "extensions": {"example-tool": {"workflow": "published"}},
        },
        "CFItems": [
            item(
                "area",
                "Digital literacy",
                humanCodingScheme="DS.1",
                CFItemType="Area",
                CFItemTypeURI=link("CFItemTypes", "type-area", "Area"),
                alternativeLabel="Digital basics",
                educationLevel=["13", "AP"],
                conceptKeywords=["digital", "literacy"],
                conceptKeywordsURI=link("CFConcepts", "concept-digital", "Digital"),
                listEnumeration="1",
            ),
            item(
                "skill-1",
                "Uses a case recording system accurately.",
                humanCodingScheme="DS.1.1",
                CFItemType="Skill",
                CFItemTypeURI=link("CFItemTypes", "type-skill", "Skill"),
                abbreviatedStatement="Case recording",
                notes="Observed in practice.",
                language="en",
                statusStartDate="2025-01-01",
                extensions={"example-tool": {"difficulty": 2}},
            ),
            item("skill-2", "Keeps personal data secure.", humanCodingScheme="DS.1.2", CFItemType="Skill"),
        ],
        "CFAssociations": [
            child("a-area", "area", "doc", 1),
            child("a-skill-2", "skill-2", "area", 2),
            child("a-skill-1", "skill-1", "area", 1),
            {
                "identifier": ident("a-external"),
                "uri": f"{base}/{ident('a-external')}",
                "associationType": "exactMatchOf",
                "originNodeURI": {
                    "title": "DS.1.2",
                    "identifier": ident("skill-2"),
                    "uri": f"{base}/{ident('skill-2')}",
                },
                "destinationNodeURI": {
                    "title": "Data protection",
                    "identifier": ident("elsewhere"),
                    "uri": f"https://registry.example.net/items/{ident('elsewhere')}",
                    "targetType": "CASE",
                },
                "CFAssociationGroupingURI": link("CFAssociationGroupings", "grouping", "Crosswalk"),
                "lastChangeDateTime": stamp,
                "notes": "Same outcome in the national registry.",
            },
            {
                "identifier": ident("a-translation"),
                "uri": f"{base}/{ident('a-translation')}",
                "associationType": "isTranslationOf",
                "originNodeURI": {
                    "title": "DS.1.1",
                    "identifier": ident("skill-1"),
                    "uri": f"{base}/{ident('skill-1')}",
                },
                "destinationNodeURI": {
                    "title": "Utilise un système de dossiers",
                    "identifier": ident("french"),
                    "uri": f"https://case.example.fr/uri/{ident('french')}",
                },
                "lastChangeDateTime": stamp,
            },
        ],
        "CFDefinitions": {
            "CFConcepts": [
                {
                    "identifier": ident("concept-digital"),
                    "uri": f"https://case.example.org/CFConcepts/{ident('concept-digital')}",
                    "title": "Digital",
                    "keywords": "digital",
                    "hierarchyCode": "1",
                    "lastChangeDateTime": stamp,
                },
                {
                    "identifier": ident("concept-records"),
                    "uri": f"https://case.example.org/CFConcepts/{ident('concept-records')}",
                    "title": "Records",
                    "hierarchyCode": "1.1",
                    "lastChangeDateTime": stamp,
                },
            ],
            "CFSubjects": [
                {
                    "identifier": ident("subject-care"),
                    "uri": f"https://case.example.org/CFSubjects/{ident('subject-care')}",
                    "title": "Social care",
                    "hierarchyCode": "1",
                    "description": "Adult and children's social care.",
                    "lastChangeDateTime": stamp,
                }
            ],
            "CFLicenses": [
                {
                    "identifier": ident("licence"),
                    "uri": "https://creativecommons.org/licenses/by/4.0/",
                    "title": "CC BY 4.0",
                    "licenseText": "Creative Commons Attribution 4.0 International.",
                    "lastChangeDateTime": stamp,
                }
            ],
            "CFItemTypes": [
                {
                    "identifier": ident("type-area"),
                    "uri": f"https://case.example.org/CFItemTypes/{ident('type-area')}",
                    "title": "Area",
                    "description": "A skills area.",
                    "hierarchyCode": "1",
                    "typeCode": "area",
                    "lastChangeDateTime": stamp,
                },
                {
                    "identifier": ident("type-skill"),
                    "uri": f"https://case.example.org/CFItemTypes/{ident('type-skill')}",
                    "title": "Skill",
                    "description": "A skill.",
                    "hierarchyCode": "1.1",
                    "lastChangeDateTime": stamp,
                },
            ],
            "CFAssociationGroupings": [
                {
                    "identifier": ident("grouping"),
                    "uri": f"https://case.example.org/CFAssociationGroupings/{ident('grouping')}",
                    "title": "Crosswalk",
                    "description": "Links to the national registry.",
                    "lastChangeDateTime": stamp,
                }
            ],
        },
        "CFRubrics": [
            {
                "identifier": ident("rubric"),
                "uri": f"https://case.example.org/CFRubrics/{ident('rubric')}",
                "title": "Case recording",
                "lastChangeDateTime": stamp,
                "CFRubricCriteria": [
                    {
                        "identifier": ident("criterion"),
                        "uri": f"https://case.example.org/CFRubricCriteria/{ident('criterion')}",
                        "category": "Accuracy",
                        "CFItemURI": {
                            "title": "DS.1.1",
                            "identifier": ident("skill-1"),
                            "uri": f"{base}/{ident('skill-1')}",
                        },
                        "weight": 1.0,
                        "position": 1,
                        "rubricId": ident("rubric"),
                        "lastChangeDateTime": stamp,
                        "CFRubricCriterionLevels": [
                            {
                                "identifier": ident("level"),
                                "uri": f"https://case.example.org/CFRubricCriterionLevels/{ident('level')}",
                                "quality": "Accurate",
                                "score": 2.0,
                                "position": 1,
                                "rubricCriterionId": ident("criterion"),
                                "lastChangeDateTime": stamp,
                            }
                        ],
                    }
                ],
            }
        ],
        "extensions": {"example-tool": {"exported": "2025-03-04"}},
    }


# Round trips: a package exported again must be the package that came, up to what does not matter.

#: Lists whose members are CASE objects, compared by identifier rather than by position.
_IDENTIFIED = {"CFItems", "CFAssociations", "CFRubrics", "CFRubricCriteria", "CFRubricCriterionLevels"}


def _absent(value: Any) -> bool:
    # null, [], or an object of nothing but those (CFDefinitions of empty lists).
    return value is None or value == [] or (isinstance(value, dict) and all(_absent(v) for v in value.values()))


def round_trip_differences(came: Any, went: Any, path: str = "$") -> list[str]:
    """JSON paths where ``went`` differs from ``came``.

    Ignored: order of CASE objects (matched by identifier, any case), ``null``
    vs missing, ``[]`` vs missing, and ``lastChangeDateTime``. A number must keep
    its JSON type: ``2`` and ``2.0`` differ.
    """
    if isinstance(came, dict) and isinstance(went, dict):
        found = []
        for key in sorted(set(came) | set(went)):
            if key == "lastChangeDateTime":
                continue
            a, b = came.get(key), went.get(key)
            if _absent(a) and _absent(b):
                continue
            if key in _IDENTIFIED and isinstance(a, list) and isinstance(b, list):
                theirs = {str(m.get("identifier", "")).lower(): m for m in b if isinstance(m, dict)}
                for index, member in enumerate(a):
                    identifier = str(member.get("identifier", "")).lower() if isinstance(member, dict) else ""
                    if identifier not in theirs:
                        found.append(f"{path}.{key}[{index}]")
                    else:
                        found += round_trip_differences(member, theirs.pop(identifier), f"{path}.{key}[{index}]")
                found += [f"{path}.{key}[+{m.get('identifier')}]" for m in theirs.values()]
                continue
            found += round_trip_differences(a, b, f"{path}.{key}")
        return found
    if isinstance(came, list) and isinstance(went, list):
        if len(came) != len(went):
            return [path]
        return [
            d
            for index, (a, b) in enumerate(zip(came, went, strict=True))
            for d in round_trip_differences(a, b, f"{path}[{index}]")
        ]
    if type(came) is not type(went) or came != went:
        return [path]
    return []


def reported_paths(summary: dict[str, Any]) -> set[str]:
    """The JSON paths an import report names in its normalisations' examples."""
    return {example.split(": ")[0] for note in summary["normalisations"] for example in note["examples"]}
