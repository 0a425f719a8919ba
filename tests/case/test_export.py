"""Frameworks as CASE packages, checked against 1EdTech's own schemas."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.case.export import export_package
from capcourse.case.importing import import_package, key_for, parse_package
from capcourse.case.schemas import format_datetime
from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.services import get_framework_by_key_or_id
from capcourse.frameworks.sync import sync_frameworks
from capcourse.identifiers import association_id, framework_id, item_id
from tests import factories
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    BASE_URL,
    official_1p1,
    openapi,
    package_1p0,
    problems,
    third_party_package,
    transcribed_1p1,
)
from tests.conftest import scratch_app
from tests.factories import bearer

pytestmark = pytest.mark.db

FRONTLINE = "frontline-lcf-pathway-1"


def shipped_keys(runner: FlaskCliRunner) -> list[str]:
    """Every framework ``capcourse frameworks list`` shows."""
    result = runner.invoke(args=["frameworks", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    return [row["key"] for row in json.loads(result.output)]


def package(session: Session, key: str, version: str = "1.1") -> dict[str, Any]:
    return export_package(session, get_framework_by_key_or_id(session, key), BASE_URL, version)


def test_every_shipped_framework_exports_as_valid_case_1p1(runner: FlaskCliRunner, session: Session) -> None:
    keys = shipped_keys(runner)
    assert len(keys) == 8
    validators = {
        "1EdTech package schema": official_1p1(),
        "OpenSALT's 1.1 schema": transcribed_1p1(),
        "1.1 OpenAPI CFPackageDType": openapi("CFPackageDType"),
    }
    for key in keys:
        exported = package(session, key)
        assert exported["CFDocument"]["caseVersion"] == "1.1"
        for name, validator in validators.items():
            assert problems(validator, exported) == [], f"{key} against {name}"
        # capcourse reads its own export without a warning.
        assert parse_package(json.dumps(exported).encode()).notes.report() == [], key


def test_every_shipped_framework_exports_as_valid_case_1p0(runner: FlaskCliRunner, session: Session) -> None:
    validator = package_1p0()
    for key in shipped_keys(runner):
        exported = package(session, key, "1.0")
        assert problems(validator, exported) == [], key
        document = exported["CFDocument"]
        assert "caseVersion" not in document
        assert document["CFPackageURI"]["uri"] == f"{BASE_URL}/ims/case/v1p0/CFPackages/{document['identifier']}"
        assert "extensions" not in json.dumps(exported), key


def test_frontline_package_has_its_tree_legend_and_groupings(session: Session) -> None:
    exported = package(session, FRONTLINE)
    items = {item["identifier"]: item for item in exported["CFItems"]}
    assert len(items) == 68
    kinds = Counter(a["associationType"] for a in exported["CFAssociations"])
    # Every item has its place in the tree; the icon legend links attributes to areas.
    assert kinds["isChildOf"] == 68
    assert kinds["isRelatedTo"] > 0
    attribute = items[str(item_id(FRONTLINE, "EC.1.a"))]
    assert attribute["humanCodingScheme"] == "LCF.EC.1.a"
    assert attribute["CFItemType"] == "Effective attribute"
    assert attribute["extensions"]["capcourse"]["icon"]
    assert attribute["CFItemTypeURI"]["title"] == "Effective attribute"
    types = {t["title"]: t for t in exported["CFDefinitions"]["CFItemTypes"]}
    assert {t: types[t]["hierarchyCode"] for t in types} == {
        "Capability": "1",
        "Sub-capability": "2",
        "Effective attribute": "3",
    }

    groupings = {g["identifier"]: g["title"] for g in exported["CFDefinitions"]["CFAssociationGroupings"]}
    # The icon legend's links (the shipped Frontline ↔ KSS crosswalk is isRelatedTo too, managed apart).
    legend = [
        a
        for a in exported["CFAssociations"]
        if a["associationType"] == "isRelatedTo" and a["extensions"]["capcourse"]["managedBy"] == "icon-legend"
    ]
    assert len(legend) == 36
    for association in legend:
        assert association["extensions"]["capcourse"] == {"provenance": "inferred", "managedBy": "icon-legend"}
        assert groupings[association["CFAssociationGroupingURI"]["identifier"]] == (
            "Icon legend links inferred by capcourse"
        )
        assert association["destinationNodeURI"]["identifier"] not in items  # an area of the other framework
    tree_link = next(
        a
        for a in exported["CFAssociations"]
        if a["originNodeURI"]["identifier"] == str(item_id(FRONTLINE, "EC.1.a")) and a["associationType"] == "isChildOf"
    )
    assert tree_link["identifier"] == str(
        association_id("isChildOf", item_id(FRONTLINE, "EC.1.a"), item_id(FRONTLINE, "EC.1"))
    )
    assert tree_link["destinationNodeURI"]["title"] == "LCF.EC.1"
    document = exported["CFDocument"]
    assert document["extensions"]["capcourse"]["key"] == FRONTLINE
    assert document["uri"] == f"{BASE_URL}/uri/{framework_id(FRONTLINE)}"


def test_crosswalks_carry_their_provenance(session: Session) -> None:
    kss = package(session, "dfe-kss-practice-leaders-2015")
    replaced = [a for a in kss["CFAssociations"] if a["associationType"] == "replacedBy"]
    assert len(replaced) == 6 + 16  # every statement and every paragraph
    assert {a["extensions"]["capcourse"]["provenance"] for a in replaced} <= {"published", "inferred"}
    newer = {str(item_id("dfe-kss-practice-leaders-2018", str(n))) for n in range(1, 7)}
    assert newer <= {a["destinationNodeURI"]["identifier"] for a in replaced}
    licence = kss["CFDefinitions"]["CFLicenses"][0]
    assert licence["title"] == "Open Government Licence v3.0"
    assert kss["CFDocument"]["licenseURI"]["identifier"] == licence["identifier"]

    sssc = package(session, "sssc-leadership-capabilities")
    precedes = [a for a in sssc["CFAssociations"] if a["associationType"] == "precedes"]
    assert len(precedes) == 44
    stages = {i["extensions"]["capcourse"].get("stage") for i in sssc["CFItems"]}
    assert stages == {None, "emerging", "established", "accomplished"}


def test_last_change_is_real(client: FlaskClient, session: Session) -> None:
    frontline = get_framework_by_key_or_id(session, FRONTLINE)
    before = package(session, FRONTLINE)
    assert before["CFDocument"]["lastChangeDateTime"] == format_datetime(frontline.last_change)
    legend = client.get(f"/api/v1/frameworks/{frontline.id}/icon-legend").json
    icon = legend["icons"][0]
    response = client.put(
        f"/api/v1/frameworks/{frontline.id}/icon-legend",
        json={"icon": icon["icon"], "areas": [icon["areas"][0]["id"]], "rationale": "Confirmed with Frontline."},
        headers=bearer(factories.api_key(session, Role.ADMIN)[1]),
    )
    assert response.status_code == 200, response.json
    after = package(session, FRONTLINE)
    assert after["CFDocument"]["lastChangeDateTime"] > before["CFDocument"]["lastChangeDateTime"]
    titles = {g["title"] for g in after["CFDefinitions"]["CFAssociationGroupings"]}
    assert "Icon legend links confirmed by a person" in titles
    assert problems(official_1p1(), after) == []


def test_uris_resolve_on_this_service(client: FlaskClient, session: Session) -> None:
    exported = package(session, FRONTLINE)
    uris = [exported["CFDocument"]["uri"]]
    uris += [item["uri"] for item in exported["CFItems"][:10]]
    uris += [a["uri"] for a in exported["CFAssociations"][:5] + exported["CFAssociations"][-5:]]
    uris += [d["uri"] for kind in ("CFItemTypes", "CFAssociationGroupings") for d in exported["CFDefinitions"][kind]]
    for uri in uris:
        assert uri.startswith(BASE_URL), uri
        response = client.get(urlsplit(uri).path)
        assert response.status_code in (200, 303), uri


def test_imported_properties_and_foreign_extensions_export_again(session: Session) -> None:
    source = third_party_package()
    outcome = import_package(session, json.dumps(source).encode(), ADMIN_PRINCIPAL, "test")
    framework = session.get(Framework, outcome.plan.framework_id)
    assert framework is not None
    exported = export_package(session, framework, BASE_URL)
    assert problems(official_1p1(), exported) == []
    assert problems(openapi("CFPackageDType"), exported) == []
    document = exported["CFDocument"]
    for name in ("frameworkType", "subject", "subjectURI", "statusStartDate", "licenseURI", "uri"):
        assert document[name] == source["CFDocument"][name], name
    assert document["extensions"]["example-tool"] == {"workflow": "published"}
    items = {i["identifier"]: i for i in exported["CFItems"]}
    for original in source["CFItems"]:
        copy = items[original["identifier"]]
        for name, value in original.items():
            assert copy[name] == value, name
    for kind, members in source["CFDefinitions"].items():
        assert exported["CFDefinitions"][kind] == members, kind
    assert exported["CFRubrics"] == source["CFRubrics"]
    assert exported["extensions"] == source["extensions"]
    associations = {a["identifier"]: a for a in exported["CFAssociations"]}
    for original in source["CFAssociations"]:
        copy = associations[original["identifier"]]
        for name, value in original.items():
            assert copy[name] == value, (original["identifier"], name)
    # A publisher's association comes back as it came: capcourse adds no extension of its own.
    external = associations[source["CFAssociations"][3]["identifier"]]
    assert "extensions" not in external

    # CASE 1.0 knows no isTranslationOf: that association is left out of a 1.0 package.
    old = export_package(session, framework, BASE_URL, "1.0")
    assert problems(package_1p0(), old) == []
    assert "isTranslationOf" not in {a["associationType"] for a in old["CFAssociations"]}
    assert len(old["CFAssociations"]) == len(source["CFAssociations"]) - 1


def test_shipped_frameworks_date_from_their_data_so_every_install_exports_the_same(
    tmp_path: Path, session: Session
) -> None:
    seed = load_seed_data()
    here = {f.key: package(session, f.key) for f in seed.frameworks}
    for key, exported in here.items():
        assert exported["CFDocument"]["lastChangeDateTime"] == format_datetime(seed.framework(key).last_change)
    # Another install, synced at another time, exports byte for byte the same packages.
    with scratch_app(tmp_path, "elsewhere") as other, other.app_context(), Session(db.engine) as s:
        sync_frameworks(s, seed, now=datetime(2031, 1, 1, tzinfo=UTC))
        for key, exported in here.items():
            framework = get_framework_by_key_or_id(s, key)
            assert export_package(s, framework, BASE_URL) == exported, key


def test_frameworks_sharing_a_licence_share_one_cflicense(session: Session) -> None:
    """OpenSALT keeps licence URIs unique: both KSS 2015 packages must name the same CFLicense."""
    by_uri: dict[str, list[dict[str, Any]]] = {}
    for key in ("dfe-kss-practice-leaders-2015", "dfe-kss-practice-supervisors-2015"):
        for licence in package(session, key)["CFDefinitions"]["CFLicenses"]:
            by_uri.setdefault(licence["uri"], []).append(licence)
    (licences,) = by_uri.values()
    assert len(licences) == 2 and licences[0] == licences[1]


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Математика 2018", "matematika-2018"),
        ("数学", "shuxue"),
        ("2.0", "framework-"),
        ("— 1 —", "framework-"),
    ],
)
def test_any_title_gives_a_key(title: str, key: str) -> None:
    identifier = uuid.uuid5(uuid.NAMESPACE_URL, "https://case.example.org/doc")
    assert key_for(title, identifier) == (key + identifier.hex[:8] if key.endswith("-") else key)
