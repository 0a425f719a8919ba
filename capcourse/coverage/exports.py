"""Coverage as files a programme lead hands to an accreditor: CSV and XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from capcourse.coverage.services import DEPTHS, CoverageReport, ItemCoverage

HEADER = [
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


def coverage_csv(report: CoverageReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows(report))
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
    gaps = book.create_sheet("Gaps")
    gaps.append(["Code", "Item type", "Statement", "Status"])
    for entry in [*report.gaps, *report.taught_not_assessed]:
        gaps.append(
            [
                entry.item.code or "",
                entry.item.item_type,
                entry.item.abbreviated_statement or entry.item.full_statement,
                status(entry),
            ]
        )
    levels = book.create_sheet("Levels")
    levels.append(["Level", "Item types", "Items", "Covered", "Assessed", "% covered", "% assessed"])
    for level in report.levels:
        levels.append(
            [
                level.level,
                ", ".join(level.item_types),
                level.total,
                level.covered,
                level.assessed,
                level.percent_covered,
                level.percent_assessed,
            ]
        )
    if report.matrix:
        matrix = book.create_sheet("Matrix")
        matrix.append(["", *[c.full_statement for c in report.matrix.columns]])
        for row in report.matrix.rows:
            cells = [report.matrix.cells.get((row.id, c.id)) for c in report.matrix.columns]
            matrix.append(
                [
                    row.abbreviated_statement or row.full_statement,
                    *[f"{c.covered}/{c.items}" if c else "" for c in cells],
                ]
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
