"""Packages API: import SCORM packages into a course, export modules and courses as packages."""

from __future__ import annotations

import tempfile
import uuid
from typing import IO, Any, cast
from urllib.parse import quote

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from capcourse.accounts.access import Principal
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.accounts.services import authenticate_key
from capcourse.api import AUTH_DOC
from capcourse.catalogue.models import Course
from capcourse.catalogue.services import course_for_read, module_for_read
from capcourse.errors import InvalidInputError, PayloadTooLargeError
from capcourse.extensions import db
from capcourse.packages import exporting, importing, services
from capcourse.packages.schemas import (
    PackageImportReportSchema,
    PackageSchema,
    PackageUploadSchema,
    ScormExportArgsSchema,
    ScormExportReportSchema,
    package_dict,
    report_dict,
)
from capcourse.packages.settings import settings_from

blp = Blueprint(
    "packages",
    __name__,
    url_prefix="/api/v1",
    description="SCORM packages: import content into a course; export modules and courses with their mappings.",
)

#: Endpoints that take a package upload, whose size cap is the package cap, not the JSON one.
UPLOADS = {"packages.CoursePackages", "package_pages.package_upload"}
PAGE_UPLOAD = "package_pages.package_upload"
#: Where the upload page's script sends the form's CSRF token, so the body need not be read to check it.
CSRF_HEADER = "X-CSRFToken"


def allow_package_uploads() -> None:
    """Before the body is read: a package may be far bigger than a JSON request, and arrives slowly.

    In this order: a ``Content-Length`` over the package cap is a 413 at once (the body
    never read); the sender is authenticated (an API key, or the signed-in person and, from
    the page, the CSRF token in the :data:`CSRF_HEADER` header), and that short transaction
    is ended; only then is the upload spooled to disk (werkzeug streams file parts into
    temporary files), with no transaction open however slowly it comes. The view then
    imports in a transaction of its own.
    """
    if request.endpoint not in UPLOADS or request.method != "POST":
        return
    cap = settings_from(current_app.config).max_upload
    request.max_content_length = cap
    if request.content_length is not None and request.content_length > cap:
        raise PayloadTooLargeError(
            f"The package is {_mib(request.content_length)}; this server takes packages up to {_mib(cap)}.",
            {"file": [f"At most {cap} bytes."]},
        )
    page = request.endpoint == PAGE_UPLOAD
    header_token = request.headers.get(CSRF_HEADER)
    if page:
        if not current_user.is_authenticated:
            return  # login_required sends them to sign in; the body is never read
        if header_token:
            _check_csrf(header_token)
    else:
        scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not plain.strip():
            return  # require_role answers 401; the body is never read
        authenticate_key(db.session(), plain.strip())
    db.session.commit()  # nothing held open while the upload streams in
    request.files  # noqa: B018 - spool the upload to disk now
    if page and not header_token:
        # A form posted without script: its token is a form field, read once the file is on disk.
        _check_csrf(request.form.get("csrf_token"))


def _check_csrf(token: str | None) -> None:
    try:
        validate_csrf(token)
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB"


blp.before_request(allow_package_uploads)


def uploaded(upload: Any) -> IO[bytes]:
    """The stream of an uploaded file (a werkzeug ``FileStorage``).

    :raises InvalidInputError: no file was sent.
    """
    if upload is None or not getattr(upload, "filename", None):
        raise InvalidInputError("Choose a SCORM package (a .zip file) to upload as 'file'.", {"file": ["Missing."]})
    return cast(IO[bytes], upload.stream)


def import_and_commit(principal: Principal, course: Course, package: IO[bytes]) -> importing.ImportReport:
    """Import a package (a seekable zip) into a course and commit; no files stay behind on failure."""
    report = importing.import_package(db.session(), principal, course, package, settings_from(current_app.config))
    try:
        report.package.last_report = PackageImportReportSchema().dump(report_dict(report))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        importing.discard(report)
        raise
    importing.finish(report)
    return report


