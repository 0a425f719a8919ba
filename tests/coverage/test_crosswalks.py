"""Coverage implied through crosswalk associations, never mixed with direct coverage."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
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

    report = coverage(session, programme, session.get(Framework, KSS_2018))
    statement = item_id("dfe-kss-practice-supervisors-2018", "3")
    entry = report.item(statement)
    assert not entry.covered  # direct coverage is untouched
    (link,) = report.implied[statement]
    assert (link.association_type, link.provenance, link.direction) == ("replacedBy", "inferred", "incoming")
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
