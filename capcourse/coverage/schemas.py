"""Response shapes of the coverage API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from capcourse.coverage.evidence import CarriedEvidence, CarriedLink
from capcourse.coverage.services import DEPTHS, CoverageReport, GapList, MappedTarget
from capcourse.frameworks.crosswalks import OPTIONAL
from capcourse.versions.services import code_label


class DepthCountsSchema(Schema):
    introduced = fields.Integer(required=True)
    developed = fields.Integer(required=True)
    assessed = fields.Integer(required=True)


class ImpliedSchema(Schema):
    via_item_id = fields.UUID(required=True)
    via_code = fields.String(allow_none=True)
    via_framework_id = fields.UUID(required=True)
    association_type = fields.String(required=True)
    provenance = fields.String(required=True)
    direction = fields.String(required=True)
    counts = fields.Nested(DepthCountsSchema, required=True)
    also_association_types = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Other associations joining the same two items (``exactMatchOf`` beside ``replacedBy``): "
            "one implied link, its mappings counted once."
        },
    )


class ItemCoverageSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    item_type = fields.String(required=True)
    statement = fields.String(required=True)
    level = fields.Integer(required=True)
    parent_id = fields.UUID(allow_none=True)
    stage = fields.String(allow_none=True)
    direct = fields.Nested(DepthCountsSchema, required=True, metadata={"description": "Mappings to the item itself."})
    rolled = fields.Nested(DepthCountsSchema, required=True, metadata={"description": "Mappings to it or below it."})
    deepest = fields.String(allow_none=True)
    covered = fields.Boolean(required=True)
    assessed = fields.Boolean(required=True)
    implied = fields.List(
        fields.Nested(ImpliedSchema),
        required=True,
        metadata={"description": "Coverage implied through crosswalk associations; not in the counts above."},
    )


class LevelSchema(Schema):
    level = fields.Integer(required=True)
    item_types = fields.List(fields.String(), required=True)
    total = fields.Integer(required=True)
    covered = fields.Integer(required=True)
    assessed = fields.Integer(required=True)
    percent_covered = fields.Float(required=True)
    percent_assessed = fields.Float(required=True)


class MatrixCellSchema(Schema):
    row_id = fields.UUID(required=True)
    column_id = fields.UUID(required=True)
    items = fields.Integer(required=True)
    covered = fields.Integer(required=True)
    counts = fields.Nested(DepthCountsSchema, required=True)
    deepest = fields.String(allow_none=True)


class RefSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    statement = fields.String(required=True)


class MatrixSchema(Schema):
    rows = fields.List(fields.Nested(RefSchema), required=True)
    columns = fields.List(fields.Nested(RefSchema), required=True)
    cells = fields.List(fields.Nested(MatrixCellSchema), required=True)


class StageSchema(Schema):
    stage = fields.String(required=True)
    total = fields.Integer(required=True)
    covered = fields.Integer(required=True)
    counts = fields.Nested(DepthCountsSchema, required=True)


class CoverageSchema(Schema):
    programme_id = fields.UUID(required=True)
    framework_id = fields.UUID(required=True)
    framework_title = fields.String(required=True)
    levels = fields.List(fields.Nested(LevelSchema), required=True)
    items = fields.List(fields.Nested(ItemCoverageSchema), required=True)
    gaps = fields.List(fields.UUID(), required=True, metadata={"description": "Leaves with no mapping."})
    taught_not_assessed = fields.List(fields.UUID(), required=True)
    matrix = fields.Nested(MatrixSchema, allow_none=True)
    stages = fields.List(fields.Nested(StageSchema), required=True)
    implied_provenances = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "The provenances of the associations implied coverage went through: published "
            "and confirmed, plus what ``include`` asked for."
        },
    )


class CoverageArgsSchema(Schema):
    framework = fields.UUID(required=True, metadata={"description": "The framework to measure against."})


class ImpliedCoverageArgsSchema(CoverageArgsSchema):
    include = fields.List(
        fields.String(validate=validate.OneOf(OPTIONAL)),
        load_default=list,
        metadata={
            "description": "Also imply coverage through crosswalk links of these provenances, each its own "
            "value (repeat the parameter for both: ``include=suggested&include=inferred``): ``suggested`` "
            "(proposed, not yet reviewed), ``inferred`` (concluded by capcourse, such as the icon legend's; "
            "not yet confirmed by a person). By default only published and confirmed links count."
        },
    )


class ExportArgsSchema(CoverageArgsSchema):
    table = fields.String(
        load_default="items",
        validate=validate.OneOf(["items", "gaps", "levels", "matrix"]),
        metadata={"description": "CSV only (XLSX has every table as a sheet): which table to download."},
    )


class GapListSchema(Schema):
    gaps = fields.List(fields.Nested(RefSchema), required=True, metadata={"description": "Leaves nothing maps to."})
    taught_not_assessed = fields.List(
        fields.Nested(RefSchema), required=True, metadata={"description": "Leaves mapped, never at depth assessed."}
    )


def gap_list_dict(gaps: GapList) -> dict[str, Any]:
    return {"gaps": [_ref(i) for i in gaps.gaps], "taught_not_assessed": [_ref(i) for i in gaps.taught_not_assessed]}


class TargetSchema(Schema):
    kind = fields.String(required=True)
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    course = fields.String(required=True)
    depth = fields.String(required=True)
    item_id = fields.UUID(required=True)
    item_code = fields.String(allow_none=True)


def _counts(counts: dict[str, int]) -> dict[str, int]:
    return {d: counts.get(d, 0) for d in DEPTHS}


def _ref(item: Any) -> dict[str, Any]:
    return {"id": item.id, "code": item.code, "statement": item.abbreviated_statement or item.full_statement}


def coverage_dict(report: CoverageReport) -> dict[str, Any]:
    matrix = None
    if report.matrix:
        matrix = {
            "rows": [_ref(r) for r in report.matrix.rows],
            "columns": [_ref(c) for c in report.matrix.columns],
            "cells": [
                {
                    "row_id": row_id,
                    "column_id": column_id,
                    "items": cell.items,
                    "covered": cell.covered,
                    "counts": _counts(cell.counts),
                    "deepest": cell.deepest,
                }
                for (row_id, column_id), cell in report.matrix.cells.items()
            ],
        }
    return {
        "programme_id": report.programme.id,
        "framework_id": report.framework.id,
        "framework_title": report.framework.title,
        "levels": [
            {
                "level": level.level,
                "item_types": level.item_types,
                "total": level.total,
                "covered": level.covered,
                "assessed": level.assessed,
                "percent_covered": level.percent_covered,
                "percent_assessed": level.percent_assessed,
            }
            for level in report.levels
        ],
        "items": [
            {
                "id": entry.item.id,
                "code": entry.item.code,
                "item_type": entry.item.item_type,
                "statement": entry.item.abbreviated_statement or entry.item.full_statement,
                "level": entry.level,
                "parent_id": entry.item.parent_id,
                "stage": entry.item.stage,
                "direct": _counts(entry.direct),
                "rolled": _counts(entry.rolled),
                "deepest": entry.deepest,
                "covered": entry.covered,
                "assessed": entry.assessed,
                "implied": [
                    {
                        "via_item_id": link.via.id,
                        "via_code": link.via.code,
                        "via_framework_id": link.via.framework_id,
                        "association_type": link.association_type,
                        "provenance": link.provenance,
                        "direction": link.direction,
                        "counts": _counts(link.counts),
                        "also_association_types": link.also,
                    }
                    for link in report.implied.get(entry.item.id, [])
                ],
            }
            for entry in report.items
        ],
        "gaps": [e.item.id for e in report.gaps],
        "taught_not_assessed": [e.item.id for e in report.taught_not_assessed],
        "matrix": matrix,
        "stages": [
            {"stage": s.stage, "total": s.total, "covered": s.covered, "counts": _counts(s.counts)}
            for s in report.stages
        ],
        "implied_provenances": sorted(report.implied_provenances),
    }


def target_dict(target: MappedTarget) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "id": target.target_id,
        "title": target.title,
        "course": target.course_title,
        "depth": target.depth,
        "item_id": target.item.id,
        "item_code": target.item.code,
    }


class EvidenceArgsSchema(Schema):
    framework = fields.UUID(required=True, metadata={"description": "The framework to measure against."})
    course = fields.UUID(load_default=None, metadata={"description": "Only evidence from this course's activities."})
    since = fields.AwareDateTime(load_default=None, metadata={"description": "Only evidence from this time on."})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "Only evidence up to this time."})
    cohort = fields.UUID(
        load_default=None, metadata={"description": "Only this cohort's learners (all of them, evidence or not)."}
    )

    @validates_schema
    def dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("since must not be after until.", "since")


class CohortArgsSchema(EvidenceArgsSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000_000))
    page_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class CohortColumnSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    statement = fields.String(required=True)
    items = fields.Integer(required=True)


class CohortRowSchema(Schema):
    learner_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    evidenced = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Top-level item id → items evidenced under it."},
    )
    achieved = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Top-level item id → items achieved under it."},
    )
    carried = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Top-level item id → items under it with evidence only from another version of the "
            "framework (carried through the links between the versions; not in ``evidenced``)."
        },
    )


class CarriedLinkSchema(Schema):
    """An item of this framework showing evidence recorded against an item of another version."""

    item_id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    carried_from = fields.String(
        required=True,
        metadata={"description": "The item it was recorded against, with its version: KSS-PS.7.3 (2015)."},
    )
    via_item_id = fields.UUID(required=True)
    via_code = fields.String(allow_none=True)
    via_framework_id = fields.UUID(required=True)
    via_framework_version = fields.String(allow_none=True)
    association_type = fields.String(required=True)
    provenance = fields.String(required=True, metadata={"description": "published or confirmed: the links that carry."})
    also_association_types = fields.List(
        fields.String(), required=True, metadata={"description": "Other links joining the two items; counted once."}
    )


class CarriedRateSchema(CarriedLinkSchema):
    learners = fields.Integer(
        required=True,
        metadata={"description": "Learners (of the filtered population) with evidence for the other item."},
    )


class CarriedCompletionSchema(CarriedLinkSchema):
    activity = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    outcome = fields.String(required=True)
    score_scaled = fields.Float(allow_none=True)


class ItemRateSchema(Schema):
    item_id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    learners = fields.Integer(required=True, metadata={"description": "Learners with evidence for the item."})
    percent = fields.Float(required=True)
    achieved_learners = fields.Integer(
        allow_none=True,
        metadata={"description": "Learners who achieved the item; null when no activity assesses it."},
    )
    achieved_percent = fields.Float(allow_none=True)


class CohortHeatMapSchema(Schema):
    learner_total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    columns = fields.List(fields.Nested(CohortColumnSchema), required=True)
    rows = fields.List(fields.Nested(CohortRowSchema), required=True)
    item_rates = fields.List(fields.Nested(ItemRateSchema), required=True)
    carried = fields.List(
        fields.Nested(CarriedRateSchema),
        required=True,
        metadata={
            "description": "Evidence recorded against other versions of the framework, shown on the items it links "
            "to through published and confirmed links; never in ``item_rates``."
        },
    )


class EvidenceSchema(Schema):
    item_id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    activity = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    outcome = fields.String(required=True)
    score_scaled = fields.Float(allow_none=True)


class AchievedItemSchema(Schema):
    item_id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    statement = fields.String(required=True)
    attained_at = fields.DateTime(required=True)
    evidence = fields.List(
        fields.String(), required=True, metadata={"description": "The assessed activities passed for it."}
    )


class PendingItemSchema(Schema):
    item_id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    statement = fields.String(required=True)
    missing = fields.List(
        fields.String(), required=True, metadata={"description": "Assessed activities still to pass."}
    )
    done = fields.List(fields.String(), required=True, metadata={"description": "Assessed activities passed."})


class LearnerEvidenceSchema(Schema):
    learner_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)
    carried = fields.List(
        fields.Nested(CarriedCompletionSchema),
        required=True,
        metadata={
            "description": "Evidence recorded against other versions of the framework, on the items it links to "
            "through published and confirmed links; not in ``evidence`` nor in ``open_items``' reckoning."
        },
    )
    open_items = fields.List(fields.Nested(RefSchema), required=True)
    achieved = fields.List(fields.Nested(AchievedItemSchema), required=True)
    pending = fields.List(fields.Nested(PendingItemSchema), required=True)


class CohortExportArgsSchema(EvidenceArgsSchema):
    table = fields.String(
        load_default="heatmap",
        validate=validate.OneOf(["heatmap", "rates", "attainments"]),
        metadata={"description": "The table a CSV holds (XLSX holds them all)."},
    )


class LearnerExportArgsSchema(EvidenceArgsSchema):
    table = fields.String(
        load_default="achieved",
        validate=validate.OneOf(["achieved", "pending", "evidence", "open"]),
        metadata={"description": "The table a CSV holds (XLSX holds them all)."},
    )


def cohort_dict(report: Any, cohort: Any, page: int) -> dict[str, Any]:
    return {
        "learner_total": cohort.learner_total,
        "page": page,
        "columns": [{**_ref(c), "items": cohort.column_sizes.get(c.id, 0)} for c in cohort.columns],
        "rows": [
            {
                "learner_id": r.learner.id,
                "name": r.name,
                "evidenced": {str(k): v for k, v in r.evidenced.items()},
                "achieved": {str(k): v for k, v in r.achieved.items()},
                "carried": {str(k): v for k, v in r.carried.items()},
            }
            for r in cohort.rows
        ],
        "carried": [{**carried_link_dict(r.link), "learners": r.learners} for r in cohort.carried],
        "item_rates": [
            {
                "item_id": entry.item.id,
                "code": entry.item.code,
                "learners": cohort.item_learners.get(entry.item.id, 0),
                "percent": cohort.rate(entry.item.id),
                "achieved_learners": cohort.item_achievers.get(entry.item.id, 0)
                if entry.item.id in cohort.achievable
                else None,
                "achieved_percent": cohort.achieved_rate(entry.item.id) if entry.item.id in cohort.achievable else None,
            }
            for entry in report.items
        ],
    }


def carried_link_dict(link: CarriedLink) -> dict[str, Any]:
    return {
        "item_id": link.item.id,
        "code": link.item.code,
        "carried_from": code_label(link.via, link.via_framework),
        "via_item_id": link.via.id,
        "via_code": link.via.code,
        "via_framework_id": link.via_framework.id,
        "via_framework_version": link.via_framework.version,
        "association_type": link.association_type,
        "provenance": link.provenance,
        "also_association_types": list(link.also),
    }


def carried_evidence_dict(row: CarriedEvidence) -> dict[str, Any]:
    return {
        **carried_link_dict(row.link),
        "activity": row.activity_title,
        "occurred_at": row.occurred_at,
        "outcome": row.outcome,
        "score_scaled": row.score_scaled,
    }
