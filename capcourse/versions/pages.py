"""Web pages of framework versions: choose a move, review its drift report, apply it, see past moves."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.pages import page_principal
from capcourse.catalogue.models import Programme
from capcourse.catalogue.pages import allowed, refuse
from capcourse.errors import CapcourseError, InvalidInputError
from capcourse.extensions import db
from capcourse.frameworks.models import Framework
from capcourse.frameworks.services import get_framework
from capcourse.versions import services

pages = Blueprint("version_pages", __name__)


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError as error:
        raise InvalidInputError(f"Choose the {field} version.", {field: ["Not an identifier."]}) from error


def _pair(values: dict[str, str]) -> tuple[Framework, Framework]:
    session = db.session()
    return get_framework(session, _uuid(values.get("from"), "from")), get_framework(
        session, _uuid(values.get("to"), "to")
    )


@pages.get("/programmes/<uuid:programme_id>/versions")
@login_required
def versions(programme_id: uuid.UUID) -> str:
    session = db.session()
    programme = access.programme_for_read(session, page_principal(), programme_id)
    carried = {f.id: rows for f in programme.frameworks if (rows := services.carried_evidence(session, programme, f))}
    return render_template(
        "versions/index.html",
        programme=programme,
        choices=services.targets_in_programme(session, programme),
        moves=services.moves_of(session, programme),
        carried=carried,
        label=services.framework_label,
        code_label=services.code_label,
    )


def _drift_page(programme: Programme, source: Framework, target: Framework) -> str:
    session = db.session()
    principal = page_principal()
    report = services.drift_report(session, principal, programme, source, target)
    return render_template(
        "versions/drift.html",
        programme=programme,
        report=report,
        can_apply=allowed(access.require_programme_manager, session, principal, programme),
        label=services.framework_label,
        code_label=services.code_label,
        default=services.default_decision,
    )


@pages.get("/programmes/<uuid:programme_id>/versions/drift")
@login_required
def drift(programme_id: uuid.UUID) -> str:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    source, target = _pair(dict(request.args))
    return _drift_page(programme, source, target)


def _decisions(report: services.DriftReport) -> list[services.Decision]:
    """One decision per row of the form: the action chosen, and the items ticked or added."""
    decisions = []
    for entry in report.entries:
        key = str(entry.mapping.id)
        if f"action-{key}" not in request.form:
            decisions.append(services.default_decision(entry))  # a row the form did not show (or a script)
            continue
        action = request.form[f"action-{key}"]
        chosen = request.form.getlist(f"items-{key}") + [v for v in [request.form.get(f"add-{key}", "")] if v]
        try:
            item_ids = tuple(dict.fromkeys(uuid.UUID(v) for v in chosen))
        except ValueError as error:
            raise InvalidInputError("The form sent something that is not an item identifier.") from error
        decisions.append(
            services.Decision(entry.mapping.id, action, item_ids if action == services.Action.MOVE else ())
        )
    return decisions


@pages.post("/programmes/<uuid:programme_id>/versions/drift")
@login_required
def apply(programme_id: uuid.UUID) -> Response | tuple[str, int]:
    session = db.session()
    principal = page_principal()
    programme = access.programme_for_read(session, principal, programme_id)
    source, target = _pair(dict(request.form))
    try:
        if request.form.get("confirm") != "yes":
            raise InvalidInputError("Tick the confirmation to apply the moves; nothing was changed.")
        report = services.drift_report(session, principal, programme, source, target)
        move = services.apply_drift(
            session, principal, programme, source, target, request.form.get("confirm_token"), _decisions(report)
        )
    except CapcourseError as error:
        return refuse(error, lambda: _drift_page(programme, source, target))
    session.commit()
    summary = move.summary
    flash(
        f"Moved {summary['moved']} mapping{'s' if summary['moved'] != 1 else ''} from {move.from_label} to "
        f"{move.to_label} ({summary['created']} created, {summary['kept']} kept on the older version, "
        f"{summary['dropped']} removed). Learner evidence stays as it was recorded.",
        "info",
    )
    return redirect(url_for("version_pages.versions", programme_id=programme_id), 303)
