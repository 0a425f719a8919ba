"""The CASE classes as marshmallow schemas, and the shapes of capcourse's CASE endpoints.

One set of schemas does three jobs: it validates packages on import (so a
broken package is refused with the JSON path of each problem), it serialises
the provider API's responses, and it documents both in the OpenAPI document.
They follow 1EdTech's CASE 1.1 JSON binding; where real packages are looser
than 1.1 (CASE 1.0 strings where 1.1 has lists, date-times where 1.1 has
dates, identifiers whose variant nibble is not RFC 4122's) they accept the
looser form and normalise it, so what is stored always exports as valid 1.1.

1EdTech's own schema files are not shipped with capcourse; the tests check
that these schemas agree with them (``tests/case/test_schemas.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from capcourse.frameworks.models import ASSOCIATION_TYPES

#: The 8-4-4-4-12 hexadecimal form every CASE identifier has (any version or variant).
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: What CASE 1.1 (and the OpenAPI) demand on top: version 1–5 and the RFC 4122 variant.
RFC4122_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
#: RFC 3339 date-time; the offset may be missing (read as UTC: some tools omit it).
DATE_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: The subset CASE 1.0 knows (no ``isTranslationOf``, no ``ext:``).
ASSOCIATION_TYPES_1P0 = tuple(t for t in ASSOCIATION_TYPES if t != "isTranslationOf")
EXT_TYPE_PATTERN = re.compile(r"^ext:[a-zA-Z0-9.\-_]+$")


def format_datetime(moment: datetime) -> str:
    """A CASE ``lastChangeDateTime``: RFC 3339 in UTC, seconds unless the time has a fraction.

    SQLite hands back naive datetimes; they were written in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def parse_datetime(text: str) -> datetime:
    """Read an RFC 3339 date-time (offset optional, UTC if missing).

    :raises ValueError: not a date-time.
    """
    if not DATE_TIME_PATTERN.match(text):
        raise ValueError(text)
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CaseIdentifier(fields.String):
    """A CASE identifier: a UUID (8-4-4-4-12) as CASE wants; any other non-empty string is read as it came.

    The importer keys identifiers that are no UUID by a UUID 5 derived from them
    (:func:`capcourse.case.reading.case_id`) and reports them.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ValidationError("An identifier cannot be empty.")
        return text


class CaseNumber(fields.Field[int | float]):
    """A JSON number, kept as the package has it: an integer stays an integer (``fields.Float`` would not)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a number.")
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class CaseDateTime(fields.Field[datetime]):
    """``lastChangeDateTime``: loads to an aware datetime, dumps as RFC 3339."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        if isinstance(value, datetime):  # read already (the importer's lenient pass)
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if not isinstance(value, str):
            raise ValidationError("Not a date-time string.")
        try:
            return parse_datetime(value)
        except ValueError as error:
            raise ValidationError("Not an RFC 3339 date-time (2024-05-01T12:00:00+00:00).") from error

    def _serialize(self, value: datetime | str | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return format_datetime(value)


class CaseDate(fields.String):
    """``statusStartDate``/``statusEndDate``: a date; CASE 1.0's date-times are cut to their date."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if DATE_PATTERN.match(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError as error:
                raise ValidationError("Not a valid date.") from error
        try:
            return parse_datetime(text).date().isoformat()
        except ValueError as error:
            raise ValidationError("Not a date (2024-05-01).") from error


