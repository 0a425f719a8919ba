"""The import page, and the export links on a framework's page."""

from __future__ import annotations

import html
import io
import json
import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.case.importing import import_package
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.services import map_items
from tests import factories
from tests.case.standards import ADMIN_PRINCIPAL, FIXTURES, ident, third_party_package
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db

SEQUENCE = FIXTURES / "opensalt-SequenceNumberFramework.json"
DOCUMENT = uuid.UUID("d0000000-0000-0000-0000-000000000000")


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return html.unescape(match.group(1))


def test_only_admins_import(client: FlaskClient, session: Session) -> None:
    assert client.get("/case/import").status_code == 302  # to the sign-in page
    sign_in(client, factories.user(session, Role.LEAD).email)
    assert client.get("/case/import").status_code == 403


def test_an_admin_previews_then_imports_an_upload(client: FlaskClient, session: Session) -> None:
    sign_in(client, factories.user(session, Role.ADMIN).email)
    assert 'href="/case/import"' in client.get("/frameworks").get_data(as_text=True)
    token = csrf_token(client, "/case/import")
    preview = client.post(
        "/case/import",
        data={"csrf_token": token, "package": (io.BytesIO(SEQUENCE.read_bytes()), SEQUENCE.name)},
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200, page
    assert "What importing Sequence Number Test changes" in page
    assert "2 added, 0 changed, 0 removed" in page
    assert "not RFC 4122" in page
    assert session.get(Framework, DOCUMENT) is None

    done = client.post(
        "/case/import/confirm",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "source": hidden(page, "source"),
            "package": hidden(page, "package"),
        },
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/frameworks/{DOCUMENT}")
    framework = session.get(Framework, DOCUMENT)
    assert framework is not None and framework.imported_from == SEQUENCE.name
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Sequence Number Test: created" in shown
    assert f"from {SEQUENCE.name}" in shown


def test_a_broken_upload_lists_its_problems(client: FlaskClient, session: Session) -> None:
    sign_in(client, factories.user(session, Role.ADMIN).email)
    response = client.post(
        "/case/import",
        data={
            "csrf_token": csrf_token(client, "/case/import"),
            "package": (
                io.BytesIO(b'{"CFDocument": {"title": "x"}, "CFItems": [{"fullStatement": "y"}]}'),
                "broken.json",
            ),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<code>$.CFDocument.identifier</code>" in page
    assert "<code>$.CFItems[0].identifier</code>" in page
    missing = client.post("/case/import", data={"csrf_token": csrf_token(client, "/case/import")})
    assert missing.status_code == 422


def test_every_framework_page_links_its_case_exports(client: FlaskClient) -> None:
    frontline = framework_id("frontline-lcf-pathway-1")
    page = client.get(f"/frameworks/{frontline}").get_data(as_text=True)
    assert f'href="/api/v1/frameworks/{frontline}/case?download=true"' in page
    assert f'href="/api/v1/frameworks/{frontline}/case?version=1.0&amp;download=true"' in page
    assert f'href="/ims/case/v1p1/CFPackages/{frontline}"' in page


def test_an_update_of_a_mapped_framework_is_confirmed_on_the_page(client: FlaskClient, session: Session) -> None:
    source = third_party_package()
    import_package(session, json.dumps(source).encode(), ADMIN_PRINCIPAL, "v1.json")
    module = factories.module(session, factories.course(session, factories.programme(session)))
    (mapping,) = map_items(session, ADMIN_PRINCIPAL, module, [uuid.UUID(ident("skill-2"))], Depth.ASSESSED)
    session.commit()
    del source["CFItems"][2]
    source["CFAssociations"] = [
        a for a in source["CFAssociations"] if a["originNodeURI"]["identifier"] != ident("skill-2")
    ]

    sign_in(client, factories.user(session, Role.ADMIN).email)
    preview = client.post(
        "/case/import",
        data={
            "csrf_token": csrf_token(client, "/case/import"),
            "package": (io.BytesIO(json.dumps(source, indent=2).encode()), "v2.json"),
        },
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert "Mappings that would be removed" in page
    assert "<td>Reflective supervision</td><td>DS.1.2 Keeps personal data secure.</td><td>assessed</td>" in page
    assert "Confirm the update" in page
    # Browsers send form fields back with CRLF line ends; the confirmation still matches.
    form = {
        "csrf_token": hidden(page, "csrf_token"),
        "source": hidden(page, "source"),
        "package": hidden(page, "package").replace("\n", "\r\n"),
    }
    unconfirmed = client.post("/case/import/confirm", data=form)
    assert unconfirmed.status_code == 409
    assert session.get(Mapping, mapping.id) is not None
    done = client.post("/case/import/confirm", data={**form, "confirm_token": hidden(page, "confirm_token")})
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Mapping, mapping.id) is None
