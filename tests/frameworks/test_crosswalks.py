"""The crosswalk editor's services, API and CLI: links between the items of two frameworks."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.frameworks import crosswalks
from capcourse.frameworks.models import Association, AssociationRemoval, Framework, ManagedBy, Provenance
from capcourse.frameworks.seed_data import load_seed_data
from capcourse.frameworks.sync import sync_frameworks
from capcourse.identifiers import association_id, framework_id, item_id
from tests import factories
from tests.case.standards import official_1p1, openapi, problems, transcribed_1p1

pytestmark = pytest.mark.db

FRONTLINE = "frontline-lcf-pathway-1"
KSS = "dfe-kss-practice-supervisors-2018"
SSSC = "sssc-leadership-capabilities"
CLF = "sssc-clf-as-referenced"
LEFT, RIGHT = framework_id(FRONTLINE), framework_id(KSS)
PATH = f"/api/v1/crosswalks/{LEFT}/{RIGHT}"
#: A shipped suggested link: structured observations and feedback ↔ practice observation and feedback.
SHIPPED = association_id("isRelatedTo", item_id(FRONTLINE, "MX.5.a"), item_id(KSS, "2.2"))


def headers(session: Session, role: Role = Role.LEAD) -> dict[str, str]:
    _, plain = factories.api_key(session, role)
    return factories.bearer(plain)


def association_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Association)) or 0)


def test_the_shipped_frontline_kss_crosswalk_is_suggested_with_a_reason_and_strength(session: Session) -> None:
    left, right = session.get(Framework, LEFT), session.get(Framework, RIGHT)
    assert left is not None and right is not None
    links = crosswalks.list_associations(session, left, right)
    assert len(links) == len(crosswalks.load_shipped()[0].links) >= 60
    for link in links:
        assert (link.provenance, link.managed_by, link.association_type) == ("suggested", "crosswalk", "isRelatedTo")
        assert link.notes and link.strength is not None and 0 < link.strength <= 1
        assert link.created_by == crosswalks.SYNC_ACTOR
        assert link.origin.framework_id == LEFT
    # Every KSS 2018 statement has at least one suggested counterpart.
    statements = {crosswalks.sides(link, left)[1].parent_id for link in links}
    assert {item_id(KSS, str(n)) for n in range(1, 9)} <= statements


def test_crosswalks_are_listed_with_counts_by_provenance(client: FlaskClient) -> None:
    listed = client.get("/api/v1/crosswalks").get_json()
    by_pair = {frozenset((c["left"]["key"], c["right"]["key"])): c for c in listed}
    frontline_kss = by_pair[frozenset((FRONTLINE, KSS))]
    assert frontline_kss["counts"]["suggested"] == frontline_kss["total"] >= 60
    sssc_clf = by_pair[frozenset((SSSC, CLF))]
    assert sssc_clf["counts"]["published"] == sssc_clf["total"] > 0  # the CLF references the SSSC text states


def test_a_lead_links_two_items_and_reads_it_back(client: FlaskClient, session: Session) -> None:
    lead = headers(session)
    body = {
        "origin_item_id": str(item_id(KSS, "7.3")),
        "destination_item_id": str(item_id(FRONTLINE, "EC.1.a")),
        "type": "exactMatchOf",
        "strength": 0.75,
        "note": "Both are about resilience under pressure.",
    }
    response = client.post(PATH, json=body, headers=lead)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["provenance"] == "confirmed" and made["counted"] and made["editable"]
    assert (made["strength"], made["note"], made["association_type"]) == (0.75, body["note"], "exactMatchOf")
    assert made["origin"]["framework_key"] == KSS and made["destination"]["code"] == "LCF.EC.1.a"
    assert made["created_by"] == made["updated_by"] == made["reviewed_by"]
    assert made["created_at"] and made["reviewed_at"]

    listed = client.get(PATH, query_string={"provenance": "confirmed"}).get_json()
    assert [a["id"] for a in listed["associations"]] == [made["id"]]
    assert listed["left"]["key"] == FRONTLINE
    assert client.get(f"/api/v1/associations/{made['id']}").get_json()["note"] == body["note"]
    # Listed either way round.
    swapped = client.get(f"/api/v1/crosswalks/{RIGHT}/{LEFT}", query_string={"item": body["origin_item_id"]})
    assert made["id"] in {a["id"] for a in swapped.get_json()["associations"]}


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"destination_item_id": str(item_id(SSSC, "VIS"))}, 422, "is no item of"),
        ({"destination_item_id": str(item_id(FRONTLINE, "MC.1"))}, 422, "one framework to an item of the other"),
        ({"type": "isChildOf"}, 422, "association type"),
        ({"type": "nonsense"}, 422, "association type"),
        ({"strength": 1.5}, 422, "strength"),
        ({"provenance": "approved"}, 422, "provenance"),
        ({"note": "x" * 5000}, 422, "note"),
        ({"origin_item_id": "not-a-uuid"}, 422, "origin_item_id"),
        ({"type": "isRelatedTo", "destination_item_id": str(item_id(KSS, "2.2"))}, 409, "exists already"),
    ],
)
def test_bad_links_are_refused_and_change_nothing(
    client: FlaskClient, session: Session, change: dict[str, Any], status: int, words: str
) -> None:
    lead = headers(session)
    before = association_count(session)
    body = {"origin_item_id": str(item_id(FRONTLINE, "MX.5.a")), "destination_item_id": str(item_id(KSS, "1.1"))}
    response = client.post(PATH, json=body | change, headers=lead)
    assert response.status_code == status, response.get_json()
    assert words in json.dumps(response.get_json())
    assert association_count(session) == before


def test_only_admins_and_leads_change_crosswalks(client: FlaskClient, session: Session) -> None:
    body = {"origin_item_id": str(item_id(FRONTLINE, "MC.1.a")), "destination_item_id": str(item_id(KSS, "8.4"))}
    assert client.post(PATH, json=body).status_code == 401
    assert client.post(PATH, json=body, headers=headers(session, Role.AUTHOR)).status_code == 403
    assert (
        client.post(f"/api/v1/associations/{SHIPPED}/confirm", headers=headers(session, Role.AUTHOR)).status_code == 403
    )
    assert client.post(PATH, json=body, headers=headers(session, Role.ADMIN)).status_code == 201
    assert client.get(PATH).status_code == 200  # reading is open, as the frameworks are


def test_unknown_frameworks_and_one_framework_twice(client: FlaskClient, session: Session) -> None:
    assert client.get(f"/api/v1/crosswalks/{uuid.uuid4()}/{RIGHT}").status_code == 404
    response = client.get(f"/api/v1/crosswalks/{LEFT}/{LEFT}")
    assert response.status_code == 422 and "two different frameworks" in response.get_json()["message"]
    assert client.get(f"/api/v1/associations/{uuid.uuid4()}").status_code == 404
    # A tree link is no crosswalk link.
    tree = session.scalars(select(Association).where(Association.association_type == "precedes")).first()
    assert tree is not None
    assert client.get(f"/api/v1/associations/{tree.id}").status_code == 404  # within one framework


def test_confirm_edit_and_delete_a_shipped_link_and_sync_leaves_them(client: FlaskClient, session: Session) -> None:
    lead = headers(session)
    confirmed = client.post(f"/api/v1/associations/{SHIPPED}/confirm", headers=lead)
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["provenance"] == "confirmed" and confirmed.get_json()["reviewed_by"]
    assert confirmed.get_json()["managed_by"] is None  # a person's now
    again = client.post(f"/api/v1/associations/{SHIPPED}/confirm", headers=lead)
    assert again.status_code == 409 and "nothing to confirm" in again.get_json()["message"]

    edited_id = association_id("isRelatedTo", item_id(FRONTLINE, "MX.4"), item_id(KSS, "7.1"))
    edited = client.patch(f"/api/v1/associations/{edited_id}", json={"strength": 0.9, "note": "Same."}, headers=lead)
    assert edited.status_code == 200 and edited.get_json()["strength"] == 0.9
    assert edited.get_json()["provenance"] == "suggested"  # unchanged: only what was sent changes
    bad = client.patch(f"/api/v1/associations/{edited_id}", json={"strength": -1}, headers=lead)
    assert bad.status_code == 422

    deleted_id = association_id("isRelatedTo", item_id(FRONTLINE, "EC.5"), item_id(KSS, "8.5"))
    assert client.delete(f"/api/v1/associations/{deleted_id}", headers=lead).status_code == 204
    assert session.get(AssociationRemoval, deleted_id) is not None

    report = sync_frameworks(session, load_seed_data())
    assert report.crosswalk_links == 0 and not report.changed
    session.expire_all()
    assert session.get(Association, SHIPPED).provenance == Provenance.CONFIRMED
    assert session.get(Association, edited_id).notes == "Same."
    assert session.get(Association, deleted_id) is None


def test_links_shipped_with_a_framework_are_read_only(client: FlaskClient, session: Session) -> None:
    lead = headers(session)
    published = association_id("isRelatedTo", item_id(SSSC, "VIS.3.AC"), item_id(CLF, "CONF.EXEMPLARY"))
    assert session.get(Association, published).managed_by == ManagedBy.SEED
    for response in (
        client.patch(f"/api/v1/associations/{published}", json={"note": "mine"}, headers=lead),
        client.delete(f"/api/v1/associations/{published}", headers=lead),
        client.post(f"/api/v1/associations/{published}/confirm", headers=lead),
    ):
        assert response.status_code == 409
        assert "shipped with the framework's data file" in response.get_json()["message"]
    assert session.get(Association, published) is not None
    assert client.get(f"/api/v1/associations/{published}").get_json()["editable"] is False


def test_csv_export_imports_again_unchanged_and_a_new_row_is_created(client: FlaskClient, session: Session) -> None:
    lead = headers(session)
    exported = client.get(f"{PATH}.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0]["origin_framework"] == FRONTLINE and rows[0]["provenance"] == "suggested"
    result = client.post(f"{PATH}.csv", data=exported.get_data(), headers=lead, content_type="text/csv")
    assert result.status_code == 200, result.get_json()
    assert result.get_json() == {"created": 0, "updated": 0, "unchanged": len(rows), "removed": 0}

    text = (
        "origin_framework,origin,type,destination_framework,destination,strength,provenance,note,action\n"
        f"{KSS},KSS-PS.8.4,isRelatedTo,{FRONTLINE},LCF.MC.5.a,0.5,,Leadership style.,\n"
        f"{FRONTLINE},LCF.EC.5,isRelatedTo,{KSS},KSS-PS.8.5,,,,remove\n"
    )
    result = client.post(f"{PATH}.csv", data=text.encode(), headers=lead, content_type="text/csv")
    assert result.get_json() == {"created": 1, "updated": 0, "unchanged": 0, "removed": 1}
    made = crosswalks.find_link(session, "isRelatedTo", item_id(KSS, "8.4"), item_id(FRONTLINE, "MC.5.a"))
    assert made is not None and made.provenance == "confirmed" and made.strength == 0.5


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("origin,destination\nLCF.MC.1,KSS-PS.1.1\n", "lacks the column(s) origin_framework"),
        (
            "origin_framework,origin,type,destination_framework,destination\n"
            f"{FRONTLINE},LCF.MC.1,isRelatedTo,{KSS},KSS-PS.1.1\n"
            f"{FRONTLINE},LCF.NOPE,isRelatedTo,{KSS},KSS-PS.1.1\n",
            "Line 3: origin: 'LCF.NOPE' is no code",
        ),
        (
            "origin_framework,origin,type,destination_framework,destination\n"
            f"{SSSC},SSSC.VIS,isRelatedTo,{KSS},KSS-PS.1.1\n",
            "Line 2: origin_framework must be",
        ),
        (
            "origin_framework,origin,type,destination_framework,destination,strength\n"
            f"{FRONTLINE},LCF.MC.1,isRelatedTo,{KSS},KSS-PS.1.1,high\n",
            "Line 2: strength must be a number",
        ),
        (
            "origin_framework,origin,type,destination_framework,destination,action\n"
            f"{FRONTLINE},LCF.MC.1,isRelatedTo,{KSS},KSS-PS.1.1,merge\n",
            "Line 2: action must be set or remove",
        ),
    ],
)
def test_a_bad_csv_is_refused_whole(client: FlaskClient, session: Session, text: str, words: str) -> None:
    before = association_count(session)
    result = client.post(f"{PATH}.csv", data=text.encode(), headers=headers(session), content_type="text/csv")
    assert result.status_code == 422, result.get_json()
    assert words in result.get_json()["message"]
    assert association_count(session) == before  # the good first line was not kept either


def test_csv_that_would_change_a_published_link_is_a_conflict(client: FlaskClient, session: Session) -> None:
    text = (
        "origin_framework,origin,type,destination_framework,destination,provenance,note\n"
        f"{SSSC},SSSC.VIS.3.AC,isRelatedTo,{CLF},CLF.CONF.EXEMPLARY,confirmed,mine\n"
    )
    sssc_clf = f"/api/v1/crosswalks/{framework_id(SSSC)}/{framework_id(CLF)}.csv"
    result = client.post(sssc_clf, data=text.encode(), headers=headers(session), content_type="text/csv")
    assert result.status_code == 409 and "Line 2" in result.get_json()["message"]
    assert client.post(sssc_clf, data=b"", headers=headers(session), content_type="text/csv").status_code == 422


def test_case_export_is_valid_case_1p1_and_imports_again(client: FlaskClient, session: Session) -> None:
    exported = client.get(f"{PATH}/case")
    assert exported.status_code == 200
    package = exported.get_json()
    for validator in (official_1p1(), transcribed_1p1(), openapi("CFPackageDType")):
        assert problems(validator, package) == []
    first = package["CFAssociations"][0]
    assert first["extensions"]["capcourse"]["provenance"] == "suggested"
    assert first["extensions"]["capcourse"]["strength"] > 0
    assert "CFItems" not in package  # crosswalk only: the items are the frameworks'

    lead = headers(session)
    deleted = first["identifier"]
    assert client.delete(f"/api/v1/associations/{deleted}", headers=lead).status_code == 204
    result = client.post(f"{PATH}/case", data=json.dumps(package), headers=lead, content_type="application/json")
    assert result.status_code == 200, result.get_json()
    assert result.get_json() == {
        "created": 1,
        "updated": 0,
        "unchanged": len(package["CFAssociations"]) - 1,
        "removed": 0,
    }
    back = session.get(Association, uuid.UUID(deleted))
    assert back is not None and back.provenance == "suggested"  # as the package says


def test_a_case_package_from_elsewhere_is_published_unless_it_says_otherwise(
    client: FlaskClient, session: Session
) -> None:
    identifier = str(uuid.uuid4())
    package = {
        "CFDocument": {
            "identifier": str(uuid.uuid4()),
            "uri": "https://example.org/crosswalk",
            "creator": "Someone",
            "title": "A crosswalk",
            "lastChangeDateTime": "2026-11-30T10:00:00+00:00",
        },
        "CFAssociations": [
            {
                "identifier": identifier,
                "associationType": "exactMatchOf",
                "uri": f"https://example.org/{identifier}",
                "originNodeURI": {"title": "x", "identifier": str(item_id(KSS, "5.2")), "uri": "https://e.org/1"},
                "destinationNodeURI": {"title": "y", "identifier": str(item_id(FRONTLINE, "MX.2")), "uri": "u:2"},
                "lastChangeDateTime": "2026-11-30T10:00:00+00:00",
                "notes": "Rationale for decisions.",
            }
        ],
    }
    result = client.post(f"{PATH}/case", json=package, headers=headers(session))
    assert result.status_code == 200, result.get_json()
    made = session.get(Association, uuid.UUID(identifier))
    assert made is not None and (made.provenance, made.notes) == ("published", "Rationale for decisions.")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not valid JSON"),
        (b"{}", "CFDocument"),
        (b'{"CFDocument": {"identifier": "a", "uri": "u", "creator": "c", "title": "t"}}', "no CFAssociations"),
    ],
)
def test_bad_case_packages_are_refused(client: FlaskClient, session: Session, body: bytes, words: str) -> None:
    result = client.post(f"{PATH}/case", data=body, headers=headers(session), content_type="application/json")
    assert 400 <= result.status_code < 500
    assert words in json.dumps(result.get_json())


def test_a_case_association_outside_the_two_frameworks_refuses_the_package(
    client: FlaskClient, session: Session
) -> None:
    package = client.get(f"{PATH}/case").get_json()
    package["CFAssociations"][3]["destinationNodeURI"]["identifier"] = str(item_id(SSSC, "VIS"))
    package["CFAssociations"][0]["extensions"]["capcourse"]["provenance"] = "confirmed"
    before = session.get(Association, uuid.UUID(package["CFAssociations"][0]["identifier"]))
    assert before is not None and before.provenance == "suggested"
    result = client.post(f"{PATH}/case", json=package, headers=headers(session))
    assert result.status_code == 422
    assert "$.CFAssociations[3].destinationNodeURI" in result.get_json()["errors"]
    session.expire_all()
    assert session.get(Association, before.id).provenance == "suggested"  # nothing changed


def test_sync_is_idempotent_and_drops_what_the_files_no_longer_ship(session: Session, tmp_path: Any) -> None:
    assert crosswalks.sync_shipped_crosswalks(session) == 0
    (tmp_path / "one.toml").write_text(
        '[crosswalk]\norigin_framework = "frontline-lcf-pathway-1"\n'
        'destination_framework = "dfe-kss-practice-supervisors-2018"\nprovenance = "suggested"\n'
        'last_change = 2026-11-30\n\n[[links]]\norigin = "MX.5.a"\ndestination = "2.2"\nstrength = 0.5\n'
        'reason = "Shorter reason."\n',
        encoding="utf-8",
    )
    changed = crosswalks.sync_shipped_crosswalks(session, data_dir=tmp_path)
    shipped = len(crosswalks.load_shipped()[0].links)
    assert changed == shipped  # one updated, the others dropped
    assert session.get(Association, SHIPPED).notes == "Shorter reason."
    assert crosswalks.sync_shipped_crosswalks(session, data_dir=tmp_path) == 0


def test_cli_lists_shows_exports_imports_and_confirms(runner: FlaskCliRunner, session: Session, tmp_path: Any) -> None:
    listed = runner.invoke(args=["crosswalks", "list"])
    assert (
        listed.exit_code == 0 and f"{FRONTLINE} ↔ {KSS}" in listed.output
    ) or f"{KSS} ↔ {FRONTLINE}" in listed.output
    shown = runner.invoke(args=["crosswalks", "show", FRONTLINE, KSS, "--provenance", "suggested"])
    assert shown.exit_code == 0 and "LCF.MX.5.a isRelatedTo KSS-PS.2.2" in shown.output
    target = tmp_path / "crosswalk.json"
    assert (
        runner.invoke(args=["crosswalks", "export", FRONTLINE, KSS, "--format", "case", "-o", str(target)]).exit_code
        == 0
    )
    assert problems(official_1p1(), json.loads(target.read_text(encoding="utf-8"))) == []
    imported = runner.invoke(args=["crosswalks", "import", FRONTLINE, KSS, str(target)])
    assert imported.exit_code == 0 and "0 created, 0 changed" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("origin,destination\n", encoding="utf-8")
    refused = runner.invoke(args=["crosswalks", "import", FRONTLINE, KSS, str(bad)])
    assert refused.exit_code != 0 and "Nothing was changed" in refused.output
    assert runner.invoke(args=["crosswalks", "confirm", str(SHIPPED)]).exit_code == 0
    assert session.get(Association, SHIPPED).provenance == "confirmed"
    again = runner.invoke(args=["crosswalks", "confirm", str(SHIPPED)])
    assert again.exit_code != 0 and "nothing to confirm" in again.output
    assert runner.invoke(args=["crosswalks", "show", FRONTLINE, FRONTLINE]).exit_code != 0


def test_every_phrase_a_shipped_reason_quotes_is_in_the_texts() -> None:
    """The reasons quote both items (or the statement heading a KSS bullet); a quote that is not there is a slip."""
    data = load_seed_data()
    for crosswalk in crosswalks.load_shipped():
        texts = {}
        for key in (crosswalk.origin_framework, crosswalk.destination_framework):
            items = {item.key: item for item in data.framework(key).items}
            texts[key] = {
                k: " ".join(
                    filter(None, [i.full_statement, items[i.parent_key].full_statement if i.parent_key else ""])
                ).casefold()
                for k, i in items.items()
            }
        for link in crosswalk.links:
            assert link.reason
            both = (
                texts[crosswalk.origin_framework][link.origin]
                + " "
                + texts[crosswalk.destination_framework][link.destination]
            )
            for quote in re.findall(r'"([^"]+)"', link.reason):
                for part in quote.split(" … "):
                    assert part.strip().casefold() in both, f"{link.origin} → {link.destination}: {part!r}"