def send_export(export: exporting.Export) -> Response:
    """The package as a download, written to a temporary file (packages can be large)."""
    # The response closes (and so deletes) the file once it is sent.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        exporting.write(export, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    response = send_file(spool, mimetype="application/zip", as_attachment=True, download_name=export.filename)
    if export.skipped:
        # Header values are Latin-1 at best: titles travel percent-encoded.
        response.headers["X-Capcourse-Skipped"] = "; ".join(quote(line, safe=" :'.,()") for line in export.skipped)
    # How much the export report (…/scorm/report) has to say: what was left out or not carried.
    response.headers["X-Capcourse-Export-Notes"] = str(len(export.report_lines()))
    return response


@blp.route("/courses/<uuid:course_id>/packages")
class CoursePackages(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, PackageSchema(many=True))
    def get(self, course_id: uuid.UUID) -> Any:
        """The SCORM packages imported into the course, newest first."""
        course = course_for_read(db.session(), current_principal(), course_id)
        return [package_dict(p) for p in services.packages_of(db.session(), course)]

    @require_role(*PEOPLE)
    @blp.doc(
        **AUTH_DOC,
        responses={
            "400": {"description": "Not a usable package: the reason, and a manifest's problems with lines."},
            "409": {"description": "Another course of the programme has this package."},
            "413": {"description": "Bigger than the upload cap, or unpacks to more than the limits allow."},
        },
    )
    @blp.arguments(PackageUploadSchema, location="files")
    @blp.response(201, PackageImportReportSchema)
    def post(self, files: dict[str, Any], course_id: uuid.UUID) -> Any:
        """Import a SCORM package (1.2 or 2004) into the course (its authors and admins).

        Modules and activities come from the default organization, LOM competency classifications
        become mappings; importing a new version of the same package updates it in place."""
        principal = current_principal()
        course = course_for_read(db.session(), principal, course_id)
        return report_dict(import_and_commit(principal, course, uploaded(files.get("file"))))


@blp.route("/packages/<uuid:package_id>")
class PackageDetail(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, PackageSchema)
    def get(self, package_id: uuid.UUID) -> Any:
        """An imported package."""
        return package_dict(services.package_for_read(db.session(), current_principal(), package_id))


@blp.route("/modules/<uuid:module_id>/scorm")
class ModuleExport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"200": {"description": "The SCORM package (zip)."}})
    @blp.arguments(ScormExportArgsSchema, location="query")
    def get(self, args: dict[str, Any], module_id: uuid.UUID) -> Response:
        """Export the module as a SCORM package that carries its mappings as LOM classifications."""
        module = module_for_read(db.session(), current_principal(), module_id)
        export = exporting.module_export(db.session(), module, settings_from(current_app.config), args["version"])
        return send_export(export)


@blp.route("/courses/<uuid:course_id>/scorm")
class CourseExport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"200": {"description": "The SCORM package (zip)."}})
    @blp.arguments(ScormExportArgsSchema, location="query")
    def get(self, args: dict[str, Any], course_id: uuid.UUID) -> Response:
        """Export the course as a SCORM package, one item per module (modules without activities are left out,
        and named in ``X-Capcourse-Skipped``)."""
        course = course_for_read(db.session(), current_principal(), course_id)
        export = exporting.course_export(db.session(), course, settings_from(current_app.config), args["version"])
        return send_export(export)


_EXPORT_ERRORS = {"409": {"description": "Launch pages are missing from the stored package: the list."}}


@blp.route("/modules/<uuid:module_id>/scorm/report")
class ModuleExportReport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=_EXPORT_ERRORS)
    @blp.arguments(ScormExportArgsSchema, location="query")
    @blp.response(200, ScormExportReportSchema)
    def get(self, args: dict[str, Any], module_id: uuid.UUID) -> Any:
        """What exporting the module as ``version`` keeps and leaves out, without making the package."""
        module = module_for_read(db.session(), current_principal(), module_id)
        return exporting.module_export(
            db.session(), module, settings_from(current_app.config), args["version"]
        ).report()


@blp.route("/courses/<uuid:course_id>/scorm/report")
class CourseExportReport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses=_EXPORT_ERRORS)
    @blp.arguments(ScormExportArgsSchema, location="query")
    @blp.response(200, ScormExportReportSchema)
    def get(self, args: dict[str, Any], course_id: uuid.UUID) -> Any:
        """What exporting the course as ``version`` keeps and leaves out, without making the package."""
        course = course_for_read(db.session(), current_principal(), course_id)
        return exporting.course_export(
            db.session(), course, settings_from(current_app.config), args["version"]
        ).report()
