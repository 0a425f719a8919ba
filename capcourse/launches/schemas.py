"""Request and response shapes of the launches API and the run-time commit endpoint."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.launches.models import Launch
from capcourse.launches.services import BEARER_COMMIT_PATH, TERMINATE_PARAM, activity_iri, aware, commit_url
from capcourse.records.models import Completion
from capcourse.records.schemas import LearnerSchema


class LaunchCreateSchema(Schema):
    learner = fields.Nested(LearnerSchema, required=True)
    activity = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "The activity's capcourse IRI (…/activities/<id>), its id, or an external id it carries. "
            "Exactly one activity must match."
        },
    )
    passing_score = fields.Float(
        load_default=None,
        validate=validate.Range(min=0, max=1),
        metadata={
            "description": "Scaled 0–1 (the LMS's, or the package's mastery score ÷ 100); "
            "overrides the mastery score the player commits."
        },
    )
    registration = fields.UUID(
        load_default=None, metadata={"description": "The attempt's xAPI registration; a new one by default."}
    )


class LaunchCompletionSchema(Schema):
    id = fields.UUID(required=True)
    outcome = fields.String(required=True)
    success = fields.Boolean(allow_none=True)
    score_scaled = fields.Float(allow_none=True)
    score_raw = fields.Float(allow_none=True)
    duration_seconds = fields.Float(allow_none=True)
    occurred_at = fields.AwareDateTime(required=True)
    statement_id = fields.UUID(required=True)


class LaunchSchema(Schema):
    id = fields.UUID(required=True)
    programme_id = fields.UUID(required=True)
    activity_id = fields.UUID(required=True)
    activity = fields.String(required=True, metadata={"description": "The activity's IRI, as statements name it."})
    learner = fields.Dict(required=True, metadata={"description": "The learner as an xAPI agent."})
    registration = fields.UUID(required=True)
    passing_score = fields.Float(allow_none=True)
    created_by = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    expired = fields.Boolean(required=True)
    commits = fields.Integer(required=True, metadata={"description": "How many commits the player made."})
    last_commit_at = fields.AwareDateTime(allow_none=True)
    outcome = fields.String(
        allow_none=True, metadata={"description": "passed, failed or completed as of the last commit; null before."}
    )
    last_data = fields.Dict(
        allow_none=True,
        metadata={"description": "The last commit's run-time data, normalised (SCORM 2004 vocabulary), for support."},
    )
    completions = fields.List(
        fields.Nested(LaunchCompletionSchema),
        required=True,
        metadata={"description": "Completions the launch recorded: one per outcome at most."},
    )


class ScormAgainSettingsSchema(Schema):
    lmsCommitUrl = fields.String(required=True)  # noqa: N815 - scorm-again's setting names
    dataCommitFormat = fields.String(required=True)  # noqa: N815
    autocommit = fields.Boolean(required=True)
    autocommitSeconds = fields.Integer(required=True)  # noqa: N815
    autoCompleteLessonStatus = fields.Boolean(  # noqa: N815
        required=True, metadata={"description": "SCORM 1.2: a SCO that finishes without a lesson_status completed it."}
    )
    terminateCommitParam = fields.String(  # noqa: N815
        required=True,
        metadata={
            "description": "The query parameter scorm-again sets to true on the commit it sends on LMSFinish / "
            "Terminate, so capcourse knows the SCO finished."
        },
    )


class NewLaunchSchema(LaunchSchema):
    token = fields.String(
        required=True,
        metadata={"description": "Shown once: authenticates the player's commits (Bearer, or in commit_url)."},
    )
    commit_url = fields.String(
        required=True, metadata={"description": "Where the player commits; the token is in it, so no header is needed."}
    )
    bearer_commit_url = fields.String(
        required=True,
        metadata={"description": "Where a player that sends 'Authorization: Bearer <token>' may commit instead."},
    )
    scorm_again = fields.Nested(
        ScormAgainSettingsSchema,
        required=True,
        metadata={"description": "Settings for scorm-again's Scorm12API / Scorm2004API constructor."},
    )


class CommitResultSchema(Schema):
    result = fields.Boolean(
        required=True, metadata={"description": "true: the answer scorm-again's response handlers take as success."}
    )
    errorCode = fields.Integer(required=True, metadata={"description": "0 (no SCORM error)."})  # noqa: N815
    launch_id = fields.UUID(required=True)
    completion_status = fields.String(required=True)
    success_status = fields.String(required=True)
    outcome = fields.String(allow_none=True, metadata={"description": "passed, failed, completed, or null."})
    recorded = fields.Boolean(required=True, metadata={"description": "This commit recorded a new completion."})
    not_counted = fields.String(
        allow_none=True,
        metadata={"description": "no-credit, browse or review: the attempt does not count, nothing was recorded."},
    )
    completion_id = fields.UUID(allow_none=True)
    statement_id = fields.UUID(allow_none=True)


def completion_dict(completion: Completion) -> dict[str, Any]:
    """What :class:`LaunchCompletionSchema` dumps."""
    return {
        "id": completion.id,
        "outcome": completion.outcome,
        "success": completion.success,
        "score_scaled": completion.score_scaled,
        "score_raw": completion.score_raw,
        "duration_seconds": completion.duration_seconds,
        "occurred_at": aware(completion.occurred_at),
        "statement_id": completion.statement_id,
    }


def launch_dict(launch: Launch, completions: list[Completion], base_url: str, expired: bool) -> dict[str, Any]:
    """What :class:`LaunchSchema` dumps: the launch's status, never its token."""
    data = launch.last_data or {}
    return {
        "id": launch.id,
        "programme_id": launch.programme_id,
        "activity_id": launch.activity_id,
        "activity": activity_iri(base_url, launch.activity_id),
        "learner": launch.learner.agent,
        "registration": launch.registration,
        "passing_score": launch.passing_score,
        "created_by": launch.created_by,
        "created_at": aware(launch.created_at),
        "expires_at": aware(launch.expires_at),
        "expired": expired,
        "commits": launch.commits,
        "last_commit_at": aware(launch.last_commit_at) if launch.last_commit_at else None,
        "outcome": data.get("outcome"),
        "last_data": launch.last_data,
        "completions": [completion_dict(c) for c in completions],
    }


def new_launch_dict(launch: Launch, token: str, base_url: str) -> dict[str, Any]:
    """What :class:`NewLaunchSchema` dumps: the new launch with its token, commit URLs and scorm-again settings."""
    url = commit_url(base_url, token)
    return {
        **launch_dict(launch, [], base_url, expired=False),
        "token": token,
        "commit_url": url,
        "bearer_commit_url": base_url + BEARER_COMMIT_PATH,
        # The capability URL, not the Bearer one: scorm-again sends the final commit
        # (Terminate / LMSFinish) with navigator.sendBeacon, which cannot set headers.
        # autoCompleteLessonStatus: SCORM 1.2's rule that a SCO which finishes without setting
        # cmi.core.lesson_status is completed (scorm-again's default says incomplete). scorm-again 3.4
        # applies it only when the status was empty at LMSInitialize, and it is "not attempted" there, so
        # terminateCommitParam marks the finishing commit (?terminate=true) and capcourse applies the rule.
        "scorm_again": {
            "lmsCommitUrl": url,
            "dataCommitFormat": "json",
            "autocommit": True,
            "autocommitSeconds": 60,
            "autoCompleteLessonStatus": True,
            "terminateCommitParam": TERMINATE_PARAM,
        },
    }
