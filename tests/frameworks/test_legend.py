"""Changing the icon legend: services and API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.errors import InvalidInputError, NotFoundError
from capcourse.frameworks import legend
from capcourse.frameworks.models import Association, Framework, Item, ManagedBy, Provenance
from capcourse.identifiers import framework_id, item_id
from tests.factories import api_key, bearer

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
URL = f"/api/v1/frameworks/{FRONTLINE}/icon-legend"


def area(key: str) -> str:
    return str(item_id("frontline-curriculum-areas", key))


def test_changing_an_icon_moves_every_marked_item(session: Session) -> None:
    framework = session.get(Framework, FRONTLINE)
    legend.set_icon_areas(
        session, framework, "🧠", [item_id("frontline-curriculum-areas", "MD")], "Decisions.", actor="tester"
    )
    brain_items = session.scalars(select(Item.id).where(Item.framework_id == FRONTLINE, Item.icon == "🧠")).all()
    links = session.scalars(
        select(Association).where(
            Association.origin_item_id.in_(brain_items), Association.managed_by == ManagedBy.ICON_LEGEND
        )
    ).all()
    assert len(links) == 3
    assert {a.destination_item_id for a in links} == {item_id("frontline-curriculum-areas", "MD")}
    assert {a.provenance for a in links} == {Provenance.CONFIRMED}


def test_unknown_icon_and_unknown_area_are_refused(session: Session) -> None:
    framework = session.get(Framework, FRONTLINE)
    with pytest.raises(NotFoundError, match="icon"):
        legend.set_icon_areas(session, framework, "🐙", [item_id("frontline-curriculum-areas", "MD")], "x", "t")
    with pytest.raises(InvalidInputError):
        legend.set_icon_areas(session, framework, "🧠", [item_id("sssc-leadership-capabilities", "VIS")], "x", "t")


def test_api_reads_the_legend(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    icons = {row["icon"]: row for row in response.json["icons"]}
    assert sum(row["item_count"] for row in icons.values()) == 36
    assert {row["provenance"] for row in icons.values()} == {"inferred"}


def test_api_admin_sets_an_icon(client: FlaskClient, session: Session) -> None:
    _, key = api_key(session, Role.ADMIN)
    body = {"icon": "💡", "areas": [area("LC"), area("II")], "rationale": "Confirmed with Frontline."}
    response = client.put(URL, json=body, headers=bearer(key))
    assert response.status_code == 200, response.json
    bulb = next(row for row in response.json["icons"] if row["icon"] == "💡")
    assert bulb["provenance"] == "confirmed"
    assert {a["id"] for a in bulb["areas"]} == {area("LC"), area("II")}
    assert bulb["updated_by"].startswith("API key cc_")


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), (Role.AUTHOR, 403), (Role.LEAD, 403), (Role.INTEGRATION, 403)],
)
def test_api_only_admins_change_the_legend(
    client: FlaskClient, session: Session, role: Role | None, status: int
) -> None:
    headers = bearer(api_key(session, role)[1]) if role else {}
    body = {"icon": "💡", "areas": [area("LC")], "rationale": "x"}
    response = client.put(URL, json=body, headers=headers)
    assert response.status_code == status
    assert response.json["code"] == status
    before = client.get(URL).json
    assert {row["provenance"] for row in before["icons"]} == {"inferred"}


def test_api_refuses_a_wrong_key(client: FlaskClient) -> None:
    response = client.put(URL, json={}, headers=bearer("cc_not-a-key"))
    assert response.status_code == 401
    assert response.json["message"] == "The API key is not valid."


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"areas": [], "rationale": "x", "icon": "💡"}, 422, "areas"),
        ({"areas": ["not-a-uuid"], "rationale": "x", "icon": "💡"}, 422, "areas"),
        ({"areas": [area("LC")], "icon": "💡"}, 422, "rationale"),
        ({"areas": [area("LC")], "rationale": "x", "icon": "🐙"}, 404, "icon"),
        (
            {"areas": [str(item_id("sssc-leadership-capabilities", "VIS"))], "rationale": "x", "icon": "💡"},
            422,
            "areas",
        ),
    ],
)
def test_api_bad_legend_changes_name_the_field_and_change_nothing(
    client: FlaskClient, session: Session, body: dict[str, object], status: int, field: str
) -> None:
    _, key = api_key(session, Role.ADMIN)
    response = client.put(URL, json=body, headers=bearer(key))
    assert response.status_code == status
    errors = response.json["errors"]
    assert field in (errors.get("json", errors))
    assert {row["provenance"] for row in client.get(URL).json["icons"]} == {"inferred"}
