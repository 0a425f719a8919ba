"""Cohort pages: list and create a programme's cohorts, add and remove their learners."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.accounts.pages import page_principal
from capcourse.catalogue.pages import FormError, allowed, load_form, refuse
from capcourse.cohorts import services
from capcourse.cohorts.schemas import CohortCreateSchema, parse_learner_lines
from capcourse.errors import CapcourseError
from capcourse.extensions import db

pages = Blueprint("cohort_pages", __name__)


def _cohorts_page(principal: Principal, programme_id: uuid.UUID) -> str:
    programme = access.programme_for_read(db.session(), principal, programme_id)
    return render_template(
        "cohorts/list.html",
        programme=programme,
        cohorts=services.list_cohorts(db.session(), principal, programme),
        can_manage=allowed(access.require_programme_manager, db.session(), principal, programme),
    )


@pages.get("/programmes/<uuid:programme_id>/cohorts")
@login_required
def cohort_list(programme_id: uuid.UUID) -> str:
    return _cohorts_page(page_principal(), programme_id)


@pages.post("/programmes/<uuid:programme_id>/cohorts")
@login_required
def cohort_create(programme_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    try:
        fields = load_form(
            CohortCreateSchema(),
            {
                "name": request.form.get("name", "").strip(),
                "description": request.form.get("description", "").strip() or None,
            },
        )
        cohort = services.create_cohort(db.session(), principal, programme, fields["name"], fields["description"])
    except (FormError, CapcourseError) as error:
        return refuse(error, lambda: _cohorts_page(principal, programme_id))
    db.session.commit()
    flash(f"Cohort {cohort.name!r} created: add its learners below.", "info")
    return redirect(url_for(".cohort_detail", cohort_id=cohort.id), 303)


def _cohort_page(principal: Principal, cohort_id: uuid.UUID) -> str:
    cohort = services.cohort_for_read(db.session(), principal, cohort_id)
    members: list[Any] = list(db.session.execute(services.members_query(cohort)))
    return render_template(
        "cohorts/detail.html",
        cohort=cohort,
        programme=cohort.programme,
        learners=[learner for learner, _ in members],
        names={learner.id: name for learner, name in members},
        can_manage=allowed(access.require_programme_manager, db.session(), principal, cohort.programme),
    )


@pages.get("/cohorts/<uuid:cohort_id>")
@login_required
def cohort_detail(cohort_id: uuid.UUID) -> str:
    return _cohort_page(page_principal(), cohort_id)


@pages.post("/cohorts/<uuid:cohort_id>/learners")
@login_required
def learners_add(cohort_id: uuid.UUID) -> Response | tuple[str, int]:
    principal = page_principal()
    cohort = services.cohort_for_read(db.session(), principal, cohort_id)
    try:
        result = services.add_learners(
            db.session(), principal, cohort, parse_learner_lines(request.form.get("learners", ""))
        )
    except CapcourseError as error:
        return refuse(error, lambda: _cohort_page(principal, cohort_id))
    db.session.commit()
    flash(f"Added {len(result.added)} learner(s); {len(result.already)} were in the cohort already.", "info")
    return redirect(url_for(".cohort_detail", cohort_id=cohort.id), 303)


@pages.post("/cohorts/<uuid:cohort_id>/learners/<int:learner_id>/remove")
@login_required
def learner_remove(cohort_id: uuid.UUID, learner_id: int) -> Response | tuple[str, int]:
    principal = page_principal()
    cohort = services.cohort_for_read(db.session(), principal, cohort_id)
    try:
        services.remove_learner(db.session(), principal, cohort, learner_id)
    except CapcourseError as error:
        return refuse(error, lambda: _cohort_page(principal, cohort_id))
    db.session.commit()
    flash("Learner taken out of the cohort; their records stay.", "info")
    return redirect(url_for(".cohort_detail", cohort_id=cohort.id), 303)
