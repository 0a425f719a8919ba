"""Coverage as files a programme lead hands to an accreditor: CSV and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from capcourse.coverage.services import DEPTHS, CoverageReport, ItemCoverage

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
