"""Issue 6, done when: a new user exports Frontline as CASE, validates it, imports a real
third-party package, maps a module to one of its items, and reads both frameworks
through the provider API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.identifiers import framework_id
from tests import factories
from tests.case.standards import FIXTURES, fixture, identifiers, official_1p1, openapi, problems
from tests.factories import bearer

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
THIRD_PARTY = FIXTURES / "opensalt-SequenceNumberFramework.json"


def test_export_validate_import_map_and_read_both(client: FlaskClient, session: Session) -> None:
    # 1. Export the Frontline framework and validate it with 1EdTech's schema.
    frontline = client.get(f"/api/v1/frameworks/{FRONTLINE}/case", query_string={"download": "true"})
    assert frontline.status_code == 200
    assert problems(official_1p1(), frontline.json) == []
    assert problems(openapi("CFPackageDType"), frontline.json) == []

    # 2. Import a real package another CASE tool published.
    admin = bearer(factories.api_key(session, Role.ADMIN)[1])
    imported = client.post(
        "/api/v1/case/imports", data=THIRD_PARTY.read_bytes(), content_type="application/json", headers=admin
    )
    assert imported.status_code == 201, imported.json
    other_id = imported.json["framework_id"]
    source = fixture(THIRD_PARTY)

    # 3. Map a module to one of its items.
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    item = next(i for i in source["CFItems"] if i["humanCodingScheme"] == "SNT.1")
    mapped = client.post(
        f"/api/v1/modules/{module.id}/mappings",
        json={"item_ids": [item["identifier"]], "depth": "developed"},
        headers=admin,
    )
    assert mapped.status_code == 201, mapped.json

    # 4. Read both frameworks through the provider API.
    documents = client.get("/ims/case/v1p1/CFDocuments").json["CFDocuments"]
    assert {str(FRONTLINE), other_id} <= {d["identifier"] for d in documents}
    ours = client.get(f"/ims/case/v1p1/CFPackages/{FRONTLINE}").json
    assert problems(openapi("CFPackageDType"), ours) == []
    assert ours == frontline.json
    theirs = client.get(f"/ims/case/v1p1/CFPackages/{other_id}").json
    assert problems(official_1p1(), theirs) == []
    assert identifiers(theirs) == identifiers(source)
    read = client.get(f"/ims/case/v1p1/CFItems/{item['identifier']}").json
    assert read["fullStatement"] == "First Added Item"
    assert read["uri"] == item["uri"]
    assert read["CFDocumentURI"]["identifier"] == other_id
    links = client.get(f"/ims/case/v1p1/CFItemAssociations/{item['identifier']}").json["CFAssociations"]
    assert [a["associationType"] for a in links] == ["isChildOf"]

    # The mapping stands on the imported item.
    listed = client.get(f"/api/v1/modules/{module.id}/mappings", headers=admin).json
    assert [m["item"]["id"] for m in listed] == [item["identifier"]]
