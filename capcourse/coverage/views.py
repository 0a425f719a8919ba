"""Coverage API, exports and dashboard pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Blueprint as PageBlueprint
from flask import render_template, request
from flask.views import MethodView
from flask_login import login_required
from flask_smorest import Blueprint
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.accounts.auth import PEOPLE, current_principal, require_role
from capcourse.accounts.pages import page_principal
from capcourse.api import AUTH_DOC
from capcourse.catalogue.models import Programme
from capcourse.cohorts.names import label_in, name_in
from capcourse.cohorts.services import cohort_in, list_cohorts
from capcourse.coverage import exports, services
from capcourse.coverage.attainment import attainment_rows, learner_attainment
from capcourse.coverage.evidence import (
    EvidenceFilter,
    cohort,
    learner_carried,
    learner_evidence,
    learner_in_programme,
)
from capcourse.coverage.schemas import (
    CohortArgsSchema,
    CohortExportArgsSchema,
    CohortHeatMapSchema,
    CoverageArgsSchema,
    CoverageSchema,
    EvidenceArgsSchema,
    ExportArgsSchema,
    GapListSchema,
    ImpliedCoverageArgsSchema,
    LearnerEvidenceSchema,
    LearnerExportArgsSchema,
    TargetSchema,
    carried_evidence_dict,
    cohort_dict,
    coverage_dict,
    gap_list_dict,
    target_dict,
)
from capcourse.errors import InvalidInputError, NotFoundError
from capcourse.extensions import db
from capcourse.frameworks.crosswalks import OPTIONAL, coverage_provenances
from capcourse.frameworks.models import Framework, Item
from capcourse.frameworks.services import get_framework
from capcourse.mapping.screen import screen_frameworks
from capcourse.versions.services import code_label

blp = Blueprint("coverage", __name__, url_prefix="/api/v1", description="Curriculum coverage of programmes.")
pages = PageBlueprint("coverage_pages", __name__)
pages.add_app_template_global(services.deepest, "deepest")

EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def report_for(
    principal: Principal, programme_id: uuid.UUID, framework_id: uuid.UUID, include: Sequence[str] = ()
) -> services.CoverageReport:
    """The coverage report, implied coverage through published and confirmed links plus ``include``'s."""
    programme = access.programme_for_read(db.session(), principal, programme_id)
    framework = get_framework(db.session(), framework_id)
    return services.coverage(db.session(), programme, framework, coverage_provenances(include))


def _page_include() -> list[str]:
    """The crosswalk links a coverage page was asked to include besides the ones counted by default."""
    include = request.args.getlist("include")
    coverage_provenances(include)  # a 4xx naming the bad value
    return include


def _export(report: services.CoverageReport, kind: str, table: str = "items") -> Response:
    body: str | bytes = exports.coverage_csv(report, table) if kind == "csv" else exports.coverage_xlsx(report)
    name = f"coverage-{report.framework.key}{'' if kind == 'xlsx' or table == 'items' else '-' + table}.{kind}"
    return Response(body, mimetype=EXPORTS[kind], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/programmes/<uuid:programme_id>/coverage")
class Coverage(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(ImpliedCoverageArgsSchema, location="query")
    @blp.response(200, CoverageSchema)
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """Coverage of a framework: per item (direct and with sub-items, by depth), per level, gaps,
        taught-but-never-assessed, the capability × curriculum-area matrix and coverage per stage where the
        framework has them; and, apart, coverage implied through crosswalk links (published and confirmed ones,
        plus suggested or inferred ones if ``include`` asks)."""
        return coverage_dict(report_for(current_principal(), programme_id, args["framework"], args["include"]))


@blp.route("/programmes/<uuid:programme_id>/coverage/export.<any(csv, xlsx):kind>")
class CoverageExport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"200": {"description": "The coverage table as CSV or XLSX."}})
    @blp.arguments(ExportArgsSchema, location="query")
    def get(self, args: dict[str, Any], programme_id: uuid.UUID, kind: str) -> Response:
        """Download the coverage tables: XLSX has every item, the gaps, the levels and the matrix as sheets;
        CSV has the one ``table`` asked for."""
        return _export(report_for(current_principal(), programme_id, args["framework"]), kind, args["table"])


