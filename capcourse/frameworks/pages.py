"""Web pages for browsing frameworks, readable by a programme lead."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from capcourse.extensions import db
from capcourse.frameworks import legend, services
from capcourse.frameworks.models import Framework, IconLegendEntry, Item

pages = Blueprint("framework_pages", __name__)

SEARCH_PAGE_SIZE = 50


@pages.app_template_filter("plural")
def plural(noun: str, count: int) -> str:
    """English plural of an item type: "sub-capability" → "sub-capabilities"."""
    if count == 1:
        return noun
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun if noun.endswith("s") else noun + "s"


@pages.app_template_filter("code")
def versioned_code(item: Item) -> str:
    """An item's code with its framework's version, ``KSS-PS.7.3 (2015)``: codes repeat across versions with
    other text. Empty for an item without a code."""
    if not item.code:
        return ""
    version = item.framework.version
    return f"{item.code} ({version})" if version else item.code


@pages.get("/frameworks")
def framework_list() -> str:
    summaries = services.list_frameworks(db.session())
    families: dict[str, list[services.FrameworkSummary]] = {}
    for summary in summaries:
        families.setdefault(summary.framework.family, []).append(summary)
    return render_template("frameworks/list.html", families=families, total=len(summaries))


@pages.get("/frameworks/<uuid:framework_id>")
def framework_detail(framework_id: uuid.UUID) -> str:
    framework = services.get_framework(db.session(), framework_id)
    summary = next(s for s in services.list_frameworks(db.session()) if s.framework.id == framework.id)
    entries = legend.legend_entries(db.session(), framework)
    icon_areas: dict[str, list[Item]] = {}
    for entry in entries:
        icon_areas.setdefault(entry.icon, []).append(entry.area)
    return render_template(
        "frameworks/detail.html",
        framework=framework,
        summary=summary,
        tree=services.item_tree(db.session(), framework),
        legend_entries=entries,
        icon_areas=icon_areas,
        icon_counts=legend.icon_counts(db.session(), framework),
        legend_choices=_legend_choices(entries),
    )


def _legend_choices(entries: Sequence[IconLegendEntry]) -> list[Item]:
    """Every area of the frameworks the legend points into: what an icon may stand for."""
    frameworks = {e.area.framework_id for e in entries}
    if not frameworks:
        return []
    return list(db.session.scalars(select(Item).where(Item.framework_id.in_(frameworks)).order_by(Item.position)))


@pages.get("/items/<uuid:item_id>")
def item_detail(item_id: uuid.UUID) -> str:
    item = services.get_item(db.session(), item_id)
    return render_template(
        "frameworks/item.html",
        item=item,
        ancestors=services.item_ancestors(db.session(), item),
        associations=services.item_associations(db.session(), item),
    )


@pages.get("/search")
def search() -> str:
    text = request.args.get("q", "").strip()[:200]
    framework_ids = []
    for value in request.args.getlist("framework"):
        try:
            framework_ids.append(uuid.UUID(value))
        except ValueError:
            abort(400, f"{value!r} is not a framework identifier.")
    item_type = request.args.get("item_type") or None
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(400, "The page number must be a whole number from 1.")
    page_number = int(page)
    results: list[Item] = []
    total = 0
    if text or framework_ids or item_type:
        query = services.search_items_query(text, framework_ids, item_type)

        total = services.count_rows(db.session(), query)
        results = list(db.session.scalars(query.offset((page_number - 1) * SEARCH_PAGE_SIZE).limit(SEARCH_PAGE_SIZE)))
    return render_template(
        "frameworks/search.html",
        text=text,
        framework_ids=framework_ids,
        item_type=item_type,
        results=results,
        total=total,
        page=page_number,
        pages=max(1, -(-total // SEARCH_PAGE_SIZE)),
        frameworks=[s.framework for s in services.list_frameworks(db.session())],
        item_types=services.item_types(db.session()),
    )


@pages.get("/uri/<uuid:identifier>")
def resolve_uri(identifier: uuid.UUID) -> Response:
    """Make our framework and item URIs resolve: to the API for JSON clients, else the page."""
    wants_json = request.accept_mimetypes.best == "application/json"
    if db.session.get(Framework, identifier) is not None:
        endpoint = "frameworks.FrameworkDetail" if wants_json else "framework_pages.framework_detail"
        return redirect(url_for(endpoint, framework_id=identifier), 303)
    if db.session.get(Item, identifier) is not None:
        endpoint = "frameworks.ItemDetail" if wants_json else "framework_pages.item_detail"
        return redirect(url_for(endpoint, item_id=identifier), 303)
    abort(404, f"Nothing in capcourse has the identifier {identifier}.")
