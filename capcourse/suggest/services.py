"""Suggestions wherever a person maps, and the record of what people decided about them.

* :func:`for_target`: framework items for a module or an activity, from its
  title, description, activities, SCORM package and any text a person adds
  (an uploaded document's).
* :func:`equivalents`: items of another framework equivalent to an item (the
  crosswalk editor calls this).
* :func:`areas_for_item`: curriculum areas for a Frontline effective attribute.

Nothing here changes a mapping, an association or an area link by itself: a
person confirms (:func:`confirm_mapping`, :func:`confirm_area`, or the crosswalk
editor, which calls :func:`record_decision`) or rejects (:func:`reject`), and
each decision is kept and moves later rankings (see :mod:`capcourse.suggest.ranking`).
Ranking never reads the associations between frameworks: what the sources say
about equivalence must not leak into what ``bench/suggest.py`` measures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.accounts.models import Role
from capcourse.catalogue.models import Activity, Module, Programme
from capcourse.catalogue.services import programme_of
from capcourse.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from capcourse.frameworks import areas
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.mapping import services as mapping
from capcourse.mapping.models import Mapping, MappingProvenance
from capcourse.mapping.screen import screen_frameworks
from capcourse.suggest.models import Decision, Kind, SubjectKind, SuggestionDecision
from capcourse.suggest.ranking import FIELD_WEIGHTS, Candidate, Feedback, Index, Ranked, stem_words
from capcourse.timestamps import utcnow

Target = Module | Activity

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
#: An uploaded document is read up to this many characters: enough for its topic, bounded in cost.
MAX_EXTRA_TEXT = 200_000


@dataclass(frozen=True)
class Suggestion:
    """One suggested item, best first, with why."""

    item: Item
    rank: int
    score: float
    #: The item's words the subject's text shares (unstemmed, as the item writes them).
    matched: list[str]
    #: Raised by earlier confirmations for similar text, or lowered by rejections.
    boosted: bool = False
    lowered: bool = False
    #: Associations already linking the subject item and this one (equivalents only), by type.
    linked: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        parts = [f"shares {', '.join(self.matched[:8])}" if self.matched else "no shared words"]
        if self.boosted:
            parts.append("mapped or confirmed before for similar text")
        if self.lowered:
            parts.append("people rejected it for similar text")
        return "; ".join(parts)


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": [f"1 to {MAX_LIMIT}."]})
    return limit


def _ancestors(item: Item, by_id: dict[uuid.UUID, Item]) -> list[Item]:
    found: list[Item] = []
    parent_id = item.parent_id
    while parent_id is not None and parent_id in by_id and len(found) < 20:
        found.append(by_id[parent_id])
        parent_id = by_id[parent_id].parent_id
    return found


def item_text(item: Item) -> str:
    """An item's own words: its short name and statement."""
    return " ".join(t for t in (item.abbreviated_statement, item.full_statement) if t)


def candidates(
    session: Session,
    frameworks: Sequence[Framework],
    *,
    item_types: Iterable[str] | None = None,
    linked: dict[uuid.UUID, list[str]] | None = None,
) -> tuple[list[Candidate], dict[uuid.UUID, Item]]:
    """The items of ``frameworks`` as ranking candidates (fields: statement, name, ancestors' text, linked text).

    Never the item's children: a theme is described by its own words and its
    capability's, not by the indicators under it.
    """
    wanted = set(item_types) if item_types else None
    items = list(
        session.scalars(select(Item).where(Item.framework_id.in_([f.id for f in frameworks])).order_by(Item.position))
    )
    by_id = {i.id: i for i in items}
    found = []
    for item in items:
        if wanted is not None and item.item_type not in wanted:
            continue
        context = " ".join(item_text(a) for a in _ancestors(item, by_id))
        found.append(
            Candidate(
                item.id,
                {
                    "statement": item.full_statement,
                    "name": item.abbreviated_statement or "",
                    "context": context,
                    "linked": " ".join((linked or {}).get(item.id, [])),
                },
            )
        )
    return found, by_id


