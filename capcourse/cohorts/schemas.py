"""Request and response shapes of the cohorts API."""

from __future__ import annotations

import csv
import io
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from capcourse.cohorts.services import MAX_LEARNERS_PER_CALL, CohortSummary
from capcourse.errors import InvalidInputError
from capcourse.records.models import Learner
from capcourse.records.schemas import LearnerSchema, learner_agent


class CohortCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=2000))


class CohortSchema(Schema):
    id = fields.UUID(required=True)
    programme_id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    learners = fields.Integer(required=True, metadata={"description": "How many learners are in it."})
    created_by = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class CohortLearnerSchema(Schema):
    learner_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    agent = fields.Dict(required=True, metadata={"description": "The learner as an xAPI agent (mbox or account)."})


class LearnersAddSchema(Schema):
    learners = fields.List(
        fields.Nested(LearnerSchema), required=True, validate=validate.Length(min=1, max=MAX_LEARNERS_PER_CALL)
    )


class LearnersAddedSchema(Schema):
    added = fields.List(fields.Nested(CohortLearnerSchema), required=True)
    already = fields.List(
        fields.Nested(CohortLearnerSchema), required=True, metadata={"description": "Already in the cohort."}
    )


def cohort_dict(summary: CohortSummary) -> dict[str, Any]:
    cohort = summary.cohort
    return {
        "id": cohort.id,
        "programme_id": cohort.programme_id,
        "name": cohort.name,
        "description": cohort.description,
        "learners": summary.learners,
        "created_by": cohort.created_by,
        "created_at": cohort.created_at,
    }


def learner_dict(learner: Learner, name: str | None) -> dict[str, Any]:
    """A learner as their programme knows them: ``name`` is the programme's, in the agent too."""
    agent = {k: v for k, v in learner.agent.items() if k != "name"}
    if name:
        agent["name"] = name
    return {"learner_id": learner.id, "name": name, "agent": agent}


def parse_learner_lines(text: str) -> list[dict[str, Any]]:
    """Learners from pasted lines or a CSV file: ``email[,name]`` per line, a header line allowed.

    :raises InvalidInputError: naming every line that is not an email address.
    """
    agents, problems = [], {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or (number == 1 and cells[0].lower() == "email"):
            continue
        try:
            fields = LearnerSchema().load(
                {"email": cells[0], "name": cells[1] if len(cells) > 1 and cells[1] else None}
            )
        except ValidationError:
            problems[str(number)] = [f"{cells[0]!r} is not an email address."]
            continue
        agents.append(learner_agent(fields))
    if problems:
        raise InvalidInputError(
            f"{len(problems)} line(s) are not learners: line {', '.join(problems)}. Nothing was added.",
            {"lines": problems},
        )
    if not agents:
        raise InvalidInputError("No learners given: one email address per line.", {"lines": ["Empty."]})
    return agents
