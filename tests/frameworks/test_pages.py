"""The framework browser pages, rendered by the server."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from capcourse.identifiers import framework_id, item_id

pytestmark = pytest.mark.db


def test_framework_list_page(client: FlaskClient) -> None:
    response = client.get("/frameworks")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for title in (
        "Leadership Capability Framework — Pathway 1: Practice Supervisors",
        "Knowledge and Skills for Practice Supervisors",  # 2015: the section headings of the DfE document
        "Knowledge and Skills for Practice Leaders",
        "Knowledge and skills statement for practice supervisors",  # 2018
        "Knowledge and skills for practice leaders",
        "Leadership capabilities",
        "Continuous Learning Framework (as referenced)",
    ):
        assert title in html


def test_item_types_are_pluralised_in_english(client: FlaskClient) -> None:
    html = client.get("/frameworks").get_data(as_text=True)
    assert "28 sub-capabilities" in html
    assert "9 curriculum areas" in html
    assert "sub-capabilitys" not in html


def test_home_redirects_to_the_frameworks(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/frameworks")


def test_framework_page_shows_tree_and_legend(client: FlaskClient) -> None:
    response = client.get(f"/frameworks/{framework_id('frontline-lcf-pathway-1')}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Curiosity of values &amp; moral purpose" in html
    assert "Icon legend" in html
    assert "inferred" in html
    assert html.count('class="node"') == 68


def test_item_page_shows_associations(client: FlaskClient) -> None:
    response = client.get(f"/items/{item_id('sssc-leadership-capabilities', 'VIS.3.EM')}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "closely links to" in html
    assert "Awareness of the wider context – Established" in html


def test_search_page(client: FlaskClient) -> None:
    response = client.get("/search", query_string={"q": "resilience"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "items found" in html
    assert "SSSC.SL.4" in html


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/frameworks/{uuid.uuid4()}", 404),
        (f"/items/{uuid.uuid4()}", 404),
        ("/search?framework=nope", 400),
        ("/search?q=x&page=0", 400),
    ],
)
def test_page_errors_are_readable_html(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "Back to the frameworks" in response.get_data(as_text=True)
