"""Request and response shapes of the versions API: drift reports, their application, carried evidence."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.frameworks.models import Framework, Item
from capcourse.versions.models import VersionMove
from capcourse.versions.services import (
    Action,
    CarriedEvidence,
    Change,
    DriftEntry,
    DriftReport,
    Proposal,
    code_label,
    framework_label,
)

MAX_DECISIONS = 5000


class DriftArgsSchema(Schema):
    source = fields.UUID(
        required=True, data_key="from", metadata={"description": "The version the programme maps to now."}
    )
    target = fields.UUID(required=True, data_key="to", metadata={"description": "The version to move it to."})


class DriftDecisionSchema(Schema):
    mapping_id = fields.UUID(required=True)
    action = fields.String(
        required=True,
        validate=validate.OneOf(Action.ALL),
        metadata={"description": "move (to item_ids), keep (leave it on the older version) or drop (remove it)."},
    )
    item_ids = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "For move: items of the newer version (the proposals, or others)."},
    )


class DriftApplySchema(Schema):
    source = fields.UUID(required=True, data_key="from")
    target = fields.UUID(required=True, data_key="to")
    confirm_token = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "The confirm_token of the drift report that was reviewed."},
    )
    decisions = fields.List(
        fields.Nested(DriftDecisionSchema),
        load_default=list,
        validate=validate.Length(max=MAX_DECISIONS),
        metadata={
            "description": "Edits of the proposals; a mapping without a decision takes its proposal "
            "(or is kept on the older version when its item has no successor)."
        },
    )


class DriftItemSchema(Schema):
    id = fields.UUID(required=True)
    code = fields.String(allow_none=True)
    label = fields.String(
        required=True, metadata={"description": "The code with its framework's version: KSS-PS.7.3 (2015)."}
    )
    full_statement = fields.String(required=True)
    framework_id = fields.UUID(required=True)
    framework_version = fields.String(allow_none=True)


class DriftFrameworkSchema(Schema):
    id = fields.UUID(required=True)
    key = fields.String(required=True)
    title = fields.String(required=True)
    version = fields.String(allow_none=True)
    label = fields.String(required=True)


class DriftProposalSchema(Schema):
    item = fields.Nested(DriftItemSchema, required=True)
    association_type = fields.String(required=True)
    provenance = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": "The association's own note: why the link exists."})
    also_association_types = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Other links joining the same two items (exactMatchOf beside replacedBy)."},
    )


class DriftEntrySchema(Schema):
    mapping_id = fields.UUID(required=True)
    mapping_version = fields.Integer(required=True)
    target_kind = fields.String(required=True, metadata={"description": "module or activity"})
    target_id = fields.UUID(required=True)
    target_title = fields.String(required=True)
    course_title = fields.String(required=True)
    depth = fields.String(required=True)
    item = fields.Nested(DriftItemSchema, required=True)
    change = fields.String(required=True, metadata={"description": ", ".join(Change.ALL)})
    summary = fields.String(required=True)
    proposals = fields.List(fields.Nested(DriftProposalSchema), required=True)
    already_mapped = fields.List(fields.UUID(), required=True)


class DriftReportSchema(Schema):
    programme_id = fields.UUID(required=True)
    source = fields.Nested(DriftFrameworkSchema, required=True, data_key="from")
    target = fields.Nested(DriftFrameworkSchema, required=True, data_key="to")
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    entries = fields.List(fields.Nested(DriftEntrySchema), required=True)
    confirm_token = fields.String(required=True, metadata={"description": "Send it back to apply this report."})


class VersionMoveSchema(Schema):
    id = fields.UUID(required=True)
    programme_id = fields.UUID(required=True)
    from_framework_id = fields.UUID(required=True)
    to_framework_id = fields.UUID(required=True)
    from_label = fields.String(required=True)
    to_label = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.DateTime(required=True)
    summary = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class CarriedArgsSchema(Schema):
    framework = fields.UUID(required=True)


class CarriedEvidenceSchema(Schema):
    item = fields.Nested(DriftItemSchema, required=True)
    via = fields.Nested(
        DriftItemSchema,
        required=True,
        metadata={"description": "The item of the other version the evidence was recorded against."},
    )
    association_type = fields.String(required=True)
    provenance = fields.String(required=True, metadata={"description": "published or confirmed: the links that carry."})
    also_association_types = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Other links joining the same two items; the evidence counts once."},
    )
    learners = fields.Integer(required=True)
    completions = fields.Integer(required=True)


def item_dict(item: Item, framework: Framework | None = None) -> dict[str, Any]:
    framework = framework or item.framework
    return {
        "id": item.id,
        "code": item.code,
        "label": code_label(item, framework),
        "full_statement": item.full_statement,
        "framework_id": framework.id,
        "framework_version": framework.version,
    }


def framework_dict(framework: Framework) -> dict[str, Any]:
    return {
        "id": framework.id,
        "key": framework.key,
        "title": framework.title,
        "version": framework.version,
        "label": framework_label(framework),
    }


def _proposal_dict(proposal: Proposal, framework: Framework) -> dict[str, Any]:
    return {
        "item": item_dict(proposal.item, framework),
        "association_type": proposal.association_type,
        "provenance": proposal.provenance,
        "reason": proposal.reason,
        "also_association_types": list(proposal.also),
    }


def _entry_dict(entry: DriftEntry, report: DriftReport) -> dict[str, Any]:
    mapping = entry.mapping
    return {
        "mapping_id": mapping.id,
        "mapping_version": mapping.version,
        "target_kind": entry.target_kind,
        "target_id": mapping.module_id or mapping.activity_id,
        "target_title": entry.target_title,
        "course_title": entry.course_title,
        "depth": mapping.depth,
        "item": item_dict(entry.item, report.source),
        "change": entry.change,
        "summary": entry.summary,
        "proposals": [_proposal_dict(p, report.target) for p in entry.proposals],
        "already_mapped": sorted(entry.already_mapped, key=str),
    }


def report_dict(report: DriftReport) -> dict[str, Any]:
    return {
        "programme_id": report.programme.id,
        "source": framework_dict(report.source),
        "target": framework_dict(report.target),
        "counts": report.counts,
        "entries": [_entry_dict(e, report) for e in report.entries],
        "confirm_token": report.confirm_token,
    }


def move_dict(move: VersionMove) -> dict[str, Any]:
    return {
        "id": move.id,
        "programme_id": move.programme_id,
        "from_framework_id": move.from_framework_id,
        "to_framework_id": move.to_framework_id,
        "from_label": move.from_label,
        "to_label": move.to_label,
        "actor": move.actor,
        "at": move.at,
        "summary": move.summary,
    }


def carried_dict(row: CarriedEvidence) -> dict[str, Any]:
    return {
        "item": item_dict(row.item),
        "via": item_dict(row.via, row.via_framework),
        "association_type": row.association_type,
        "provenance": row.provenance,
        "also_association_types": list(row.also),
        "learners": row.learners,
        "completions": row.completions,
    }
