"""The crosswalk editor's pages (forms posted as a browser does; the Chromium walk is test_crosswalk_browser)."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Association
from capcourse.identifiers import association_id, framework_id, item_id
from capcourse.suggest.models import Decision, Kind, SuggestionDecision
from tests import factories
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db

FRONTLINE, KSS = "frontline-lcf-pathway-1", "dfe-kss-practice-supervisors-2018"
PAGE = f"/crosswalks/{framework_id(FRONTLINE)}/{framework_id(KSS)}"


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Association)) or 0)


def signed_in(client: FlaskClient, session: Session, role: Role) -> str:
    person = factories.user(session, role)
    sign_in(client, person.email)
    return csrf_token(client, PAGE)


def test_the_index_lists_crosswalks_and_opens_any_two_frameworks(client: FlaskClient, session: Session) -> None:
    signed_in(client, session, Role.AUTHOR)
    page = client.get("/crosswalks").get_data(as_text=True)
    assert "Leadership Capability Framework" in page and "Continuous Learning Framework" in page
    opened = client.get(
        "/crosswalks", query_string={"left": str(framework_id(FRONTLINE)), "right": str(framework_id(KSS))}
    )
    assert opened.status_code == 303 and opened.headers["Location"].endswith(PAGE)
    assert client.get("/crosswalks", query_string={"left": "x", "right": "y"}).status_code == 422
    same = client.get(f"/crosswalks/{framework_id(KSS)}/{framework_id(KSS)}")
    assert same.status_code == 422 and "two different frameworks" in same.get_data(as_text=True)


def test_an_author_reads_but_cannot_change(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.AUTHOR)
    page = client.get(PAGE).get_data(as_text=True)
    assert "LCF.MX.5.a" in page and "Link two items" not in page and ">Confirm<" not in page
    form = {"csrf_token": token, "left_item": str(item_id(FRONTLINE, "MC.1")), "right_item": str(item_id(KSS, "1"))}
    assert client.post(PAGE, data=form).status_code == 403


def test_a_lead_links_and_a_bad_form_is_refused_with_the_reason(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.LEAD)
    before = count(session)
    refused = client.post(PAGE, data={"csrf_token": token, "left_item": str(item_id(FRONTLINE, "MC.1"))})
    assert refused.status_code == 422 and "Choose an item on the right." in refused.get_data(as_text=True)
    refused = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "left_item": str(item_id(FRONTLINE, "MC.1")),
            "right_item": str(item_id(KSS, "1")),
            "strength": "very",
        },
    )
    assert refused.status_code == 422 and "strength must be a number" in refused.get_data(as_text=True)
    assert count(session) == before
    made = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "left_item": str(item_id(FRONTLINE, "MC.1")),
            "right_item": str(item_id(KSS, "1")),
            "direction": "right-to-left",
            "type": "isRelatedTo",
            "strength": "0.3",
            "note": "Values and governance.",
        },
    )
    assert made.status_code == 303
    link = crosswalks.find_link(session, "isRelatedTo", item_id(KSS, "1"), item_id(FRONTLINE, "MC.1"))
    assert link is not None and (link.strength, link.provenance) == (0.3, "confirmed")


def test_confirm_edit_and_delete_from_the_page(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.ADMIN)
    link = association_id("isRelatedTo", item_id(FRONTLINE, "MX.2"), item_id(KSS, "5.2"))
    sides = {"left": str(framework_id(FRONTLINE)), "right": str(framework_id(KSS))}
    confirmed = client.post(f"/associations/{link}/confirm", data={"csrf_token": token, **sides})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith(f"{PAGE}#link-{link}")
    assert session.get(Association, link).provenance == "confirmed"
    again = client.post(f"/associations/{link}/confirm", data={"csrf_token": token, **sides})
    assert again.status_code == 409 and "nothing to confirm" in again.get_data(as_text=True)
    bad = client.post(f"/associations/{link}/edit", data={"csrf_token": token, "type": "isChildOf", **sides})
    assert bad.status_code == 422
    edited = client.post(
        f"/associations/{link}/edit",
        data={"csrf_token": token, "type": "exactMatchOf", "strength": "", "provenance": "confirmed", "note": "Same."},
    )
    assert edited.status_code == 303  # without the form's sides: back to the link's own frameworks
    session.expire_all()
    assert (session.get(Association, link).association_type, session.get(Association, link).strength) == (
        "exactMatchOf",
        None,
    )
    assert client.post(f"/associations/{link}/delete", data={"csrf_token": token, **sides}).status_code == 303
    assert session.get(Association, link) is None
    published = association_id(
        "isRelatedTo",
        item_id("sssc-leadership-capabilities", "VIS.3.AC"),
        item_id("sssc-clf-as-referenced", "CONF.EXEMPLARY"),
    )
    assert client.post(f"/associations/{published}/delete", data={"csrf_token": token}).status_code == 409


def test_import_a_csv_file_and_refuse_a_bad_one(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.LEAD)
    good = (
        "origin_framework,origin,type,destination_framework,destination,strength,provenance,note\n"
        f"{FRONTLINE},LCF.EC.6.a,isRelatedTo,{KSS},KSS-PS.1.1,0.3,,Status of the profession.\n"
    )
    done = client.post(
        f"{PAGE}/import",
        data={"csrf_token": token, "file": (io.BytesIO(good.encode()), "links.csv")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 303
    assert crosswalks.find_link(session, "isRelatedTo", item_id(FRONTLINE, "EC.6.a"), item_id(KSS, "1.1")) is not None
    before = count(session)
    bad = good.replace("LCF.EC.6.a", "LCF.NOPE")
    refused = client.post(
        f"{PAGE}/import",
        data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "links.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "Line 2" in refused.get_data(as_text=True)
    package = client.get(f"/api/v1/crosswalks/{framework_id(FRONTLINE)}/{framework_id(KSS)}/case").get_json()
    package["CFAssociations"][0]["originNodeURI"]["identifier"] = str(item_id("sssc-leadership-capabilities", "VIS"))
    refused = client.post(
        f"{PAGE}/import",
        data={"csrf_token": token, "file": (io.BytesIO(json.dumps(package).encode()), "links.json")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "$.CFAssociations[0].originNodeURI" in refused.get_data(as_text=True)
    assert client.post(f"{PAGE}/import", data={"csrf_token": token}).status_code == 422
    assert count(session) == before


def test_suggested_equivalents_are_accepted_or_rejected_and_recorded(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.LEAD)
    subject = item_id(FRONTLINE, "MX.1")
    page = client.get(PAGE, query_string={"suggest": str(subject)}).get_data(as_text=True)
    assert "Likely equivalents of LCF.MX.1 in Knowledge and skills statement" in page
    # The KSS bullet that shares the LCF sub-capability's words is offered first.
    first = page.index("crosswalk-suggestions")
    assert page.index("KSS-PS.1.1", first) < page.index("KSS-PS.2.1", first)
    assert (
        client.get(PAGE, query_string={"suggest": str(item_id("sssc-leadership-capabilities", "VIS"))}).status_code
        == 422
    )

    rejected = client.post(
        f"{PAGE}/suggestions/reject",
        data={"csrf_token": token, "suggest": str(subject), "other": str(item_id(KSS, "6.3"))},
    )
    assert rejected.status_code == 303 and "suggest=" in rejected.headers["Location"]
    decision = session.scalar(
        select(SuggestionDecision).where(
            SuggestionDecision.kind == Kind.EQUIVALENT,
            SuggestionDecision.subject_id == subject,
            SuggestionDecision.item_id == item_id(KSS, "6.3"),
        )
    )
    assert decision is not None and decision.decision == Decision.REJECTED
    assert crosswalks.find_link(session, "isRelatedTo", subject, item_id(KSS, "6.3")) is None

    accepted = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "left_item": str(subject),
            "right_item": str(item_id(KSS, "1.2")),
            "type": "isRelatedTo",
            "provenance": "confirmed",
            "note": "Suggested equivalent, accepted.",
            "suggest": str(subject),
        },
    )
    assert accepted.status_code == 303
    link = crosswalks.find_link(session, "isRelatedTo", subject, item_id(KSS, "1.2"))
    assert link is not None and link.provenance == "confirmed"
    decision = session.scalar(
        select(SuggestionDecision).where(
            SuggestionDecision.subject_id == subject, SuggestionDecision.item_id == item_id(KSS, "1.2")
        )
    )
    assert decision is not None and decision.decision == Decision.CONFIRMED


def test_accepting_a_suggestion_that_is_a_shipped_link_confirms_it(client: FlaskClient, session: Session) -> None:
    token = signed_in(client, session, Role.LEAD)
    subject, other = item_id(FRONTLINE, "MX.1"), item_id(KSS, "1.1")
    shipped = crosswalks.find_link(session, "isRelatedTo", subject, other)
    assert shipped is not None and shipped.provenance == "suggested"
    before = count(session)
    form = {"csrf_token": token, "left_item": str(subject), "right_item": str(other), "suggest": str(subject)}
    assert client.post(PAGE, data={**form, "type": "isRelatedTo"}).status_code == 303
    session.expire_all()
    assert session.get(Association, shipped.id).provenance == "confirmed" and count(session) == before
