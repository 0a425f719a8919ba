"""Coverage: the numbers, the API, the exports and the dashboard agree."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from capcourse.accounts.access import principal_for_user
from capcourse.accounts.models import MembershipRole, Role
from capcourse.coverage.services import coverage
from capcourse.frameworks.models import Framework
from capcourse.identifiers import framework_id, item_id
from capcourse.mapping.models import Depth
from capcourse.mapping.services import map_items
from tests import factories
from tests.factories import bearer
from tests.pages import sign_in

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
SSSC = framework_id("sssc-leadership-capabilities")


@pytest.fixture
def mapped(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    first, second = (
        factories.module(session, course, "Reflective supervision"),
        factories.module(session, course, "Leading change"),
    )
    activity = factories.activity(session, first)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    principal = principal_for_user(factories.user(session, Role.ADMIN))
    lcf = lambda key: item_id("frontline-lcf-pathway-1", key)  # noqa: E731
    # MC.2.a (🎯) introduced by module 1, MC.2.b (🗣️) assessed by the activity, EC.1.a developed by module 2.
    map_items(session, principal, first, [lcf("MC.2.a")], Depth.INTRODUCED)
    map_items(session, principal, activity, [lcf("MC.2.b")], Depth.ASSESSED)
    map_items(
        session,
        principal,
        second,
        [lcf("EC.1.a"), item_id("sssc-leadership-capabilities", "VIS.1.EM")],
        Depth.DEVELOPED,
    )
    session.commit()
    return {"programme": programme, "lead": lead, "lead_key": bearer(factories.api_key(session, Role.LEAD, lead)[1])}


def test_rollups_levels_gaps(session: Session, mapped: dict[str, Any]) -> None:
    report = coverage(session, mapped["programme"], session.get(Framework, FRONTLINE))
    mc2 = report.item(item_id("frontline-lcf-pathway-1", "MC.2"))
    assert mc2.direct == {}
    assert mc2.rolled == {"introduced": 1, "assessed": 1}
    assert mc2.deepest == "assessed"
    mc = report.item(item_id("frontline-lcf-pathway-1", "MC"))
    assert mc.total == 2 and mc.assessed
    ec = report.item(item_id("frontline-lcf-pathway-1", "EC"))
    assert ec.deepest == "developed" and not ec.assessed
    capabilities, subs, attributes = report.levels
    assert (capabilities.total, capabilities.covered, capabilities.assessed) == (4, 2, 1)
    assert (subs.total, subs.covered) == (28, 2)
    assert (attributes.total, attributes.covered, attributes.percent_covered) == (36, 3, 8.3)
    assert len(report.gaps) == 33
    assert [e.item.code for e in report.taught_not_assessed] == ["LCF.MC.2.a", "LCF.EC.1.a"]


def test_capability_by_curriculum_area_matrix(session: Session, mapped: dict[str, Any]) -> None:
    report = coverage(session, mapped["programme"], session.get(Framework, FRONTLINE))
    matrix = report.matrix
    assert matrix is not None
    assert [r.abbreviated_statement for r in matrix.rows] == [
        "Maintaining Curiosity", "Providing Clarity", "Managing Complexity", "Expanding Capacity",
    ]  # fmt: skip
    essentials = item_id("frontline-curriculum-areas", "LE")
    supervision = item_id("frontline-curriculum-areas", "HQS")
    mc = item_id("frontline-lcf-pathway-1", "MC")
    # The reviewed starting set: MC.1.a, MC.2.a, MC.2.b, MC.3.a, MC.4.b and MC.5.a are Leadership Essentials.
    assert (matrix.cells[mc, essentials].items, matrix.cells[mc, essentials].covered) == (6, 2)
    assert matrix.cells[mc, essentials].deepest == "assessed"
    assert matrix.cells[mc, supervision].deepest == "assessed"
    # Every one of the nine areas has attributes: the matrix means something on day one.
    assert len(matrix.columns) == 9
    for column in matrix.columns:
        assert sum(matrix.cells[r.id, column.id].items for r in matrix.rows if (r.id, column.id) in matrix.cells) > 0


def test_sssc_coverage_by_stage(session: Session, mapped: dict[str, Any]) -> None:
    report = coverage(session, mapped["programme"], session.get(Framework, SSSC))
    stages = {s.stage: s for s in report.stages}
    assert (stages["emerging"].total, stages["emerging"].covered) == (22, 1)
    assert stages["accomplished"].covered == 0


def test_api_and_page_show_the_same_numbers(client: FlaskClient, session: Session, mapped: dict[str, Any]) -> None:
    programme = mapped["programme"]
    api = client.get(
        f"/api/v1/programmes/{programme.id}/coverage",
        query_string={"framework": str(FRONTLINE)},
        headers=mapped["lead_key"],
    )
    assert api.status_code == 200, api.json
    body = api.json
    attributes = body["levels"][2]
    assert (attributes["covered"], attributes["percent_covered"]) == (3, 8.3)
    assert len(body["gaps"]) == 33
    sign_in(client, mapped["lead"].email)
    page = client.get(f"/programmes/{programme.id}/coverage", query_string={"framework": str(FRONTLINE)}).get_data(
        as_text=True
    )
    assert "3 (8.3%)" in page
    assert "33 items nothing maps to." in page
    assert page.count('class="heat depth-assessed"') >= 1


def test_drill_down_lists_the_modules_behind_a_cell(
    client: FlaskClient, session: Session, mapped: dict[str, Any]
) -> None:
    programme = mapped["programme"]
    mc = item_id("frontline-lcf-pathway-1", "MC")
    targets = client.get(
        f"/api/v1/programmes/{programme.id}/coverage/items/{mc}/targets", headers=mapped["lead_key"]
    ).json
    assert sorted((t["title"], t["depth"]) for t in targets) == [
        ("Observed supervision session", "assessed"),
        ("Reflective supervision", "introduced"),
    ]
    sign_in(client, mapped["lead"].email)
    cell = client.get(
        f"/programmes/{programme.id}/coverage/items/{mc}",
        query_string={"area": str(item_id("frontline-curriculum-areas", "HQS"))},
    ).get_data(as_text=True)
    assert "Observed supervision session" in cell
    assert "Reflective supervision</a>" not in cell
    # The count says how many rows are listed, not the whole capability's total (2).
    assert "1 mapping to them" in cell and cell.count("<tr>") == 1 + 1
    assert "4 of its sub-items are linked to" in cell
    whole = client.get(f"/programmes/{programme.id}/coverage/items/{mc}").get_data(as_text=True)
    assert "2 mappings to it or its sub-items" in whole and "(activity)" in whole


def test_matrix_cells_shade_by_share_covered(client: FlaskClient, session: Session, mapped: dict[str, Any]) -> None:
    sign_in(client, mapped["lead"].email)
    page = client.get(
        f"/programmes/{mapped['programme'].id}/coverage", query_string={"framework": str(FRONTLINE)}
    ).get_data(as_text=True)
    # MC × Leadership essentials: 1 of 4 covered → the first step; the key explains the steps.
    assert '<td class="matrix-cell share-1"><a' in page and 'id="matrix-key"' in page
    assert "onclick" not in page and 'data-action="print"' in page


def test_exports_match(client: FlaskClient, session: Session, mapped: dict[str, Any]) -> None:
    programme = mapped["programme"]
    url = f"/api/v1/programmes/{programme.id}/coverage/export"
    as_csv = client.get(f"{url}.csv", query_string={"framework": str(FRONTLINE)}, headers=mapped["lead_key"])
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert len(rows) == 68
    assert (
        sum(r["Status"] == "gap" for r in rows) == 33 + 2 + 26
    )  # leaves, plus uncovered capabilities and sub-capabilities
    as_xlsx = client.get(f"{url}.xlsx", query_string={"framework": str(FRONTLINE)}, headers=mapped["lead_key"])
    book = load_workbook(io.BytesIO(as_xlsx.data))
    assert book.sheetnames == ["Coverage", "Gaps", "Levels", "Matrix"]
    assert book["Gaps"].max_row == 1 + 33 + 2

    def csv_table(table: str) -> list[list[str]]:
        response = client.get(
            f"{url}.csv", query_string={"framework": str(FRONTLINE), "table": table}, headers=mapped["lead_key"]
        )
        assert response.status_code == 200, response.json
        assert f"-{table}.csv" in response.headers["Content-Disposition"]
        return list(csv.reader(io.StringIO(response.get_data(as_text=True))))

    gaps = csv_table("gaps")
    assert gaps[1:] == [[str(c.value) for c in row] for row in book["Gaps"].iter_rows(min_row=2)]
    matrix = csv_table("matrix")
    assert matrix[1:] == [[c.value or "" for c in row] for row in book["Matrix"].iter_rows(min_row=2)]
    assert len(csv_table("levels")) == 1 + 3
    bad = client.get(f"{url}.csv", query_string={"framework": str(FRONTLINE), "table": "x"}, headers=mapped["lead_key"])
    assert bad.status_code == 422


def test_gap_list_agrees_with_the_report(client: FlaskClient, session: Session, mapped: dict[str, Any]) -> None:
    for framework in (FRONTLINE, SSSC):
        report = coverage(session, mapped["programme"], session.get(Framework, framework))
        body = client.get(
            f"/api/v1/programmes/{mapped['programme'].id}/coverage/gaps",
            query_string={"framework": str(framework)},
            headers=mapped["lead_key"],
        ).json
        assert {g["id"] for g in body["gaps"]} == {str(e.item.id) for e in report.gaps}
        assert {g["id"] for g in body["taught_not_assessed"]} == {str(e.item.id) for e in report.taught_not_assessed}
    assert [g["code"] for g in body["taught_not_assessed"]] == ["SSSC.VIS.1.EM"]
    gaps_url = f"/api/v1/programmes/{mapped['programme'].id}/coverage/gaps"
    assert client.get(gaps_url, headers=mapped["lead_key"]).status_code == 422
    assert client.get(gaps_url, query_string={"framework": "x"}, headers=mapped["lead_key"]).status_code == 422


def test_bad_requests(client: FlaskClient, session: Session, mapped: dict[str, Any]) -> None:
    programme = mapped["programme"]
    url = f"/api/v1/programmes/{programme.id}/coverage"
    assert client.get(url, headers=mapped["lead_key"]).status_code == 422
    assert client.get(url, query_string={"framework": "x"}, headers=mapped["lead_key"]).status_code == 422
    import uuid

    assert client.get(url, query_string={"framework": str(uuid.uuid4())}, headers=mapped["lead_key"]).status_code == 404
    outsider = bearer(factories.api_key(session, Role.LEAD)[1])
    assert client.get(url, query_string={"framework": str(FRONTLINE)}, headers=outsider).status_code == 404