def _feedback(session: Session, kind: Kind, item_ids: Iterable[uuid.UUID]) -> list[Feedback]:
    wanted = set(item_ids)
    rows = session.execute(
        select(
            SuggestionDecision.item_id,
            SuggestionDecision.subject_text,
            SuggestionDecision.decision,
            SuggestionDecision.subject_id,
        ).where(SuggestionDecision.kind == kind)
    )
    return [
        Feedback(item_id, text, decision == Decision.CONFIRMED, subject)
        for item_id, text, decision, subject in rows
        if item_id in wanted
    ]


def _suggestions(
    ranked: Sequence[Ranked], by_id: dict[uuid.UUID, Item], described: dict[uuid.UUID, str] | None = None
) -> list[Suggestion]:
    """Ranked candidates as suggestions; ``described`` is the text their shared words are shown from."""
    result = []
    for position, r in enumerate(ranked, start=1):
        assert isinstance(r.id, uuid.UUID)
        item = by_id[r.id]
        result.append(
            Suggestion(
                item=item,
                rank=position,
                score=r.score,
                matched=stem_words((described or {}).get(item.id, item_text(item)), r.matched),
                boosted=r.boosted,
                lowered=r.lowered,
            )
        )
    return result


# --- equivalents: an item's likely counterparts in another framework -------------------------


def equivalents(
    session: Session,
    item_id: uuid.UUID,
    target_framework_id: uuid.UUID,
    limit: int = DEFAULT_LIMIT,
    *,
    item_type: str | None = None,
) -> list[Suggestion]:
    """Items of ``target_framework_id`` most likely equivalent to ``item_id``, best first.

    Ranked from the texts alone (the item's own words, then its ancestors' as
    context) and the earlier ``equivalent`` decisions; existing associations
    between the two items are listed on each suggestion (``linked``) but never
    rank it. The item itself is never suggested.

    :param item_type: only items of this type (``Paragraph``, ``Theme`` …).
    :raises NotFoundError: unknown item or framework.
    :raises InvalidInputError: a limit outside 1 to 50.
    """
    _check_limit(limit)
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    framework = session.get(Framework, target_framework_id)
    if framework is None:
        raise NotFoundError(f"No framework has the identifier {target_framework_id}.")
    pool, by_id = candidates(session, [framework], item_types=[item_type] if item_type else None)
    index = Index(pool)
    ranked = index.rank(
        item_query(session, item, framework),
        feedback=_feedback(session, Kind.EQUIVALENT, by_id),
        subject=item.id,
        exclude=[item.id],
        limit=limit,
    )
    found = _suggestions(ranked, by_id)
    links: dict[uuid.UUID, list[str]] = {}
    for origin, destination, kind in session.execute(
        select(Association.origin_item_id, Association.destination_item_id, Association.association_type).where(
            (Association.origin_item_id == item.id) | (Association.destination_item_id == item.id)
        )
    ):
        other = destination if origin == item.id else origin
        if other is not None:
            links.setdefault(other, []).append(kind)
    return [
        Suggestion(s.item, s.rank, s.score, s.matched, s.boosted, s.lowered, sorted(links.get(s.item.id, [])))
        for s in found
    ]


def item_query(session: Session, item: Item, target: Framework) -> list[tuple[str, float]]:
    """What an item is asked with: its own words, and its ancestors' at a lower weight.

    The ancestors only when looking in another framework: within its own
    framework an item's ancestors are among the candidates (an indicator's
    theme), and asking with their words would answer with them.
    """
    parts = [(item_text(item), 1.0)]
    if target.id != item.framework_id:
        own = {i.id: i for i in session.scalars(select(Item).where(Item.framework_id == item.framework_id))}
        parts.append((" ".join(item_text(a) for a in _ancestors(item, own)), FIELD_WEIGHTS["context"]))
    return parts


# --- items for a module or an activity ------------------------------------------------------


def target_text(session: Session, target: Target, package_dir: Path | None = None) -> list[tuple[str, float]]:
    """What a module or activity says about itself, weighted: its title counts twice.

    With ``package_dir`` (the setting ``CAPCOURSE_PACKAGE_DIR``), the LOM metadata
    of the SCORM packages it came from counts too: their titles, descriptions and
    keywords, the package's and the item's own.
    """
    parts: list[tuple[str, float]] = [(target.title, 2.0), (target.description or "", 1.0)]
    if isinstance(target, Module):
        for activity in target.activities:
            parts.append((f"{activity.title} {activity.description or ''}", 0.5))
    else:
        parts.append((target.module.title, 0.5))
    parts.extend((text, 1.0) for text in _package_texts(session, target, package_dir))
    return [(text, weight) for text, weight in parts if text.strip()]