@blp.route("/programmes/<uuid:programme_id>/coverage/gaps")
class CoverageGaps(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(CoverageArgsSchema, location="query")
    @blp.response(200, GapListSchema)
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """The gaps (items nothing maps to) and the items taught but never assessed."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        framework = get_framework(db.session(), args["framework"])
        return gap_list_dict(services.gap_list(db.session(), programme, framework))


@blp.route("/programmes/<uuid:programme_id>/coverage/items/<uuid:item_id>/targets")
class CoverageTargets(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.response(200, TargetSchema(many=True))
    def get(self, programme_id: uuid.UUID, item_id: uuid.UUID) -> Any:
        """The modules and activities behind an item's coverage, including its sub-items'."""
        programme = access.programme_for_read(db.session(), current_principal(), programme_id)
        item = db.session.get(Item, item_id)
        if item is None:
            raise NotFoundError(f"No framework item has the identifier {item_id}.")
        report = services.coverage(db.session(), programme, item.framework)
        targets = services.mapped_targets(db.session(), programme, services.descendants(report, item_id))
        return [target_dict(t) for t in targets]


def evidence_filter(programme: Programme, args: dict[str, Any]) -> EvidenceFilter:
    """The filters of a request, with a cohort checked to be the programme's."""
    if args.get("cohort"):
        cohort_in(db.session(), programme, args["cohort"])
    return EvidenceFilter(args.get("course"), args.get("since"), args.get("until"), args.get("cohort"))


@blp.route("/programmes/<uuid:programme_id>/cohort")
class Cohort(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(CohortArgsSchema, location="query")
    @blp.response(200, CohortHeatMapSchema)
    def get(self, args: dict[str, Any], programme_id: uuid.UUID) -> Any:
        """The cohort heat map: for a page of learners, the items evidenced under each top-level item;
        and, for the whole cohort, the share of learners with evidence for each item. Evidence recorded
        against other versions of the framework is apart (``carried``, and per learner ``rows[].carried``)."""
        report = report_for(current_principal(), programme_id, args["framework"])
        filters = evidence_filter(report.programme, args)
        size = args["page_size"]
        result = cohort(db.session(), report, filters, (args["page"] - 1) * size, size)
        return cohort_dict(report, result, args["page"])


@blp.route("/programmes/<uuid:programme_id>/learners/<int:learner_id>/evidence")
class Evidence(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC)
    @blp.arguments(EvidenceArgsSchema, location="query")
    @blp.response(200, LearnerEvidenceSchema)
    def get(self, args: dict[str, Any], programme_id: uuid.UUID, learner_id: int) -> Any:
        """A learner's evidence per item (which activity, when, result) and the items still open,
        optionally from one course or a date range; apart, the evidence recorded against other versions of
        the framework, on the items it links to (``carried``)."""
        report = report_for(current_principal(), programme_id, args["framework"])
        learner = learner_in_programme(db.session(), report.programme, learner_id)
        filters = evidence_filter(report.programme, args)
        found, open_items = learner_evidence(db.session(), report, learner, filters)
        carried = learner_carried(db.session(), report, learner, filters)
        attainment = learner_attainment(db.session(), report, learner)
        return {
            "learner_id": learner.id,
            "name": name_in(db.session(), report.programme.id, learner),
            "evidence": [
                {
                    "item_id": e.item.id,
                    "code": e.item.code,
                    "activity": e.activity_title,
                    "occurred_at": e.occurred_at,
                    "outcome": e.outcome,
                    "score_scaled": e.score_scaled,
                }
                for e in found
            ],
            "carried": [carried_evidence_dict(e) for e in carried],
            "open_items": [
                {"id": i.id, "code": i.code, "statement": i.abbreviated_statement or i.full_statement}
                for i in open_items
            ],
            "achieved": [
                {
                    "item_id": a.item.id,
                    "code": a.item.code,
                    "statement": a.item.abbreviated_statement or a.item.full_statement,
                    "attained_at": a.attained_at,
                    "evidence": a.evidence,
                }
                for a in attainment.achieved
            ],
            "pending": [
                {
                    "item_id": p.item.id,
                    "code": p.item.code,
                    "statement": p.item.abbreviated_statement or p.item.full_statement,
                    "missing": p.missing,
                    "done": p.done,
                }
                for p in attainment.pending
            ],
        }


def _download(name: str, kind: str, tables: dict[str, list[list[object]]], table: str, title: str) -> Response:
    """CSV of the one ``table`` asked for, or XLSX with every table as a sheet."""
    if kind == "csv":
        body: str | bytes = exports.table_csv(tables[table])
        name = f"{name}-{table}"
    else:
        body = exports.sheets_xlsx(title, list(tables.items()))
    return Response(
        body, mimetype=EXPORTS[kind], headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'}
    )


def cohort_export(report: services.CoverageReport, args: dict[str, Any], kind: str) -> Response:
    """The whole cohort (every learner, not a page) with evidence and attainment, as CSV or XLSX."""
    filters = evidence_filter(report.programme, args)
    result = cohort(db.session(), report, filters, 0, 10**9)
    rows = attainment_rows(db.session(), report, filters.cohort_id, filters.since, filters.until)
    tables = exports.cohort_tables(report, result, rows)
    title = f"{report.programme.title}: cohort, {report.framework.title}"
    return _download(f"cohort-{report.framework.key}", kind, tables, args["table"], title)


def learner_export(report: services.CoverageReport, learner_id: int, args: dict[str, Any], kind: str) -> Response:
    learner = learner_in_programme(db.session(), report.programme, learner_id)
    found, open_items = learner_evidence(db.session(), report, learner, evidence_filter(report.programme, args))
    tables = exports.learner_tables(learner, found, learner_attainment(db.session(), report, learner), open_items)
    title = f"{label_in(db.session(), report.programme.id, learner)}: {report.framework.title}"
    return _download(f"learner-{learner.id}-{report.framework.key}", kind, tables, args["table"], title)


@blp.route("/programmes/<uuid:programme_id>/cohort/export.<any(csv, xlsx):kind>")
class CohortExport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"200": {"description": "The cohort's tables as CSV or XLSX."}})
    @blp.arguments(CohortExportArgsSchema, location="query")
    def get(self, args: dict[str, Any], programme_id: uuid.UUID, kind: str) -> Response:
        """Download the cohort: every learner × top-level item (evidenced and achieved), the rates per item, and
        every attainment with its date. XLSX holds the three as sheets; CSV the one ``table`` asked for."""
        return cohort_export(report_for(current_principal(), programme_id, args["framework"]), args, kind)


