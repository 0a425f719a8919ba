"""NRPS and AGS against lti1p3platform: the roster becomes learners and a cohort; attainments reach the gradebook once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.access import command_line_principal
from capcourse.accounts.models import Role
from capcourse.catalogue.models import Programme
from capcourse.cohorts.models import CohortMember
from capcourse.delivery.services import Policy
from capcourse.extensions import db
from capcourse.identifiers import item_id
from capcourse.lti import advantage
from capcourse.lti.models import LtiContext, LtiScore
from capcourse.mapping.services import map_items
from tests import factories
from tests.lti.conftest import LtiWorld
from tests.lti.platform import LEARNER, Person

pytestmark = pytest.mark.db

MC2 = item_id("frontline-lcf-pathway-1", "MC.2")


@pytest.fixture(scope="module")
def setup(world: LtiWorld) -> dict[str, str]:
    world.platform.courses["course-nrps"] = ("Roster course", ["teacher", "ann", "bob"])
    with world.app.app_context(), Session(db.engine) as session:
        programme = session.get(Programme, world.programme_id)
        course = factories.course(session, programme, "Graded course")
        module = factories.module(session, course, "Assessed module")
        activity = factories.activity(session, module, "Assessed task")
        map_items(session, command_line_principal(), activity, [MC2], "assessed")
        session.commit()
        _, admin = factories.api_key(session, Role.ADMIN)
        _, integration = factories.api_key(session, Role.INTEGRATION)
        return {"activity": str(activity.id), "admin": admin, "integration": integration}


def _context(world: LtiWorld, context_id: str) -> LtiContext:
    with world.app.app_context(), Session(db.engine) as session:
        context = session.scalar(select(LtiContext).where(LtiContext.context_id == context_id))
        assert context is not None
        session.expunge(context)
        return context


def _cohort_accounts(world: LtiWorld, cohort_id: uuid.UUID) -> list[str]:
    with world.app.app_context(), Session(db.engine) as session:
        members = session.scalars(select(CohortMember).where(CohortMember.cohort_id == cohort_id)).all()
        return sorted(m.learner.agent["account"]["name"] for m in members)


def test_a_launch_brings_the_roster_as_learners_and_a_cohort(world: LtiWorld, setup: dict[str, str]) -> None:
    assert world.launch("teacher", context="course-nrps", link="rl-nrps").status_code == 200
    context = _context(world, "course-nrps")
    assert context.cohort_id is not None and context.roster_synced_at is not None
    assert _cohort_accounts(world, context.cohort_id) == ["ann", "bob"]  # learners only, by LMS account


def test_the_roster_is_refreshed_on_demand(world: LtiWorld, setup: dict[str, str]) -> None:
    world.platform.people["carl"] = Person("carl", "Carl Learner", "carl@lms.example.org", LEARNER)
    world.platform.courses["course-nrps"] = ("Roster course", ["teacher", "ann", "carl"])
    context = _context(world, "course-nrps")
    headers = factories.bearer(setup["admin"])
    response = requests.post(f"{world.tool_url}/api/v1/lti/contexts/{context.id}/roster", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"learners": 2, "added": 1, "removed": 1, "cohort_id": str(context.cohort_id)}
    assert _cohort_accounts(world, context.cohort_id) == ["ann", "carl"]
    listed = requests.get(f"{world.tool_url}/api/v1/lti/contexts", headers=headers, timeout=30).json()
    assert "course-nrps" in [c["context_id"] for c in listed]
    missing = requests.post(f"{world.tool_url}/api/v1/lti/contexts/999999/roster", headers=headers, timeout=30)
    assert missing.status_code == 404


def test_attainment_reaches_the_gradebook_once_through_the_outbox(world: LtiWorld, setup: dict[str, str]) -> None:
    context = _context(world, "course-nrps")
    headers = factories.bearer(setup["admin"])
    made = requests.post(
        f"{world.tool_url}/api/v1/lti/contexts/{context.id}/lineitems",
        json={"item_ids": [str(MC2)]},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    line = made.json()[0]
    platform_items = [i for i in world.platform.lineitems.values() if i["context"] == "course-nrps"]
    assert [i["tag"] for i in platform_items] == [f"http://127.0.0.1:{world.tool_url.rsplit(':', 1)[1]}/uri/{MC2}"]
    assert platform_items[0]["scoreMaximum"] == 1 and line["url"] == platform_items[0]["id"]
    again = requests.post(
        f"{world.tool_url}/api/v1/lti/contexts/{context.id}/lineitems",
        json={"item_ids": [str(MC2)]},
        headers=headers,
        timeout=30,
    )
    assert again.status_code == 201 and len(world.platform.lineitems) == 1  # found, not made twice

    # Ann passes the activity assessed for the item: she attains it.
    sent = requests.post(
        f"{world.tool_url}/api/v1/completions",
        headers=factories.bearer(setup["integration"]),
        json={"completions": [{"learner": {"account_home_page": world.platform.issuer, "account_name": "ann"},
                               "activity": f"{world.tool_url}/activities/{setup['activity']}", "outcome": "passed",
                               "timestamp": datetime.now(UTC).isoformat()}]},
        timeout=30,
    )  # fmt: skip
    assert sent.status_code == 200, sent.text

    world.platform.fail_scores = 1  # the gradebook is down for the first try
    first = requests.post(f"{world.tool_url}/api/v1/lti/scores/deliver", headers=headers, timeout=30).json()
    assert first == {"queued": 1, "delivered": 0, "retried": 1, "dead": 0}
    assert world.platform.scores == []
    with world.app.app_context(), Session(db.engine) as session:
        later = datetime.now(UTC) + timedelta(hours=2)
        report = advantage.deliver_scores(session, Policy(), now=later)
        session.commit()
    assert (report.queued, report.delivered) == (0, 1)
    assert len(world.platform.scores) == 1
    score = world.platform.scores[0]
    assert score["userId"] == "ann" and score["scoreGiven"] == 1 and score["scoreMaximum"] == 1
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    # Once per change: nothing more to send.
    assert (
        requests.post(f"{world.tool_url}/api/v1/lti/scores/deliver", headers=headers, timeout=30).json()["queued"] == 0
    )
    assert len(world.platform.scores) == 1
    status = requests.get(f"{world.tool_url}/api/v1/lti/scores", headers=headers, timeout=30).json()
    assert status == {"pending": 0, "delivered": 1, "dead": 0}


def test_a_gradebook_that_never_answers_ends_dead_and_can_be_retried(world: LtiWorld, setup: dict[str, str]) -> None:
    with world.app.app_context(), Session(db.engine) as session:
        score = session.scalar(select(LtiScore))
        assert score is not None
        score.state, score.attempts = "pending", 0
        session.commit()
        world.platform.fail_scores = 5
        now = datetime.now(UTC)
        for hours in range(3):
            advantage.deliver_scores(session, Policy(max_attempts=3), now=now + timedelta(days=hours + 1))
            session.commit()
        assert advantage.score_status(session)["dead"] == 1
        assert "503" in (session.scalar(select(LtiScore.last_error)) or "")
        assert advantage.retry_dead_scores(session) == 1
        session.commit()
    world.platform.fail_scores = 0
    headers = factories.bearer(setup["admin"])
    assert (
        requests.post(f"{world.tool_url}/api/v1/lti/scores/deliver", headers=headers, timeout=30).json()["delivered"]
        == 1
    )


def test_the_command_line_refreshes_rosters_and_posts_scores(world: LtiWorld, setup: dict[str, str]) -> None:
    runner = world.app.test_cli_runner()
    listed = runner.invoke(args=["lti", "contexts", "list"])
    assert listed.exit_code == 0 and "course-nrps\tRoster course" in listed.output
    roster = runner.invoke(args=["lti", "roster"])
    assert roster.exit_code == 0, roster.output
    assert "course-nrps: 2 learners (0 added, 0 removed)" in roster.output
    run = runner.invoke(args=["lti", "scores", "run", "--once"])
    assert run.exit_code == 0 and "queued 0, delivered 0" in run.output
    assert "delivered\t1" in runner.invoke(args=["lti", "scores", "status"]).output
    assert "0 dead score(s)" in runner.invoke(args=["lti", "scores", "retry"]).output
    bad = runner.invoke(args=["lti", "lineitems", "999999", str(MC2)])
    assert bad.exit_code != 0


def test_admins_refresh_rosters_and_add_columns_on_the_page(world: LtiWorld, setup: dict[str, str]) -> None:
    browser = requests.Session()
    login = browser.get(f"{world.tool_url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    signed = browser.post(
        f"{world.tool_url}/login",
        data={"email": "admin@example.org", "password": factories.PASSWORD, "csrf_token": token},
        timeout=30,
    )
    assert signed.status_code == 200
    page = browser.get(f"{world.tool_url}/admin/lti", timeout=30).text
    assert "Roster course" in page and "Refresh roster of Roster course" in page
    context = _context(world, "course-nrps")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refreshed = browser.post(
        f"{world.tool_url}/admin/lti/contexts/{context.id}/roster", data={"csrf_token": token}, timeout=30
    )
    assert refreshed.status_code == 200 and "Roster of Roster course: 2 learners" in refreshed.text
    added = browser.post(
        f"{world.tool_url}/admin/lti/contexts/{context.id}/lineitems",
        data={"csrf_token": token, "item_ids": [str(MC2)]},
        timeout=30,
    )
    assert added.status_code == 200 and "1 gradebook column(s)" in added.text
    none = browser.post(
        f"{world.tool_url}/admin/lti/contexts/{context.id}/lineitems", data={"csrf_token": token}, timeout=30
    )
    assert none.status_code == 422 and "Choose at least one" in none.text
