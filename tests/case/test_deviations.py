"""Every kind of deviation real CASE packages have: imported as it is, mapped, exported again as it came."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from capcourse.case.export import export_package
from capcourse.case.importing import import_package, report
from capcourse.frameworks.models import Framework, Item
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from tests import factories
from tests.case.deviations import DEVIATIONS
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    BASE_URL,
    FIXTURE_FILES,
    fixture,
    official_1p1,
    package_1p0,
    problems,
    reported_paths,
    round_trip_differences,
)
from tests.shared import shared_path

pytestmark = pytest.mark.db


def _import(session: Session, package: dict[str, Any] | bytes, name: str) -> dict[str, Any]:
    raw = package if isinstance(package, bytes) else json.dumps(package).encode()
    return report(import_package(session, raw, ADMIN_PRINCIPAL, name))


def _unexplained(came: dict[str, Any], went: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Differences the report does not explain.

    A reported path explains itself and what is below it, and a list that differs in length
    when a member of it is reported (a null left out of a list).
    """
    reported = reported_paths(summary)
    return [
        d
        for d in round_trip_differences(came, went)
        if not any(d == r or d.startswith((r + ".", r + "[")) or r.startswith(d + "[") for r in reported)
    ]


@pytest.mark.parametrize("name", list(DEVIATIONS))
def test_each_deviation_imports_maps_and_exports_again_as_it_came(session: Session, name: str) -> None:
    deviation = DEVIATIONS[name]
    came = deviation.build()
    summary = _import(session, came, name)
    assert summary["status"] == "created"
    assert {n["kind"] for n in summary["normalisations"]} == deviation.kinds, summary["normalisations"]
    for note in summary["normalisations"]:
        assert note["count"] >= len(note["examples"]) > 0
    # Every association is counted, the tree's included.
    assert summary["associations"]["added"] == len(came.get("CFAssociations", []))
    session.commit()

    framework = session.get(Framework, uuid.UUID(summary["framework_id"]))
    assert framework is not None
    if deviation.mappable:
        item = session.query(Item).filter(Item.framework_id == framework.id).first()
        assert item is not None
        module = factories.module(session, factories.course(session, factories.programme(session)))
        map_items(session, ADMIN_PRINCIPAL, module, [item.id], Depth.ASSESSED)
        session.commit()

    went = export_package(session, framework, BASE_URL, deviation.version)
    assert _unexplained(came, went, summary) == []
    # What went out comes in again unchanged.
    again = _import(session, went, name)
    assert again["status"] == "unchanged", again

    # The strict export differs only in where non-CASE properties are: in the objects' extensions (1.1), or gone.
    strict = export_package(session, framework, BASE_URL, deviation.version, strict=True)
    if name != "unknown properties":
        assert strict == went
    if deviation.valid_export or deviation.valid_strict_export:
        shared_path("standards", "case")  # 1EdTech's schemas: skips here without ../shared
        validator = official_1p1() if deviation.version == "1.1" else package_1p0()
        if deviation.valid_export:
            assert problems(validator, went) == []
        if deviation.valid_strict_export:
            assert problems(validator, strict) == []


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_every_opensalt_package_exports_again_as_it_came(session: Session, path: Path) -> None:
    came = fixture(path)
    summary = _import(session, path.read_bytes(), path.name)
    framework = session.get(Framework, uuid.UUID(summary["framework_id"]))
    assert framework is not None
    went = export_package(session, framework, BASE_URL)
    assert _unexplained(came, went, summary) == []


def test_an_ischildof_only_package_counts_its_associations(session: Session) -> None:
    came = DEVIATIONS["isChildOf as published"].build()
    assert {a["associationType"] for a in came["CFAssociations"]} == {"isChildOf"}
    summary = _import(session, came, "tree")
    assert summary["associations"] == {"added": 3, "changed": 0, "removed": 0}
    came["CFAssociations"].pop()
    came["CFAssociations"][0]["notes"] = "Changed."
    summary = _import(session, came, "tree")
    assert summary["associations"] == {"added": 0, "changed": 1, "removed": 1}


def test_a_crosswalk_only_package_links_the_frameworks_capcourse_holds(session: Session) -> None:
    came = DEVIATIONS["crosswalk only"].build()
    summary = _import(session, came, "crosswalk")
    assert summary["items"]["added"] == 0
    assert summary["external_references"] == 1
    session.commit()
    framework = session.get(Framework, uuid.UUID(summary["framework_id"]))
    assert framework is not None
    went = export_package(session, framework, BASE_URL)
    assert {a["identifier"] for a in went["CFAssociations"]} == {a["identifier"] for a in came["CFAssociations"]}


def test_a_strict_export_moves_non_case_properties_into_extensions(session: Session) -> None:
    came = DEVIATIONS["unknown properties"].build()
    summary = _import(session, came, "extra")
    framework = session.get(Framework, uuid.UUID(summary["framework_id"]))
    assert framework is not None
    as_came = export_package(session, framework, BASE_URL)
    strict = export_package(session, framework, BASE_URL, strict=True)
    items = {i["identifier"]: i for i in strict["CFItems"]}
    first, second = (items[i["identifier"]] for i in came["CFItems"][:2])
    assert "educationalLevel" not in first and first["extensions"]["educationalLevel"] == ["KS4"]
    # A link's extra property goes to the extensions of the object holding the link, under the link's name.
    assert "typeCode" not in second["CFItemTypeURI"]
    assert second["extensions"]["CFItemTypeURI"] == {"typeCode": "skill"}
    association = next(
        a for a in strict["CFAssociations"] if a["identifier"] == came["CFAssociations"][3]["identifier"]
    )
    assert association["extensions"]["CFItemAssociationURI"]["title"] == "Crosswalk"
    assert strict["CFDocument"]["extensions"]["publisherURI"] == "https://example.org/"
    assert strict["CFDefinitions"]["CFItemTypes"][0]["extensions"] == {"color": "#004488"}
    assert strict["extensions"]["generatedBy"] == "Example Tool 4.1" and "generatedBy" not in strict
    # Where they were, by default.
    assert as_came["generatedBy"] == "Example Tool 4.1"
    # CASE 1.0 has no extensions: a strict 1.0 export leaves them out.
    strict_1p0 = export_package(session, framework, BASE_URL, "1.0", strict=True)
    assert "generatedBy" not in strict_1p0 and "extensions" not in strict_1p0
    assert all("educationalLevel" not in i and "extensions" not in i for i in strict_1p0["CFItems"])
    shared_path("standards", "case")  # 1EdTech's schemas: skips here without ../shared
    assert problems(official_1p1(), strict) == []
    assert problems(package_1p0(), strict_1p0) == []
