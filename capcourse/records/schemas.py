"""Request and response shapes of the completions API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

import xapi
from capcourse.records.models import Outcome

MAX_BATCH = 1000


class LearnerSchema(Schema):
    email = fields.Email(load_default=None)
    account_home_page = fields.Url(load_default=None, metadata={"description": "The LMS's address."})
    account_name = fields.String(load_default=None, validate=validate.Length(min=1, max=300))
    name = fields.String(load_default=None, validate=validate.Length(max=300))

    @validates_schema
    def one_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        has_account = bool(data.get("account_home_page") and data.get("account_name"))
        if bool(data.get("email")) == has_account:
            raise ValidationError("Give the learner's email, or account_home_page and account_name (one of them).")


def learner_agent(learner: dict[str, Any]) -> dict[str, Any]:
    """The xAPI agent of a learner as :class:`LearnerSchema` loaded it."""
    if learner.get("email"):
        return xapi.agent_from_email(learner["email"], learner.get("name"))
    return xapi.agent_from_account(learner["account_home_page"], learner["account_name"], learner.get("name"))


class CompletionInSchema(Schema):
    learner = fields.Nested(LearnerSchema, required=True)
    activity = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "The activity's capcourse IRI, or an external id it carries (LMS activity IRI …)."},
    )
    outcome = fields.String(required=True, validate=validate.OneOf([o.value for o in Outcome]))
    success = fields.Boolean(load_default=None)
    score_scaled = fields.Float(load_default=None, validate=validate.Range(min=-1, max=1))
    score_raw = fields.Float(load_default=None)
    score_min = fields.Float(load_default=None)
    score_max = fields.Float(load_default=None)
    duration_seconds = fields.Float(load_default=None, validate=validate.Range(min=0))
    timestamp = fields.AwareDateTime(required=True, metadata={"description": "When it happened, with time zone."})
    idempotency_key = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=250),
        metadata={
            "description": "Resends with the same key are recorded once. Defaults to learner+activity+timestamp."
        },
    )
    registration = fields.UUID(load_default=None)

    @validates_schema
    def score_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high, raw = data.get("score_min"), data.get("score_max"), data.get("score_raw")
        if low is not None and high is not None and low >= high:
            raise ValidationError("score_min must be less than score_max.", "score_min")
        if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
            raise ValidationError("score_raw must lie between score_min and score_max.", "score_raw")


class CompletionBatchSchema(Schema):
    completions = fields.List(
        fields.Nested(CompletionInSchema), required=True, validate=validate.Length(min=1, max=MAX_BATCH)
    )


class CompletionOutcomeSchema(Schema):
    index = fields.Integer(required=True)
    status = fields.String(
        required=True, metadata={"description": "recorded, duplicate, or pending (no activity has this id yet)."}
    )
    completion_ids = fields.List(fields.UUID(), required=True)
    statement_ids = fields.List(fields.UUID(), required=True)


class CompletionBatchResultSchema(Schema):
    results = fields.List(fields.Nested(CompletionOutcomeSchema), required=True)


class PendingSchema(Schema):
    activity = fields.String(required=True)
    records = fields.Integer(required=True)
