"""Request and response shapes of the suggestion API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.frameworks.schemas import ItemRefSchema, item_ref
from capcourse.mapping.models import Depth
from capcourse.suggest.models import Decision, Kind, SuggestionDecision
from capcourse.suggest.services import DEFAULT_LIMIT, MAX_EXTRA_TEXT, MAX_LIMIT, Suggestion

LIMIT = fields.Integer(
    load_default=DEFAULT_LIMIT,
    validate=validate.Range(1, MAX_LIMIT),
    metadata={"description": f"How many suggestions, 1 to {MAX_LIMIT}."},
)


class SuggestionSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1 for the best."})
    score = fields.Float(
        required=True,
        metadata={"description": "Text score scaled so the best text match is 1, moved by earlier decisions."},
    )
    item = fields.Nested(ItemRefSchema, required=True)
    matched = fields.List(fields.String(), required=True, metadata={"description": "The item's words the text shares."})
    boosted = fields.Boolean(required=True, metadata={"description": "Raised: confirmed before for similar text."})
    lowered = fields.Boolean(required=True, metadata={"description": "Lowered: rejected before for similar text."})
    why = fields.String(required=True)
    linked = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Equivalents: types of the associations that already link the two items."},
    )


def suggestion_dict(suggestion: Suggestion, base_url: str) -> dict[str, Any]:
    item = suggestion.item
    return {
        "rank": suggestion.rank,
        "score": suggestion.score,
        "item": item_ref(item, base_url),
        "matched": suggestion.matched,
        "boosted": suggestion.boosted,
        "lowered": suggestion.lowered,
        "why": suggestion.why,
        "linked": suggestion.linked,
    }


class EquivalentArgsSchema(Schema):
    framework_id = fields.UUID(required=True, metadata={"description": "The framework to find equivalents in."})
    item_type = fields.String(
        validate=validate.Length(max=100), metadata={"description": "Only items of this type, e.g. Paragraph."}
    )
    limit = LIMIT


class LimitArgsSchema(Schema):
    limit = LIMIT


class TargetArgsSchema(Schema):
    limit = LIMIT
    framework_id = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Only items of these frameworks (default: the programme's)."},
    )


class TextQuerySchema(Schema):
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_EXTRA_TEXT),
        metadata={"description": "More text about the module or activity, such as a document's."},
    )
    limit = LIMIT
    framework_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50))


class ConfirmMappingSchema(Schema):
    item_id = fields.UUID(required=True)
    depth = fields.String(required=True, validate=validate.OneOf([d.value for d in Depth]))
    rank = fields.Integer(validate=validate.Range(1, MAX_LIMIT), metadata={"description": "Where it was offered."})
    score = fields.Float(validate=validate.Range(-100, 100))


class RejectSchema(Schema):
    item_id = fields.UUID(required=True)
    rank = fields.Integer(validate=validate.Range(1, MAX_LIMIT))
    score = fields.Float(validate=validate.Range(-100, 100))


class EquivalentDecisionSchema(Schema):
    item_id = fields.UUID(required=True, metadata={"description": "The suggested equivalent."})
    decision = fields.String(required=True, validate=validate.OneOf([d.value for d in Decision]))


class AreaDecisionSchema(Schema):
    area_id = fields.UUID(required=True)
    rationale = fields.String(validate=validate.Length(min=1, max=2000))


class DecisionArgsSchema(Schema):
    kind = fields.String(validate=validate.OneOf([k.value for k in Kind]))


class DecisionSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    subject_kind = fields.String(required=True)
    subject_id = fields.UUID(required=True)
    programme_id = fields.UUID(allow_none=True)
    item_id = fields.UUID(required=True)
    decision = fields.String(required=True)
    rank = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True)
    actor = fields.String(required=True)
    at = fields.DateTime(required=True)


def decision_dict(row: SuggestionDecision) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "subject_kind": row.subject_kind,
        "subject_id": row.subject_id,
        "programme_id": row.programme_id,
        "item_id": row.item_id,
        "decision": row.decision,
        "rank": row.rank,
        "score": row.score,
        "actor": row.actor,
        "at": row.at,
    }
