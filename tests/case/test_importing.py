"""Importing CASE packages: real third-party packages, updates, round trips and bad input."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from capcourse.case.export import export_package
from capcourse.case.importing import (
    ConfirmationRequiredError,
    PackageError,
    import_package,
    report,
)
from capcourse.errors import ConflictError
from capcourse.extensions import db
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.services import get_framework_by_key_or_id, item_associations, list_frameworks
from capcourse.frameworks.sync import sync_frameworks
from capcourse.identifiers import item_id
from capcourse.mapping.models import Depth, Mapping, MappingEvent
from capcourse.mapping.services import map_items
from tests import factories
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    BASE_URL,
    FIXTURE_FILES,
    FIXTURES,
    fixture,
    ident,
    identifiers,
    official_1p1,
    package_1p0,
    problems,
    third_party_package,
    unordered,
)
from tests.conftest import scratch_app

pytestmark = pytest.mark.db

SEQUENCE = FIXTURES / "opensalt-SequenceNumberFramework.json"


def run(session: Session, package: dict[str, Any] | bytes, **options: Any) -> Any:
    raw = package if isinstance(package, bytes) else json.dumps(package).encode()
    return import_package(session, raw, ADMIN_PRINCIPAL, "test", **options)


def framework_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Framework)) or 0)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_every_opensalt_package_imports_and_exports_again_whole(session: Session, path: Path) -> None:
    source = fixture(path)
    outcome = import_package(session, path.read_bytes(), ADMIN_PRINCIPAL, path.name)
    assert outcome.status == "created"
    framework = session.get(Framework, uuid.UUID(source["CFDocument"]["identifier"]))
    assert framework is not None and framework.imported_from == path.name
    assert framework.title == source["CFDocument"]["title"]
    assert framework.uri == source["CFDocument"]["uri"]

    exported = export_package(session, framework, BASE_URL)
    assert identifiers(exported) == identifiers(source)
    for original in source["CFItems"]:
        copy_ = next(i for i in exported["CFItems"] if i["identifier"] == original["identifier"])
        for name in ("uri", "fullStatement", "humanCodingScheme", "CFItemType", "CFItemTypeURI"):
            assert copy_.get(name) == original.get(name), name
    # The publisher's identifiers are kept, RFC 4122 or not: 1EdTech's schema accepts them.
    assert problems(official_1p1(), exported) == []
    assert problems(package_1p0(), export_package(session, framework, BASE_URL, "1.0")) == []
    assert any("not RFC 4122" in warning for warning in report(outcome)["warnings"])


def test_opensalt_sequence_numbers_order_the_items(session: Session) -> None:
    run(session, SEQUENCE.read_bytes())
    framework = session.get(Framework, uuid.UUID(fixture(SEQUENCE)["CFDocument"]["identifier"]))
    assert framework is not None
    assert framework.key == "sequence-number-test"
    assert [item.code for item in framework.items] == ["SNT.2", "SNT.1"]
    exported = export_package(session, framework, BASE_URL)
    assert [i["humanCodingScheme"] for i in exported["CFItems"]] == ["SNT.2", "SNT.1"]
    assert {a["sequenceNumber"] for a in exported["CFAssociations"]} == {1, 2}


def test_utf8_and_markdown_survive(session: Session) -> None:
    utf8 = run(session, (FIXTURES / "opensalt-Utf8TestFramework.json").read_bytes())
    assert utf8.framework_title == "UTF8 𝑑 Test"
    assert utf8.framework_key == "utf8-d-test"
    session.rollback()
    markdown = fixture(FIXTURES / "opensalt-MarkdownFramework.json")
    run(session, markdown)
    table = session.get(Item, uuid.UUID(markdown["CFItems"][0]["identifier"]))
    assert table is not None and table.full_statement == markdown["CFItems"][0]["fullStatement"]
    assert "\r\n| Column 1 |" in table.full_statement


def test_importing_the_same_package_again_changes_nothing(session: Session) -> None:
    source = third_party_package()
    assert run(session, source).status == "created"
    session.commit()
    framework = session.get(Framework, uuid.UUID(source["CFDocument"]["identifier"]))
    assert framework is not None
    before = (framework.last_change, framework.imported_at, len(framework.items))
    again = run(session, source)
    assert again.status == "unchanged"
    assert report(again)["items"] == {"added": 0, "changed": 0, "removed": 0}
    session.refresh(framework)
    assert (framework.last_change, framework.imported_at, len(framework.items)) == before


def test_a_re_import_compares_what_rows_hold_not_how_their_json_is_spelt(session: Session) -> None:
    # The plan compares case_data as the JSON text it writes; rows another writer spelt otherwise
    # (json.dumps' spacing, or JSON null for none) hold the same and must not count as changed.
    source = third_party_package()
    run(session, source)
    session.commit()
    framework_id = uuid.UUID(source["CFDocument"]["identifier"])
    items = session.scalars(select(Item).where(Item.framework_id == framework_id)).all()
    associations = session.scalars(select(Association).where(Association.framework_id == framework_id)).all()
    rows = [*items, *associations]
    assert any(row.case_data for row in rows)
    # SQLite keeps the text as it is given (a CAST to JSON would read it as a number).
    data = "CAST(:data AS JSON)" if session.connection().dialect.name == "postgresql" else ":data"
    for row in rows:
        # Indented as json.dumps writes it; JSON null where the import wrote SQL NULL.
        session.execute(
            text(f"UPDATE {row.__tablename__} SET case_data = {data} WHERE id = :id").bindparams(
                bindparam("id", type_=Uuid)
            ),
            {"data": json.dumps(row.case_data, indent=1), "id": row.id},
        )
    session.commit()
    assert run(session, source).status == "unchanged"
    # A real difference in the JSON is still one.
    retitled = copy.deepcopy(source)
    retitled["CFAssociations"][2]["destinationNodeURI"]["title"] = "Digital literacy"
    assert report(run(session, retitled))["items"]["changed"] == 1


def test_a_re_import_tells_changed_links_and_moved_items_from_unchanged_ones(session: Session) -> None:
    source = third_party_package()
    run(session, source)
    session.commit()
    retitled = copy.deepcopy(source)
    # skill-1's place in the tree (a link kept as it came) and the crosswalk's far end, retitled by the publisher.
    retitled["CFAssociations"][2]["destinationNodeURI"]["title"] = "Digital literacy"
    retitled["CFAssociations"][3]["destinationNodeURI"]["title"] = "Data protection (registry)"
    summary = report(run(session, retitled))
    assert summary["items"] == {"added": 0, "changed": 1, "removed": 0}
    assert [i["label"] for i in summary["items_changed"]] == ["DS.1.1 Case recording"]
    assert summary["associations"] == {"added": 0, "changed": 2, "removed": 0}
    session.commit()
    assert run(session, retitled).status == "unchanged"

    # Without skill-1, skill-2 is the area's first child: moved, not changed. The package still carries
    # skill-1's translation: an association from an item capcourse no longer holds, kept as it came.
    moved = copy.deepcopy(retitled)
    moved["CFItems"].pop(1)
    moved["CFAssociations"].pop(2)
    assert any(a["originNodeURI"]["identifier"] == ident("skill-1") for a in moved["CFAssociations"])
    outcome = run(session, moved)
    assert outcome.status == "updated"
    assert [str(i) for i in outcome.plan.items_moved] == [ident("skill-2")]
    assert report(outcome)["items"] == {"added": 0, "changed": 0, "removed": 1}
    assert report(outcome)["associations"] == {"added": 0, "changed": 0, "removed": 1}
    session.commit()
    skill = session.get(Item, uuid.UUID(ident("skill-2")))
    assert skill is not None and skill.position == 0
    assert run(session, moved).status == "unchanged"
    framework = session.get(Framework, uuid.UUID(moved["CFDocument"]["identifier"]))
    assert framework is not None
    went = export_package(session, framework, BASE_URL)
    assert identifiers(went) == identifiers(moved)


def test_round_trip_into_an_empty_database_gives_the_same_packages(tmp_path: Path, session: Session) -> None:
    run(session, third_party_package())
    run(session, SEQUENCE.read_bytes())
    session.commit()
    exported = [export_package(session, s.framework, BASE_URL) for s in list_frameworks(session)]
    assert len(exported) == 10

    def empty(scratch: Session) -> None:
        scratch.execute(delete(Framework))

    with scratch_app(tmp_path, "roundtrip", prepare=empty) as other, other.app_context(), Session(db.engine) as s:
        assert framework_count(s) == 0
        for package in exported:
            assert run(s, package).status == "created"
        s.commit()
        again = {
            p["CFDocument"]["identifier"]: p
            for p in (export_package(s, f, BASE_URL) for f in s.scalars(select(Framework)))
        }
        for package in exported:
            identifier = package["CFDocument"]["identifier"]
            assert unordered(again[identifier]) == unordered(package), package["CFDocument"]["title"]

        # Those copies have the shipped identifiers, but `frameworks sync` never touches imported frameworks.
        frontline = s.get(Framework, uuid.UUID(exported[0]["CFDocument"]["identifier"]))
        assert frontline is not None
        frontline.title = "Kept as imported"
        s.commit()
        result = sync_frameworks(s, load_seed_data())
        assert all(f.skipped for f in result.frameworks)
        assert not result.changed
        s.commit()
        s.refresh(frontline)
        assert frontline.title == "Kept as imported"


def _changed(source: dict[str, Any]) -> dict[str, Any]:
    """The package with item 2 reworded, item 3 removed (with its association) and a new item added."""
    package = copy.deepcopy(source)
    package["CFItems"][1]["fullStatement"] = "Uses a case recording system accurately and on time."
    package["CFItems"][1]["lastChangeDateTime"] = "2025-06-01T00:00:00+00:00"
    removed = package["CFItems"].pop(2)["identifier"]
    package["CFAssociations"] = [
        a for a in package["CFAssociations"] if removed not in (a["originNodeURI"]["identifier"],)
    ]
    new = ident("skill-3")
    package["CFItems"].append(
        {
            "identifier": new,
            "uri": f"https://case.example.org/uri/{new}",
            "fullStatement": "Shares information lawfully.",
            "humanCodingScheme": "DS.1.3",
            "CFItemType": "Skill",
            "lastChangeDateTime": "2025-06-01T00:00:00+00:00",
        }
    )
    package["CFAssociations"].append(
        {
            "identifier": ident("a-skill-3"),
            "uri": f"https://case.example.org/uri/{ident('a-skill-3')}",
            "associationType": "isChildOf",
            "originNodeURI": {"title": "DS.1.3", "identifier": new, "uri": f"https://case.example.org/uri/{new}"},
            "destinationNodeURI": package["CFAssociations"][0]["originNodeURI"],
            "lastChangeDateTime": "2025-06-01T00:00:00+00:00",
        }
    )
    package["CFDocument"]["lastChangeDateTime"] = "2025-06-01T00:00:00+00:00"
    return package


def test_an_update_without_mappings_applies_and_reports_the_changes(session: Session) -> None:
    source = third_party_package()
    run(session, source)
    outcome = run(session, _changed(source))
    summary = report(outcome)
    assert summary["status"] == "updated"
    assert summary["items"] == {"added": 1, "changed": 1, "removed": 1}
    # The new item's isChildOf came; the removed item's isChildOf and its link to the registry went.
    assert summary["associations"] == {"added": 1, "changed": 0, "removed": 2}
    assert [i["label"] for i in summary["items_removed"]] == ["DS.1.2 Keeps personal data secure."]
    assert not summary["needs_confirmation"]
    assert session.get(Item, uuid.UUID(ident("skill-2"))) is None
    area = session.get(Item, uuid.UUID(ident("area")))
    assert area is not None and [c.code for c in area.children] == ["DS.1.1", "DS.1.3"]


def _mapped(session: Session, item: uuid.UUID) -> Mapping:
    programme = factories.programme(session)
    module = factories.module(session, factories.course(session, programme))
    (mapping,) = map_items(session, ADMIN_PRINCIPAL, module, [item], Depth.ASSESSED)
    session.commit()
    return mapping


def test_an_update_of_a_mapped_framework_needs_confirmation_and_keeps_the_history(session: Session) -> None:
    source = third_party_package()
    run(session, source)
    session.commit()
    mapping = _mapped(session, uuid.UUID(ident("skill-2")))
    kept = _mapped(session, uuid.UUID(ident("skill-1")))
    update = _changed(source)

    preview = run(session, update, dry_run=True)
    summary = report(preview)
    assert summary["status"] == "preview" and summary["needs_confirmation"]
    assert summary["mappings"] == 2
    assert [(m["item"], m["target"], m["depth"]) for m in summary["mappings_removed"]] == [
        ("DS.1.2 Keeps personal data secure.", "Reflective supervision", "assessed")
    ]
    token = summary["confirm_token"]
    assert token

    with pytest.raises(ConfirmationRequiredError) as refused:
        run(session, update)
    assert refused.value.errors is not None and refused.value.errors["confirm_token"] == [token]
    with pytest.raises(ConfirmationRequiredError):
        run(session, update, confirm="not-the-token")
    assert session.get(Mapping, mapping.id) is not None  # nothing written

    applied = run(session, update, confirm=token)
    assert applied.status == "updated"
    session.commit()
    assert session.get(Mapping, mapping.id) is None
    assert session.get(Mapping, kept.id) is not None
    event = session.scalars(
        select(MappingEvent).where(MappingEvent.mapping_id == mapping.id, MappingEvent.action == "deleted")
    ).one()
    assert event.actor == ADMIN_PRINCIPAL.name
    assert event.item_label == "DS.1.2 (2) Keeps personal data secure."  # the code with its framework version

    # A token is only good for the state it previewed.
    source_again = run(session, source, dry_run=True)
    assert source_again.plan.confirm_token != token


def test_a_confirmation_is_needed_even_when_no_mapping_is_removed(session: Session) -> None:
    source = third_party_package()
    run(session, source)
    session.commit()
    _mapped(session, uuid.UUID(ident("skill-1")))
    reworded = copy.deepcopy(source)
    reworded["CFItems"][0]["fullStatement"] = "Digital literacy and confidence"
    with pytest.raises(ConfirmationRequiredError):
        run(session, reworded)
    assert run(session, reworded, confirm=True).status == "updated"


def test_associations_to_frameworks_we_lack_stay_as_references_and_link_up_later(session: Session) -> None:
    registry_item = ident("elsewhere")
    source = third_party_package()
    outcome = run(session, source)
    assert report(outcome)["external_references"] == 2
    association = session.get(Association, uuid.UUID(ident("a-external")))
    assert association is not None
    assert association.destination_item_id is None
    assert association.destination_uri == f"https://registry.example.net/items/{registry_item}"

    # Later the registry's framework arrives: the reference becomes a link to its item.
    registry = {
        "CFDocument": {
            "identifier": ident("registry"),
            "uri": "https://registry.example.net/doc",
            "creator": "Registry",
            "title": "National registry",
            "lastChangeDateTime": "2025-01-01T00:00:00Z",
        },
        "CFItems": [
            {
                "identifier": registry_item,
                "uri": f"https://registry.example.net/items/{registry_item}",
                "fullStatement": "Data protection",
                "lastChangeDateTime": "2025-01-01T00:00:00Z",
            }
        ],
    }
    before = export_package(session, session.get(Framework, outcome.plan.framework_id), BASE_URL)  # type: ignore[arg-type]
    assert report(run(session, registry))["status"] == "created"
    session.expire_all()
    association = session.get(Association, uuid.UUID(ident("a-external")))
    assert association is not None and association.destination_item_id == uuid.UUID(registry_item)
    item = session.get(Item, uuid.UUID(registry_item))
    assert item is not None and item.item_type == "Item"
    incoming = [v for v in item_associations(session, item) if v.direction == "incoming"]
    assert [v.association_type for v in incoming] == ["exactMatchOf"]
    after = export_package(session, session.get(Framework, outcome.plan.framework_id), BASE_URL)  # type: ignore[arg-type]
    assert unordered(after) == unordered(before)
    assert run(session, source).status == "unchanged"


def test_associations_to_items_we_hold_link_to_them(session: Session) -> None:
    held = item_id("frontline-lcf-pathway-1", "EC.1.a")
    package = third_party_package()
    package["CFAssociations"][3]["destinationNodeURI"] = {
        "title": "LCF.EC.1.a",
        "identifier": str(held),
        "uri": f"{BASE_URL}/uri/{held}",
    }
    run(session, package)
    association = session.get(Association, uuid.UUID(ident("a-external")))
    assert association is not None and association.destination_item_id == held


def test_a_shipped_framework_cannot_be_replaced(session: Session) -> None:
    frontline = get_framework_by_key_or_id(session, "frontline-lcf-pathway-1")
    exported = export_package(session, frontline, BASE_URL)
    with pytest.raises(ConflictError, match="shipped with capcourse"):
        run(session, exported)


def test_identifiers_of_other_frameworks_are_refused(session: Session) -> None:
    package = third_party_package()
    package["CFItems"][2]["identifier"] = str(item_id("frontline-lcf-pathway-1", "EC.1.a"))
    with pytest.raises(ConflictError) as refused:
        run(session, package)
    assert refused.value.errors is not None
    assert list(refused.value.errors) == ["$.CFItems[2].identifier"]
    assert "Leadership Capability Framework" in refused.value.errors["$.CFItems[2].identifier"][0]


def test_identifiers_of_other_frameworks_tree_links_are_refused(session: Session) -> None:
    run(session, third_party_package())
    other = third_party_package("Another framework")
    other["CFDocument"]["identifier"] = ident("another")
    for index, item in enumerate(other["CFItems"]):
        item["identifier"] = ident(f"another-{index}")
    other["CFAssociations"] = [other["CFAssociations"][0]]  # keeps the first package's tree-link identifier
    other["CFAssociations"][0]["originNodeURI"]["identifier"] = ident("another-0")
    with pytest.raises(ConflictError) as refused:
        run(session, other)
    assert refused.value.errors is not None
    assert "Digital skills for social care" in refused.value.errors["$.CFAssociations[0].identifier"][0]


# Bad input: a clear error with JSON paths, and nothing imported.


def refused(session: Session, raw: bytes | dict[str, Any]) -> dict[str, list[str]]:
    count = framework_count(session)
    with pytest.raises(PackageError) as error:
        run(session, raw)
    assert framework_count(session) == count
    assert "Nothing was imported" in error.value.message
    assert error.value.errors
    return error.value.errors


def test_invalid_json_is_refused_with_its_position(session: Session) -> None:
    errors = refused(session, b'{"CFDocument": {"title": "x",}}')
    assert list(errors) == ["$"]
    assert "line 1, column 30" in errors["$"][0]
    assert list(refused(session, b"\xff\xfe not utf-8")) == ["$"]
    assert "A CASE package is a JSON object" in refused(session, b"[1, 2]")["$"][0]


def test_what_cannot_be_represented_is_listed_with_its_paths(session: Session) -> None:
    package = third_party_package()
    del package["CFDocument"]["title"]  # a default title: not refused
    package["CFItems"][1]["identifier"] = "not-a-uuid"  # kept as it came: not refused
    package["CFItems"][2]["lastChangeDateTime"] = "yesterday"
    package["CFAssociations"][0]["associationType"] = "isFriendOf"
    del package["CFAssociations"][1]["originNodeURI"]
    errors = refused(session, package)
    assert list(errors) == [
        "$.CFItems[2].lastChangeDateTime",
        "$.CFAssociations[0].associationType",
        "$.CFAssociations[1].originNodeURI",
    ]
    assert errors["$.CFAssociations[1].originNodeURI"] == ["Missing data for required field."]


def test_only_the_first_problems_are_listed(session: Session) -> None:
    package = third_party_package()
    package["CFItems"] = [{"fullStatement": "No identifier."} for _ in range(50)]
    with pytest.raises(PackageError) as error:
        run(session, package)
    assert error.value.errors is not None and len(error.value.errors) == 20
    assert "the first 20 are listed" in error.value.message
    assert next(iter(error.value.errors)) == "$.CFItems[0].identifier"


def test_duplicate_identifiers_are_refused(session: Session) -> None:
    package = third_party_package()
    package["CFItems"][2]["identifier"] = package["CFItems"][1]["identifier"]
    package["CFDefinitions"]["CFItemTypes"][1]["identifier"] = package["CFDefinitions"]["CFItemTypes"][0]["identifier"]
    errors = refused(session, package)
    assert errors["$.CFItems[2].identifier"] == ["Duplicate identifier: $.CFItems[1].identifier has it too."]
    assert "$.CFDefinitions.CFItemTypes[1].identifier" in errors


def test_associations_to_and_from_what_capcourse_lacks_are_kept_as_they_came(session: Session) -> None:
    package = third_party_package()
    package["CFAssociations"][3]["originNodeURI"]["identifier"] = ident("nobody")
    package["CFAssociations"][4]["destinationNodeURI"] = {"title": "?", "identifier": "x-1", "uri": "nowhere"}
    outcome = run(session, package)
    summary = report(outcome)
    assert summary["status"] == "created"
    assert summary["associations"]["added"] == len(package["CFAssociations"])
    assert any("start at a document or at items" in w for w in summary["warnings"])
    framework = session.get(Framework, uuid.UUID(package["CFDocument"]["identifier"]))
    assert framework is not None
    exported = {a["identifier"]: a for a in export_package(session, framework, BASE_URL)["CFAssociations"]}
    for index in (3, 4):
        association = package["CFAssociations"][index]
        assert exported[association["identifier"]]["originNodeURI"] == association["originNodeURI"]
        assert exported[association["identifier"]]["destinationNodeURI"] == association["destinationNodeURI"]


def test_a_cycle_in_the_tree_is_kept_outside_the_tree(session: Session) -> None:
    package = third_party_package()
    # The area becomes a child of its own child.
    package["CFAssociations"][0]["destinationNodeURI"] = package["CFAssociations"][1]["originNodeURI"]
    summary = report(run(session, package))
    assert [n["kind"] for n in summary["normalisations"] if n["kind"] == "tree_cycle"] == ["tree_cycle"]
    framework = session.get(Framework, uuid.UUID(package["CFDocument"]["identifier"]))
    assert framework is not None
    exported = {a["identifier"]: a for a in export_package(session, framework, BASE_URL)["CFAssociations"]}
    for association in package["CFAssociations"][:2]:
        assert exported[association["identifier"]]["destinationNodeURI"] == association["destinationNodeURI"]


def _registry(*codes: str) -> dict[str, Any]:
    """A national registry's framework, with the items named."""
    return {
        "CFDocument": {
            "identifier": ident("registry"),
            "uri": "https://registry.example.net/doc",
            "creator": "Registry",
            "title": "National registry",
            "lastChangeDateTime": "2025-01-01T00:00:00Z",
        },
        "CFItems": [
            {
                "identifier": ident(f"national-{code}"),
                "uri": f"https://registry.example.net/items/{ident(f'national-{code}')}",
                "fullStatement": f"National statement {code}",
                "humanCodingScheme": code,
                "lastChangeDateTime": "2025-01-01T00:00:00Z",
            }
            for code in codes
        ],
    }


