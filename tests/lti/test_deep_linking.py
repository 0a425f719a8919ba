"""Deep linking against lti1p3platform, and what a link placed that way does: lands on its activity, whose id it becomes."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from html import unescape

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.catalogue.models import ExternalId, Programme
from capcourse.extensions import db
from capcourse.lti.models import LtiResourceLink
from capcourse.records.models import Completion
from tests import factories
from tests.lti.conftest import LtiWorld

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def content(world: LtiWorld) -> dict[str, str]:
    with world.app.app_context(), Session(db.engine) as session:
        programme = session.get(Programme, world.programme_id)
        course = factories.course(session, programme, "Authored course")
        module = factories.module(session, course, "Reflective supervision")
        activity = factories.activity(session, module, "Observed session")
        _, key = factories.api_key(session, Role.INTEGRATION)
        return {"module": str(module.id), "activity": str(activity.id), "key": key}


def _choose(world: LtiWorld, browser: requests.Session, targets: list[str]) -> requests.Response:
    chooser = world.launch("teacher", browser, context="course-dl", deep_link="1")
    assert chooser.status_code == 200, chooser.text
    assert "Add capcourse items" in chooser.text and "Reflective supervision" in chooser.text
    launch_id = re.search(r'name="launch_id" value="([^"]+)"', chooser.text).group(1)  # type: ignore[union-attr]
    return browser.post(f"{world.tool_url}/lti/deep-link", data={"launch_id": launch_id, "target": targets}, timeout=30)


def test_an_instructor_adds_capcourse_items_and_the_platform_accepts_them(
    world: LtiWorld, content: dict[str, str]
) -> None:
    browser = requests.Session()
    answer = _choose(world, browser, [f"activity:{content['activity']}", "coverage"])
    assert answer.status_code == 200, answer.text
    form_action = unescape(re.search(r'action="([^"]+)"', answer.text.split("lti-return")[0] + answer.text).group(1))  # type: ignore[union-attr]
    assert f"form-action 'self' {world.platform.base_url}" in answer.headers["Content-Security-Policy"]
    jwt_value = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    returned = browser.post(f"{world.platform.base_url}/deep-link-return", data={"JWT": jwt_value}, timeout=30)
    assert returned.status_code == 200, (returned.text, world.platform.errors, form_action)
    items = world.platform.deep_link_items[-2:]
    assert [i["type"] for i in items] == ["ltiResourceLink", "ltiResourceLink"]
    assert items[0]["title"] == "Observed session" and items[0]["url"] == f"{world.tool_url}/lti/launch"
    assert items[0]["custom"]["capcourse_target"] == f"activity:{content['activity']}"
    assert items[1]["custom"] == {"capcourse_target": "coverage"}
    # The same answer cannot be sent twice.
    launch_again = browser.post(
        f"{world.tool_url}/lti/deep-link", data={"launch_id": "lti1p3-launch-x", "target": "coverage"}, timeout=30
    )
    assert launch_again.status_code == 403


def test_learners_cannot_deep_link(world: LtiWorld) -> None:
    response = world.launch("ann", context="course-dl", deep_link="1")
    assert response.status_code == 403 and "instructors" in response.text


def test_a_deep_linked_resource_link_opens_its_activity_and_becomes_its_external_id(
    world: LtiWorld, content: dict[str, str]
) -> None:
    custom = json.dumps({"capcourse_target": f"activity:{content['activity']}"})
    browser = requests.Session()
    response = world.launch("teacher", browser, context="course-dl", link="rl-observed", custom=custom, target="window")
    assert response.status_code == 200, response.text
    assert response.url == f"{world.tool_url}/activities/{content['activity']}"
    with world.app.app_context(), Session(db.engine) as session:
        link = session.scalar(select(LtiResourceLink).where(LtiResourceLink.resource_link_id == "rl-observed"))
        assert link is not None and str(link.activity_id) == content["activity"]
        ids = session.scalars(select(ExternalId).where(ExternalId.value == "rl-observed")).all()
        assert [(e.system, str(e.activity_id)) for e in ids] == [("lti-resource-link", content["activity"])]
    # A completion the LMS sends with its link id (and the learner's LMS account) matches at once.
    sent = requests.post(
        f"{world.tool_url}/api/v1/completions",
        headers=factories.bearer(content["key"]),
        json={
            "completions": [
                {
                    "learner": {"account_home_page": world.platform.issuer, "account_name": "ann"},
                    "activity": "rl-observed",
                    "outcome": "passed",
                    "timestamp": datetime.now(UTC).isoformat(),
                }
            ]
        },
        timeout=30,
    )
    assert sent.status_code == 200 and sent.json()["results"][0]["status"] == "recorded", sent.text
    with world.app.app_context(), Session(db.engine) as session:
        completion = session.scalar(select(Completion).where(Completion.activity_id == uuid.UUID(content["activity"])))
        assert completion is not None and completion.learner.agent["account"]["name"] == "ann"


def test_a_module_link_opens_the_module(world: LtiWorld, content: dict[str, str]) -> None:
    custom = json.dumps({"capcourse_target": f"module:{content['module']}"})
    response = world.launch("teacher", context="course-dl", link="rl-module", custom=custom, target="window")
    assert response.url == f"{world.tool_url}/modules/{content['module']}"


def test_a_link_to_something_outside_the_programme_is_refused(world: LtiWorld) -> None:
    custom = json.dumps({"capcourse_target": "activity:6f1c7a3e-0000-4000-8000-000000000000"})
    response = world.launch("teacher", context="course-dl", link="rl-stranger", custom=custom)
    assert response.status_code == 422 and "not in this LMS&#39;s programme" in response.text
    bad = world.launch(
        "teacher", context="course-dl", link="rl-bad", custom=json.dumps({"capcourse_target": "nonsense"})
    )
    assert bad.status_code == 422 and "capcourse_target" in bad.text


def test_a_plain_link_is_tied_to_an_activity_by_hand(world: LtiWorld, content: dict[str, str]) -> None:
    first = world.launch("teacher", context="course-dl", link="rl-plain", target="window")
    assert "/courses/" in first.url  # not tied yet: the LMS course's capcourse course
    with world.app.app_context(), Session(db.engine) as session:
        admin = factories.bearer(factories.api_key(session, Role.ADMIN)[1])
        outsider = factories.bearer(factories.api_key(session, Role.AUTHOR)[1])
        context_id = session.scalar(
            select(LtiResourceLink.context_id).where(LtiResourceLink.resource_link_id == "rl-plain")
        )
    links = requests.get(f"{world.tool_url}/api/v1/lti/contexts/{context_id}/links", headers=admin, timeout=30).json()
    plain = next(link for link in links if link["resource_link_id"] == "rl-plain")
    assert plain["activity_id"] is None and plain["view"] is None
    url = f"{world.tool_url}/api/v1/lti/links/{plain['id']}"
    assert requests.put(url, json={"target": "activity:x"}, headers=admin, timeout=30).status_code == 422
    assert requests.put(url, json={"target": "coverage"}, headers=outsider, timeout=30).status_code == 404
    assert (
        requests.put(
            f"{world.tool_url}/api/v1/lti/links/999999", json={"target": "coverage"}, headers=admin, timeout=30
        ).status_code
        == 404
    )
    tied = requests.put(url, json={"target": f"activity:{content['activity']}"}, headers=admin, timeout=30)
    assert tied.status_code == 200 and tied.json()["activity_id"] == content["activity"]
    again = world.launch("teacher", context="course-dl", link="rl-plain", target="window")
    assert again.url == f"{world.tool_url}/activities/{content['activity']}"
    with world.app.app_context(), Session(db.engine) as session:
        systems = session.scalars(select(ExternalId.system).where(ExternalId.value == "rl-plain")).all()
        assert systems == ["lti-resource-link"]


def test_links_from_the_command_line(world: LtiWorld, content: dict[str, str]) -> None:
    world.launch("teacher", context="course-dl", link="rl-cli")
    with world.app.app_context(), Session(db.engine) as session:
        link = session.scalar(select(LtiResourceLink).where(LtiResourceLink.resource_link_id == "rl-cli"))
        assert link is not None
        link_id, context_id = link.id, link.context_id
    runner = world.app.test_cli_runner()
    listed = runner.invoke(args=["lti", "links", str(context_id)])
    assert listed.exit_code == 0 and f"{link_id}\trl-cli" in listed.output
    tied = runner.invoke(args=["lti", "link", str(link_id), f"module:{content['module']}"])
    assert tied.exit_code == 0, tied.output
    assert f"module:{content['module']}" in runner.invoke(args=["lti", "links", str(context_id)]).output
    assert runner.invoke(args=["lti", "link", str(link_id), "nonsense"]).exit_code != 0
    assert runner.invoke(args=["lti", "link", "999999", "coverage"]).exit_code != 0
