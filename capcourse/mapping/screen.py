"""What the mapping screen shows: framework trees to pick from, and current mappings."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from capcourse.catalogue.models import Activity, Module, Programme
from capcourse.frameworks.areas import has_links, list_links
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item
from capcourse.frameworks.services import TreeNode, item_tree
from capcourse.mapping.models import Depth, Mapping
from capcourse.mapping.services import mappings_of


@dataclass
class FrameworkPane:
    framework: Framework
    tree: list[TreeNode]
    item_types: list[str]


@dataclass
class MappingScreen:
    panes: list[FrameworkPane]
    mappings: list[Mapping]
    mapped: dict[uuid.UUID, Mapping]
    #: Curriculum areas an item is linked to (Frontline attributes through the icon legend).
    areas: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    depths: list[str] = field(default_factory=lambda: [d.value for d in Depth])

    @property
    def area_names(self) -> list[str]:
        return sorted({name for names in self.areas.values() for name in names})


def screen_frameworks(session: Session, programme: Programme) -> list[Framework]:
    """The programme's frameworks, then the curriculum-area frameworks their legends point to.

    A programme with no framework chosen yet offers every framework.
    """
    chosen = list(programme.frameworks) or list(session.scalars(select(Framework).order_by(Framework.title)))
    # Distinct identifiers, not rows: PostgreSQL cannot compare the JSON columns of whole rows.
    area_ids = (
        select(Item.framework_id)
        .join(IconLegendEntry, IconLegendEntry.area_item_id == Item.id)
        .where(IconLegendEntry.framework_id.in_([f.id for f in chosen]))
    )
    areas = session.scalars(select(Framework).where(Framework.id.in_(area_ids)).order_by(Framework.title)).all()
    return chosen + [f for f in areas if f not in chosen]


def _areas(session: Session, frameworks: list[Framework]) -> dict[uuid.UUID, list[str]]:
    """Curriculum areas per item: the area links where a framework has them, else associations to areas."""
    areas: dict[uuid.UUID, list[str]] = defaultdict(list)
    linked = [f for f in frameworks if has_links(session, f)]
    for framework in linked:
        for link in list_links(session, framework):
            areas[link.item_id].append(link.area.full_statement)
    frameworks = [f for f in frameworks if f not in linked]
    area = aliased(Item)
    rows = session.execute(
        select(Association.origin_item_id, area.full_statement)
        .join(area, area.id == Association.destination_item_id)
        .join(Item, Item.id == Association.origin_item_id)
        .where(area.item_type == "Curriculum area", Item.framework_id.in_([f.id for f in frameworks]))
    )
    for item_id, name in rows:
        areas[item_id].append(name)
    return dict(areas)


def mapping_screen(session: Session, programme: Programme, target: Module | Activity) -> MappingScreen:
    frameworks = screen_frameworks(session, programme)
    panes = []
    for framework in frameworks:
        types = sorted(set(session.scalars(select(Item.item_type).where(Item.framework_id == framework.id))))
        panes.append(FrameworkPane(framework, item_tree(session, framework), types))
    mappings = list(mappings_of(session, target))
    return MappingScreen(
        panes=panes,
        mappings=mappings,
        mapped={m.item_id: m for m in mappings},
        areas=_areas(session, frameworks),
    )
