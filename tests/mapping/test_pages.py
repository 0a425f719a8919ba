"""Mapping from the module page and the course grid; the history page."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Mapping
from tests import factories
from tests.pages import post_form, sign_in

pytestmark = pytest.mark.db

CURIOSITY = str(item_id("frontline-lcf-pathway-1", "MC.2"))
AREA = str(item_id("frontline-curriculum-areas", "HQS"))


@pytest.fixture
def module_page(client: FlaskClient, session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course)
    second = factories.module(session, course, "Leading change")
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    sign_in(client, author.email)
    return {
        "programme": programme,
        "course": course,
        "module": module,
        "second": second,
        "url": f"/modules/{module.id}",
    }


def test_map_change_depth_and_remove(client: FlaskClient, session: Session, module_page: dict[str, Any]) -> None:
    url = module_page["url"]
    response = post_form(client, f"{url}/mappings", {"item_ids": [CURIOSITY, AREA], "depth": "introduced"}, url)
    assert response.status_code == 303
    mapping = session.scalar(select(Mapping).where(Mapping.item_id == item_id("frontline-lcf-pathway-1", "MC.2")))
    response = post_form(
        client, f"/mappings/{mapping.id}/depth", {"depth": "assessed", "version": mapping.version}, url
    )
    assert response.status_code == 303
    session.refresh(mapping)
    assert mapping.depth == "assessed"
    stale = post_form(client, f"/mappings/{mapping.id}/depth", {"depth": "developed", "version": 1}, url)
    assert stale.status_code == 412
    assert "changed by someone else" in stale.get_data(as_text=True)
    removed = post_form(client, f"/mappings/{mapping.id}/delete", {"version": mapping.version}, url)
    assert removed.status_code == 303
    history = client.get(f"/programmes/{module_page['programme'].id}/history").get_data(as_text=True)
    assert history.count("<tr>") == 1 + 4  # header + created ×2, updated, deleted
    assert "introduced → assessed" in history


def test_mapping_nothing_is_refused(client: FlaskClient, module_page: dict[str, Any]) -> None:
    url = module_page["url"]
    response = post_form(client, f"{url}/mappings", {"depth": "introduced"}, url)
    assert response.status_code == 422
    assert "Choose at least one item to map." in response.get_data(as_text=True)


def test_mapping_twice_is_409(client: FlaskClient, module_page: dict[str, Any]) -> None:
    url = module_page["url"]
    post_form(client, f"{url}/mappings", {"item_ids": [CURIOSITY], "depth": "introduced"}, url)
    response = post_form(client, f"{url}/mappings", {"item_ids": [CURIOSITY], "depth": "assessed"}, url)
    assert response.status_code == 409
    assert "already mapped" in response.get_data(as_text=True)


def test_the_grid_maps_modules_by_items(client: FlaskClient, session: Session, module_page: dict[str, Any]) -> None:
    course = module_page["course"]
    frontline = framework_id("frontline-lcf-pathway-1")
    grid_url = f"/courses/{course.id}/grid?framework={frontline}&item_type=Sub-capability"
    page = client.get(grid_url).get_data(as_text=True)
    assert page.count('name="cells"') == 28 * 2
    cells = [f"{module_page['module'].id}:{CURIOSITY}", f"{module_page['second'].id}:{CURIOSITY}"]
    response = post_form(
        client,
        f"/courses/{course.id}/grid",
        {"cells": cells, "depth": "developed", "framework": str(frontline)},
        grid_url,
    )
    assert response.status_code == 303
    mappings = session.scalars(
        select(Mapping).where(Mapping.item_id == item_id("frontline-lcf-pathway-1", "MC.2"))
    ).all()
    assert sorted(m.depth for m in mappings) == ["developed", "developed"]
    assert 'badge">module: developed' in client.get(grid_url).get_data(as_text=True)


def test_the_grid_shows_activity_mappings(client: FlaskClient, session: Session, module_page: dict[str, Any]) -> None:
    from capcourse.accounts.access import principal_for_user
    from capcourse.mapping.models import Depth
    from capcourse.mapping.services import map_items

    course, module = module_page["course"], module_page["module"]
    activity = factories.activity(session, module, "Observed session")
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, activity, [item_id("frontline-lcf-pathway-1", "MC.2")], Depth.ASSESSED)
    session.commit()
    frontline = framework_id("frontline-lcf-pathway-1")
    page = client.get(
        f"/courses/{course.id}/grid?framework={frontline}&item_type=Sub-capability&highlight={CURIOSITY}"
    ).get_data(as_text=True)
    assert 'class="depth-assessed"' in page
    assert "activity: assessed" in page and "(Observed session)" in page
    assert f'id="item-{CURIOSITY}" class="highlight"' in page
    # Sub-capability codes in natural order (EC.2 before EC.10, were there ten).
    codes = [line.split("</span>")[0] for line in page.split('<span class="code">')[1:]]
    assert codes[:2] == ["LCF.EC.1", "LCF.EC.2"]


def test_the_grid_refuses_modules_of_other_courses(
    client: FlaskClient, session: Session, module_page: dict[str, Any]
) -> None:
    course = module_page["course"]
    stranger = factories.module(session, factories.course(session, module_page["programme"], "Another course"))
    response = post_form(
        client,
        f"/courses/{course.id}/grid",
        {"cells": [f"{stranger.id}:{CURIOSITY}"], "depth": "developed"},
        f"/courses/{course.id}/grid",
    )
    assert response.status_code == 422
    assert "not in this course" in response.get_data(as_text=True)
