"""Coverage implied through crosswalk associations, never mixed with direct coverage."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Framework
from capcourse.identifiers import association_id, framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from tests import factories
from tests.pages import sign_in

pytestmark = pytest.mark.db

KSS_2018 = framework_id("dfe-kss-practice-supervisors-2018")


def test_mappings_to_2015_imply_2018_coverage_labelled_as_such(client: FlaskClient, session: Session) -> None:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    admin = factories.user(session, Role.ADMIN)
    map_items(
        session, principal_for_user(admin), module, [item_id("dfe-kss-practice-supervisors-2015", "3")], Depth.DEVELOPED
    )
    session.commit()

    # The shipped replacedBy links are published (successive editions of the same DfE statements): counted by default.
    report = coverage(session, programme, session.get(Framework, KSS_2018))
    statement = item_id("dfe-kss-practice-supervisors-2018", "3")
    entry = report.item(statement)
    assert not entry.covered  # direct coverage is untouched
    (link,) = report.implied[statement]
    assert (link.association_type, link.direction) == ("replacedBy", "incoming")
    assert link.provenance == "published"
    assert link.also == ["exactMatchOf"]  # the heading is word for word the same: one link, counted once
    assert link.counts == {"developed": 1}
    assert [e.item.id for e in report.implied_only] == [statement]

    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    sign_in(client, lead.email)
    page = client.get(f"/programmes/{programme.id}/coverage", query_string={"framework": str(KSS_2018)}).get_data(
        as_text=True
    )
    assert "Implied through crosswalks" in page
    assert "otherwise a gap" in page
    assert "implied: developed" in page


def test_sssc_clf_links_imply_clf_coverage(session: Session) -> None:
    programme = factories.programme(session)
    activity = factories.activity(session, factories.module(session, factories.course(session, programme)))
    admin = factories.user(session, Role.ADMIN)
    map_items(
        session,
        principal_for_user(admin),
        activity,
        [item_id("sssc-leadership-capabilities", "SL.2.EM")],
        Depth.ASSESSED,
    )
    session.commit()
    report = coverage(session, programme, session.get(Framework, framework_id("sssc-clf-as-referenced")))
    (link,) = report.implied[item_id("sssc-clf-as-referenced", "LEAD.ESTABLISHED")]
    assert (link.association_type, link.provenance, link.deepest) == ("isRelatedTo", "published", "assessed")


FRONTLINE = "frontline-lcf-pathway-1"
KSS_2018_KEY = "dfe-kss-practice-supervisors-2018"


def test_a_frontline_mapping_shows_as_kss_2018_coverage_once_the_crosswalk_link_is_confirmed(
    client: FlaskClient, session: Session
) -> None:
    """Done when (issue 17): a Frontline mapping shows as implied KSS 2018 coverage through a confirmed crosswalk,
    through the API and on the page; a suggested link implies nothing unless the lead includes suggested ones."""
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    _, plain = factories.api_key(session, Role.LEAD, owner=lead)
    auth = factories.bearer(plain)
    attribute, bullet = item_id(FRONTLINE, "MX.5.a"), item_id(KSS_2018_KEY, "2.2")
    admin = factories.user(session, Role.ADMIN)
    map_items(session, principal_for_user(admin), module, [attribute], Depth.ASSESSED)
    session.commit()
    path = f"/api/v1/programmes/{programme.id}/coverage"

    def implied(**query: object) -> list[dict[str, object]]:
        response = client.get(path, query_string={"framework": str(KSS_2018), **query}, headers=auth)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        entry = next(i for i in body["items"] if i["id"] == str(bullet))
        assert not entry["covered"]  # direct coverage is never touched
        return [link for link in entry["implied"] if link["via_item_id"] == str(attribute)]

    assert implied() == []  # the shipped link is only suggested
    (suggested,) = implied(include="suggested")
    assert (suggested["provenance"], suggested["counts"]["assessed"]) == ("suggested", 1)
    assert (
        client.get(path, query_string={"framework": str(KSS_2018), "include": "maybe"}, headers=auth).status_code == 422
    )

    sign_in(client, lead.email)
    page_path = f"/programmes/{programme.id}/coverage"
    page = client.get(page_path, query_string={"framework": str(KSS_2018)}).get_data(as_text=True)
    assert "LCF.MX.5.a" not in page and 'name="include" value="suggested"' in page
    page = client.get(page_path, query_string={"framework": str(KSS_2018), "include": "suggested"}).get_data(
        as_text=True
    )
    assert "LCF.MX.5.a" in page and 'value="suggested" checked' in page
    assert client.get(page_path, query_string={"framework": str(KSS_2018), "include": "maybe"}).status_code == 422

    # The lead confirms the link in the crosswalk editor's API: now it counts by default.
    link = association_id("isRelatedTo", attribute, bullet)
    assert client.post(f"/api/v1/associations/{link}/confirm", headers=auth).status_code == 200
    (confirmed,) = implied()
    assert (confirmed["provenance"], confirmed["association_type"]) == ("confirmed", "isRelatedTo")
    assert client.get(path, query_string={"framework": str(KSS_2018)}, headers=auth).get_json()[
        "implied_provenances"
    ] == ["confirmed", "published"]
    page = client.get(page_path, query_string={"framework": str(KSS_2018)}).get_data(as_text=True)
    assert "LCF.MX.5.a" in page and "implied: assessed" in page


def test_inferred_links_count_only_when_the_lead_includes_them(client: FlaskClient, session: Session) -> None:
    """The icon legend's links are inferred (nobody confirmed them): they imply curriculum-area coverage only with
    ``include=inferred``, a value of its own beside ``include=suggested``."""
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    _, plain = factories.api_key(session, Role.LEAD, owner=lead)
    auth = factories.bearer(plain)
    attribute = item_id(FRONTLINE, "MC.1.a")  # 🎯, inferred to stand for Leadership Essentials
    area = item_id("frontline-curriculum-areas", "LE")
    map_items(session, principal_for_user(factories.user(session, Role.ADMIN)), module, [attribute], Depth.DEVELOPED)
    session.commit()
    areas = session.get(Framework, framework_id("frontline-curriculum-areas"))
    assert area not in coverage(session, programme, areas).implied
    (link,) = coverage(session, programme, areas, {"published", "confirmed", "inferred"}).implied[area]
    assert (link.via.id, link.provenance, link.association_type) == (attribute, "inferred", "isRelatedTo")

    path = f"/api/v1/programmes/{programme.id}/coverage"

    def answer(*include: str) -> dict[str, object]:
        query = [("framework", str(areas.id)), *(("include", value) for value in include)]
        response = client.get(path, query_string=query, headers=auth)
        assert response.status_code == 200, response.get_json()
        body: dict[str, object] = response.get_json()
        return body

    def implied(body: dict[str, object]) -> list[object]:
        entry = next(i for i in body["items"] if i["id"] == str(area))  # type: ignore[attr-defined]
        return [link["via_item_id"] for link in entry["implied"]]

    assert implied(answer()) == [] and answer()["implied_provenances"] == ["confirmed", "published"]
    assert implied(answer("suggested")) == []
    assert implied(answer("inferred")) == [str(attribute)]
    assert answer("inferred", "suggested")["implied_provenances"] == ["confirmed", "inferred", "published", "suggested"]
    bad = client.get(path, query_string={"framework": str(areas.id), "include": "published"}, headers=auth)
    assert bad.status_code == 422

    sign_in(client, lead.email)
    page_path = f"/programmes/{programme.id}/coverage"
    page = client.get(page_path, query_string={"framework": str(areas.id)}).get_data(as_text=True)
    assert 'name="include" value="inferred"' in page and "LCF.MC.1.a" not in page
    page = client.get(page_path, query_string={"framework": str(areas.id), "include": "inferred"}).get_data(
        as_text=True
    )
    assert 'value="inferred" checked' in page and "LCF.MC.1.a" in page
