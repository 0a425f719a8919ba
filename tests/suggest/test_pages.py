"""The suggestion panel and its forms, without a browser: refusals change nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import item_id
from capcourse.mapping.models import Mapping
from capcourse.suggest.models import SuggestionDecision
from tests import factories
from tests.pages import csrf_token, post_form, sign_in

pytestmark = pytest.mark.db

BIASES = str(item_id("frontline-lcf-pathway-1", "MC.3.a"))


@pytest.fixture
def module_page(client: FlaskClient, session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme), "Biases and prejudices")
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    sign_in(client, author.email)
    return {"module": module, "url": f"/modules/{module.id}"}


def test_the_panel_offers_items_with_why(client: FlaskClient, module_page: dict[str, Any]) -> None:
    html = client.get(module_page["url"]).get_data(as_text=True)
    assert "Suggested items" in html
    assert html.index("LCF.MC.3.a") < html.index("Map to framework items")
    assert "shares biases, prejudices" in html


def test_confirm_and_reject_from_the_page(client: FlaskClient, session: Session, module_page: dict[str, Any]) -> None:
    url = module_page["url"]
    confirmed = post_form(
        client, f"{url}/suggestions/confirm", {"item_id": BIASES, "depth": "developed", "rank": 1}, url
    )
    assert confirmed.status_code == 303
    assert (
        session.query(Mapping).filter_by(module_id=module_page["module"].id).one().provenance
        == "suggested-then-confirmed"
    )
    again = post_form(client, f"{url}/suggestions/confirm", {"item_id": BIASES, "depth": "developed"}, url)
    assert again.status_code == 409 and "already mapped" in again.get_data(as_text=True)
    other = str(item_id("frontline-lcf-pathway-1", "PC.3.a"))
    rejected = post_form(client, f"{url}/suggestions/reject", {"item_id": other, "rank": "x", "score": "1e999"}, url)
    assert rejected.status_code == 303
    row = session.query(SuggestionDecision).filter_by(decision="rejected").one()
    assert row.rank is None and row.score is None


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        ("confirm", {"item_id": "nope", "depth": "developed"}, 422),
        ("confirm", {"item_id": BIASES, "depth": "deep"}, 422),
        ("reject", {}, 422),
        ("document", {}, 422),
        ("document", {"document": (io.BytesIO(b"%PDF"), "notes.pdf")}, 422),
        ("document", {"document": (io.BytesIO(b"not a zip"), "notes.docx")}, 422),
        ("document", {"document": (io.BytesIO(b"   "), "notes.txt")}, 422),
    ],
)
def test_bad_forms_are_refused_and_change_nothing(
    client: FlaskClient, session: Session, module_page: dict[str, Any], path: str, data: dict[str, Any], status: int
) -> None:
    url = module_page["url"]
    response = client.post(
        f"{url}/suggestions/{path}",
        data={**data, "csrf_token": csrf_token(client, url)},
        content_type="multipart/form-data",
    )
    assert response.status_code == status
    assert "flash-error" in response.get_data(as_text=True)
    assert session.query(SuggestionDecision).count() == 0
    assert session.query(Mapping).count() == 0


def test_suggest_from_an_uploaded_html_document(client: FlaskClient, module_page: dict[str, Any]) -> None:
    url = module_page["url"]
    page = b"<html><body><h1>Budgets</h1><p>Managing budgets and commissioning services</p></body></html>"
    response = client.post(
        f"{url}/suggestions/document",
        data={"document": (io.BytesIO(page), "handout.html"), "csrf_token": csrf_token(client, url)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "and handout.html," in html
    assert "budget" in html[html.index("Suggested items") : html.index("Suggest from a document")].lower()


def test_outsiders_cannot_use_the_forms(client: FlaskClient, session: Session, module_page: dict[str, Any]) -> None:
    outsider = factories.user(session, Role.AUTHOR)
    session.commit()
    client.get("/logout")
    sign_in(client, outsider.email)
    token = csrf_token(client, "/programmes")
    response = client.post(
        f"{module_page['url']}/suggestions/confirm", data={"item_id": BIASES, "depth": "developed", "csrf_token": token}
    )
    assert response.status_code == 404
