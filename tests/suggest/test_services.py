"""Suggestion services on the shipped frameworks: equivalents, items for modules, areas, decisions."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.frameworks.areas import AreaLink
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Mapping
from capcourse.suggest import services
from capcourse.suggest.models import Decision, Kind, SuggestionDecision
from tests import factories

pytestmark = pytest.mark.db

KSS_PS_2015 = framework_id("dfe-kss-practice-supervisors-2015")
KSS_PS_2018 = framework_id("dfe-kss-practice-supervisors-2018")
ADMIN = Principal(role=Role.ADMIN, name="Ada Admin")


def codes(found: list[services.Suggestion]) -> list[str]:
    return [f"{s.item.framework.version}:{s.item.key}" for s in found]


def test_equivalents_find_each_2018_bullet_its_2015_paragraph(session: Session) -> None:
    found = services.equivalents(session, item_id("dfe-kss-practice-supervisors-2018", "6.2"), KSS_PS_2015, 3)
    assert codes(found)[0] == "2015:6.2"
    assert found[0].score == 1.0 and found[1].score < 0.5
    assert "evidence" in found[0].matched or found[0].matched
    # Split paragraphs: both 2018 halves find the one 2015 paragraph they came from.
    for key in ("7.2", "7.3"):
        top = services.equivalents(session, item_id("dfe-kss-practice-supervisors-2018", key), KSS_PS_2015, 1)
        assert codes(top) == ["2015:7.2"]
    assert codes(
        services.equivalents(session, item_id("dfe-kss-practice-supervisors-2018", "8.5"), KSS_PS_2015, 1)
    ) == ["2015:8.3"]


def test_equivalents_name_existing_associations_but_never_rank_by_them(session: Session) -> None:
    # Statement 7 of 2015 is replacedBy statement 7 of 2018 in the shipped data.
    found = services.equivalents(session, item_id("dfe-kss-practice-supervisors-2015", "7"), KSS_PS_2018, 5)
    top = found[0]
    assert top.item.key == "7"
    assert "replacedBy" in top.linked
    assert all(not s.linked for s in found[1:])


def test_equivalents_by_item_type_and_never_the_item_itself(session: Session) -> None:
    theme = item_id("sssc-leadership-capabilities", "VIS.2")
    indicator = item_id("sssc-leadership-capabilities", "VIS.2.EM")
    found = services.equivalents(session, indicator, framework_id("sssc-leadership-capabilities"), 5, item_type="Theme")
    assert found[0].item.id == theme
    assert {s.item.item_type for s in found} == {"Theme"}
    own = services.equivalents(session, indicator, framework_id("sssc-leadership-capabilities"), 50)
    assert indicator not in {s.item.id for s in own}


def test_equivalents_refuse_unknown_ids_and_bad_limits(session: Session) -> None:
    item = item_id("dfe-kss-practice-supervisors-2018", "6.2")
    with pytest.raises(NotFoundError):
        services.equivalents(session, uuid.uuid4(), KSS_PS_2015)
    with pytest.raises(NotFoundError):
        services.equivalents(session, item, uuid.uuid4())
    with pytest.raises(InvalidInputError):
        services.equivalents(session, item, KSS_PS_2015, 0)


def test_a_rejected_equivalent_is_not_offered_again_until_confirmed(session: Session) -> None:
    subject = item_id("dfe-kss-practice-supervisors-2018", "8.4")
    first = services.equivalents(session, subject, KSS_PS_2015, 3)
    assert codes(first)[0] == "2015:8.3"
    services.decide_equivalent(session, ADMIN, subject, first[0].item.id, Decision.REJECTED)
    again = services.equivalents(session, subject, KSS_PS_2015, 3)
    assert "2015:8.3" not in codes(again)
    services.decide_equivalent(session, ADMIN, subject, first[0].item.id, Decision.CONFIRMED)
    assert codes(services.equivalents(session, subject, KSS_PS_2015, 3))[0] == "2015:8.3"
    with pytest.raises(Exception, match="administrators and leads"):
        services.decide_equivalent(
            session, Principal(role=Role.AUTHOR, name="a"), subject, first[0].item.id, Decision.CONFIRMED
        )


def test_a_module_gets_the_items_its_text_is_about(session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course, "Anti-oppressive practice: biases and prejudices")
    module.description = "Becoming aware of our own biases and prejudices in supervision."
    session.flush()
    found = services.for_target(session, ADMIN, module, 5)
    assert found[0].item.id == item_id("frontline-lcf-pathway-1", "MC.3.a")
    assert {"biases", "prejudices"} <= set(found[0].matched)
    assert all(s.item.item_type != "Curriculum area" for s in found)


def test_confirming_maps_with_provenance_and_rejecting_hides_the_item(session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course, "Anti-oppressive practice: biases and prejudices")
    first, second = services.for_target(session, ADMIN, module, 2)
    mapping = services.confirm_mapping(session, ADMIN, module, first.item.id, "developed", rank=1, score=first.score)
    assert isinstance(mapping, Mapping) and mapping.provenance == "suggested-then-confirmed"
    services.reject_mapping(session, ADMIN, module, second.item.id, rank=2)
    shown = {s.item.id for s in services.for_target(session, ADMIN, module, 50)}
    assert first.item.id not in shown and second.item.id not in shown
    rows = session.query(SuggestionDecision).filter_by(subject_id=module.id).all()
    assert {(r.item_id, r.decision, r.kind) for r in rows} == {
        (first.item.id, "confirmed", "mapping"),
        (second.item.id, "rejected", "mapping"),
    }
    assert all("biases" in r.subject_text for r in rows)
    with pytest.raises(ConflictError):
        services.confirm_mapping(session, ADMIN, module, first.item.id, "developed")
    with pytest.raises(ConflictError):
        services.reject_mapping(session, ADMIN, module, first.item.id)


def test_a_similar_module_learns_from_the_programmes_earlier_mappings(session: Session) -> None:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    earlier = factories.module(session, course, "Workshop on the Frimley case")
    later = factories.module(session, course, "The Frimley case: workshop")
    target = item_id("frontline-lcf-pathway-1", "MC.6.a")
    assert target not in {s.item.id for s in services.for_target(session, ADMIN, later, 10)}
    services.confirm_mapping(session, ADMIN, earlier, target, "introduced")
    found = {s.item.id: s for s in services.for_target(session, ADMIN, later, 10)}
    assert target in found and found[target].boosted
    assert "confirmed before for similar text" in found[target].why


def test_extra_text_such_as_a_document_counts(session: Session) -> None:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme), "Session 4")
    found = services.for_target(session, ADMIN, module, 3, extra_text="Managing budgets and commissioning services")
    assert [w for w in found[0].matched if w.startswith("budget")]


def test_area_suggestions_learn_what_an_area_is_from_its_links(session: Session) -> None:
    attribute = item_id("frontline-lcf-pathway-1", "MC.3.a")  # biases and prejudices, anti-oppressive practice
    diversity = item_id("frontline-curriculum-areas", "DI")
    linked = {link.area_item_id for link in session.query(AreaLink).filter_by(item_id=attribute, removed=False)}
    found = services.areas_for_item(session, attribute, 3)
    assert not linked & {s.item.id for s in found}
    if diversity not in linked:
        assert found[0].item.id == diversity
    services.reject_area(session, "Ada", attribute, found[0].item.id)
    assert found[0].item.id not in {s.item.id for s in services.areas_for_item(session, attribute, 9)}
    link = services.confirm_area(session, "Ada", attribute, found[1].item.id)
    assert link.provenance == "confirmed"
    assert services.decision_for(session, Kind.AREA, attribute, found[1].item.id).decision == "confirmed"


MANIFEST = """<?xml version="1.0"?>
<manifest identifier="budgets" version="1" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:lom="http://ltsc.ieee.org/xsd/LOM">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion>
    <lom:lom><lom:general>
      <lom:description><lom:string language="en">Managing budgets and commissioning services</lom:string></lom:description>
      <lom:keyword><lom:string language="en">commissioning</lom:string></lom:keyword>
    </lom:general></lom:lom>
  </metadata>
  <organizations default="org"><organization identifier="org"><title>Session 5</title>
    <item identifier="i1" identifierref="r1"><title>Session 5</title></item></organization></organizations>
  <resources><resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="index.html"><file href="index.html"/></resource></resources>