def _crosswalk() -> dict[str, Any]:
    """Associations from the registry's items (not held yet) to a shipped item and to another registry item."""
    supervisor = item_id("dfe-kss-practice-supervisors-2018", "1")

    def end(title: str, identifier: str, uri: str) -> dict[str, str]:
        return {"title": title, "identifier": identifier, "uri": uri}

    national = {code: ident(f"national-{code}") for code in ("4.2", "4.3")}
    return {
        "CFDocument": {
            "identifier": ident("crosswalk-later"),
            "uri": "https://crosswalk.example.org/doc",
            "creator": "Example Crosswalk Service",
            "title": "Crosswalk: the registry and KSS",
            "lastChangeDateTime": "2025-02-01T00:00:00Z",
        },
        "CFAssociations": [
            {
                "identifier": ident("later-1"),
                "uri": "https://crosswalk.example.org/associations/1",
                "associationType": "exactMatchOf",
                "originNodeURI": end("National 4.2", national["4.2"], f"https://registry.example.net/items/{national['4.2']}"),
                "destinationNodeURI": end("PS 1", str(supervisor), f"https://kss.example/{supervisor}"),
                "lastChangeDateTime": "2025-02-01T00:00:00Z",
            },
            {
                "identifier": ident("later-2"),
                "uri": "https://crosswalk.example.org/associations/2",
                "associationType": "isRelatedTo",
                "originNodeURI": end("National 4.2", national["4.2"], f"https://registry.example.net/items/{national['4.2']}"),
                "destinationNodeURI": end("National 4.3", national["4.3"], f"local:{national['4.3']}"),
                "lastChangeDateTime": "2025-02-01T00:00:00Z",
                "sequenceNumber": 2,
            },
        ],
    }  # fmt: skip


