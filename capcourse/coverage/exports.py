"""Coverage as files a programme lead hands to an accreditor: CSV and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from capcourse.coverage.services import DEPTHS, CoverageReport, ItemCoverage
from capcourse.frameworks.models import Item
from capcourse.records.models import Learner

if TYPE_CHECKING:
    from capcourse.coverage.attainment import LearnerAttainment
    from capcourse.coverage.evidence import CohortReport, LearnerEvidence

HEADER: list[object] = [
    "Code",
    "Item type",
    "Level",
    "Statement",
    *[f"Direct {d}" for d in DEPTHS],
    *[f"With sub-items {d}" for d in DEPTHS],
    "Deepest",
    "Status",
]
FILLS = {
    None: "FFFFFF",
    "introduced": "DDF4FF",
    "developed": "B6E3FF",
    "assessed": "ACEEBB",
}


def status(entry: ItemCoverage) -> str:
    if not entry.covered:
        return "gap"
    if not entry.assessed:
        return "taught, never assessed"
    return "assessed"


def rows(report: CoverageReport) -> list[list[object]]:
    return [
        [
            entry.item.code or "",
            entry.item.item_type,
            entry.level,
            entry.item.abbreviated_statement or entry.item.full_statement,
            *[entry.direct.get(d, 0) for d in DEPTHS],
            *[entry.rolled.get(d, 0) for d in DEPTHS],
            entry.deepest or "",
            status(entry),
        ]
        for entry in report.items
    ]


def gap_rows(report: CoverageReport) -> list[list[object]]:
    return [
        [
            entry.item.code or "",
            entry.item.item_type,
            entry.item.abbreviated_statement or entry.item.full_statement,
            status(entry),
        ]
        for entry in [*report.gaps, *report.taught_not_assessed]
    ]


def level_rows(report: CoverageReport) -> list[list[object]]:
    return [
        [
            level.level,
            ", ".join(level.item_types),
            level.total,
            level.covered,
            level.assessed,
            level.percent_covered,
            level.percent_assessed,
        ]
        for level in report.levels
    ]


def matrix_rows(report: CoverageReport) -> list[list[object]]:
    """Capability × curriculum area, "covered/items" per cell; none for frameworks without the matrix."""
    if not report.matrix:
        return []
    matrix = report.matrix
    table: list[list[object]] = [["", *[c.full_statement for c in matrix.columns]]]
    for row in matrix.rows:
        cells = [matrix.cells.get((row.id, c.id)) for c in matrix.columns]
        table.append(
            [row.abbreviated_statement or row.full_statement, *[f"{c.covered}/{c.items}" if c else "" for c in cells]]
        )
    return table


GAP_HEADER: list[object] = ["Code", "Item type", "Statement", "Status"]
LEVEL_HEADER: list[object] = ["Level", "Item types", "Items", "Covered", "Assessed", "% covered", "% assessed"]


def coverage_csv(report: CoverageReport, table: str = "items") -> str:
    """One table of the report as CSV: ``items`` (every item), ``gaps``, ``levels`` or ``matrix``."""
    tables: dict[str, Callable[[], list[list[object]]]] = {
        "items": lambda: [HEADER, *rows(report)],
        "gaps": lambda: [GAP_HEADER, *gap_rows(report)],
        "levels": lambda: [LEVEL_HEADER, *level_rows(report)],
        # The matrix carries its column headings in its first row.
        "matrix": lambda: matrix_rows(report),
    }
    buffer = io.StringIO()
    csv.writer(buffer).writerows(tables[table]())
    return buffer.getvalue()


def coverage_xlsx(report: CoverageReport) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Coverage"
    sheet.append([f"{report.programme.title}: coverage of {report.framework.title}"])
    sheet.append(HEADER)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for entry, row in zip(report.items, rows(report), strict=True):
        sheet.append(row)
        sheet.cell(sheet.max_row, len(HEADER) - 1).fill = PatternFill("solid", fgColor=FILLS[entry.deepest])
    tables: list[tuple[str, list[list[object]]]] = [
        ("Gaps", [GAP_HEADER, *gap_rows(report)]),
        ("Levels", [LEVEL_HEADER, *level_rows(report)]),
    ]
    if report.matrix:
        tables.append(("Matrix", matrix_rows(report)))
    for title, table in tables:
        extra = book.create_sheet(title)
        for line in table:
            extra.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_csv(table: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    return buffer.getvalue()


def sheets_xlsx(title: str, sheets: list[tuple[str, list[list[object]]]]) -> bytes:
    """A workbook with one sheet per table, its first row (the header) in bold, and ``title`` as a property."""
    book = Workbook()
    book.properties.title = title
    first = book.active
    assert first is not None
    book.remove(first)
    for name, table in sheets:
        sheet = book.create_sheet(name[:31])
        for line in table:
            sheet.append([_cell(value) for value in line])
        if table:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: object) -> object:
    # Spreadsheets hold no time zone: times go out as UTC, which is where capcourse keeps them.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def _statement(item: Item) -> str:
    return item.abbreviated_statement or item.full_statement


def cohort_tables(
    report: CoverageReport, cohort: CohortReport, attainments: list[tuple[Learner, str | None, Item, datetime]]
) -> dict[str, list[list[object]]]:
    """The cohort as tables: learners × top-level items (evidenced and achieved), rates per item, attainments."""
    heat: list[list[object]] = [
        [
            "Learner id",
            "Learner",
            *[
                f"{c.code or _statement(c)} {kind} (of {cohort.column_sizes.get(c.id, 0)})"
                for c in cohort.columns
                for kind in ("evidenced", "achieved")
            ],
        ]
    ]
    for row in cohort.rows:
        heat.append(
            [
                row.learner.id,
                row.name or row.learner.agent_key,
                *[n for c in cohort.columns for n in (row.evidenced.get(c.id, 0), row.achieved.get(c.id, 0))],
            ]
        )
    rates: list[list[object]] = [
        ["Code", "Statement", "Learners with evidence", "% with evidence", "Learners who achieved", "% achieved"]
    ]
    for entry in report.items:
        item_id = entry.item.id
        rates.append(
            [
                entry.item.code or "",
                _statement(entry.item),
                cohort.item_learners.get(item_id, 0),
                cohort.rate(item_id),
                cohort.item_achievers.get(item_id, 0) if item_id in cohort.achievable else "",
                cohort.achieved_rate(item_id) if item_id in cohort.achievable else "",
            ]
        )
    achieved: list[list[object]] = [["Learner id", "Learner", "Code", "Statement", "Achieved at (UTC)"]]
    for learner, name, item, when in attainments:
        achieved.append([learner.id, name or learner.agent_key, item.code or "", _statement(item), when])
    return {"heatmap": heat, "rates": rates, "attainments": achieved}


def learner_tables(
    learner: Learner, evidence: list[LearnerEvidence], attainment: LearnerAttainment, open_items: list[Item]
) -> dict[str, list[list[object]]]:
    """One learner as tables: achieved items, pending items, evidence, open items."""
    achieved: list[list[object]] = [["Code", "Statement", "Achieved at (UTC)", "Through"]]
    for a in attainment.achieved:
        achieved.append([a.item.code or "", _statement(a.item), a.attained_at, "; ".join(a.evidence)])
    pending: list[list[object]] = [["Code", "Statement", "Still to pass", "Passed"]]
    for p in attainment.pending:
        pending.append([p.item.code or "", _statement(p.item), "; ".join(p.missing), "; ".join(p.done)])
    found: list[list[object]] = [["Code", "Statement", "Activity", "When (UTC)", "Outcome", "Score"]]
    for e in evidence:
        found.append(
            [e.item.code or "", _statement(e.item), e.activity_title, e.occurred_at, e.outcome, e.score_scaled]
        )
    still_open: list[list[object]] = [["Code", "Statement"]]
    for item in open_items:
        still_open.append([item.code or "", _statement(item)])
    return {"achieved": achieved, "pending": pending, "evidence": found, "open": still_open}
