"""Curriculum areas per item: the reviewed starting set, editing by API, page, CSV and CLI, and the matrix."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.frameworks import areas
from capcourse.frameworks.legend import set_icon_areas
from capcourse.frameworks.models import Framework
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.sync import sync_frameworks
from capcourse.identifiers import framework_id, item_id
from tests import factories
from tests.factories import bearer
from tests.pages import csrf_token, sign_in

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
lcf = lambda key: item_id("frontline-lcf-pathway-1", key)  # noqa: E731
area = lambda key: item_id("frontline-curriculum-areas", key)  # noqa: E731


def frontline(session: Session) -> Framework:
    framework = session.get(Framework, FRONTLINE)
    assert framework is not None
    return framework


def test_the_starting_set_gives_every_area_its_attributes(session: Session) -> None:
    links = areas.list_links(session, frontline(session))
    per_area = Counter(link.area.code for link in links)
    assert set(per_area) == {f"LCA.{k}" for k in ("LE", "LCF", "DI", "HQS", "MD", "RBP", "II", "LC", "WP")}
    assert all(link.provenance == "inferred" and link.rationale for link in links)
    assert len({link.item_id for link in links}) == 36  # every attribute has an area
    pairs = {(link.item.code, link.area.code) for link in links}
    assert {("LCF.PC.3.a", "LCA.DI"), ("LCF.PC.3.b", "LCA.DI"), ("LCF.MC.6.a", "LCA.WP")} <= pairs
    # 🗣️ is on 26 attributes; only those about supervision are High quality supervision.
    assert per_area["LCA.HQS"] < 26


def _admin(session: Session) -> dict[str, str]:
    return bearer(factories.api_key(session, Role.ADMIN)[1])


def test_api_adds_confirms_removes_and_sync_keeps_a_persons_decision(client: FlaskClient, session: Session) -> None:
    url = f"/api/v1/frameworks/{FRONTLINE}/area-links"
    listed = client.get(url).json
    assert len(listed) == len(areas.list_links(session, frontline(session)))
    admin = _admin(session)
    body = {"item_id": str(lcf("MC.1.a")), "area_id": str(area("DI")), "rationale": "Values include equity."}
    created = client.post(url, json=body, headers=admin)
    assert created.status_code == 201 and created.json["provenance"] == "confirmed"
    lead = bearer(factories.api_key(session, Role.LEAD, factories.user(session, Role.LEAD))[1])
    assert client.post(url, json=body, headers=lead).status_code == 403
    assert client.post(url, json=body).status_code == 401
    wrong = client.post(url, json={**body, "area_id": str(lcf("MC.1"))}, headers=admin)
    assert wrong.status_code == 422 and "not a curriculum area" in wrong.json["message"]
    assert client.post(url, json={**body, "provenance": "published"}, headers=admin).status_code == 422

    shipped = next(link for link in client.get(url).json if link["item_code"] == "LCF.MC.6.a")
    confirmed = client.post(f"{url}/{shipped['id']}/confirm", headers=admin)
    assert confirmed.json["provenance"] == "confirmed"
    removed = next(link for link in client.get(url).json if link["item_code"] == "LCF.PC.3.a")
    assert client.delete(f"{url}/{removed['id']}", headers=admin).status_code == 204
    assert client.delete(f"{url}/{removed['id']}x", headers=admin).status_code == 404
    # A sync brings back nothing a person removed, and changes nothing they decided.
    sync_frameworks(session, load_seed_data())
    after = {(link["item_code"], link["area_code"]): link for link in client.get(url).json}
    assert ("LCF.PC.3.a", "LCA.DI") not in after
    assert after["LCF.MC.6.a", shipped["area_code"]]["provenance"] == "confirmed"
    assert after["LCF.MC.1.a", "LCA.DI"]["rationale"] == "Values include equity."


def test_csv_import_is_all_or_nothing(client: FlaskClient, session: Session) -> None:
    url = f"/api/v1/frameworks/{FRONTLINE}/area-links.csv"
    admin = _admin(session)
    good = "item,area,rationale,action\nLCF.MC.1.a,Diversity and inclusion,Equity,\nLCF.PC.3.a,LCA.DI,,remove\n"
    response = client.post(url, data=good, headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 200 and response.json == {"set": 1, "removed": 1}
    before = client.get(url).get_data(as_text=True)
    bad = "item,area,rationale\nLCF.MC.2.a,LCA.WP,Fine\nLCF.NOPE,LCA.WP,Unknown item\n"
    refused = client.post(url, data=bad, headers={**admin, "Content-Type": "text/csv"})
    assert refused.status_code == 422 and refused.json["message"].startswith("Line 3:")
    assert client.get(url).get_data(as_text=True) == before
    missing = client.post(url, data="code,rationale\n", headers={**admin, "Content-Type": "text/csv"})
    assert missing.status_code == 422


def test_the_icon_legend_suggests_links(session: Session) -> None:
    framework = frontline(session)
    set_icon_areas(session, framework, "🧠", [area("RBP"), area("MD")], "Knowledge and decisions.", "test")
    links = {(link.item.code, link.area.code): link for link in areas.list_links(session, framework)}
    assert links["LCF.MX.2.a", "LCA.MD"].provenance == "suggested"
    assert links["LCF.MX.3.a", "LCA.MD"].provenance == "inferred"  # already there: left as it was


def test_the_page_for_admins_and_others(client: FlaskClient, session: Session) -> None:
    admin = factories.user(session, Role.ADMIN)
    lead = factories.user(session, Role.LEAD)
    page_url = f"/frameworks/{FRONTLINE}/areas"
    sign_in(client, lead.email)
    page = client.get(page_url).get_data(as_text=True)
    assert "Working with Partners" in page and "Add an area" not in page
    token = csrf_token(client, page_url)
    form = {"item_id": str(lcf("MC.1.a")), "area_id": str(area("DI")), "rationale": "x", "csrf_token": token}
    assert client.post(page_url, data=form).status_code == 403

    client.post("/logout", data={"csrf_token": token})
    sign_in(client, admin.email)
    token = csrf_token(client, page_url)
    added = client.post(page_url, data={**form, "csrf_token": token})
    assert added.status_code == 303
    refused = client.post(page_url, data={**form, "area_id": "nope", "csrf_token": token})
    assert refused.status_code == 422 and "Choose a valid curriculum area" in refused.get_data(as_text=True)
    upload = client.post(
        f"{page_url}/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"item,area,rationale\nLCF.MC.2.a,LCA.WP,Why\n"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303
    link = session.scalar(
        select(areas.AreaLink).where(areas.AreaLink.item_id == lcf("MC.2.a"), areas.AreaLink.area_item_id == area("WP"))
    )
    assert link is not None and link.provenance == "confirmed"
    removed = client.post(f"{page_url}/{link.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    session.refresh(link)
    assert link.removed


def test_cli_exports_and_imports(runner: FlaskCliRunner, session: Session, tmp_path: Any) -> None:
    exported = runner.invoke(args=["frameworks", "areas", "export", "frontline-lcf-pathway-1"])
    assert exported.exit_code == 0 and exported.output.startswith("item,area,provenance,rationale")
    path = tmp_path / "links.csv"
    path.write_text("item,area,rationale\nLCF.EC.6.a,LCA.LE,Professional identity\n", encoding="utf-8")
    imported = runner.invoke(args=["frameworks", "areas", "import", "frontline-lcf-pathway-1", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "1 link(s) set" in imported.output
    unknown = runner.invoke(args=["frameworks", "areas", "export", "nope"])
    assert unknown.exit_code != 0 and "No framework has the key" in unknown.output
