"""Package pages: upload a SCORM package to a course (with progress), see what an import did, download exports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from capcourse.accounts.pages import page_principal
from capcourse.catalogue.models import Course
from capcourse.catalogue.services import course_for_read, module_for_read
from capcourse.errors import CapcourseError, InvalidInputError, error_body
from capcourse.extensions import csrf, db
from capcourse.packages import exporting, services
from capcourse.packages.models import ContentPackage
from capcourse.packages.settings import settings_from
from capcourse.packages.views import allow_package_uploads, import_and_commit, send_export, uploaded

pages = Blueprint("package_pages", __name__)
pages.before_request(allow_package_uploads)


@pages.app_template_global()
def course_packages(course: Course) -> Sequence[ContentPackage]:
    """The packages of a course, for the course page."""
    return services.packages_of(db.session(), course)


@pages.app_template_global()
def export_versions() -> list[str]:
    return list(exporting.VERSIONS)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@pages.post("/courses/<uuid:course_id>/packages")
@login_required
def package_upload(course_id: uuid.UUID) -> Response | tuple[Response, int]:
    """The upload form: the page's script sends it with a progress bar and asks for JSON; without script, HTML."""
    principal = page_principal()
    course = course_for_read(db.session(), principal, course_id)
    try:
        report = import_and_commit(principal, course, uploaded(request.files.get("file")))
    except CapcourseError as error:
        db.session.rollback()
        if _wants_json():
            return jsonify(error_body(int(error.status_code), error.message, error.errors)), int(error.status_code)
        for message in [error.message, *_first_problems(error)]:
            flash(message, "error")
        return redirect(url_for("catalogue_pages.course_detail", course_id=course.id), 303)
    target = url_for(".package_detail", package_id=report.package.id)
    if _wants_json():
        return jsonify({"package_id": str(report.package.id), "location": target}), 201
    return redirect(target, 303)


# allow_package_uploads checks the CSRF token itself, before the upload is read (the app-wide check reads the
# whole form first, under the small request cap).
csrf.exempt(package_upload)


@pages.app_template_global()
def package_max_upload() -> int:
    """The largest package upload, in bytes, for the upload form's script."""
    return settings_from(current_app.config).max_upload


def _first_problems(error: CapcourseError, limit: int = 5) -> list[str]:
    problems: list[str] = []
    for messages in (error.errors or {}).values():
        if isinstance(messages, list):
            problems.extend(str(m) for m in messages)
    return problems[:limit]


@pages.get("/packages/<uuid:package_id>")
@login_required
def package_detail(package_id: uuid.UUID) -> str:
    package = services.package_for_read(db.session(), page_principal(), package_id)
    return render_template("packages/detail.html", package=package, report=package.last_report or {})


@pages.get("/<any(course, module):kind>s/<uuid:entity_id>/scorm-report")
@login_required
def export_report(kind: str, entity_id: uuid.UUID) -> str | tuple[str, int]:
    """What exporting as each version keeps and leaves out, before downloading."""
    principal, settings = page_principal(), settings_from(current_app.config)
    reports: list[dict[str, object]] = []
    title = ""
    for version in exporting.VERSIONS:
        try:
            if kind == "module":
                module = module_for_read(db.session(), principal, entity_id)
                title = module.title
                export = exporting.module_export(db.session(), module, settings, version)
            else:
                course = course_for_read(db.session(), principal, entity_id)
                title = course.title
                export = exporting.course_export(db.session(), course, settings, version)
            reports.append({**export.report(), "lines": export.report_lines(), "refused": None})
        except CapcourseError as error:
            if error.status_code == 404:
                raise
            reports.append(
                {"version": version, "lines": [], "refused": error.message, "errors": _first_problems(error)}
            )
    return render_template("packages/export_report.html", kind=kind, entity_id=entity_id, title=title, reports=reports)


@pages.get("/<any(course, module):kind>s/<uuid:entity_id>/scorm.zip")
@login_required
def export_download(kind: str, entity_id: uuid.UUID) -> Response:
    version = request.args.get("version", "2004-4th")
    if version not in exporting.VERSIONS:
        raise InvalidInputError(f"SCORM {version!r} is not a version capcourse exports: 2004-4th or 1.2.")
    principal, settings = page_principal(), settings_from(current_app.config)
    if kind == "module":
        module = module_for_read(db.session(), principal, entity_id)
        export = exporting.module_export(db.session(), module, settings, version)
    else:
        course = course_for_read(db.session(), principal, entity_id)
        export = exporting.course_export(db.session(), course, settings, version)
    return send_export(export)
