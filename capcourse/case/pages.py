"""The admin page that imports a CASE package: upload or URL, the change report, then confirm."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from capcourse.accounts.models import Role
from capcourse.accounts.pages import page_principal
from capcourse.case.fetch import read_stream, too_large
from capcourse.case.importing import import_package, report
from capcourse.case.views import read_url
from capcourse.errors import CapcourseError
from capcourse.extensions import db

pages = Blueprint("case_pages", __name__)


def _admin_only() -> None:
    if current_user.role != Role.ADMIN:
        abort(403, "Only administrators import frameworks.")


def _limit() -> int:
    return int(current_app.config["CAPCOURSE_CASE_MAX_BYTES"])


def _form(error: CapcourseError | None = None, status: int = 200) -> tuple[str, int]:
    if error is not None:
        db.session.rollback()
        flash(error.message, "error")
    problems = (error.errors or {}) if error is not None else {}
    return render_template("case/import.html", problems=problems, url=request.form.get("url", "")), status


@pages.get("/case/import")
@login_required
def import_form() -> tuple[str, int]:
    _admin_only()
    return _form()


@pages.post("/case/import")
@login_required
def import_preview() -> tuple[str, int]:
    """Read the package and show what importing it would change; nothing is written yet."""
    _admin_only()
    upload = request.files.get("package")
    url = request.form.get("url", "").strip()
    try:
        if upload is not None and upload.filename:
            raw, source = read_stream(upload.stream, _limit()), upload.filename
        elif url:
            raw, source = read_url(url, _limit()), url
        else:
            flash("Choose a CASE package file, or give the https URL of one.", "error")
            return _form(status=422)
        outcome = import_package(db.session(), raw, page_principal(), source, dry_run=True)
    except CapcourseError as error:
        return _form(error, int(error.status_code))
    db.session.rollback()
    return (
        render_template(
            "case/import.html",
            report=report(outcome),
            package=raw.decode("utf-8"),
            source=source,
            problems={},
            url=url,
        ),
        200,
    )


@pages.post("/case/import/confirm")
@login_required
def import_confirm() -> Response | tuple[str, int]:
    """Import the package the preview showed (sent back with the confirmation)."""
    _admin_only()
    package = request.form.get("package", "")
    source = request.form.get("source", "upload")[:1000]
    token: Any = request.form.get("confirm_token") or None
    try:
        if len(package.encode()) > _limit():
            raise too_large(len(package.encode()), _limit())
        outcome = import_package(db.session(), package.encode(), page_principal(), source, confirm=token)
    except CapcourseError as error:
        return _form(error, int(error.status_code))
    summary = report(outcome)
    if outcome.status in ("created", "updated"):
        db.session.commit()
    else:
        db.session.rollback()
    items = summary["items"]
    flash(
        f"{summary['title']}: {outcome.status} (items +{items['added']} ~{items['changed']} -{items['removed']}"
        f", {len(summary['mappings_removed'])} mapping(s) removed).",
        "info",
    )
    return redirect(url_for("framework_pages.framework_detail", framework_id=summary["framework_id"]), 303)
