"""Moving a programme from KSS 2015 to KSS 2018 through the drift report, losing no mapping and no evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import Role
from capcourse.coverage.services import coverage
from capcourse.errors import ConflictError, ForbiddenError, InvalidInputError
from capcourse.frameworks.crosswalks import COUNTED
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.identifiers import framework_id
from capcourse.mapping.models import Depth, Mapping, MappingEvent
from capcourse.mapping.services import map_items
from capcourse.records import evidence
from capcourse.records.models import Attainment
from capcourse.versions import services
from capcourse.versions.services import Action, Change, Decision
from tests import factories
from tests.records.test_evidence import complete, stored
from tests.versions.conftest import NEW, OLD, new, old

pytestmark = pytest.mark.db


def report(session: Session, world: dict[str, Any]) -> services.DriftReport:
    return services.drift_report(session, world["lead"], world["programme"], world["source"], world["target"])


def test_the_report_lists_every_mapping_with_what_became_of_its_item_and_why(
    session: Session, world: dict[str, Any]
) -> None:
    drift = report(session, world)
    by_item = {e.item.key: e for e in drift.entries}
    assert sorted(by_item) == ["1.1", "2.2", "7.2", "7.3", "8.2"]
    assert by_item["7.2"].change == Change.SPLIT
    assert [p.item.key for p in by_item["7.2"].proposals] == ["7.2", "7.3"]
    assert all("Split" in p.reason for p in by_item["7.2"].proposals)  # the association's own note
    assert [p.item.key for p in by_item["8.2"].proposals] == ["8.2", "8.3"]
    # 2015 7.3 is 2018 7.4, word for word: the code differs, the text does not.
    assert (by_item["7.3"].change, [p.item.key for p in by_item["7.3"].proposals]) == (Change.UNCHANGED, ["7.4"])
    assert "renumbered" in by_item["7.3"].proposals[0].reason
    assert by_item["1.1"].change == Change.UNCHANGED
    assert by_item["2.2"].change == Change.UNCHANGED  # "Practice Supervisor" → "practice supervisor" only
    assert drift.counts == {"unchanged": 3, "changed": 0, "split": 2, "merged": 0, "removed": 0}
    assert services.code_label(by_item["7.3"].item) == "KSS-PS.7.3 (2015)"
    assert services.code_label(by_item["7.3"].proposals[0].item) == "KSS-PS.7.4 (2018)"


def test_applying_moves_every_mapping_and_keeps_every_learners_evidence(
    session: Session, world: dict[str, Any]
) -> None:
    programme = world["programme"]
    evidence_before = stored(session, programme)
    assert {key[0] for key in evidence_before} == {old("7.2"), old("7.3"), old("1.1"), old("8.2"), old("2.2")}
    attainments_before = session.scalars(select(Attainment.item_id)).all()
    drift = report(session, world)

    move = services.apply_drift(
        session, world["lead"], programme, world["source"], world["target"], drift.confirm_token
    )
    assert move.summary == {"moved": 5, "created": 7, "deepened": 0, "already": 0, "kept": 0, "dropped": 0}
    session.flush()
    session.expire(move)
    assert move.summary["created"] == 7  # stored, not only in memory

    mapped = {
        (m.module_id or m.activity_id, m.item_id, m.depth)
        for m in session.scalars(select(Mapping).where(Mapping.programme_id == programme.id))
    }
    module, observed, planning = world["module"].id, world["observed"].id, world["planning"].id
    assert mapped == {
        (module, new("7.2"), "developed"),
        (module, new("7.3"), "developed"),
        (observed, new("7.4"), "assessed"),
        (observed, new("1.1"), "assessed"),
        (planning, new("8.2"), "introduced"),
        (planning, new("8.3"), "introduced"),
        (planning, new("2.2"), "introduced"),
    }
    assert [f.key for f in programme.frameworks] == [NEW]

    # The evidence recorded against 2015 is exactly as it was, and a rebuild from the completions agrees.
    assert stored(session, programme) == evidence_before
    evidence.rebuild(session, programme.id)
    assert stored(session, programme) == evidence_before
    assert session.scalars(select(Attainment.item_id)).all() == attainments_before

    # It shows on the 2018 items through the links, never as 2018 evidence.
    carried = {
        (r.item.key, r.via.key): r.learners for r in services.carried_evidence(session, programme, world["target"])
    }
    assert carried[("7.4", "7.3")] == 2
    assert carried[("7.2", "7.2")] == carried[("7.3", "7.2")] == 2  # the module holds both activities
    assert carried[("8.2", "8.2")] == 1

    # Coverage of 2018 includes the moved mappings.
    report_2018 = coverage(session, programme, world["target"])
    assert report_2018.item(new("7.3")).covered and report_2018.item(new("7.4")).assessed
    assert not report_2018.gaps or all(g.item.framework_id == framework_id(NEW) for g in report_2018.gaps)

    # The mapping history has each change.
    events = session.scalars(select(MappingEvent).where(MappingEvent.programme_id == programme.id)).all()
    moved = [e for e in events if e.action == "moved"]
    assert len(moved) == 5
    split = next(e for e in moved if e.item_id == old("7.2"))
    assert split.item_label.startswith("KSS-PS.7.2 (2015)")
    assert "KSS-PS.7.2 (2018), KSS-PS.7.3 (2018)" in split.item_label
    assert sum(e.action == "created" and e.actor == world["lead"].name for e in events) == 7


def test_completions_after_the_move_are_evidence_of_the_newer_items_only(
    session: Session, world: dict[str, Any]
) -> None:
    programme = world["programme"]
    drift = report(session, world)
    services.apply_drift(session, world["lead"], programme, world["source"], world["target"], drift.confirm_token)
    kept = stored(session, programme)
    complete(session, "cy", world["observed"], "passed", datetime.now(UTC) + timedelta(seconds=5))
    now = stored(session, programme)
    added = {key[0] for key in now.keys() - kept.keys()}
    assert added == {new("7.4"), new("1.1"), new("7.2"), new("7.3")}
    evidence.rebuild(session, programme.id)
    assert stored(session, programme) == now


def test_the_lead_edits_the_proposals_keeps_and_drops(session: Session, world: dict[str, Any]) -> None:
    programme = world["programme"]
    drift = report(session, world)
    by_item = {e.item.key: e.mapping.id for e in drift.entries}
    move = services.apply_drift(
        session,
        world["lead"],
        programme,
        world["source"],
        world["target"],
        drift.confirm_token,
        [
            Decision(by_item["7.2"], Action.MOVE, (new("7.3"),)),  # only the part this module teaches
            Decision(by_item["1.1"], Action.KEEP),
            Decision(by_item["2.2"], Action.DROP),
        ],
    )
    assert move.summary["kept"] == 1 and move.summary["dropped"] == 1
    items = set(session.scalars(select(Mapping.item_id).where(Mapping.programme_id == programme.id)))
    assert old("1.1") in items and new("7.3") in items
    assert new("7.2") not in items and old("2.2") not in items and new("2.2") not in items
    # A kept mapping keeps the older version on the programme.
    assert sorted(f.key for f in programme.frameworks) == [OLD, NEW]


def test_a_mapping_already_there_takes_the_deeper_depth(session: Session, world: dict[str, Any]) -> None:
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, world["observed"], [new("7.4")], Depth.INTRODUCED)
    drift = report(session, world)
    entry = next(e for e in drift.entries if e.item.key == "7.3")
    assert entry.already_mapped == {new("7.4")}
    move = services.apply_drift(
        session, world["lead"], world["programme"], world["source"], world["target"], drift.confirm_token
    )
    assert move.summary["deepened"] == 1
    depth = session.scalar(
        select(Mapping.depth).where(Mapping.activity_id == world["observed"].id, Mapping.item_id == new("7.4"))
    )
    assert depth == "assessed"


def test_nothing_changes_without_the_reviewed_token_or_with_bad_decisions(
    session: Session, world: dict[str, Any]
) -> None:
    programme, source, target = world["programme"], world["source"], world["target"]
    drift = report(session, world)
    before = stored(session, programme), set(session.scalars(select(Mapping.id)))
    with pytest.raises(InvalidInputError, match="confirm_token"):
        services.apply_drift(session, world["lead"], programme, source, target, None)
    with pytest.raises(ConflictError, match="review it again"):
        services.apply_drift(session, world["lead"], programme, source, target, "stale")
    with pytest.raises(ForbiddenError):
        services.apply_drift(session, world["author"], programme, source, target, drift.confirm_token)
    entry = drift.entries[0]
    with pytest.raises(InvalidInputError) as bad:
        services.apply_drift(
            session,
            world["lead"],
            programme,
            source,
            target,
            drift.confirm_token,
            [Decision(entry.mapping.id, Action.MOVE, (old("1.1"),))],
        )
    assert "Not an item of" in str(bad.value.errors)
    with pytest.raises(InvalidInputError, match="not versions of one framework"):
        services.drift_report(
            session, world["lead"], programme, source, session.get(Framework, framework_id("frontline-lcf-pathway-1"))
        )
    assert (stored(session, programme), set(session.scalars(select(Mapping.id)))) == before


def test_a_change_after_the_review_needs_a_new_review(session: Session, world: dict[str, Any]) -> None:
    drift = report(session, world)
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, world["module"], [old("5.1")], Depth.INTRODUCED)
    with pytest.raises(ConflictError):
        services.apply_drift(
            session, world["lead"], world["programme"], world["source"], world["target"], drift.confirm_token
        )


def test_bullet_mappings_imply_coverage_of_the_2015_paragraphs(session: Session, world: dict[str, Any]) -> None:
    """The demo maps 2018 bullets: through the paragraph-level links its KSS 2015 view is no longer empty."""
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, world["module"], [new("7.3"), new("8.5")], Depth.ASSESSED)
    # The version links are published (successive editions of the same DfE statements): they count by
    # default; inferred and suggested links wait for the lead to ask.
    assert {"published", "confirmed"} == COUNTED
    report_2015 = coverage(session, world["programme"], world["source"])
    assert [link.via.key for link in report_2015.implied[old("7.2")]] == ["7.3"]
    assert [link.via.key for link in report_2015.implied[old("8.3")]] == ["8.5"]
    assert (report_2015.implied[old("8.3")][0].association_type, report_2015.implied[old("8.3")][0].provenance) == (
        "replacedBy",
        "published",
    )


def _framework(session: Session, key: str, version: str, statements: dict[str, str]) -> Framework:
    framework = Framework(id=uuid.uuid4(), key=key, family="test-family", title="Test framework", creator="Test")
    framework.version = version
    session.add(framework)
    for position, (code, text) in enumerate(statements.items()):
        session.add(
            Item(
                id=uuid.uuid4(),
                framework=framework,
                key=code,
                code=code,
                item_type="Statement",
                position=position,
                full_statement=text,
            )
        )
    session.flush()
    return framework


def test_merged_changed_and_removed_items(session: Session) -> None:
    older = _framework(
        session, "test-v1", "v1", {"A": "Listen well.", "B": "Listen often.", "C": "Lead.", "D": "Gone."}
    )
    newer = _framework(session, "test-v2", "v2", {"X": "Listen well and often.", "Y": "Lead others."})
    items = {
        (i.framework.version, i.key): i
        for i in session.scalars(select(Item).where(Item.framework_id.in_([older.id, newer.id])))
    }
    for origin, destination in (("A", "X"), ("B", "X"), ("C", "Y")):
        session.add(
            Association(
                id=uuid.uuid4(),
                framework_id=older.id,
                association_type="replacedBy",
                origin_item_id=items["v1", origin].id,
                destination_item_id=items["v2", destination].id,
                provenance="confirmed",
                notes=f"{origin} became {destination}.",
            )
        )
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, module, [items["v1", k].id for k in "ABCD"], Depth.DEVELOPED)

    drift = services.drift_report(session, admin, programme, older, newer)
    changes = {e.item.key: (e.change, [p.item.key for p in e.proposals]) for e in drift.entries}
    assert changes == {
        "A": (Change.MERGED, ["X"]),
        "B": (Change.MERGED, ["X"]),
        "C": (Change.CHANGED, ["Y"]),
        "D": (Change.REMOVED, []),
    }
    move = services.apply_drift(session, admin, programme, older, newer, drift.confirm_token)
    # A and B land on one mapping to X; D, with nothing to go to, stays where it was.
    assert move.summary == {"moved": 3, "created": 2, "deepened": 0, "already": 1, "kept": 1, "dropped": 0}
    mapped = set(session.scalars(select(Mapping.item_id).where(Mapping.module_id == module.id)))
    assert mapped == {items["v2", "X"].id, items["v2", "Y"].id, items["v1", "D"].id}
    # Moving back follows the replacedBy links backwards.
    back = services.drift_report(session, admin, programme, newer, older)
    assert {e.item.key: [p.item.key for p in e.proposals] for e in back.entries} == {"X": ["A", "B"], "Y": ["C"]}


def test_versions_with_no_link_between_them_are_bridged_through_the_one_between(session: Session) -> None:
    older = _framework(session, "test-v1", "v1", {"A": "Listen.", "B": "Lead."})
    middle = _framework(session, "test-v2", "v2", {"X": "Listen well."})
    newer = _framework(session, "test-v3", "v3", {"P": "Listen well.", "Q": "Listen often."})
    items = {
        (i.framework.version, i.key): i
        for i in session.scalars(select(Item).where(Item.framework_id.in_([older.id, middle.id, newer.id])))
    }
    for framework, origin, destination in ((older, "v1A", "v2X"), (middle, "v2X", "v3P"), (middle, "v2X", "v3Q")):
        session.add(
            Association(
                id=uuid.uuid4(),
                framework_id=framework.id,
                association_type="replacedBy",
                origin_item_id=items[origin[:2], origin[2:]].id,
                destination_item_id=items[destination[:2], destination[2:]].id,
                provenance="inferred" if destination == "v3Q" else "published",
                notes=f"{origin} became {destination}.",
            )
        )
    session.flush()
    found = services.successors(session, older, newer)
    (chain,) = found.values()
    assert [(end.key, provenance) for end, _, provenance, _, _ in chain] == [("P", "published"), ("Q", "inferred")]
    assert chain[0][3] == "X (v2): v1A became v2X. Then: v2X became v3P."
    assert items["v1", "B"].id not in found


def test_evidence_is_carried_only_through_links_coverage_counts(session: Session, world: dict[str, Any]) -> None:
    """Carried evidence follows coverage's rule: published and confirmed links carry it; an inferred one only when
    asked (a lead's ``include=inferred``)."""
    programme, source, target = world["programme"], world["source"], world["target"]
    assert {(r.item.key, r.via.key) for r in services.carried_evidence(session, programme, target)} >= {("7.4", "7.3")}
    links = session.scalars(
        select(Association).where(
            Association.origin_item_id == old("7.3"), Association.destination_item_id == new("7.4")
        )
    ).all()
    assert sorted(a.association_type for a in links) == ["exactMatchOf", "replacedBy"]
    for link in links:
        link.provenance = "inferred"
    session.flush()
    assert ("7.4", "7.3") not in {
        (r.item.key, r.via.key) for r in services.carried_evidence(session, programme, target)
    }
    widened = services.carried_evidence(session, programme, target, COUNTED | {"inferred"})
    assert ("7.4", "7.3") in {(r.item.key, r.via.key) for r in widened}
    # The drift report still proposes along every link, whatever its provenance: the lead reviews each.
    entry = next(
        e
        for e in services.drift_report(session, world["lead"], programme, source, target).entries
        if e.item.key == "7.3"
    )
    assert [(p.item.key, p.provenance) for p in entry.proposals] == [("7.4", "inferred")]


def test_two_links_joining_one_pair_count_once(session: Session, world: dict[str, Any]) -> None:
    """KSS 1.1 is replacedBy and exactMatchOf its successor; split 7.2 is replacedBy and isRelatedTo each part.
    Coverage, carried evidence and the drift report follow each pair once and name the other link beside it."""
    programme, source, target = world["programme"], world["source"], world["target"]
    kinds = services.link_kinds(session, source, target)
    assert kinds[old("1.1"), new("1.1")] == {"replacedBy", "exactMatchOf"}
    assert kinds[old("7.2"), new("7.3")] == {"replacedBy", "isRelatedTo"}
    assert kinds[old("2.2"), new("2.2")] == {"replacedBy"}  # "Practice Supervisor" became lower case: not exact

    implied = coverage(session, programme, target).implied
    (same,) = implied[new("1.1")]  # the observed activity maps 2015 1.1: one implied link, counted once
    assert (same.association_type, same.also, same.counts) == ("replacedBy", ["exactMatchOf"], {"assessed": 1})
    (part,) = implied[new("7.3")]
    assert (part.association_type, part.also, part.counts) == ("replacedBy", ["isRelatedTo"], {"developed": 1})
    assert [link.via.key for link in implied[new("7.2")]] == ["7.2"]

    carried = [r for r in services.carried_evidence(session, programme, target) if r.item.key == "1.1"]
    assert [(r.via.key, r.association_type, r.also, r.learners, r.completions) for r in carried] == [
        ("1.1", "replacedBy", ("exactMatchOf",), 2, 2)
    ]

    entries = {e.item.key: e for e in services.drift_report(session, world["lead"], programme, source, target).entries}
    assert [(p.item.key, p.association_type, p.also) for p in entries["1.1"].proposals] == [
        ("1.1", "replacedBy", ("exactMatchOf",))
    ]
    assert entries["1.1"].change == Change.UNCHANGED
    assert [(p.item.key, p.also) for p in entries["7.2"].proposals] == [
        ("7.2", ("isRelatedTo",)),
        ("7.3", ("isRelatedTo",)),
    ]


def test_exact_matches_and_related_items_alone_link_two_versions(session: Session) -> None:
    """Without replacedBy, exactMatchOf proposes the same item and isRelatedTo the related ones."""
    older = _framework(session, "test-v1", "v1", {"A": "Listen well.", "B": "Lead and listen."})
    newer = _framework(session, "test-v2", "v2", {"X": "Listen well.", "Y": "Lead.", "Z": "Listen."})
    items = {
        (i.framework.version, i.key): i
        for i in session.scalars(select(Item).where(Item.framework_id.in_([older.id, newer.id])))
    }
    for kind, origin, destination in (("exactMatchOf", "A", "X"), ("isRelatedTo", "B", "Y"), ("isRelatedTo", "B", "Z")):
        session.add(
            Association(
                id=uuid.uuid4(),
                framework_id=older.id,
                association_type=kind,
                origin_item_id=items["v1", origin].id,
                destination_item_id=items["v2", destination].id,
                provenance="published",
                notes=f"{origin} {kind} {destination}.",
            )
        )
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    admin = principal_for_user(factories.user(session, Role.ADMIN))
    map_items(session, admin, module, [items["v1", "A"].id, items["v1", "B"].id], Depth.DEVELOPED)
    drift = services.drift_report(session, admin, programme, older, newer)
    assert {e.item.key: (e.change, [(p.item.key, p.association_type) for p in e.proposals]) for e in drift.entries} == {
        "A": (Change.UNCHANGED, [("X", "exactMatchOf")]),
        "B": (Change.SPLIT, [("Y", "isRelatedTo"), ("Z", "isRelatedTo")]),
    }
    implied = coverage(session, programme, newer).implied
    assert [(link.via.key, link.association_type, link.also) for link in implied[items["v2", "X"].id]] == [
        ("A", "exactMatchOf", [])
    ]