def _package_texts(session: Session, target: Target, package_dir: Path | None) -> list[str]:
    """The SCORM metadata of the packages the target's content came from (titles when the files are not at hand)."""
    from capcourse.packages.models import ContentPackage, PackageItem

    column = PackageItem.module_id if isinstance(target, Module) else PackageItem.activity_id
    rows = session.execute(
        select(ContentPackage.title, ContentPackage.storage_path, PackageItem.item_identifier)
        .join(PackageItem, PackageItem.package_id == ContentPackage.id)
        .where(column == target.id)
    ).all()
    texts: list[str] = []
    for title, storage, identifier in rows:
        texts.append(title)
        if package_dir is not None:
            texts.extend(_lom_texts(package_dir, storage, identifier))
    return list(dict.fromkeys(texts))


def _lom_texts(package_dir: Path, storage: str, identifier: str) -> list[str]:
    """Titles, descriptions and keywords of a stored package's LOM records: the manifest's and the item's."""
    import scorm

    root = (package_dir / storage).resolve()

    def load(location: str) -> bytes:
        path = (root / location).resolve()
        if not path.is_relative_to(root):
            raise OSError(f"{location} is outside the package")
        return path.read_bytes()

    try:
        manifest = scorm.parse_manifest((root / "imsmanifest.xml").read_bytes(), load, strict=False)
    except (OSError, ValueError, scorm.ScormError):
        return []  # a package whose files are gone still has its title
    records = [manifest.lom]
    item = manifest.item(identifier)
    if item is not None and item.metadata is not None:
        records.append(item.metadata.lom)
    texts: list[str] = []
    for lom in records:
        if lom is None:
            continue
        texts.extend(s.value for s in (*lom.title, *lom.description))
        texts.extend(s.value for keyword in lom.keywords for s in keyword)
    return texts


def _flatten(parts: Sequence[tuple[str, float]]) -> str:
    return " ".join(text for text, _ in parts)


def for_target(
    session: Session,
    principal: Principal,
    target: Target,
    limit: int = DEFAULT_LIMIT,
    *,
    extra_text: str | None = None,
    framework_ids: Sequence[uuid.UUID] | None = None,
    package_dir: Path | None = None,
) -> list[Suggestion]:
    """Framework items most likely to apply to ``target``, best first; items it maps already are left out.

    The candidates are the items of the programme's frameworks (every
    framework when it has none), or of ``framework_ids``. Earlier mappings of
    the programme teach as confirmations: an item mapped from a module whose
    text resembles this one ranks higher.

    :param extra_text: more text about the target, such as an uploaded document's.
    :param package_dir: where SCORM packages are stored, to read their metadata.
    """
    _check_limit(limit)
    programme = programme_of(target)
    access.programme_for_read(session, principal, programme.id)
    frameworks = _frameworks(session, programme, framework_ids)
    pool, by_id = candidates(session, frameworks)
    index = Index(pool)
    parts = target_text(session, target, package_dir)
    if extra_text:
        parts.append((extra_text[:MAX_EXTRA_TEXT], 1.0))
    mapped = {m.item_id for m in mapping.mappings_of(session, target)}
    feedback = _feedback(session, Kind.MAPPING, by_id) + _mapped_feedback(session, programme, target, set(by_id))
    ranked = index.rank(parts, feedback=feedback, subject=target.id, exclude=mapped, limit=limit)
    return _suggestions(ranked, by_id)


def _frameworks(session: Session, programme: Programme, framework_ids: Sequence[uuid.UUID] | None) -> list[Framework]:
    if not framework_ids:
        return [f for f in screen_frameworks(session, programme) if _maps_to(f)]
    found = list(session.scalars(select(Framework).where(Framework.id.in_(framework_ids))))
    missing = sorted(str(i) for i in set(framework_ids) - {f.id for f in found})
    if missing:
        raise InvalidInputError("Some frameworks do not exist.", {"framework_ids": [f"Unknown: {m}" for m in missing]})
    return found


def _maps_to(framework: Framework) -> bool:
    """Curriculum-area frameworks are filters on the screen, not what modules map to."""
    return not all(i.item_type == areas.AREA_TYPE for i in framework.items)