class StringList(fields.List[str]):
    """A list of strings; CASE 1.0 allowed one string where 1.1 has a list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list[Any]:
        if isinstance(value, str):
            value = [value]
        return list(super()._deserialize(value, attr, data, **kwargs))


def _association_type(value: str) -> None:
    if value not in ASSOCIATION_TYPES and not EXT_TYPE_PATTERN.match(value):
        raise ValidationError(f"Not a CASE association type: one of {', '.join(ASSOCIATION_TYPES)}, or ext:<name>.")


def _target_type(value: str) -> None:
    if value != "CASE" and not EXT_TYPE_PATTERN.match(value):
        raise ValidationError("Must be CASE or ext:<name>.")


class CaseSchema(Schema):
    """Base of the CASE classes: properties a schema does not know are loaded as they are.

    The importer keeps them (and reports them), so a package exports again as
    it came: CASE 1.0 allowed them, and real packages carry some.
    """

    class Meta:
        unknown = INCLUDE


# The CASE classes are built from dicts: their property names are CASE's (mixedCase),
# which Python class attributes should not be.


def _case(name: str, properties: dict[str, fields.Field[Any]], base: type[Schema] = CaseSchema) -> type[Schema]:
    return base.from_dict(properties, name=name)


def _string(required: bool = False, max_length: int | None = None, min_length: int | None = None) -> fields.String:
    # Values longer than capcourse's columns are still read: the column keeps what fits and the
    # framework keeps the whole value for the export (``max_length`` is documentation only).
    if min_length is None:
        return fields.String(required=required)
    return fields.String(required=required, validate=validate.Length(min=min_length))


def _extensions() -> fields.Dict:
    return fields.Dict(keys=fields.String())


#: A link to a CASE object (LinkURI): its title, identifier and URI.
LinkURISchema = _case(
    "LinkURISchema",
    {"title": fields.String(required=True), "identifier": CaseIdentifier(required=True), "uri": _string(True)},
)
#: An association's end (LinkGenURI): the identifier may be any string for non-CASE targets.
LinkGenURISchema = _case(
    "LinkGenURISchema",
    {
        "title": fields.String(required=True),
        "identifier": fields.String(required=True, validate=validate.Length(min=1)),
        "uri": fields.String(required=True, validate=validate.Length(min=1)),
        "targetType": fields.String(validate=_target_type),
    },
)


def _link() -> fields.Nested:
    return fields.Nested(LinkURISchema)


#: CFDocument as a package carries it. Lengths are what capcourse's columns keep.
CFPackageDocumentSchema = _case(
    "CFPackageDocumentSchema",
    {
        "identifier": CaseIdentifier(required=True),
        "uri": _string(True, 500, 1),
        "frameworkType": fields.String(),
        "caseVersion": fields.String(validate=validate.OneOf(["1.1", "1.0"])),
        "creator": _string(True, 300),
        "title": _string(True, 500, 1),
        "lastChangeDateTime": CaseDateTime(required=True),
        "officialSourceURL": _string(False, 500),
        "publisher": _string(False, 300),
        "description": fields.String(),
        "subject": StringList(),
        "subjectURI": fields.List(_link()),
        "language": _string(False, 20),
        "version": _string(False, 100),
        "adoptionStatus": _string(False, 50),
        "statusStartDate": CaseDate(),
        "statusEndDate": CaseDate(),
        "licenseURI": _link(),
        "notes": fields.String(),
        "extensions": _extensions(),
        "CFPackageURI": fields.Nested(
            LinkURISchema, metadata={"description": "CASE 1.0 packages only (1.1 forbids it in a package)."}
        ),
    },
)
#: CFItem as a package carries it.
CFPackageItemSchema = _case(
    "CFPackageItemSchema",
    {
        "identifier": CaseIdentifier(required=True),
        "fullStatement": fields.String(required=True),
        "alternativeLabel": fields.String(),
        "CFItemType": _string(False, 100),
        "uri": _string(True, 500, 1),
        "humanCodingScheme": _string(False, 100),
        "listEnumeration": fields.String(),
        "abbreviatedStatement": fields.String(),
        "conceptKeywords": StringList(),
        "conceptKeywordsURI": _link(),
        "notes": fields.String(),
        "subject": StringList(),
        "subjectURI": fields.List(_link()),
        "language": _string(False, 20),
        "educationLevel": StringList(),
        "CFItemTypeURI": _link(),
        "licenseURI": _link(),
        "statusStartDate": CaseDate(),
        "statusEndDate": CaseDate(),
        "lastChangeDateTime": CaseDateTime(required=True),
        "extensions": _extensions(),
    },
)
#: CFAssociation as a package carries it.
CFPackageAssociationSchema = _case(
    "CFPackageAssociationSchema",
    {
        "identifier": CaseIdentifier(required=True),
        "associationType": fields.String(required=True, validate=_association_type),
        "sequenceNumber": fields.Integer(strict=True),
        "uri": _string(True, None, 1),
        "originNodeURI": fields.Nested(LinkGenURISchema, required=True),
        "destinationNodeURI": fields.Nested(LinkGenURISchema, required=True),
        "CFAssociationGroupingURI": _link(),
        "lastChangeDateTime": CaseDateTime(required=True),
        "notes": fields.String(),
        "extensions": _extensions(),
    },
)


def _definition(name: str, **properties: fields.Field[Any]) -> type[Schema]:
    """A CASE definition: identifier, uri and lastChangeDateTime, and its own properties."""
    return _case(
        name,
        {
            "identifier": CaseIdentifier(required=True),
            "uri": fields.String(required=True),
            **properties,
            "lastChangeDateTime": CaseDateTime(required=True),
            "extensions": _extensions(),
        },
    )


CFItemTypeSchema = _definition(
    "CFItemTypeSchema",
    title=fields.String(required=True),
    # Required by 1.1, optional in 1.0: the importer fills it from the title.
    description=fields.String(),
    hierarchyCode=fields.String(required=True),
    typeCode=fields.String(),
)
CFConceptSchema = _definition(
    "CFConceptSchema",
    title=fields.String(required=True),
    keywords=fields.String(),
    hierarchyCode=fields.String(required=True),
    description=fields.String(),
)
CFSubjectSchema = _definition(
    "CFSubjectSchema",
    title=fields.String(required=True),
    hierarchyCode=fields.String(required=True),
    description=fields.String(),
)
CFLicenseSchema = _definition(
    "CFLicenseSchema",
    title=fields.String(required=True),
    description=fields.String(),
    licenseText=fields.String(required=True),
)
CFAssociationGroupingSchema = _definition(
    "CFAssociationGroupingSchema", title=fields.String(required=True), description=fields.String()
)
CFRubricCriterionLevelSchema = _case(
    "CFRubricCriterionLevelSchema",
    {
        "identifier": CaseIdentifier(required=True),
        "uri": fields.String(required=True),
        "description": fields.String(),
        "quality": fields.String(),
        "score": CaseNumber(),
        "feedback": fields.String(),
        "position": fields.Integer(strict=True),
        "rubricCriterionId": CaseIdentifier(),
        "lastChangeDateTime": CaseDateTime(required=True),
        "extensions": fields.List(_extensions()),
    },
)
CFRubricCriterionSchema = _definition(
    "CFRubricCriterionSchema",
    category=fields.String(),
    description=fields.String(),
    CFItemURI=_link(),
    weight=CaseNumber(),
    position=fields.Integer(strict=True),
    rubricId=CaseIdentifier(),
    CFRubricCriterionLevels=fields.List(fields.Nested(CFRubricCriterionLevelSchema)),
)
CFRubricSchema = _definition(
    "CFRubricSchema",
    title=fields.String(),
    description=fields.String(),
    CFRubricCriteria=fields.List(fields.Nested(CFRubricCriterionSchema)),
)
CFDefinitionSchema = _case(
    "CFDefinitionSchema",
    {
        "CFConcepts": fields.List(fields.Nested(CFConceptSchema)),
        "CFSubjects": fields.List(fields.Nested(CFSubjectSchema)),
        "CFLicenses": fields.List(fields.Nested(CFLicenseSchema)),
        "CFItemTypes": fields.List(fields.Nested(CFItemTypeSchema)),
        "CFAssociationGroupings": fields.List(fields.Nested(CFAssociationGroupingSchema)),
        "extensions": _extensions(),
    },
)
#: A whole framework: CFPackage (CASE 1.1; 1.0 packages are read too).
CFPackageSchema = _case(
    "CFPackageSchema",
    {
        "CFDocument": fields.Nested(CFPackageDocumentSchema, required=True),
        "CFItems": fields.List(fields.Nested(CFPackageItemSchema)),
        "CFAssociations": fields.List(fields.Nested(CFPackageAssociationSchema)),
        "CFDefinitions": fields.Nested(CFDefinitionSchema),
        "CFRubrics": fields.List(fields.Nested(CFRubricSchema)),
        "extensions": _extensions(),
    },
)

#: The definition lists of a package, with the schema of their members.
DEFINITION_SCHEMAS: dict[str, type[Schema]] = {
    "CFItemTypes": CFItemTypeSchema,
    "CFConcepts": CFConceptSchema,
    "CFSubjects": CFSubjectSchema,
    "CFLicenses": CFLicenseSchema,
    "CFAssociationGroupings": CFAssociationGroupingSchema,
}

# The provider API's single objects carry a link to their package or document.

#: CFDocument as ``GET …/CFDocuments/{id}`` answers it.
CFDocumentSchema = _case(
    "CFDocumentSchema", {"CFPackageURI": fields.Nested(LinkURISchema, required=True)}, CFPackageDocumentSchema
)
#: CFItem as ``GET …/CFItems/{id}`` answers it.
CFItemSchema = _case(
    "CFItemSchema", {"CFDocumentURI": fields.Nested(LinkURISchema, required=True)}, CFPackageItemSchema
)
#: CFAssociation as ``GET …/CFAssociations/{id}`` answers it.
CFAssociationSchema = _case(
    "CFAssociationSchema", {"CFDocumentURI": fields.Nested(LinkURISchema)}, CFPackageAssociationSchema
)
CFDocumentSetSchema = _case(
    "CFDocumentSetSchema", {"CFDocuments": fields.List(fields.Nested(CFDocumentSchema), required=True)}, Schema
)
#: ``GET …/CFItemAssociations/{id}``: the item and every association it takes part in.
CFAssociationSetSchema = _case(
    "CFAssociationSetSchema",
    {
        "CFItem": fields.Nested(CFItemSchema, required=True),
        "CFAssociations": fields.List(fields.Nested(CFPackageAssociationSchema), required=True),
    },
    Schema,
)
CFItemTypeSetSchema = _case(
    "CFItemTypeSetSchema", {"CFItemTypes": fields.List(fields.Nested(CFItemTypeSchema), required=True)}, Schema
)
CFConceptSetSchema = _case(
    "CFConceptSetSchema", {"CFConcepts": fields.List(fields.Nested(CFConceptSchema), required=True)}, Schema
)
CFSubjectSetSchema = _case(
    "CFSubjectSetSchema", {"CFSubjects": fields.List(fields.Nested(CFSubjectSchema), required=True)}, Schema
)
#: How the CASE provider API reports an error (1EdTech imsx_StatusInfo).
ImsxStatusInfoSchema = _case(
    "ImsxStatusInfoSchema",
    {
        "imsx_codeMajor": fields.String(required=True, metadata={"description": "failure"}),
        "imsx_severity": fields.String(required=True, metadata={"description": "error"}),
        "imsx_description": fields.String(),
        "imsx_codeMinor": fields.Nested(
            _case(
                "ImsxCodeMinorSchema",
                {
                    "imsx_codeMinorField": fields.List(
                        fields.Nested(
                            _case(
                                "ImsxCodeMinorFieldSchema",
                                {
                                    "imsx_codeMinorFieldName": fields.String(required=True),
                                    "imsx_codeMinorFieldValue": fields.String(required=True),
                                },
                                Schema,
                            )
                        ),
                        required=True,
                    )
                },
                Schema,
            )
        ),
    },
    Schema,
)


class DocumentListArgsSchema(Schema):
    """Query of ``GET …/CFDocuments``, as 1EdTech's REST binding defines it."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1), metadata={"description": "At most 1000."})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    sort = fields.String(load_default=None, metadata={"description": "A CFDocument property, e.g. title."})
    order_by = fields.String(data_key="orderBy", load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    filter = fields.String(
        load_default=None,
        validate=validate.Length(max=1000),
        metadata={"description": "e.g. title~'leadership' AND adoptionStatus='Adopted' (=, !=, >, >=, <, <=, ~)."},
    )
    selected = fields.List(
        fields.String(),
        data_key="fields",
        load_default=None,
        metadata={
            "description": "CFDocument properties to answer with: repeated (fields=title&fields=version, as the "
            "OpenAPI's form style has it) or comma-separated (fields=title,version), or both."
        },
    )


# capcourse's own CASE endpoints.


class PackageArgsSchema(Schema):
    version = fields.String(
        load_default="1.1", validate=validate.OneOf(["1.1", "1.0"]), metadata={"description": "CASE version."}
    )
    download = fields.Boolean(load_default=False, metadata={"description": "Send as a file to save."})
    strict = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Properties no CASE version defines, which an imported package carried, go into the "
            "objects' extensions (CASE 1.1) or are left out (1.0), so 1EdTech's package schema accepts the export. "
            "Without it they are exported where they were, as the package came."
        },
    )


