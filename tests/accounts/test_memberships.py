"""Programme membership: leads manage others, never themselves, and learn nothing about which accounts exist."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from tests import factories
from tests.factories import bearer

pytestmark = pytest.mark.db


def lead_of_programme(session: Session) -> tuple[object, object, dict[str, str]]:
    programme = factories.programme(session)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    return programme, lead, bearer(factories.api_key(session, Role.LEAD, lead)[1])


def test_a_lead_cannot_change_or_remove_their_own_place(client: FlaskClient, session: Session) -> None:
    programme, lead, headers = lead_of_programme(session)
    url = f"/api/v1/programmes/{programme.id}/members"  # type: ignore[attr-defined]
    demoted = client.post(url, json={"email": lead.email, "role": "author"}, headers=headers)  # type: ignore[attr-defined]
    assert demoted.status_code == 403
    assert "your own place" in demoted.json["message"]
    left = client.delete(f"{url}/{lead.id}", headers=headers)  # type: ignore[attr-defined]
    assert left.status_code == 403
    # Still lead: a lead who made themself author could then edit content.
    members = client.get(url, headers=headers).json
    assert [m["role"] for m in members] == ["lead"]


def test_a_lead_makes_leads_only_of_lead_accounts(client: FlaskClient, session: Session) -> None:
    programme, _, headers = lead_of_programme(session)
    url = f"/api/v1/programmes/{programme.id}/members"  # type: ignore[attr-defined]
    author = factories.user(session, Role.AUTHOR)
    other_lead = factories.user(session, Role.LEAD)
    refused = client.post(url, json={"email": author.email, "role": "lead"}, headers=headers)
    assert refused.status_code == 422
    assert client.post(url, json={"email": author.email, "role": "author"}, headers=headers).status_code == 200
    assert client.post(url, json={"email": other_lead.email, "role": "lead"}, headers=headers).status_code == 200
    # An admin may still make anyone a programme's lead.
    admin = bearer(factories.api_key(session, Role.ADMIN)[1])
    assert client.post(url, json={"email": author.email, "role": "lead"}, headers=admin).status_code == 200


def test_member_lookup_does_not_reveal_accounts(client: FlaskClient, session: Session) -> None:
    programme, _, headers = lead_of_programme(session)
    url = f"/api/v1/programmes/{programme.id}/members"  # type: ignore[attr-defined]
    author = factories.user(session, Role.AUTHOR)
    disabled = factories.user(session, Role.LEAD)
    disabled.disabled_at = disabled.created_at
    session.commit()
    answers = [
        client.post(url, json={"email": email, "role": "lead"}, headers=headers)
        for email in ("nobody@example.org", author.email, disabled.email)
    ]
    assert [a.status_code for a in answers] == [422, 422, 422]
    texts = {
        a.json["message"].replace(email, "EMAIL")
        for a, email in zip(answers, ("nobody@example.org", author.email, disabled.email), strict=True)
    }
    assert len(texts) == 1
    assert {str(a.json["errors"]) for a in answers} == {str(answers[0].json["errors"])}


def test_a_lead_of_one_programme_cannot_rename_another_programmes_learner(
    client: FlaskClient, session: Session
) -> None:
    """Learners are shared, names are not: each programme keeps its own (tests/cohorts/test_names.py has more)."""
    mine, _, headers = lead_of_programme(session)
    cohort = client.post(f"/api/v1/programmes/{mine.id}/cohorts", json={"name": "Mine"}, headers=headers)  # type: ignore[attr-defined]
    assert cohort.status_code == 201, cohort.json
    url = f"/api/v1/cohorts/{cohort.json['id']}/learners"
    first = client.post(url, json={"learners": [{"email": "lee@example.org", "name": "Lee Learner"}]}, headers=headers)
    assert [lr["name"] for lr in first.json["added"]] == ["Lee Learner"]

    theirs, _, other_headers = lead_of_programme(session)
    other = client.post(f"/api/v1/programmes/{theirs.id}/cohorts", json={"name": "Theirs"}, headers=other_headers)  # type: ignore[attr-defined]
    renamed = client.post(
        f"/api/v1/cohorts/{other.json['id']}/learners",
        json={"learners": [{"email": "lee@example.org", "name": "Someone Else"}]},
        headers=other_headers,
    )
    assert renamed.status_code == 200, renamed.json
    assert [lr["name"] for lr in renamed.json["added"]] == ["Someone Else"]
    listed = client.get(url, headers=headers).json
    assert [lr["name"] for lr in listed] == ["Lee Learner"]