def _mapped_feedback(
    session: Session, programme: Programme, target: Target, item_ids: set[uuid.UUID]
) -> list[Feedback]:
    """The programme's other mappings, as confirmations of their item for their module's or activity's text."""
    rows = list(
        session.execute(
            select(Mapping.item_id, Module.id, Module.title, Module.description)
            .join(Module, Module.id == Mapping.module_id)
            .where(Mapping.programme_id == programme.id)
        )
    )
    rows += session.execute(
        select(Mapping.item_id, Activity.id, Activity.title, Activity.description)
        .join(Activity, Activity.id == Mapping.activity_id)
        .where(Mapping.programme_id == programme.id)
    ).all()
    return [
        Feedback(item_id, f"{title} {title} {description or ''}", True, subject)
        for item_id, subject, title, description in rows
        if subject != target.id and item_id in item_ids
    ]


# --- curriculum areas for an item -----------------------------------------------------------


def areas_for_item(session: Session, item_id: uuid.UUID, limit: int = 3) -> list[Suggestion]:
    """Curriculum areas most likely to hold ``item_id`` (a Frontline effective attribute), best first.

    An area is described by its name and by the text of the items linked to it
    (every link but removed ones and the item's own), so the shipped and
    confirmed links teach what an area is about. Areas the item is linked to
    already are left out.
    """
    _check_limit(limit)
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    choices = areas.area_choices(session, item.framework)
    if not choices:
        raise InvalidInputError(f"{item.framework.title!r} has no curriculum areas to suggest.")
    texts: dict[uuid.UUID, list[str]] = {}
    mine: set[uuid.UUID] = set()
    for link in areas.list_links(session, item.framework):
        if link.item_id == item.id:
            mine.add(link.area_item_id)
        else:
            texts.setdefault(link.area_item_id, []).append(item_text(link.item))
    area_frameworks = list({a.framework_id: a.framework for a in choices}.values())
    pool, by_id = candidates(session, area_frameworks, item_types=[areas.AREA_TYPE], linked=texts)
    by_id = {i: by_id[i] for i in by_id if by_id[i].item_type == areas.AREA_TYPE}
    ranked = Index(pool).rank(
        item_text(item),
        feedback=_feedback(session, Kind.AREA, by_id),
        subject=item.id,
        exclude=mine,
        limit=limit,
    )
    # An area's own name is short: its shared words are shown from the items linked to it too.
    described = {area: " ".join([item_text(by_id[area]), *texts.get(area, [])]) for area in by_id}
    return _suggestions(ranked, by_id, described)


# --- decisions ------------------------------------------------------------------------------


def record_decision(
    session: Session,
    actor: str,
    kind: Kind,
    subject_kind: SubjectKind,
    subject_id: uuid.UUID,
    item_id: uuid.UUID,
    decision: Decision,
    subject_text: str,
    *,
    programme_id: uuid.UUID | None = None,
    rank: int | None = None,
    score: float | None = None,
) -> SuggestionDecision:
    """Keep a person's decision about a suggestion (the latest about a pair replaces the earlier one).

    The crosswalk editor calls this with :attr:`Kind.EQUIVALENT` when a person
    accepts or turns down a suggested equivalent there.
    """
    if session.get(Item, item_id) is None:
        raise InvalidInputError(f"No framework item has the identifier {item_id}.", {"item_id": ["Unknown item."]})
    row = session.scalar(
        select(SuggestionDecision).where(
            SuggestionDecision.kind == kind,
            SuggestionDecision.subject_id == subject_id,
            SuggestionDecision.item_id == item_id,
        )
    )
    if row is None:
        row = SuggestionDecision(kind=kind, subject_id=subject_id, item_id=item_id)
        session.add(row)
    row.subject_kind, row.programme_id, row.decision = subject_kind, programme_id, decision
    row.subject_text, row.rank, row.score = subject_text[:MAX_EXTRA_TEXT], rank, score
    row.actor, row.at = actor, utcnow()
    session.flush()
    return row


def _subject_kind(target: Target) -> SubjectKind:
    return SubjectKind.MODULE if isinstance(target, Module) else SubjectKind.ACTIVITY