</manifest>"""


def test_a_modules_scorm_metadata_counts(session: Session, tmp_path: Path) -> None:
    from capcourse.packages.models import ContentPackage, PackageItem

    programme = factories.programme(session)
    course = factories.course(session, programme)
    module = factories.module(session, course, "Session 5")
    (tmp_path / "p1").mkdir()
    (tmp_path / "p1" / "imsmanifest.xml").write_text(MANIFEST)
    package = ContentPackage(
        programme_id=programme.id,
        course_id=course.id,
        identifier="budgets",
        title="Session 5 package",
        scorm_version="2004-4th",
        revision=1,
        storage_path="p1",
        file_count=1,
        unpacked_bytes=1,
        sha256="0" * 64,
        imported_by="test",
    )
    session.add(package)
    session.flush()
    session.add(PackageItem(package_id=package.id, item_identifier="i1", position=0, module_id=module.id))
    session.flush()
    assert services.for_target(session, ADMIN, module, 3) == []  # "Session 5" shares nothing
    found = services.for_target(session, ADMIN, module, 3, package_dir=tmp_path)
    assert found and {"commissioning", "budgets"} & set(found[0].matched)
    # Files gone: the package's title still counts, nothing breaks.
    assert services.target_text(session, module, tmp_path / "elsewhere")[-1] == ("Session 5 package", 1.0)
