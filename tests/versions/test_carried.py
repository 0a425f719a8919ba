"""Evidence recorded against another version, carried to the cohort and learner views (API and pages).

The world's learners did their work while the programme was on KSS 2015; the
2018 view shows it apart, marked with the 2015 item it was recorded against,
through published and confirmed links only, once per pair of linked items.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.coverage.evidence import EvidenceFilter, cohort, learner_carried
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Association
from capcourse.records.models import Completion, Learner
from tests.pages import sign_in
from tests.versions.conftest import new, old
from tests.versions.test_views import lead_key

pytestmark = pytest.mark.db


def ada(session: Session, world: dict[str, Any]) -> Learner:
    """The one learner who did the workforce planning activity."""
    found = session.scalars(
        select(Learner)
        .join(Completion, Completion.learner_id == Learner.id)
        .where(Completion.activity_id == world["planning"].id)
    ).one()
    return found


def pairs(rows: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(r["code"], r["carried_from"]) for r in rows]


def test_the_cohort_answer_carries_evidence_of_the_other_version_apart(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    headers = lead_key(session, world)
    url = f"/api/v1/programmes/{world['programme'].id}/cohort"
    body = client.get(url, query_string={"framework": str(world["target"].id)}, headers=headers).get_json()
    carried = {(r["code"], r["carried_from"]): r for r in body["carried"]}
    assert len(carried) == len(body["carried"])  # one row per pair of items, however many links join them
    renumbered = carried["KSS-PS.7.4", "KSS-PS.7.3 (2015)"]
    assert (renumbered["learners"], renumbered["association_type"], renumbered["provenance"]) == (
        2,
        "replacedBy",
        "published",
    )
    assert renumbered["also_association_types"] == ["exactMatchOf"]
    assert renumbered["via_framework_version"] == "2015"
    assert carried["KSS-PS.7.3", "KSS-PS.7.2 (2015)"]["also_association_types"] == ["isRelatedTo"]
    # Never counted as the 2018 items' own evidence.
    rates = {r["code"]: r["learners"] for r in body["item_rates"]}
    assert rates["KSS-PS.7.4"] == rates["KSS-PS.1.1"] == 0
    row = next(r for r in body["rows"] if r["learner_id"] == ada(session, world).id)
    assert row["evidenced"] == {}
    assert row["carried"][str(new("7"))] == 3  # 7.2 and 7.3 (the module's split paragraph) and 7.4
    assert row["carried"][str(new("1"))] == 1  # 1.1, joined by replacedBy and exactMatchOf: once

    # The same filters as the rest of the answer: from 2 March on, only Bo's observation is in.
    later = client.get(
        url,
        query_string={"framework": str(world["target"].id), "since": "2026-03-02T00:00:00+00:00"},
        headers=headers,
    ).get_json()
    assert {(r["code"], r["carried_from"]): r["learners"] for r in later["carried"]}[
        "KSS-PS.7.4", "KSS-PS.7.3 (2015)"
    ] == 1


def test_the_learner_answer_lists_each_carried_completion_once(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    headers = lead_key(session, world)
    url = f"/api/v1/programmes/{world['programme'].id}/learners/{ada(session, world).id}/evidence"
    body = client.get(url, query_string={"framework": str(world["target"].id)}, headers=headers).get_json()
    assert body["evidence"] == []  # nothing recorded against 2018
    observed = [r for r in body["carried"] if r["activity"] == "Observed supervision"]
    assert sorted(pairs(observed)) == sorted(
        [
            ("KSS-PS.1.1", "KSS-PS.1.1 (2015)"),
            ("KSS-PS.7.2", "KSS-PS.7.2 (2015)"),  # through the module, mapped to the split paragraph
            ("KSS-PS.7.3", "KSS-PS.7.2 (2015)"),
            ("KSS-PS.7.4", "KSS-PS.7.3 (2015)"),
        ]
    )
    assert all(r["occurred_at"].startswith("2026-03-01") and r["outcome"] == "passed" for r in observed)
    # Open items are this version's: carried evidence does not close them.
    assert str(new("7.4")) in {i["id"] for i in body["open_items"]}


def test_only_links_coverage_counts_carry_evidence(session: Session, world: dict[str, Any]) -> None:
    for link in session.scalars(
        select(Association).where(
            Association.origin_item_id == old("7.3"), Association.destination_item_id == new("7.4")
        )
    ):
        link.provenance = "inferred"
    session.flush()
    report = coverage(session, world["programme"], world["target"])
    assert ("7.4", "7.3") not in {(r.link.item.key, r.link.via.key) for r in cohort(session, report).carried}
    carried_to_ada = learner_carried(session, report, ada(session, world))
    assert ("7.4", "7.3") not in {(e.link.item.key, e.link.via.key) for e in carried_to_ada}
    # A lead who includes inferred links sees it again.
    widened = coverage(session, world["programme"], world["target"], {"published", "confirmed", "inferred"})
    carried = cohort(session, widened, EvidenceFilter(until=datetime(2026, 12, 1, tzinfo=UTC))).carried
    assert [
        (r.link.provenance, r.learners) for r in carried if (r.link.item.key, r.link.via.key) == ("7.4", "7.3")
    ] == [("inferred", 2)]


def test_the_pages_mark_carried_evidence_with_its_version(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    session.commit()
    from capcourse.accounts.models import User

    lead = session.get(User, world["lead"].user_id)
    assert lead is not None
    sign_in(client, lead.email)
    programme = world["programme"].id
    query = {"framework": str(world["target"].id)}
    page = client.get(f"/programmes/{programme}/cohort", query_string=query).get_data(as_text=True)
    assert "Evidence carried from other versions" in page
    assert 'carried from <span class="code">KSS-PS.7.3 (2015)</span>' in page
    assert "+3 carried" in page
    learner_id = ada(session, world).id
    page = client.get(f"/programmes/{programme}/learners/{learner_id}", query_string=query).get_data(as_text=True)
    assert "Evidence carried from other versions" in page
    assert 'carried from <span class="code">KSS-PS.7.3 (2015)</span>' in page
    assert "evidence carried from another version" in page  # on the open items it shows for
    # The 2015 view shows the 2015 evidence as its own, nothing carried (no link leads from 2018 back to it).
    own = client.get(
        f"/programmes/{programme}/learners/{learner_id}", query_string={"framework": str(world["source"].id)}
    )
    assert "Evidence carried from other versions" not in own.get_data(as_text=True)