def confirm_mapping(
    session: Session,
    principal: Principal,
    target: Target,
    item_id: uuid.UUID,
    depth: str,
    *,
    rank: int | None = None,
    score: float | None = None,
) -> Mapping:
    """A person accepts a suggested item: map ``target`` to it (provenance ``suggested-then-confirmed``).

    :raises ConflictError: the target is mapped to the item already.
    """
    created = mapping.map_items(
        session, principal, target, [item_id], depth, provenance=MappingProvenance.SUGGESTED_THEN_CONFIRMED
    )
    record_decision(
        session,
        principal.name,
        Kind.MAPPING,
        _subject_kind(target),
        target.id,
        item_id,
        Decision.CONFIRMED,
        _flatten(target_text(session, target)),
        programme_id=programme_of(target).id,
        rank=rank,
        score=score,
    )
    return created[0]


def reject_mapping(
    session: Session,
    principal: Principal,
    target: Target,
    item_id: uuid.UUID,
    *,
    rank: int | None = None,
    score: float | None = None,
) -> SuggestionDecision:
    """A person turns a suggested item down: it is not offered for ``target`` again, and less for similar text."""
    access.require_content_editor(session, principal, programme_of(target))
    if any(m.item_id == item_id for m in mapping.mappings_of(session, target)):
        raise ConflictError(f"{target.title!r} is mapped to that item; remove the mapping instead.")
    return record_decision(
        session,
        principal.name,
        Kind.MAPPING,
        _subject_kind(target),
        target.id,
        item_id,
        Decision.REJECTED,
        _flatten(target_text(session, target)),
        programme_id=programme_of(target).id,
        rank=rank,
        score=score,
    )


def decide_equivalent(
    session: Session, principal: Principal, item_id: uuid.UUID, other_id: uuid.UUID, decision: Decision
) -> SuggestionDecision:
    """Record a person's decision about ``other_id`` as an equivalent of ``item_id`` (admins and leads).

    Only the decision: the association itself is made in the crosswalk editor.
    """
    if principal.role not in (Role.ADMIN, Role.LEAD):
        raise ForbiddenError("Only administrators and leads decide about equivalents.")
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    return record_decision(
        session, principal.name, Kind.EQUIVALENT, SubjectKind.ITEM, item.id, other_id, decision, item_text(item)
    )


def confirm_area(
    session: Session, actor: str, item_id: uuid.UUID, area_id: uuid.UUID, rationale: str | None = None
) -> areas.AreaLink:
    """An admin accepts a suggested curriculum area: a ``confirmed`` area link, and the decision kept."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    link = areas.set_link(
        session,
        item.framework,
        item.id,
        area_id,
        rationale or "Suggested from the attribute's wording; confirmed by a person.",
        actor,
    )
    record_decision(session, actor, Kind.AREA, SubjectKind.ITEM, item.id, area_id, Decision.CONFIRMED, item_text(item))
    return link


def reject_area(session: Session, actor: str, item_id: uuid.UUID, area_id: uuid.UUID) -> SuggestionDecision:
    """An admin turns a suggested curriculum area down: not offered for the item again."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"No framework item has the identifier {item_id}.")
    area = session.get(Item, area_id)
    if area is None or area.item_type != areas.AREA_TYPE:
        raise InvalidInputError(
            f"{area_id} is not a curriculum area.", {"area_id": [f"Not a curriculum area: {area_id}"]}
        )
    return record_decision(
        session, actor, Kind.AREA, SubjectKind.ITEM, item.id, area_id, Decision.REJECTED, item_text(item)
    )


def decisions_query(kind: Kind | None = None) -> Select[tuple[SuggestionDecision]]:
    """Decisions, newest first."""
    query = select(SuggestionDecision).order_by(SuggestionDecision.at.desc(), SuggestionDecision.id.desc())
    return query.where(SuggestionDecision.kind == kind) if kind else query


def decision_for(session: Session, kind: Kind, subject_id: uuid.UUID, item_id: uuid.UUID) -> SuggestionDecision:
    """The recorded decision about a pair."""
    row: SuggestionDecision | None = session.scalar(
        select(SuggestionDecision).where(
            SuggestionDecision.kind == kind,
            SuggestionDecision.subject_id == subject_id,
            SuggestionDecision.item_id == item_id,
        )
    )
    if row is None:
        raise NotFoundError("No decision about that suggestion.")
    return row
