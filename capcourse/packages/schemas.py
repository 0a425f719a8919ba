"""Request and response shapes of the packages API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from capcourse.catalogue.models import Activity, Module
from capcourse.packages.exporting import VERSIONS
from capcourse.packages.importing import ImportReport
from capcourse.packages.models import ContentPackage


class PackageUploadSchema(Schema):
    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "The SCORM package: a zip with imsmanifest.xml.",
        },
    )


class ScormExportArgsSchema(Schema):
    version = fields.String(
        load_default="2004-4th",
        validate=validate.OneOf(list(VERSIONS)),
        metadata={"description": "SCORM 2004 4th Edition or SCORM 1.2."},
    )


class ScormExportReportSchema(Schema):
    version = fields.String(required=True)
    filename = fields.String(required=True)
    files = fields.Integer(required=True, metadata={"description": "Files the manifest lists."})
    unlisted_files_kept = fields.Integer(
        required=True, metadata={"description": "Files the package had without listing them, kept as they were."}
    )
    skipped = fields.List(fields.String(), required=True, metadata={"description": "Modules left out, and why."})
    not_carried = fields.List(
        fields.String(), required=True, metadata={"description": "What the target version cannot express."}
    )
    missing_files = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Files the package listed but never contained: left out."},
    )
    adapted = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "SCOs written for the other version, launched through capcourse's adapter."},
    )


class PackageSchema(Schema):
    id = fields.UUID(required=True)
    course_id = fields.UUID(required=True)
    identifier = fields.String(required=True, metadata={"description": "The manifest's identifier."})
    title = fields.String(required=True)
    scorm_version = fields.String(required=True)
    revision = fields.Integer(required=True, metadata={"description": "How many times it was imported."})
    file_count = fields.Integer(required=True)
    unpacked_bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    imported_by = fields.String(required=True)
    imported_at = fields.AwareDateTime(required=True)


class PackageTargetSchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)


class ImportedMappingSchema(Schema):
    id = fields.UUID(required=True)
    target = fields.String(required=True, metadata={"description": "The module or activity's title."})
    item_id = fields.UUID(required=True)
    item_code = fields.String(allow_none=True)
    depth = fields.String(required=True)


class WarningGroupSchema(Schema):
    message = fields.String(required=True, metadata={"description": "What kind of warning, in plain words."})
    count = fields.Integer(required=True)
    examples = fields.List(fields.String(), required=True, metadata={"description": "The first few."})


class PackageImportReportSchema(Schema):
    package = fields.Nested(PackageSchema, required=True)
    first_import = fields.Boolean(required=True)
    modules_created = fields.List(fields.Nested(PackageTargetSchema), required=True)
    modules_updated = fields.List(fields.Nested(PackageTargetSchema), required=True)
    activities_created = fields.List(fields.Nested(PackageTargetSchema), required=True)
    activities_updated = fields.List(fields.Nested(PackageTargetSchema), required=True)
    activities_retired = fields.List(
        fields.Nested(PackageTargetSchema),
        required=True,
        metadata={"description": "Gone from the package; kept, retired."},
    )
    mappings_created = fields.List(fields.Nested(ImportedMappingSchema), required=True)
    unmatched = fields.List(
        fields.String(), required=True, metadata={"description": "Competencies naming items capcourse does not hold."}
    )
    not_applied = fields.List(
        fields.String(), required=True, metadata={"description": "Package-level competencies of a course package."}
    )
    warnings = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "One sentence per kind of warning, with its count and first examples."},
    )
    warning_groups = fields.List(fields.Nested(WarningGroupSchema), required=True)


def package_dict(package: ContentPackage) -> dict[str, Any]:
    return {
        "id": package.id,
        "course_id": package.course_id,
        "identifier": package.identifier,
        "title": package.title,
        "scorm_version": package.scorm_version,
        "revision": package.revision,
        "file_count": package.file_count,
        "unpacked_bytes": package.unpacked_bytes,
        "sha256": package.sha256,
        "imported_by": package.imported_by,
        "imported_at": package.imported_at,
    }


def _refs(entities: list[Module] | list[Activity]) -> list[dict[str, Any]]:
    return [{"id": e.id, "title": e.title} for e in entities]


def report_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "package": package_dict(report.package),
        "first_import": report.first_import,
        "modules_created": _refs(report.modules_created),
        "modules_updated": _refs(report.modules_updated),
        "activities_created": _refs(report.activities_created),
        "activities_updated": _refs(report.activities_updated),
        "activities_retired": _refs(report.activities_retired),
        "mappings_created": [
            {
                "id": m.id,
                "target": m.module.title if m.module is not None else m.activity.title if m.activity else "",
                "item_id": m.item_id,
                "item_code": m.item.code,
                "depth": m.depth,
            }
            for m in report.mappings_created
        ],
        "unmatched": report.unmatched,
        "not_applied": report.not_applied,
        "warnings": report.warnings,
        "warning_groups": [
            {"message": group.message, "count": group.count, "examples": group.examples}
            for group in report.warning_groups
        ],
    }
