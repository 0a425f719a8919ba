"""The frameworks REST API."""

from __future__ import annotations

import json
import uuid

import pytest
from flask.testing import FlaskClient

from capcourse.identifiers import framework_id, item_id

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
SSSC = framework_id("sssc-leadership-capabilities")


def test_list_frameworks_with_counts(client: FlaskClient) -> None:
    response = client.get("/api/v1/frameworks")
    assert response.status_code == 200
    frameworks = {f["key"]: f for f in response.json}
    assert len(frameworks) == 8
    frontline = frameworks["frontline-lcf-pathway-1"]
    assert frontline["id"] == str(FRONTLINE)
    assert frontline["item_counts"] == {"Capability": 4, "Effective attribute": 36, "Sub-capability": 28}
    assert frontline["uri"] == f"http://capcourse.test/uri/{FRONTLINE}"
    assert frameworks["dfe-kss-practice-supervisors-2015"]["licence"] == "Open Government Licence v3.0"


def test_get_framework_with_its_tree(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/frameworks/{SSSC}")
    assert response.status_code == 200
    tree = response.json["items"]
    assert [node["abbreviated_statement"] for node in tree] == [
        "Vision",
        "Self-leadership",
        "Motivating and inspiring others",
        "Empowering",
        "Collaborating and influencing",
        "Creativity and innovation",
    ]
    theme = tree[0]["children"][0]
    assert theme["full_statement"] == "Seeing how best to make a difference"
    assert [child["stage"] for child in theme["children"]] == ["emerging", "established", "accomplished"]


def test_get_item_with_associations_both_ways(client: FlaskClient) -> None:
    emerging = item_id("sssc-leadership-capabilities", "SL.2.EM")
    response = client.get(f"/api/v1/items/{emerging}")
    assert response.status_code == 200
    body = response.json
    assert body["code"] == "SSSC.SL.2.EM"
    assert [a["code"] for a in body["ancestors"]] == ["SSSC.SL", "SSSC.SL.2"]
    kinds = {(a["association_type"], a["direction"]) for a in body["associations"]}
    assert ("isChildOf", "outgoing") in kinds
    assert ("precedes", "outgoing") in kinds
    clf = next(a for a in body["associations"] if a["association_type"] == "isRelatedTo")
    assert clf["item"]["full_statement"] == "Leadership – Established"
    assert clf["provenance"] == "published"

    established = client.get(f"/api/v1/items/{item_id('sssc-leadership-capabilities', 'SL.2.ES')}").json
    incoming = [a for a in established["associations"] if a["direction"] == "incoming"]
    assert [(a["association_type"], a["item"]["id"]) for a in incoming] == [("precedes", str(emerging))]


def test_kss_2015_statement_is_replaced_by_2018(client: FlaskClient) -> None:
    old = item_id("dfe-kss-practice-leaders-2015", "3")
    body = client.get(f"/api/v1/items/{old}").json
    replaced = [a for a in body["associations"] if a["association_type"] == "replacedBy"]
    assert [a["item"]["id"] for a in replaced] == [str(item_id("dfe-kss-practice-leaders-2018", "3"))]


def test_search_items_by_text(client: FlaskClient) -> None:
    response = client.get("/api/v1/items", query_string={"q": "emotional labour"})
    assert response.status_code == 200
    assert [i["code"] for i in response.json] == ["LCF.EC.1.a"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 1


def test_search_filters_and_pages(client: FlaskClient) -> None:
    query = {"framework": str(SSSC), "stage": "accomplished", "page_size": 10, "page": 2}
    response = client.get("/api/v1/items", query_string=query)
    assert response.status_code == 200
    assert len(response.json) == 10
    assert {i["stage"] for i in response.json} == {"accomplished"}
    assert json.loads(response.headers["X-Pagination"])["total"] == 22


def test_search_treats_wildcards_as_text(client: FlaskClient) -> None:
    response = client.get("/api/v1/items", query_string={"q": "%"})
    assert response.status_code == 200
    assert response.json == []


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/frameworks/{uuid.uuid4()}",
        f"/api/v1/items/{uuid.uuid4()}",
        "/api/v1/frameworks/not-a-uuid",
        "/api/v1/nothing-here",
    ],
)
def test_unknown_ids_are_404_in_the_error_shape(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["status"] == "Not Found"
    assert response.json["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page_size": 100000}, "page_size"),
        ({"framework": "nope"}, "framework"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_query_parameters_are_422_naming_the_field(
    client: FlaskClient, query: dict[str, object], field: str
) -> None:
    response = client.get("/api/v1/items", query_string=query)
    assert response.status_code == 422
    assert set(response.json) >= {"code", "status", "message", "errors"}
    assert field in response.json["errors"]["query"]


def test_wrong_method_is_405_in_the_error_shape(client: FlaskClient) -> None:
    response = client.delete("/api/v1/frameworks")
    assert response.status_code == 405
    assert response.json["code"] == 405


def test_openapi_document_describes_every_endpoint(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/frameworks",
        "/api/v1/frameworks/{framework_id}",
        "/api/v1/items",
        "/api/v1/items/{item_id}",
        "/api/v1/frameworks/{framework_id}/icon-legend",
    ):
        assert path in spec["paths"], path
    assert "put" in spec["paths"]["/api/v1/frameworks/{framework_id}/icon-legend"]


def test_interactive_docs_are_served_from_the_package(client: FlaskClient) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assert "unpkg.com" not in html and "cdn" not in html.lower()
    with client.get("/api/docs/swagger-ui-bundle.js") as script:
        assert script.status_code == 200


def test_uris_resolve(client: FlaskClient) -> None:
    item = item_id("frontline-lcf-pathway-1", "MC.2")
    page = client.get(f"/uri/{item}")
    assert page.status_code == 303
    assert page.headers["Location"].endswith(f"/items/{item}")
    api = client.get(f"/uri/{FRONTLINE}", headers={"Accept": "application/json"})
    assert api.headers["Location"].endswith(f"/api/v1/frameworks/{FRONTLINE}")
    assert client.get(f"/uri/{uuid.uuid4()}").status_code == 404
