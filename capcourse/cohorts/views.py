"""Cohorts API: ``/api/v1/programmes/{id}/cohorts`` and ``/api/v1/cohorts/{id}``."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts import access
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.api import AUTH_DOC, select_pager
from capcourse.cohorts import services
from capcourse.cohorts.names import names_in
from capcourse.cohorts.schemas import (
    CohortCreateSchema,
    CohortLearnerSchema,
    CohortSchema,
    LearnersAddedSchema,
    LearnersAddSchema,
    cohort_dict,
    learner_dict,
)
from capcourse.extensions import db
from capcourse.records.schemas import learner_agent

blp = Blueprint("cohorts", __name__, url_prefix="/api/v1", description="Cohorts: named groups of learners.")


@blp.route("/programmes/<uuid:programme_id>/cohorts")
class Cohorts(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, CohortSchema(many=True))
    def get(self, programme_id: uuid.UUID) -> Any:
        """The programme's cohorts, with how many learners each has."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        return [cohort_dict(s) for s in services.list_cohorts(db.session(), principal, programme)]

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(CohortCreateSchema)
    @blp.response(201, CohortSchema)
    def post(self, body: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Create a cohort (the programme's leads and admins)."""
        principal = current_principal()
        programme = access.programme_for_read(db.session(), principal, programme_id)
        cohort = services.create_cohort(db.session(), principal, programme, body["name"], body["description"])
        db.session.commit()
        return cohort_dict(services.CohortSummary(cohort, 0))


@blp.route("/cohorts/<uuid:cohort_id>")
class CohortDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, CohortSchema)
    def get(self, cohort_id: uuid.UUID) -> Any:
        """A cohort."""
        cohort = services.cohort_for_read(db.session(), current_principal(), cohort_id)
        return cohort_dict(services.cohort_summary(db.session(), cohort))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(204)
    def delete(self, cohort_id: uuid.UUID) -> None:
        """Remove a cohort; its learners and their records stay (the programme's leads and admins)."""
        principal = current_principal()
        services.delete_cohort(db.session(), principal, services.cohort_for_read(db.session(), principal, cohort_id))
        db.session.commit()


@blp.route("/cohorts/<uuid:cohort_id>/learners")
class CohortLearners(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, CohortLearnerSchema(many=True))
    @blp.paginate(select_pager(lambda row: learner_dict(row[0], row[1]), rows=True))
    def get(self, cohort_id: uuid.UUID) -> Any:
        """The cohort's learners by the names the programme knows them by (paged; totals in ``X-Pagination``)."""
        return services.members_query(services.cohort_for_read(db.session(), current_principal(), cohort_id))

    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(LearnersAddSchema)
    @blp.response(200, LearnersAddedSchema)
    def post(self, body: dict[str, Any], cohort_id: uuid.UUID) -> Any:
        """Add learners by email or LMS account (all or nothing; ones already in it are reported, not refused)."""
        principal = current_principal()
        cohort = services.cohort_for_read(db.session(), principal, cohort_id)
        result = services.add_learners(db.session(), principal, cohort, [learner_agent(lr) for lr in body["learners"]])
        db.session.commit()
        names = names_in(db.session(), cohort.programme_id, [*result.added, *result.already])
        return {
            "added": [learner_dict(lr, names[lr.id]) for lr in result.added],
            "already": [learner_dict(lr, names[lr.id]) for lr in result.already],
        }


@blp.route("/cohorts/<uuid:cohort_id>/learners/<int:learner_id>")
class CohortLearner(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(204)
    def delete(self, cohort_id: uuid.UUID, learner_id: int) -> None:
        """Take a learner out of the cohort; their records stay."""
        principal = current_principal()
        cohort = services.cohort_for_read(db.session(), principal, cohort_id)
        services.remove_learner(db.session(), principal, cohort, learner_id)
        db.session.commit()