def test_kept_associations_are_linked_when_their_origin_framework_arrives_and_kept_again_when_it_goes(
    session: Session,
) -> None:
    crosswalk = _crosswalk()
    first = run(session, crosswalk)
    framework = session.get(Framework, first.plan.framework_id)
    assert framework is not None
    before = export_package(session, framework, BASE_URL)
    assert (
        session.scalar(select(func.count()).select_from(Association).where(Association.framework_id == framework.id))
        == 0
    )

    # The registry arrives with the origin (4.2) but not yet 4.3: both associations now start at its item.
    summary = report(run(session, _registry("4.2")))
    assert summary["status"] == "created"
    assert any("now linked to them" in w for w in summary["warnings"])
    session.expire_all()
    exact = session.get(Association, uuid.UUID(ident("later-1")))
    related = session.get(Association, uuid.UUID(ident("later-2")))
    assert exact is not None and related is not None
    assert exact.framework_id == related.framework_id == framework.id
    assert exact.origin_item_id == related.origin_item_id == uuid.UUID(ident("national-4.2"))
    assert exact.destination_item_id == item_id("dfe-kss-practice-supervisors-2018", "1")
    assert related.destination_item_id is None and related.destination_uri == f"local:{ident('national-4.3')}"
    national = session.get(Item, uuid.UUID(ident("national-4.2")))
    assert national is not None
    outgoing = sorted(v.association_type for v in item_associations(session, national) if v.direction == "outgoing")
    assert outgoing == ["exactMatchOf", "isRelatedTo"]
    # Not duplicated: the crosswalk exports each association once, as it came.
    after = export_package(session, framework, BASE_URL)
    assert sorted(a["identifier"] for a in after["CFAssociations"]) == sorted([ident("later-1"), ident("later-2")])
    assert unordered(after) == unordered(before)
    assert run(session, crosswalk).status == "unchanged"

    # 4.3 arrives too: the reference becomes a link.
    run(session, _registry("4.2", "4.3"))
    session.expire_all()
    related = session.get(Association, uuid.UUID(ident("later-2")))
    assert related is not None and related.destination_item_id == uuid.UUID(ident("national-4.3"))

    # The registry drops 4.2: the crosswalk's associations are kept as they came again, not lost.
    run(session, _registry("4.3"))
    session.expire_all()
    assert session.get(Association, uuid.UUID(ident("later-1"))) is None
    assert unordered(export_package(session, framework, BASE_URL)) == unordered(before)
    assert run(session, crosswalk).status == "unchanged"
    # … and linked again when it comes back.
    run(session, _registry("4.2", "4.3"))
    session.expire_all()
    exact = session.get(Association, uuid.UUID(ident("later-1")))
    assert exact is not None and exact.framework_id == framework.id
    assert unordered(export_package(session, framework, BASE_URL)) == unordered(before)


@pytest.mark.parametrize("touched", ["later-1", "later-2"])
def test_associations_kept_again_keep_their_export_order_whatever_order_the_database_holds_them_in(
    session: Session, touched: str
) -> None:
    crosswalk = _crosswalk()
    first = run(session, crosswalk)
    framework = session.get(Framework, first.plan.framework_id)
    assert framework is not None
    before = [a["identifier"] for a in export_package(session, framework, BASE_URL)["CFAssociations"]]
    run(session, _registry("4.2"))
    # An update writes a new version of the row, which PostgreSQL then reads after the other.
    session.execute(
        Association.__table__.update()
        .where(Association.id == uuid.UUID(ident(touched)))
        .values(notes=Association.notes)
    )
    session.flush()

    # The registry drops 4.2: both are kept as they came again, in the order they came.
    run(session, _registry("4.3"))
    session.expire_all()
    assert session.get(Association, uuid.UUID(ident("later-1"))) is None
    assert [a["identifier"] for a in export_package(session, framework, BASE_URL)["CFAssociations"]] == before
    assert run(session, crosswalk).status == "unchanged"
