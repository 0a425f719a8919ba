"""Reading frameworks: lists with counts, item trees, associations, search."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from capcourse.errors import NotFoundError
from capcourse.frameworks.models import Association, Framework, Item


@dataclass
class FrameworkSummary:
    framework: Framework
    item_counts: dict[str, int]

    @property
    def item_total(self) -> int:
        return sum(self.item_counts.values())


@dataclass
class TreeNode:
    item: Item
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class AssociationView:
    """An association seen from one item: ``direction`` is ``outgoing`` or ``incoming``."""

    association_id: uuid.UUID | None
    association_type: str
    direction: str
    other: Item | None
    other_uri: str | None
    provenance: str
    qualifier: str | None
    notes: str | None
    #: True for the isChildOf links that come from the tree itself.
    derived_from_tree: bool = False


def list_frameworks(session: Session) -> list[FrameworkSummary]:
    """Every framework with its item counts by item type, in one grouped query."""
    frameworks = session.scalars(select(Framework).order_by(Framework.family, Framework.version, Framework.title)).all()
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    rows = session.execute(
        select(Item.framework_id, Item.item_type, func.count()).group_by(Item.framework_id, Item.item_type)
    )
    for framework_id, item_type, count in rows:
        counts[framework_id][item_type] = count
    return [FrameworkSummary(f, dict(sorted(counts[f.id].items()))) for f in frameworks]


def get_framework(session: Session, framework_id: uuid.UUID) -> Framework:
    """:raises NotFoundError: no framework has this identifier."""
    framework = session.get(Framework, framework_id)
    if framework is None:
        raise NotFoundError(f"No framework has the identifier {framework_id}.")
    return framework


def get_framework_by_key_or_id(session: Session, reference: str) -> Framework:
    """Find a framework by its key (``frontline-lcf-pathway-1``) or identifier.

    :raises NotFoundError: neither matches.
    """
    try:
        return get_framework(session, uuid.UUID(reference))
    except ValueError:
        pass
    framework: Framework | None = session.scalar(select(Framework).where(Framework.key == reference))
    if framework is None:
        raise NotFoundError(f"No framework has the key or identifier {reference!r}.")
    return framework


def get_item(session: Session, item_id: uuid.UUID) -> Item:
    """:raises NotFoundError: no item has this identifier."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    return item


def item_tree(session: Session, framework: Framework) -> list[TreeNode]:
    """The framework's items as a tree, siblings in source order, from one query."""
    items = session.scalars(select(Item).where(Item.framework_id == framework.id).order_by(Item.position)).all()
    nodes = {item.id: TreeNode(item) for item in items}
    roots: list[TreeNode] = []
    for item in items:
        parent = nodes.get(item.parent_id) if item.parent_id else None
        (parent.children if parent else roots).append(nodes[item.id])
    return roots


def item_ancestors(session: Session, item: Item) -> list[Item]:
    """The item's ancestors, outermost first."""
    chain: list[Item] = []
    current = item.parent
    while current is not None:
        chain.append(current)
        current = current.parent
    return list(reversed(chain))


def item_associations(session: Session, item: Item) -> list[AssociationView]:
    """Every association of ``item``, outgoing then incoming, the tree's isChildOf first."""
    views: list[AssociationView] = []
    if item.parent is not None:
        views.append(AssociationView(None, "isChildOf", "outgoing", item.parent, None, "published", None, None, True))
    outgoing = session.scalars(
        select(Association).where(Association.origin_item_id == item.id).order_by(Association.association_type)
    ).all()
    for a in outgoing:
        views.append(
            AssociationView(
                a.id,
                a.association_type,
                "outgoing",
                a.destination,
                a.destination_uri,
                a.provenance,
                a.qualifier,
                a.notes,
            )
        )
    incoming = session.scalars(
        select(Association).where(Association.destination_item_id == item.id).order_by(Association.association_type)
    ).all()
    for a in incoming:
        views.append(
            AssociationView(a.id, a.association_type, "incoming", a.origin, None, a.provenance, a.qualifier, a.notes)
        )
    return views


def search_items_query(
    text: str | None = None,
    framework_ids: Sequence[uuid.UUID] = (),
    item_type: str | None = None,
    stage: str | None = None,
) -> Select[tuple[Item]]:
    """A query for items matching every given criterion, for the caller to paginate.

    :param text: words that must each appear (any case) in the statement, the
        short name, the code or the notes.
    """
    query = select(Item).join(Framework, Framework.id == Item.framework_id)
    for word in (text or "").split():
        # The user's % and _ are text, not wildcards.
        escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        columns = (Item.full_statement, Item.abbreviated_statement, Item.code, Item.notes)
        query = query.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in columns)))
    if framework_ids:
        query = query.where(Item.framework_id.in_(framework_ids))
    if item_type:
        query = query.where(Item.item_type == item_type)
    if stage:
        query = query.where(Item.stage == stage)
    return query.order_by(Framework.title, Framework.version, Item.code, Item.position)


def item_types(session: Session) -> list[str]:
    """Item types in use, for filters."""
    return list(session.scalars(select(Item.item_type).distinct().order_by(Item.item_type)))


def count_rows(session: Session, query: Select[tuple[Item]]) -> int:
    """How many rows ``query`` returns, counted by the database."""
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
