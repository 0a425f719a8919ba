"""capcourse's CASE endpoints: export a framework, import a package."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.case.export import export_package
from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.services import map_items
from tests import factories
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    BASE_URL,
    FIXTURES,
    ident,
    official_1p1,
    package_1p0,
    problems,
    third_party_package,
)
from tests.factories import bearer
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
IMPORTS = "/api/v1/case/imports"


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    return bearer(factories.api_key(session, Role.ADMIN)[1])


def test_export_gives_the_package(client: FlaskClient, session: Session) -> None:
    response = client.get(f"/api/v1/frameworks/{FRONTLINE}/case")
    assert response.status_code == 200
    assert "Content-Disposition" not in response.headers
    framework = session.get(Framework, FRONTLINE)
    assert framework is not None
    assert response.json == export_package(session, framework, BASE_URL)
    assert problems(official_1p1(), response.json) == []

    old = client.get(f"/api/v1/frameworks/{FRONTLINE}/case", query_string={"version": "1.0", "download": "true"})
    assert problems(package_1p0(), old.json) == []
    assert old.headers["Content-Disposition"] == 'attachment; filename="frontline-lcf-pathway-1.case-1.0.json"'


def test_export_errors_keep_the_api_shape(client: FlaskClient) -> None:
    missing = client.get(f"/api/v1/frameworks/{uuid.uuid4()}/case")
    assert missing.status_code == 404 and missing.json["code"] == 404
    bad = client.get(f"/api/v1/frameworks/{FRONTLINE}/case", query_string={"version": "2.0"})
    assert bad.status_code == 422 and "version" in bad.json["errors"]["query"]


def test_import_is_for_admins(client: FlaskClient, session: Session) -> None:
    body = json.dumps(third_party_package())
    assert client.post(IMPORTS, data=body, content_type="application/json").status_code == 401
    lead = bearer(factories.api_key(session, Role.LEAD)[1])
    assert client.post(IMPORTS, data=body, content_type="application/json", headers=lead).status_code == 403
    assert session.get(Framework, uuid.UUID(ident("doc"))) is None


def test_import_creates_then_reports_no_change(client: FlaskClient, session: Session, admin: dict[str, str]) -> None:
    body = (FIXTURES / "opensalt-MarkdownFramework.json").read_bytes()
    preview = client.post(
        IMPORTS, data=body, content_type="application/json", headers=admin, query_string={"dry_run": "true"}
    )
    assert preview.status_code == 200
    assert preview.json["status"] == "preview" and preview.json["items"]["added"] == 2
    identifier = uuid.UUID(preview.json["framework_id"])
    assert session.get(Framework, identifier) is None

    created = client.post(IMPORTS, data=body, content_type="application/json", headers=admin)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "created"
    assert created.json["key"] == "test-markdown-framework"
    assert created.json["source"] == "upload through the API"
    assert client.get(f"/api/v1/frameworks/{identifier}").json["item_total"] == 2

    again = client.post(IMPORTS, data=body, content_type="application/json", headers=admin)
    assert again.status_code == 200 and again.json["status"] == "unchanged"


def test_invalid_packages_are_422_with_json_paths(client: FlaskClient, admin: dict[str, str]) -> None:
    package = third_party_package()
    package["CFItems"][0]["identifier"] = package["CFItems"][1]["identifier"]
    response = client.post(IMPORTS, json=package, headers=admin)
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert response.json["errors"] == {
        "$.CFItems[1].identifier": ["Duplicate identifier: $.CFItems[0].identifier has it too."]
    }
    assert client.get(f"/api/v1/frameworks/{ident('doc')}").status_code == 404
    assert client.post(IMPORTS, data=b"{", content_type="application/json", headers=admin).status_code == 422
    empty = client.post(IMPORTS, headers=admin)
    assert empty.status_code == 422 and "package" in empty.json["errors"]


def test_a_package_over_the_cap_is_413(
    client: FlaskClient, app: Flask, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CAPCOURSE_CASE_MAX_BYTES", 1000)
    response = client.post(IMPORTS, json=third_party_package(), headers=admin)
    assert response.status_code == 413
    assert "CAPCOURSE_CASE_MAX_BYTES" in response.json["message"]


def test_import_from_an_https_url(
    client: FlaskClient, app: Flask, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "opensalt-AdoptedTestFramework.json").read_bytes()
    served: list[str] = []

    def publisher(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    monkeypatch.setitem(app.config, "CAPCOURSE_CASE_HTTP_TRANSPORT", httpx.MockTransport(publisher))
    url = "https://opensalt.example.org/ims/case/v1p0/CFPackages/d0000000-0000-0000-0000-000000000000"
    response = client.post(IMPORTS, headers=admin, query_string={"url": url})
    assert response.status_code == 201, response.json
    assert response.json["source"] == url and served == [url]

    plain = client.post(IMPORTS, headers=admin, query_string={"url": url.replace("https", "http")})
    assert plain.status_code == 422
    assert "https only" in plain.json["message"]


def test_an_update_of_a_mapped_framework_is_confirmed_with_the_preview_token(
    client: FlaskClient, session: Session, admin: dict[str, str]
) -> None:
    source = third_party_package()
    assert client.post(IMPORTS, json=source, headers=admin).status_code == 201
    module = factories.module(session, factories.course(session, factories.programme(session)))
    (mapping,) = map_items(session, ADMIN_PRINCIPAL, module, [uuid.UUID(ident("skill-2"))], Depth.DEVELOPED)
    session.commit()
    update = json.loads(json.dumps(source))
    del update["CFItems"][2]
    update["CFAssociations"] = [
        a for a in update["CFAssociations"] if ident("skill-2") != a["originNodeURI"]["identifier"]
    ]

    refused = client.post(IMPORTS, json=update, headers=admin)
    assert refused.status_code == 409
    assert refused.json["errors"]["mappings_removed"] == ["DS.1.2 Keeps personal data secure. ← Reflective supervision"]
    token = refused.json["errors"]["confirm_token"][0]
    preview = client.post(IMPORTS, json=update, headers=admin, query_string={"dry_run": "true"}).json
    assert preview["needs_confirmation"] and preview["confirm_token"] == token
    assert [m["mapping_id"] for m in preview["mappings_removed"]] == [str(mapping.id)]
    assert session.get(Mapping, mapping.id) is not None

    wrong = client.post(IMPORTS, json=update, headers=admin, query_string={"confirm": "0" * 32})
    assert wrong.status_code == 409
    done = client.post(IMPORTS, json=update, headers=admin, query_string={"confirm": token})
    assert done.status_code == 200 and done.json["status"] == "updated"
    session.expire_all()
    assert session.get(Mapping, mapping.id) is None
    history = client.get(f"/api/v1/programmes/{mapping.programme_id}/mapping-history", headers=admin).json
    assert [(e["action"], e["item_label"]) for e in history][:1] == [
        ("deleted", "DS.1.2 (2) Keeps personal data secure.")
    ]


def test_a_url_is_fetched_before_any_transaction_opens(
    client: FlaskClient,
    app: Flask,
    session: Session,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    runner: FlaskCliRunner,
) -> None:
    """A slow publisher must not hold a database transaction (and its locks) open: fetch first, then write."""
    body = (FIXTURES / "opensalt-AdoptedTestFramework.json").read_bytes()
    open_while_fetching: list[bool] = []

    def publisher(request: httpx.Request) -> httpx.Response:
        open_while_fetching.append(db.session().in_transaction())
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    monkeypatch.setitem(app.config, "CAPCOURSE_CASE_HTTP_TRANSPORT", httpx.MockTransport(publisher))
    url = "https://opensalt.example.org/ims/case/v1p0/CFPackages/d0000000-0000-0000-0000-000000000000"
    # The API (the key was looked up in the database before the fetch) …
    assert client.post(IMPORTS, headers=admin, query_string={"url": url, "dry_run": "true"}).status_code == 200
    # … the command line …
    result = runner.invoke(args=["case", "import", url, "--dry-run"])
    assert result.exit_code == 0, result.output
    # … and the page (its signed-in user was loaded from the database first).
    page = app.test_client()
    sign_in(page, factories.user(session, Role.ADMIN).email)
    session.commit()
    preview = page.post("/case/import", data={"csrf_token": csrf_token(page, "/case/import"), "url": url})
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert open_while_fetching == [False, False, False]
