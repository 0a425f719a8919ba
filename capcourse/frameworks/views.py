"""REST API for frameworks: ``/api/v1/frameworks`` and ``/api/v1/items``."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from capcourse.accounts.auth import current_principal, require_role
from capcourse.accounts.models import Role
from capcourse.api import select_pager
from capcourse.extensions import db
from capcourse.frameworks import legend, services
from capcourse.frameworks.schemas import (
    FrameworkDetailSchema,
    FrameworkSchema,
    ItemDetailSchema,
    ItemSchema,
    ItemSearchArgsSchema,
    LegendSchema,
    LegendUpdateSchema,
    association_dict,
    framework_dict,
    item_dict,
    item_ref,
    legend_dict,
    tree_dict,
)

blp = Blueprint(
    "frameworks",
    __name__,
    url_prefix="/api/v1",
    description="Capability frameworks, their items and the associations between items.",
)


def _base_url() -> str:
    return str(current_app.config["CAPCOURSE_BASE_URL"])


@blp.route("/frameworks")
class FrameworkList(MethodView):
    @blp.response(200, FrameworkSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List frameworks with their item counts by item type."""
        return [framework_dict(s, _base_url()) for s in services.list_frameworks(db.session())]


@blp.route("/frameworks/<uuid:framework_id>")
class FrameworkDetail(MethodView):
    @blp.response(200, FrameworkDetailSchema)
    def get(self, framework_id: uuid.UUID) -> dict[str, Any]:
        """Get a framework with its whole item tree."""
        framework = services.get_framework(db.session(), framework_id)
        summary = next(s for s in services.list_frameworks(db.session()) if s.framework.id == framework.id)
        tree = services.item_tree(db.session(), framework)
        return framework_dict(summary, _base_url()) | {"items": [tree_dict(node, _base_url()) for node in tree]}


@blp.route("/items/<uuid:item_id>")
class ItemDetail(MethodView):
    @blp.response(200, ItemDetailSchema)
    def get(self, item_id: uuid.UUID) -> dict[str, Any]:
        """Get an item with its ancestors, children and associations (both directions)."""
        item = services.get_item(db.session(), item_id)
        base = _base_url()
        return item_dict(item, base) | {
            "ancestors": [item_ref(a, base) for a in services.item_ancestors(db.session(), item)],
            "children": [item_ref(c, base) for c in item.children],
            "associations": [association_dict(v, base) for v in services.item_associations(db.session(), item)],
        }


@blp.route("/items")
class ItemSearch(MethodView):
    @blp.arguments(ItemSearchArgsSchema, location="query")
    @blp.response(200, ItemSchema(many=True))
    @blp.paginate(select_pager(lambda item: item_dict(item, _base_url())))
    def get(self, args: dict[str, Any]) -> Any:
        """Search items by text, framework, item type and stage.

        Every word of ``q`` must appear in the statement, short name, code or notes.
        Paged: ``page`` and ``page_size``; totals in the ``X-Pagination`` header.
        """
        return services.search_items_query(args["q"], args["framework"], args["item_type"], args["stage"])


@blp.route("/frameworks/<uuid:framework_id>/icon-legend")
class IconLegend(MethodView):
    @blp.response(200, LegendSchema)
    def get(self, framework_id: uuid.UUID) -> dict[str, Any]:
        """The icon legend: which area each icon on the framework's items stands for.

        Rows are ``inferred`` where capcourse guessed the link (the source lost its
        legend) and ``confirmed`` once an admin has set them.
        """
        framework = services.get_framework(db.session(), framework_id)
        entries = list(legend.legend_entries(db.session(), framework))
        return legend_dict(framework, entries, legend.icon_counts(db.session(), framework))

    # Authentication comes before parsing: a caller without a key learns
    # nothing about the body this endpoint expects.
    @require_role(Role.ADMIN)
    @blp.doc(security=[{"apiKey": []}])
    @blp.arguments(LegendUpdateSchema)
    @blp.response(200, LegendSchema)
    @blp.alt_response(401, description="No valid API key.")
    @blp.alt_response(403, description="The key is not an admin key.")
    @blp.alt_response(404, description="No such framework, or no item carries the icon.")
    def put(self, body: dict[str, Any], framework_id: uuid.UUID) -> dict[str, Any]:
        """Set the areas one icon stands for (admin). The change is recorded as confirmed."""
        framework = services.get_framework(db.session(), framework_id)
        legend.set_icon_areas(
            db.session(),
            framework,
            body["icon"],
            body["areas"],
            body["rationale"],
            actor=current_principal().name,
        )
        db.session.commit()
        entries = list(legend.legend_entries(db.session(), framework))
        return legend_dict(framework, entries, legend.icon_counts(db.session(), framework))
