"""Syncing the shipped frameworks into a database."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.extensions import db
from capcourse.frameworks import legend
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item, ManagedBy, Provenance
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.sync import sync_frameworks
from capcourse.identifiers import framework_id, item_id
from tests.conftest import drop_database, make_app, make_database, migrate_and_sync

pytestmark = pytest.mark.db


def snapshot(session: Session) -> dict[str, set[tuple[str, ...]]]:
    return {
        "frameworks": {(str(f.id), f.key, f.title) for f in session.scalars(select(Framework))},
        "items": {(str(i.id), i.key, str(i.framework_id), i.full_statement) for i in session.scalars(select(Item))},
        "associations": {
            (str(a.id), a.association_type, str(a.origin_item_id), str(a.destination_item_id))
            for a in session.scalars(select(Association))
        },
    }


def test_a_second_sync_changes_nothing(session: Session) -> None:
    before = snapshot(session)
    times = dict(session.execute(select(Framework.key, Framework.last_change)).all())
    report = sync_frameworks(session, load_seed_data())
    assert not report.changed
    assert all(not f.changed for f in report.frameworks)
    assert snapshot(session) == before
    assert dict(session.execute(select(Framework.key, Framework.last_change)).all()) == times


def test_sync_loaded_every_framework_with_its_items(session: Session) -> None:
    counts = dict(
        session.execute(
            select(Framework.key, func.count(Item.id))
            .join(Item, Item.framework_id == Framework.id)
            .group_by(Framework.key)
        ).all()
    )
    assert counts["frontline-lcf-pathway-1"] == 68
    assert counts["sssc-leadership-capabilities"] == 94
    assert counts["dfe-kss-practice-supervisors-2018"] == 30


def test_every_frontline_attribute_links_to_a_curriculum_area(session: Session) -> None:
    attributes = session.scalars(
        select(Item).where(Item.framework_id == framework_id("frontline-lcf-pathway-1"), Item.icon.is_not(None))
    ).all()
    assert len(attributes) == 36
    areas = framework_id("frontline-curriculum-areas")
    for attribute in attributes:
        # The icon legend's links (a shipped crosswalk links attributes to the KSS too).
        links = session.scalars(
            select(Association).where(
                Association.origin_item_id == attribute.id, Association.managed_by == ManagedBy.ICON_LEGEND
            )
        ).all()
        assert [link.destination.framework_id for link in links] == [areas]
        assert links[0].provenance == Provenance.INFERRED


def test_identifiers_are_the_same_in_two_fresh_databases(tmp_path: Path, session: Session) -> None:
    other = make_database(tmp_path, "second")
    try:
        app = make_app(other)
        migrate_and_sync(app)
        with app.app_context():
            with Session(db.engine) as other_session:
                theirs = snapshot(other_session)
            db.engine.dispose()
        assert theirs == snapshot(session)
        assert len(theirs["items"]) == 299
    finally:
        drop_database(other)


def test_sync_updates_changed_wording_and_removes_dropped_items(session: Session) -> None:
    data = load_seed_data()
    frontline = data.framework("frontline-lcf-pathway-1")
    reworded = dataclasses.replace(frontline.items[0], full_statement="A reworded description.")
    # Drop the last attribute; its legend association goes with it.
    shortened = dataclasses.replace(frontline, items=(reworded, *frontline.items[1:-1]))
    frameworks = tuple(shortened if f.key == frontline.key else f for f in data.frameworks)
    report = sync_frameworks(session, dataclasses.replace(data, frameworks=frameworks))

    result = next(r for r in report.frameworks if r.key == frontline.key)
    assert (result.items.created, result.items.updated, result.items.deleted) == (0, 1, 1)
    dropped = item_id(frontline.key, frontline.items[-1].key)
    assert session.scalar(select(func.count()).where(Association.origin_item_id == dropped)) == 0
    assert [r.key for r in report.frameworks if r.changed] == [frontline.key]
    assert session.get(Item, item_id(frontline.key, "MC")).full_statement == "A reworded description."
    assert session.get(Item, dropped) is None


def test_sync_never_overrides_a_legend_row_a_person_confirmed(session: Session) -> None:
    framework = session.get(Framework, framework_id("frontline-lcf-pathway-1"))
    chosen = item_id("frontline-curriculum-areas", "II")
    legend.set_icon_areas(session, framework, "💡", [chosen], "Checked with the programme team.", actor="test")
    report = sync_frameworks(session, load_seed_data())
    assert not report.changed
    rows = session.scalars(
        select(IconLegendEntry).where(IconLegendEntry.framework_id == framework.id, IconLegendEntry.icon == "💡")
    ).all()
    assert [(r.area_item_id, r.provenance) for r in rows] == [(chosen, Provenance.CONFIRMED)]


def test_sync_brings_a_database_of_the_earlier_data_up_to_date_once(session: Session) -> None:
    """A database synced before the version links and title fixes is updated in place, then left alone."""
    frontline = session.get(Framework, framework_id("frontline-lcf-pathway-1"))
    supervisors = session.get(Framework, framework_id("dfe-kss-practice-supervisors-2015"))
    assert frontline is not None and supervisors is not None
    frontline.version = "Pathway 1"
    supervisors.title = "Knowledge and skills statement for practice supervisors"
    paragraph = item_id("dfe-kss-practice-supervisors-2015", "7.2")
    for association in session.scalars(select(Association).where(Association.origin_item_id == paragraph)):
        session.delete(association)
    session.flush()

    report = sync_frameworks(session, load_seed_data())
    assert sorted(r.key for r in report.frameworks if r.changed) == [
        "dfe-kss-practice-supervisors-2015",
        "frontline-lcf-pathway-1",
    ]
    assert frontline.version is None
    assert supervisors.title == "Knowledge and Skills for Practice Supervisors"
    successors = session.scalars(
        select(Association.destination_item_id).where(
            Association.origin_item_id == paragraph, Association.association_type == "replacedBy"
        )
    ).all()
    assert set(successors) == {
        item_id("dfe-kss-practice-supervisors-2018", "7.2"),
        item_id("dfe-kss-practice-supervisors-2018", "7.3"),
    }
    assert not sync_frameworks(session, load_seed_data()).changed


def test_sync_makes_the_kss_version_links_of_an_earlier_install_published(session: Session) -> None:
    """An install synced when the KSS 2015 → 2018 links were shipped as inferred gets them as published on its
    next sync (same rows, same identifiers, reasons kept) and the exactMatchOf and isRelatedTo links beside them;
    the sync after changes nothing."""
    links = list(
        session.scalars(
            select(Association)
            .join(Item, Item.id == Association.origin_item_id)
            .join(Framework, Framework.id == Item.framework_id)
            .where(Association.association_type == "replacedBy", Framework.family.like("dfe-kss-%"))
        )
    )
    assert len(links) == 52 and {a.provenance for a in links} == {Provenance.PUBLISHED}
    notes = {a.id: a.notes for a in links}
    for association in links:
        association.provenance = Provenance.INFERRED
    # Nor had it the exactMatchOf and isRelatedTo links shipped beside them since.
    beside = {
        a.id
        for a in session.scalars(
            select(Association)
            .join(Item, Item.id == Association.origin_item_id)
            .join(Framework, Framework.id == Item.framework_id)
            .where(
                Association.association_type.in_(["exactMatchOf", "isRelatedTo"]), Framework.family.like("dfe-kss-%")
            )
        )
    }
    assert len(beside) == 21 + 12 + 6
    for identifier in beside:
        session.delete(session.get(Association, identifier))
    session.flush()

    report = sync_frameworks(session, load_seed_data())
    assert sorted(r.key for r in report.frameworks if r.changed) == [
        "dfe-kss-practice-leaders-2015",
        "dfe-kss-practice-supervisors-2015",
    ]
    for association in links:
        session.refresh(association)
    assert {a.provenance for a in links} == {Provenance.PUBLISHED}
    assert {a.id: a.notes for a in links} == notes
    assert all(session.get(Association, identifier) is not None for identifier in beside)
    assert not sync_frameworks(session, load_seed_data()).changed