class ImportArgsSchema(Schema):
    url = fields.String(
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={"description": "Fetch the package from this https URL instead of reading the body."},
    )
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Report what would change; write nothing."})
    confirm = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "The confirm_token of a preview: applies an update of a framework that has mappings."},
    )


class ChangedItemSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)


class AffectedMappingSchema(Schema):
    mapping_id = fields.String(required=True)
    programme_id = fields.String(required=True)
    target = fields.String(required=True, metadata={"description": "The module or activity mapped."})
    item_id = fields.String(required=True)
    item = fields.String(required=True)
    depth = fields.String(required=True)


class ChangeCountSchema(Schema):
    added = fields.Integer(required=True)
    changed = fields.Integer(required=True)
    removed = fields.Integer(required=True)


class NormalisationSchema(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "description": "null, default, number_from_string, boolean_from_string, string_from_number, "
            "list_from_string, date_from_date_time, date_reformatted, association_type_spelling, invalid_dropped, "
            "derived_again, empty_definitions, "
            "identifier_not_uuid, identifier_not_rfc4122, tree_cycle, unknown_property."
        },
    )
    description = fields.String(required=True)
    count = fields.Integer(required=True)
    examples = fields.List(
        fields.String(), required=True, metadata={"description": "JSON paths (and details) of the first ones."}
    )


