"""The drift report by API, page and command line: review, edit, apply, and refusals that change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.identifiers import framework_id
from capcourse.mapping.models import Mapping, MappingEvent
from capcourse.versions.models import VersionMove
from tests import factories
from tests.pages import csrf_token, sign_in
from tests.versions.conftest import NEW, OLD, new, old

pytestmark = pytest.mark.db

PAIR = {"from": str(framework_id(OLD)), "to": str(framework_id(NEW))}


def mapped_items(session: Session, world: dict[str, Any]) -> set[Any]:
    return set(session.scalars(select(Mapping.item_id).where(Mapping.programme_id == world["programme"].id)))


def lead_key(session: Session, world: dict[str, Any]) -> dict[str, str]:
    from capcourse.accounts.models import User

    lead = session.get(User, world["lead"].user_id)
    return factories.bearer(factories.api_key(session, Role.LEAD, lead)[1])


def test_the_api_gives_the_report_and_applies_it_with_its_token(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    headers = lead_key(session, world)
    url = f"/api/v1/programmes/{world['programme'].id}/drift"
    report = client.get(url, query_string=PAIR, headers=headers)
    assert report.status_code == 200, report.get_json()
    body = report.get_json()
    assert (body["from"]["label"], body["to"]["label"]) == (
        "Knowledge and Skills for Practice Supervisors (2015)",
        "Knowledge and skills statement for practice supervisors (2018)",
    )
    split = next(e for e in body["entries"] if e["item"]["label"] == "KSS-PS.7.2 (2015)")
    assert split["change"] == "split"
    assert [p["item"]["label"] for p in split["proposals"]] == ["KSS-PS.7.2 (2018)", "KSS-PS.7.3 (2018)"]
    assert split["proposals"][0]["association_type"] == "replacedBy"
    assert split["proposals"][0]["provenance"] == "published"
    assert [p["also_association_types"] for p in split["proposals"]] == [["isRelatedTo"], ["isRelatedTo"]]

    refused = client.post(url, json={**PAIR, "confirm_token": None}, headers=headers)
    assert refused.status_code == 422 and "confirm_token" in refused.get_json()["errors"]
    stale = client.post(url, json={**PAIR, "confirm_token": "stale"}, headers=headers)
    assert stale.status_code == 409
    keep = next(e for e in body["entries"] if e["item"]["label"] == "KSS-PS.1.1 (2015)")
    applied = client.post(
        url,
        json={
            **PAIR,
            "confirm_token": body["confirm_token"],
            "decisions": [{"mapping_id": keep["mapping_id"], "action": "keep"}],
        },
        headers=headers,
    )
    assert applied.status_code == 201, applied.get_json()
    assert applied.get_json()["summary"]["kept"] == 1
    assert old("1.1") in mapped_items(session, world) and new("7.4") in mapped_items(session, world)
    moves = client.get(f"/api/v1/programmes/{world['programme'].id}/version-moves", headers=headers).get_json()
    assert [m["to_label"] for m in moves] == ["Knowledge and skills statement for practice supervisors (2018)"]
    carried = client.get(
        f"/api/v1/programmes/{world['programme'].id}/version-evidence",
        query_string={"framework": PAIR["to"]},
        headers=headers,
    ).get_json()
    assert {"item": "KSS-PS.7.4 (2018)", "via": "KSS-PS.7.3 (2015)", "learners": 2, "also": ["exactMatchOf"]} in [
        {
            "item": r["item"]["label"],
            "via": r["via"]["label"],
            "learners": r["learners"],
            "also": r["also_association_types"],
        }
        for r in carried
    ]
    # One row per pair of items, however many links join them.
    assert len({(r["item"]["id"], r["via"]["id"]) for r in carried}) == len(carried)


def test_bad_requests_get_a_clear_4xx_and_change_nothing(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    headers = lead_key(session, world)
    url = f"/api/v1/programmes/{world['programme'].id}/drift"
    before = mapped_items(session, world)
    frontline = str(framework_id("frontline-lcf-pathway-1"))
    assert client.get(url, query_string={**PAIR, "to": frontline}, headers=headers).status_code == 422
    assert client.get(url, query_string={"from": "nope", "to": PAIR["to"]}, headers=headers).status_code == 422
    assert client.get(url, query_string={**PAIR, "to": PAIR["from"]}, headers=headers).status_code == 422
    token = client.get(url, query_string=PAIR, headers=headers).get_json()["confirm_token"]
    bad = client.post(
        url,
        json={**PAIR, "confirm_token": token, "decisions": [{"mapping_id": str(new("1.1")), "action": "move"}]},
        headers=headers,
    )
    assert bad.status_code == 422 and "not in this drift report" in json.dumps(bad.get_json())
    wrong_action = client.post(
        url,
        json={**PAIR, "confirm_token": token, "decisions": [{"mapping_id": PAIR["to"], "action": "x"}]},
        headers=headers,
    )
    assert wrong_action.status_code == 422
    author_key = factories.bearer(factories.api_key(session, Role.AUTHOR)[1])
    assert client.post(url, json={**PAIR, "confirm_token": token}, headers=author_key).status_code in (403, 404)
    assert mapped_items(session, world) == before
    assert session.scalar(select(func.count()).select_from(VersionMove)) == 0


def test_the_page_shows_the_report_and_the_lead_applies_it(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    from capcourse.accounts.models import User

    lead = session.get(User, world["lead"].user_id)
    sign_in(client, lead.email)
    programme = world["programme"].id
    index = client.get(f"/programmes/{programme}/versions").get_data(as_text=True)
    assert "From Knowledge and Skills for Practice Supervisors (2015) to" in index
    page_url = f"/programmes/{programme}/versions/drift"
    page = client.get(page_url, query_string=PAIR).get_data(as_text=True)
    assert "KSS-PS.7.3 (2015)" in page and "KSS-PS.7.4 (2018)" in page and "split" in page
    token = page.split('name="confirm_token" value="')[1].split('"')[0]
    # Without the confirmation nothing happens.
    refused = client.post(
        page_url,
        data={
            **PAIR,
            "confirm_token": token,
            "csrf_token": csrf_token(client, f"{page_url}?from={PAIR['from']}&to={PAIR['to']}"),
        },
    )
    assert refused.status_code == 422
    assert session.scalar(select(func.count()).select_from(VersionMove)) == 0
    done = client.post(
        page_url,
        data={
            **PAIR,
            "confirm_token": token,
            "confirm": "yes",
            "csrf_token": csrf_token(client, f"{page_url}?from={PAIR['from']}&to={PAIR['to']}"),
        },
    )
    assert done.status_code == 303
    after = client.get(f"/programmes/{programme}/versions").get_data(as_text=True)
    assert "5 moved" in after and "Evidence from other versions" in after
    history = client.get(f"/programmes/{programme}/history").get_data(as_text=True)
    assert "moved" in history and "KSS-PS.7.2 (2015)" in history


def test_the_command_line_prints_the_report_and_applies_it(
    runner: FlaskCliRunner, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    programme = str(world["programme"].id)
    shown = runner.invoke(args=["versions", "drift", programme, "--from", OLD, "--to", NEW])
    assert shown.exit_code == 0, shown.output
    assert "KSS-PS.7.2 (2015) [split] -> KSS-PS.7.2 (2018), KSS-PS.7.3 (2018)" in shown.output
    token = shown.output.split("--confirm ")[1].split()[0]
    refused = runner.invoke(args=["versions", "apply", programme, "--from", OLD, "--to", NEW, "--confirm", "stale"])
    assert refused.exit_code != 0 and "review it again" in refused.output
    keep = next(line.split()[0] for line in shown.output.splitlines() if "KSS-PS.2.2 (2015)" in line)
    applied = runner.invoke(
        args=["versions", "apply", programme, "--from", OLD, "--to", NEW, "--confirm", token, "--keep", keep]
    )
    assert applied.exit_code == 0, applied.output
    assert "Moved 4 mappings" in applied.output and "1 kept" in applied.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(MappingEvent).where(MappingEvent.action == "moved")) == 4


def test_codes_carry_their_version_on_pages_and_in_the_api(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    """KSS-PS.7.3 of 2015 is not KSS-PS.7.3 of 2018: wherever a code is shown, its version is too."""
    session.commit()
    framework_page = client.get(f"/frameworks/{framework_id(OLD)}").get_data(as_text=True)
    assert "KSS-PS.7.3 (2015)" in framework_page
    item_page = client.get(f"/items/{old('7.2')}").get_data(as_text=True)
    assert "KSS-PS.7.2 (2015)" in item_page
    assert "KSS-PS.7.2 (2018)" in item_page and "KSS-PS.7.3 (2018)" in item_page  # its successors
    item = client.get(f"/api/v1/items/{new('7.3')}").get_json()
    assert (item["code"], item["framework_version"]) == ("KSS-PS.7.3", "2018")
    headers = lead_key(session, world)
    mappings = client.get(f"/api/v1/modules/{world['module'].id}/mappings", headers=headers).get_json()
    assert [(m["item"]["code"], m["item"]["framework_version"]) for m in mappings] == [("KSS-PS.7.2", "2015")]
    history = client.get(f"/api/v1/programmes/{world['programme'].id}/mapping-history", headers=headers).get_json()
    assert any(e["item_label"].startswith("KSS-PS.7.2 (2015)") for e in history)
