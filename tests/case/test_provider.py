"""The CASE provider API, every response checked against 1EdTech's CASE 1.1 OpenAPI components."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.case.export import export_package
from capcourse.case.importing import import_package
from capcourse.frameworks.services import get_framework_by_key_or_id, list_frameworks
from capcourse.identifiers import framework_id, item_id
from tests.case.deviations import DEVIATIONS
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    BASE_URL,
    FIXTURES,
    ident,
    official_1p1,
    openapi,
    package_1p0,
    problems,
    swagger_1p0,
    third_party_package,
)

pytestmark = pytest.mark.db

V1P1 = "/ims/case/v1p1"
V1P0 = "/ims/case/v1p0"
FRONTLINE = framework_id("frontline-lcf-pathway-1")


def valid(client: FlaskClient, path: str, component: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, (path, response.json)
    assert problems(openapi(component), response.json) == [], path
    return response.json


def test_every_shipped_object_validates_against_the_openapi_components(client: FlaskClient, session: Session) -> None:
    summaries = [s for s in list_frameworks(session) if s.framework.imported_at is None]
    assert len(summaries) == 8
    for summary in summaries:
        framework = summary.framework
        document = valid(client, f"{V1P1}/CFDocuments/{framework.id}", "CFDocumentDType")
        assert document["CFPackageURI"]["uri"] == f"{BASE_URL}{V1P1}/CFPackages/{framework.id}"
        package = valid(client, f"{V1P1}/CFPackages/{framework.id}", "CFPackageDType")
        assert package == export_package(session, framework, BASE_URL)
        for item in package["CFItems"]:
            single = valid(client, f"{V1P1}/CFItems/{item['identifier']}", "CFItemDType")
            assert single["CFDocumentURI"]["identifier"] == str(framework.id)
            related = valid(client, f"{V1P1}/CFItemAssociations/{item['identifier']}", "CFAssociationSetDType")
            assert related["CFItem"]["identifier"] == item["identifier"]
        for association in package["CFAssociations"]:
            single = valid(client, urlsplit(association["uri"]).path, "CFAssociationDType")
            assert {k: v for k, v in single.items() if k != "CFDocumentURI"} == association
        definitions = package["CFDefinitions"]
        for item_type in definitions["CFItemTypes"]:
            valid(client, f"{V1P1}/CFItemTypes/{item_type['identifier']}", "CFItemTypeSetDType")
        for grouping in definitions.get("CFAssociationGroupings", []):
            valid(client, f"{V1P1}/CFAssociationGroupings/{grouping['identifier']}", "CFAssociationGroupingDType")
        for licence in definitions.get("CFLicenses", []):
            valid(client, f"{V1P1}/CFLicenses/{licence['identifier']}", "CFLicenseDType")


def test_item_associations_go_both_ways(client: FlaskClient) -> None:
    area = client.get(f"{V1P1}/CFItemAssociations/{item_id('frontline-curriculum-areas', 'LE')}").json
    kinds = {
        (a["associationType"], a["destinationNodeURI"]["identifier"] == area["CFItem"]["identifier"])
        for a in area["CFAssociations"]
    }
    # Its own place in the tree, and the icon legend's links from attributes to it.
    assert ("isChildOf", False) in kinds
    assert ("isRelatedTo", True) in kinds
    capability = client.get(f"{V1P1}/CFItemAssociations/{item_id('frontline-lcf-pathway-1', 'EC')}").json
    children = [
        a
        for a in capability["CFAssociations"]
        if a["destinationNodeURI"]["identifier"] == capability["CFItem"]["identifier"]
    ]
    assert len(children) == 7


def test_documents_are_listed_paged_and_counted(client: FlaskClient) -> None:
    everything = valid(client, f"{V1P1}/CFDocuments", "CFDocumentSetDType")
    assert len(everything["CFDocuments"]) == 8
    response = client.get(f"{V1P1}/CFDocuments", query_string={"limit": 3, "offset": 3})
    assert response.headers["X-Total-Count"] == "8"
    assert [d["title"] for d in response.json["CFDocuments"]] == [d["title"] for d in everything["CFDocuments"][3:6]]
    links = {
        rel.split('"')[1]: url.strip(" <>")
        for url, rel in (part.split(";") for part in response.headers["Link"].split(","))
    }
    assert set(links) == {"first", "last", "prev", "next"}
    assert links["next"].endswith("limit=3&offset=6")
    assert links["prev"].endswith("limit=3&offset=0")
    assert links["last"].endswith("limit=3&offset=6")
    last = client.get(f"{V1P1}/CFDocuments", query_string={"limit": 3, "offset": 6})
    assert len(last.json["CFDocuments"]) == 2 and 'rel="next"' not in last.headers["Link"]


def test_documents_are_sorted_filtered_and_trimmed(client: FlaskClient) -> None:
    by_change = client.get(f"{V1P1}/CFDocuments", query_string={"sort": "lastChangeDateTime", "orderBy": "desc"})
    stamps = [d["lastChangeDateTime"] for d in by_change.json["CFDocuments"]]
    assert stamps == sorted(stamps, reverse=True)
    titles = client.get(f"{V1P1}/CFDocuments", query_string={"sort": "title", "orderBy": "desc"}).json
    assert titles["CFDocuments"][0]["title"] == "Leadership capabilities"

    kss = client.get(f"{V1P1}/CFDocuments", query_string={"filter": "title~'KNOWLEDGE and skills' AND version='2015'"})
    assert kss.headers["X-Total-Count"] == "2"
    assert {d["version"] for d in kss.json["CFDocuments"]} == {"2015"}
    either = client.get(f"{V1P1}/CFDocuments", query_string={"filter": "version='2015' OR version='2018'"})
    assert either.headers["X-Total-Count"] == "4"
    one = client.get(f"{V1P1}/CFDocuments", query_string={"filter": f"identifier='{FRONTLINE}'"})
    assert [d["identifier"] for d in one.json["CFDocuments"]] == [str(FRONTLINE)]
    trimmed = client.get(
        f"{V1P1}/CFDocuments", query_string={"fields": "title,version", "filter": "version='2018'", "limit": 1}
    ).json
    assert set(trimmed["CFDocuments"][0]) == {"identifier", "title", "version"}


@pytest.mark.parametrize(
    ("path", "status", "code_minor", "field"),
    [
        (f"{V1P1}/CFItems/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFDocuments/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFPackages/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFAssociations/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFRubrics/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFConcepts/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFSubjects/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
        (f"{V1P1}/CFItems/not-a-uuid", 404, "invalid_uuid", "sourcedId"),
        (f"{V1P1}/CFDocuments?sort=colour", 400, "invalid_sort_field", "sort"),
        (f"{V1P1}/CFDocuments?filter=colour='red'", 400, "invalid_selection_field", "filter"),
        (f"{V1P1}/CFDocuments?filter=title", 400, "invalid_selection_field", "filter"),
        (
            f"{V1P1}/CFDocuments?filter=title='a' AND version='b' OR version='c'",
            400,
            "invalid_selection_field",
            "filter",
        ),
        (f"{V1P1}/CFDocuments?fields=title,colour", 400, "invalid_selection_field", "fields"),
        (f"{V1P1}/CFDocuments?limit=0", 400, "invalid_selection_field", "limit"),
        (f"{V1P1}/CFDocuments?orderBy=up", 400, "invalid_selection_field", "orderBy"),
        (f"{V1P1}/CFNothing/{uuid.uuid4()}", 404, "unknownobject", "sourcedId"),
    ],
)
def test_errors_are_imsx_status_info(client: FlaskClient, path: str, status: int, code_minor: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    body = response.json
    assert problems(openapi("imsx_StatusInfoDType"), body) == []
    assert (body["imsx_codeMajor"], body["imsx_severity"]) == ("failure", "error")
    assert body["imsx_codeMinor"]["imsx_codeMinorField"] == [
        {"imsx_codeMinorFieldName": field, "imsx_codeMinorFieldValue": code_minor}
    ]
    assert body["imsx_description"]


def test_wrong_method_is_imsx_too(client: FlaskClient) -> None:
    response = client.post(f"{V1P1}/CFDocuments")
    assert response.status_code == 405
    assert problems(openapi("imsx_StatusInfoDType"), response.json) == []
    assert "imsx_codeMinor" not in response.json


def test_case_1p0_is_served_too(client: FlaskClient, session: Session) -> None:
    frontline = get_framework_by_key_or_id(session, "frontline-lcf-pathway-1")
    package = client.get(f"{V1P0}/CFPackages/{frontline.id}").json
    assert problems(package_1p0(), package) == []
    assert package == export_package(session, frontline, BASE_URL, "1.0")
    documents = client.get(f"{V1P0}/CFDocuments").json["CFDocuments"]
    assert all("caseVersion" not in d for d in documents)
    assert documents[0]["CFPackageURI"]["uri"].startswith(f"{BASE_URL}{V1P0}/CFPackages/")
    item = client.get(f"{V1P0}/CFItems/{item_id('frontline-lcf-pathway-1', 'EC.1.a')}").json
    assert "extensions" not in item and item["CFDocumentURI"]["identifier"] == str(frontline.id)
    # 1.0 spells two codeMinor values its own way.
    error = client.get(f"{V1P0}/CFItems/nope")
    assert error.status_code == 404
    assert problems(swagger_1p0("imsx_StatusInfo.Type"), error.json) == []
    assert error.json["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invaliduuid"


def test_imported_definitions_and_rubrics_are_served(client: FlaskClient, session: Session) -> None:
    source = third_party_package()
    import_package(session, json.dumps(source).encode(), ADMIN_PRINCIPAL, "test")
    session.commit()
    concepts = valid(client, f"{V1P1}/CFConcepts/{ident('concept-digital')}", "CFConceptSetDType")
    # The concept, and the one below it by hierarchy code.
    assert [c["hierarchyCode"] for c in concepts["CFConcepts"]] == ["1", "1.1"]
    subjects = valid(client, f"{V1P1}/CFSubjects/{ident('subject-care')}", "CFSubjectSetDType")
    assert subjects["CFSubjects"] == source["CFDefinitions"]["CFSubjects"]
    types = valid(client, f"{V1P1}/CFItemTypes/{ident('type-area')}", "CFItemTypeSetDType")
    assert [t["title"] for t in types["CFItemTypes"]] == ["Area", "Skill"]
    assert valid(client, f"{V1P1}/CFLicenses/{ident('licence')}", "CFLicenseDType")["title"] == "CC BY 4.0"
    valid(client, f"{V1P1}/CFAssociationGroupings/{ident('grouping')}", "CFAssociationGroupingDType")
    rubric = valid(client, f"{V1P1}/CFRubrics/{ident('rubric')}", "CFRubricDType")
    assert rubric == source["CFRubrics"][0]
    package = valid(client, f"{V1P1}/CFPackages/{ident('doc')}", "CFPackageDType")
    assert package["CFRubrics"] == source["CFRubrics"]
    external = valid(client, f"{V1P1}/CFAssociations/{ident('a-external')}", "CFAssociationDType")
    assert external["destinationNodeURI"] == source["CFAssociations"][3]["destinationNodeURI"]
    # CASE 1.0 has no isTranslationOf: that association is not served as 1.0.
    assert client.get(f"{V1P0}/CFAssociations/{ident('a-translation')}").status_code == 404


def test_a_third_party_framework_is_read_as_its_publisher_wrote_it(client: FlaskClient, session: Session) -> None:
    path = FIXTURES / "opensalt-ItemTypeTestFramework.json"
    source = json.loads(path.read_text())
    import_package(session, path.read_bytes(), ADMIN_PRINCIPAL, path.name)
    session.commit()
    identifier = source["CFDocument"]["identifier"]
    package = client.get(f"{V1P1}/CFPackages/{identifier}").json
    # OpenSALT's identifiers are no RFC 4122 UUIDs, which the OpenAPI's pattern demands;
    # 1EdTech's package schema accepts them, and capcourse keeps them.
    assert problems(official_1p1(), package) == []
    assert package["CFDefinitions"]["CFItemTypes"] == source["CFDefinitions"]["CFItemTypes"]
    listed = client.get(f"{V1P1}/CFDocuments", query_string={"filter": "title='Item Type Test'"}).json
    assert [d["identifier"] for d in listed["CFDocuments"]] == [identifier]
    item = client.get(f"{V1P1}/CFItems/{source['CFItems'][0]['identifier']}").json
    assert item["CFItemTypeURI"] == source["CFItems"][0]["CFItemTypeURI"]


def test_the_openapi_document_describes_the_provider_api(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    for version in ("v1p1", "v1p0"):
        for path in ("CFDocuments", "CFPackages/{sourced_id}", "CFItems/{sourced_id}", "CFRubrics/{sourced_id}"):
            assert f"/ims/case/{version}/{path}" in spec["paths"], path
    assert {"CFPackage", "CFItem", "CFDocument", "ImsxStatusInfo"} <= set(spec["components"]["schemas"])
    assert "/api/v1/case/imports" in spec["paths"]


def test_fields_may_be_repeated_as_the_openapi_has_it(client: FlaskClient) -> None:
    repeated = client.get(f"{V1P1}/CFDocuments?fields=title&fields=version&filter=version%3D%272018%27")
    assert repeated.status_code == 200, repeated.json
    assert {frozenset(d) for d in repeated.json["CFDocuments"]} == {frozenset({"identifier", "title", "version"})}
    both = client.get(f"{V1P1}/CFDocuments?fields=title,creator&fields=version&filter=version%3D%272018%27")
    assert set(both.json["CFDocuments"][0]) == {"identifier", "title", "creator", "version"}
    wrong = client.get(f"{V1P1}/CFDocuments?fields=title&fields=colour")
    assert wrong.status_code == 400
    assert (
        wrong.json["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invalid_selection_field"
    )


def test_an_empty_selection_is_unknownobject_as_the_openapi_has_it(client: FlaskClient) -> None:
    """CFDocumentSet has minItems 1, and 404 is among the list's answers (docs/case.md)."""
    for query in ("filter=title~'no such framework'", "offset=500"):
        response = client.get(f"{V1P1}/CFDocuments?{query}")
        assert response.status_code == 404, query
        assert problems(openapi("imsx_StatusInfoDType"), response.json) == []
        assert response.json["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "unknownobject"
    assert problems(openapi("CFDocumentSetDType"), client.get(f"{V1P1}/CFDocuments").json) == []


@pytest.mark.parametrize("version_path", [V1P1, V1P0])
def test_the_discovery_document_finds_every_endpoint(client: FlaskClient, version_path: str) -> None:
    response = client.get(f"{version_path}/discovery")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": f"{BASE_URL}{version_path}"}]
    paths = set(document["paths"])
    assert {"/CFDocuments", "/CFPackages/{sourced_id}", "/CFItems/{sourced_id}", "/CFRubrics/{sourced_id}"} <= paths
    assert all(not p.startswith("/ims/") for p in paths)
    listed = document["paths"]["/CFDocuments"]["get"]
    (fields_parameter,) = [p for p in listed["parameters"] if p["name"] == "fields"]
    assert "array" in fields_parameter["schema"]["type"]


def test_an_imported_identifier_that_is_no_uuid_is_served_as_it_came(client: FlaskClient, session: Session) -> None:
    package = DEVIATIONS["loose identifiers"].build()
    import_package(session, json.dumps(package).encode(), ADMIN_PRINCIPAL, "test")
    session.commit()
    item = client.get(f"{V1P1}/CFItems/SKILL-0002")
    assert item.status_code == 200, item.json
    assert item.json["identifier"] == "SKILL-0002"
    # Whole numbers and properties no CASE version defines are served as they came, not through a schema dump.
    rubric = client.get(f"{V1P1}/CFRubrics/{ident('rubric')}").json
    assert rubric == package["CFRubrics"][0]
    kept = DEVIATIONS["associations at documents"].build()
    import_package(session, json.dumps(kept).encode(), ADMIN_PRINCIPAL, "test")
    session.commit()
    replaced = client.get(f"{V1P1}/CFAssociations/{ident('a-replaced')}")
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["originNodeURI"] == kept["CFAssociations"][-2]["originNodeURI"]


def test_packages_are_served_strictly_and_exported_as_they_came_unless_asked(
    client: FlaskClient, session: Session
) -> None:
    package = DEVIATIONS["unknown properties"].build()
    import_package(session, json.dumps(package).encode(), ADMIN_PRINCIPAL, "test")
    session.commit()
    identifier = package["CFDocument"]["identifier"]
    # The provider answers as the OpenAPI says: what CASE does not define is in extensions.
    served = valid(client, f"{V1P1}/CFPackages/{identifier}", "CFPackageDType")
    assert "generatedBy" not in served and served["extensions"]["generatedBy"] == "Example Tool 4.1"
    assert "generatedBy" not in client.get(f"{V1P0}/CFPackages/{identifier}").json
    # The export gives the package back as it came, or strictly when asked.
    as_came = client.get(f"/api/v1/frameworks/{identifier}/case").json
    assert as_came["generatedBy"] == "Example Tool 4.1"
    strict = client.get(f"/api/v1/frameworks/{identifier}/case?strict=true").json
    assert strict == served
    assert problems(official_1p1(), strict) == []
