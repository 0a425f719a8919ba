"""CASE over HTTP: capcourse's export and import endpoints, and the CASE provider API.

- ``GET /api/v1/frameworks/{id}/case`` exports a framework as a CFPackage (public);
- ``POST /api/v1/case/imports`` imports one (admin key);
- ``/ims/case/v1p1/…`` and ``/ims/case/v1p0/…`` are the CASE provider API
  (public reads), whose errors are imsx_StatusInfo payloads (see :mod:`capcourse.errors`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts.auth import current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import AUTH_DOC
from capcourse.case import provider
from capcourse.case.export import V1P0, V1P1, VERSION_PATHS, dumps, export_json
from capcourse.case.fetch import fetch_package, too_large
from capcourse.case.importing import import_package, report
from capcourse.case.models import DefinitionKind
from capcourse.case.reading import case_id, gc_paused
from capcourse.case.schemas import (
    CFAssociationGroupingSchema,
    CFAssociationSchema,
    CFAssociationSetSchema,
    CFConceptSetSchema,
    CFDocumentSchema,
    CFDocumentSetSchema,
    CFItemSchema,
    CFItemTypeSetSchema,
    CFLicenseSchema,
    CFPackageSchema,
    CFRubricSchema,
    CFSubjectSetSchema,
    DocumentListArgsSchema,
    ImportArgsSchema,
    ImportReportSchema,
    ImsxStatusInfoSchema,
    PackageArgsSchema,
)
from capcourse.errors import InvalidInputError, NotFoundError
from capcourse.extensions import api_of, db
from capcourse.frameworks.services import get_framework

blp = Blueprint("case", __name__, url_prefix="/api/v1", description="CASE packages: export and import.")


def _base_url() -> str:
    return str(current_app.config["CAPCOURSE_BASE_URL"])


def max_bytes() -> int:
    """The largest package capcourse reads (``CAPCOURSE_CASE_MAX_BYTES``)."""
    return int(current_app.config["CAPCOURSE_CASE_MAX_BYTES"])


def read_url(url: str, limit: int | None = None) -> bytes:
    """Fetch a package, through the transport the app is configured with (tests inject one).

    Whatever the request read so far (its principal, say) is committed first, so no
    transaction of the database stays open while a slow publisher answers: the
    import opens its own once the bytes are here. The API, the page and the
    command line all fetch through here.
    """
    if db.session().in_transaction():
        db.session.commit()
    return fetch_package(
        url,
        max_bytes() if limit is None else limit,
        transport=current_app.config.get("CAPCOURSE_CASE_HTTP_TRANSPORT"),
        allow=current_app.config.get("CAPCOURSE_OUTBOUND_ALLOW"),
    )


@blp.route("/frameworks/<uuid:framework_id>/case")
class PackageExport(MethodView):
    @blp.arguments(PackageArgsSchema, location="query")
    @blp.response(200, CFPackageSchema)
    @blp.alt_response(404, description="No such framework.")
    def get(self, args: dict[str, Any], framework_id: uuid.UUID) -> Any:
        """Export a framework as a CASE CFPackage (1.1, or 1.0 with ``version=1.0``).

        The same package as ``GET /ims/case/v1p1/CFPackages/{id}``; ``download=true``
        sends it as a file to save.
        """
        framework = get_framework(db.session(), framework_id)
        headers = {}
        if args["download"]:
            filename = f"{framework.key}.case-{args['version']}.json"
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        body = export_json(db.session(), framework, _base_url(), args["version"], strict=args["strict"])
        return current_app.response_class(body, mimetype="application/json", headers=headers)


@blp.route("/case/imports")
class PackageImport(MethodView):
    @require_role(Role.ADMIN)
    @blp.doc(
        **AUTH_DOC,
        requestBody={
            "description": "A CASE CFPackage (1.1 or 1.0), unless ?url= names one to fetch.",
            "required": False,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CFPackage"}}},
        },
    )
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(201, schema=ImportReportSchema, description="A new framework was created.")
    @blp.alt_response(409, description="The update needs confirm=<token>, or the identifiers belong elsewhere.")
    @blp.alt_response(413, description="Bigger than CAPCOURSE_CASE_MAX_BYTES.")
    @blp.alt_response(422, description="Not a valid package: errors lists the first problems by JSON path.")
    def post(self, args: dict[str, Any]) -> Any:
        """Import a CASE package: create the framework, or update the one with its identifier (admin).

        Nothing is written for an invalid package, nor for ``dry_run=true``, whose
        report is the preview. An update of a framework that programmes map to
        needs the preview's ``confirm_token`` as ``confirm``; mappings to items the
        package removes are then removed and kept in the mapping history.
        """
        if args["url"]:
            raw, source = read_url(args["url"]), args["url"]
        else:
            raw, source = request.get_data(cache=False), "upload through the API"
            if len(raw) > max_bytes():
                raise too_large(len(raw), max_bytes())
            if not raw:
                raise InvalidInputError(
                    "Send a CASE package as the request body, or name one with ?url=.", {"package": ["Missing."]}
                )
        outcome = import_package(
            db.session(), raw, current_principal(), source, confirm=args["confirm"], dry_run=args["dry_run"]
        )
        if outcome.status in ("created", "updated"):
            db.session.commit()
        else:
            db.session.rollback()
        return report(outcome), 201 if outcome.status == "created" else 200


# The CASE provider API, once per version.

_ERRORS = {
    "400": "A parameter is invalid (imsx_codeMinor invalid_selection_field or invalid_sort_field).",
    "404": "Unknown identifier (unknownobject), or not a UUID (invalid_uuid).",
    # CFDocumentSet has minItems 1 in 1EdTech's schema: an empty page is "nothing found".
    "404-list": "No document in this selection (unknownobject): the filter matches none, or offset is past them.",
}


def _body(body: Any, headers: dict[str, str] | None = None) -> Response:
    """A provider answer as the export built it.

    Not dumped through the schemas (which document it): a dump would drop the
    properties an imported package carried that CASE does not define, turn whole
    numbers into floats, and add what the version asked for does not have.
    """
    return current_app.response_class(dumps(body), mimetype="application/json", headers=headers or {})


def discovery_document(prefix: str, version: str) -> dict[str, Any]:
    """The OpenAPI document of one version of the provider API, its server at ``<base URL><prefix>``."""
    spec = api_of(current_app).spec.to_dict()
    paths = {
        route[len(prefix) :]: operations
        for route, operations in spec.get("paths", {}).items()
        if route.startswith(prefix + "/") and route != prefix + "/discovery"
    }
    return {
        "openapi": spec.get("openapi", "3.0.3"),
        "info": {
            "title": f"capcourse CASE {version} provider",
            "version": version,
            "description": "Every framework capcourse holds, read-only and public, as 1EdTech CASE "
            f"{version} defines the provider API. Errors are imsx_StatusInfo payloads.",
        },
        "servers": [{"url": _base_url() + prefix}],
        "paths": paths,
        "components": spec.get("components", {}),
    }


def _found(lookup: Callable[..., Any], sourced_id: str, version: str) -> Response:
    """A provider object by the identifier in its path.

    Imported identifiers that are no UUID are found as they came; any other
    text that is no UUID is ``invalid_uuid``, as the binding wants.
    """
    try:
        # Built and written with the collector paused, so a package's objects are gone before it runs again.
        with gc_paused():
            return _body(
                lookup(session=db.session(), identifier=case_id(sourced_id), base_url=_base_url(), version=version)
            )
    except NotFoundError:
        provider.sourced_id(sourced_id)  # raises invalid_uuid for what is no UUID
        raise


def _link_header(total: int, limit: int, offset: int) -> str:
    """RFC 8288 links to the first, previous, next and last pages, keeping the other parameters."""
    others = [(k, v) for k, v in request.args.items(multi=True) if k not in ("limit", "offset")]

    def page(start: int) -> str:
        return f"{request.base_url}?{urlencode([*others, ('limit', limit), ('offset', start)])}"

    last = max(0, (total - 1) // limit * limit)
    links = {"first": 0, "last": last}
    if offset > 0:
        links["prev"] = max(0, offset - limit)
    if offset + limit < total:
        links["next"] = offset + limit
    return ", ".join(f'<{page(start)}>; rel="{rel}"' for rel, start in links.items())


def provider_blueprint(version: str) -> Blueprint:
    """The CASE provider API of one version, at ``/ims/case/v1p1`` or ``/ims/case/v1p0``."""
    path = VERSION_PATHS[version]
    bp = Blueprint(
        f"case_{path}",
        __name__,
        url_prefix=f"/ims/case/{path}",
        description=(
            f"CASE {version} provider API: every framework capcourse holds, read-only and public. "
            "Errors are 1EdTech imsx_StatusInfo payloads."
        ),
    )

    def errors(*codes: str) -> dict[str, Any]:
        return {
            "responses": {
                code.split("-")[0]: {
                    "description": _ERRORS[code],
                    "content": {"application/json": {"schema": ImsxStatusInfoSchema}},
                }
                for code in codes
            }
        }

    @bp.route("/discovery")
    class Discovery(MethodView):
        @bp.doc(
            summary="Service discovery: this provider's OpenAPI 3 document.",
            responses={"200": {"description": "An OpenAPI 3 document whose server is this provider."}},
        )
        def get(self) -> Any:
            """What this CASE provider serves, as an OpenAPI 3 document (1EdTech's service discovery pattern).

            Its paths are this version's endpoints, relative to its one server, so a
            consumer given the service's base URL finds every endpoint and its schemas.
            """
            return _body(discovery_document(f"/ims/case/{path}", version))

    @bp.route("/CFDocuments")
    class Documents(MethodView):
        @bp.arguments(DocumentListArgsSchema, location="query")
        @bp.response(
            200,
            CFDocumentSetSchema,
            headers={
                "X-Total-Count": {"description": "Documents matching the filter.", "schema": {"type": "integer"}},
                "Link": {"description": "first, prev, next and last pages.", "schema": {"type": "string"}},
            },
        )
        @bp.doc(**errors("400", "404-list"))
        def get(self, args: dict[str, Any]) -> Any:
            """Every framework document: paged (limit, offset), sorted (sort, orderBy), filtered, fields selected."""
            page = provider.list_documents(
                db.session(),
                _base_url(),
                version,
                args["limit"],
                args["offset"],
                args["sort"],
                args["order_by"],
                args["filter"],
                args["selected"],
            )
            headers = {"X-Total-Count": str(page.total), "Link": _link_header(page.total, page.limit, page.offset)}
            return _body({"CFDocuments": page.documents}, headers)

    @bp.route("/CFDocuments/<sourced_id>")
    class Document(MethodView):
        @bp.response(200, CFDocumentSchema)
        @bp.doc(**errors("404"))
        def get(self, sourced_id: str) -> Any:
            """One framework document, with a link to its package."""
            return _found(provider.cf_document, sourced_id, version)

    @bp.route("/CFPackages/<sourced_id>")
    class Package(MethodView):
        @bp.response(200, CFPackageSchema)
        @bp.doc(**errors("404"))
        def get(self, sourced_id: str) -> Any:
            """A framework document with all its items, associations and definitions."""
            return _found(provider.cf_package, sourced_id, version)

    @bp.route("/CFItems/<sourced_id>")
    class CFItem(MethodView):
        @bp.response(200, CFItemSchema)
        @bp.doc(**errors("404"))
        def get(self, sourced_id: str) -> Any:
            """One item, with a link to its document."""
            return _found(provider.cf_item, sourced_id, version)

    @bp.route("/CFAssociations/<sourced_id>")
    class CFAssociation(MethodView):
        @bp.response(200, CFAssociationSchema)
        @bp.doc(**errors("404"))
        def get(self, sourced_id: str) -> Any:
            """One association, including the isChildOf links of the item trees."""
            return _found(provider.cf_association, sourced_id, version)

    @bp.route("/CFItemAssociations/<sourced_id>")
    class CFItemAssociations(MethodView):
        @bp.response(200, CFAssociationSetSchema)
        @bp.doc(**errors("404"))
        def get(self, sourced_id: str) -> Any:
            """An item and every association it takes part in, either end."""
            return _found(provider.cf_item_associations, sourced_id, version)

    def definition_set(collection: str, kind: str, schema: Any) -> None:
        @bp.route(f"/{collection}/<sourced_id>", endpoint=collection)
        class DefinitionSet(MethodView):
            @bp.response(200, schema)
            @bp.doc(summary=f"One of the {collection} and those below it by hierarchy code.", **errors("404"))
            def get(self, sourced_id: str) -> Any:
                return _found(functools.partial(provider.cf_definition_set, kind=kind), sourced_id, version)

    def definition(collection: str, kind: str, schema: Any, summary: str) -> None:
        @bp.route(f"/{collection}/<sourced_id>", endpoint=collection)
        class Definition(MethodView):
            @bp.response(200, schema)
            @bp.doc(summary=summary, **errors("404"))
            def get(self, sourced_id: str) -> Any:
                return _found(functools.partial(provider.cf_definition, kind=kind), sourced_id, version)

    definition_set("CFItemTypes", DefinitionKind.ITEM_TYPE, CFItemTypeSetSchema)
    definition_set("CFConcepts", DefinitionKind.CONCEPT, CFConceptSetSchema)
    definition_set("CFSubjects", DefinitionKind.SUBJECT, CFSubjectSetSchema)
    definition("CFLicenses", DefinitionKind.LICENSE, CFLicenseSchema, "One licence.")
    definition(
        "CFAssociationGroupings",
        DefinitionKind.ASSOCIATION_GROUPING,
        CFAssociationGroupingSchema,
        "One association grouping (e.g. the icon legend's inferred links).",
    )
    definition(
        "CFRubrics",
        DefinitionKind.RUBRIC,
        CFRubricSchema,
        "One rubric. capcourse has none of its own: only rubrics an imported package carried are found.",
    )
    return bp


provider_v1p1 = provider_blueprint(V1P1)
provider_v1p0 = provider_blueprint(V1P0)