@blp.route("/programmes/<uuid:programme_id>/learners/<int:learner_id>/export.<any(csv, xlsx):kind>")
class LearnerExport(MethodView):
    @require_role(*PEOPLE)
    @blp.doc(**AUTH_DOC, responses={"200": {"description": "The learner's tables as CSV or XLSX."}})
    @blp.arguments(LearnerExportArgsSchema, location="query")
    def get(self, args: dict[str, Any], programme_id: uuid.UUID, learner_id: int, kind: str) -> Response:
        """Download a learner's achieved items, pending items, evidence and open items (XLSX: all four as sheets)."""
        return learner_export(report_for(current_principal(), programme_id, args["framework"]), learner_id, args, kind)


def _page_framework(programme: Programme) -> Framework:
    choices = screen_frameworks(db.session(), programme)
    chosen = request.args.get("framework")
    if chosen:
        try:
            return get_framework(db.session(), uuid.UUID(chosen))
        except ValueError as error:
            raise InvalidInputError(f"{chosen!r} is not a framework identifier.") from error
    return choices[0]


@pages.get("/programmes/<uuid:programme_id>/coverage")
@login_required
def dashboard(programme_id: uuid.UUID) -> str:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    framework = _page_framework(programme)
    include = _page_include()
    report = services.coverage(db.session(), programme, framework, coverage_provenances(include))
    return render_template(
        "coverage/dashboard.html",
        programme=programme,
        report=report,
        frameworks=screen_frameworks(db.session(), programme),
        depths=services.DEPTHS,
        first_course=programme.courses[0] if programme.courses else None,
        include=include,
        optional=OPTIONAL,
    )


def _page_filters(framework: Framework) -> dict[str, Any]:
    """The cohort page's query (dates as the browser's date inputs send them), loaded as the API loads its own."""
    query: dict[str, Any] = {"framework": str(framework.id)}
    for name in ("course", "cohort", "page"):
        if request.args.get(name):
            query[name] = request.args[name]
    for name, time in (("since", "00:00:00"), ("until", "23:59:59.999999")):
        value = request.args.get(name, "")
        if value:
            # A day means the whole day, in UTC (where capcourse keeps times).
            query[name] = f"{value}T{time}+00:00" if len(value) == 10 else value
    try:
        return dict(CohortArgsSchema().load(query))
    except ValidationError as error:
        raise InvalidInputError("The filters are not valid: see errors.", error.normalized_messages()) from error  # type: ignore[no-untyped-call]