class ImportReportSchema(Schema):
    """What an import did, or (for a preview) would do."""

    status = fields.String(
        required=True,
        validate=validate.OneOf(["created", "updated", "unchanged", "preview"]),
        metadata={"description": "preview: nothing was written (dry run)."},
    )
    framework_id = fields.String(required=True)
    key = fields.String(required=True)
    title = fields.String(required=True)
    source = fields.String(required=True)
    items = fields.Nested(ChangeCountSchema, required=True)
    associations = fields.Nested(
        ChangeCountSchema, required=True, metadata={"description": "Every association, the isChildOf ones included."}
    )
    items_added = fields.List(fields.Nested(ChangedItemSchema), required=True)
    items_changed = fields.List(fields.Nested(ChangedItemSchema), required=True)
    items_removed = fields.List(fields.Nested(ChangedItemSchema), required=True)
    mappings = fields.Integer(required=True, metadata={"description": "Mappings to the framework's items now."})
    mappings_removed = fields.List(
        fields.Nested(AffectedMappingSchema),
        required=True,
        metadata={"description": "Mappings to items the package removes: deleted, and kept in the history."},
    )
    attainments_removed = fields.Integer(required=True)
    external_references = fields.Integer(
        required=True, metadata={"description": "Associations kept as references to frameworks capcourse lacks."}
    )
    changes = fields.Boolean(required=True, metadata={"description": "Whether importing changes anything."})
    needs_confirmation = fields.Boolean(required=True)
    confirm_token = fields.String(allow_none=True)
    normalisations = fields.List(
        fields.Nested(NormalisationSchema),
        required=True,
        metadata={"description": "What the package got wrong and the import normalised, counted by kind."},
    )
    warnings = fields.List(fields.String(), required=True)