@pages.get("/programmes/<uuid:programme_id>/cohort")
@login_required
def cohort_page(programme_id: uuid.UUID) -> str:
    principal = page_principal()
    programme = access.programme_for_read(db.session(), principal, programme_id)
    framework = _page_framework(programme)
    report = services.coverage(db.session(), programme, framework)
    args = _page_filters(framework)
    page, size = args["page"], args["page_size"]
    result = cohort(db.session(), report, evidence_filter(programme, args), (page - 1) * size, size)
    show = request.args.get("show", "evidenced")
    if show not in ("evidenced", "achieved"):
        raise InvalidInputError(f"show must be evidenced or achieved, not {show!r}.")
    return render_template(
        "coverage/cohort.html",
        code_label=code_label,
        show=show,
        programme=programme,
        report=report,
        cohort=result,
        frameworks=screen_frameworks(db.session(), programme),
        cohorts=list_cohorts(db.session(), principal, programme),
        page=page,
        pages=max(1, -(-result.learner_total // size)),
        args=args,
        query={
            k: request.args[k]
            for k in ("framework", "course", "cohort", "since", "until", "show")
            if request.args.get(k)
        },
    )


@pages.get("/programmes/<uuid:programme_id>/cohort/export.<any(csv, xlsx):kind>")
@login_required
def cohort_download(programme_id: uuid.UUID, kind: str) -> Response:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    framework = _page_framework(programme)
    args = _page_filters(framework)
    table = request.args.get("table", "heatmap")
    if table not in ("heatmap", "rates", "attainments"):
        raise InvalidInputError(f"There is no {table!r} table: heatmap, rates or attainments.")
    return cohort_export(services.coverage(db.session(), programme, framework), {**args, "table": table}, kind)


@pages.get("/programmes/<uuid:programme_id>/learners/<int:learner_id>/export.<any(csv, xlsx):kind>")
@login_required
def learner_download(programme_id: uuid.UUID, learner_id: int, kind: str) -> Response:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    report = services.coverage(db.session(), programme, _page_framework(programme))
    table = request.args.get("table", "achieved")
    if table not in ("achieved", "pending", "evidence", "open"):
        raise InvalidInputError(f"There is no {table!r} table: achieved, pending, evidence or open.")
    return learner_export(report, learner_id, {"table": table}, kind)


@pages.get("/programmes/<uuid:programme_id>/learners/<int:learner_id>")
@login_required
def learner_page(programme_id: uuid.UUID, learner_id: int) -> str:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    report = services.coverage(db.session(), programme, _page_framework(programme))
    learner = learner_in_programme(db.session(), programme, learner_id)
    found, open_items = learner_evidence(db.session(), report, learner)
    carried = learner_carried(db.session(), report, learner)
    return render_template(
        "coverage/learner.html",
        carried=carried,
        carried_items={e.link.item.id for e in carried},
        code_label=code_label,
        attainment=learner_attainment(db.session(), report, learner),
        programme=programme,
        report=report,
        learner=learner,
        name=name_in(db.session(), programme.id, learner),
        evidence=found,
        open_items=open_items,
    )


@pages.get("/programmes/<uuid:programme_id>/coverage/export.<any(csv, xlsx):kind>")
@login_required
def export(programme_id: uuid.UUID, kind: str) -> Response:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    table = request.args.get("table", "items")
    if table not in ("items", "gaps", "levels", "matrix"):
        raise InvalidInputError(f"There is no {table!r} table: items, gaps, levels or matrix.")
    return _export(services.coverage(db.session(), programme, _page_framework(programme)), kind, table)


@pages.get("/programmes/<uuid:programme_id>/coverage/items/<uuid:item_id>")
@login_required
def drill_down(programme_id: uuid.UUID, item_id: uuid.UUID) -> str:
    programme = access.programme_for_read(db.session(), page_principal(), programme_id)
    item = db.session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    report = services.coverage(db.session(), programme, item.framework)
    ids = services.descendants(report, item_id)
    area = request.args.get("area")
    if area:
        # A matrix cell: the sub-items of this row linked to that area.
        try:
            area_id = uuid.UUID(area)
        except ValueError as error:
            raise InvalidInputError(f"{area!r} is not an item identifier.") from error
        linked = {i for i, a in services.area_link_pairs(db.session(), item.framework) if a == area_id}
        ids = [i for i in ids if i in linked]
    return render_template(
        "coverage/drill_down.html",
        linked=len(ids),
        depths=services.DEPTHS,
        programme=programme,
        item=item,
        entry=report.item(item_id),
        targets=services.mapped_targets(db.session(), programme, ids),
        area=db.session.get(Item, uuid.UUID(area)) if area else None,
    )
