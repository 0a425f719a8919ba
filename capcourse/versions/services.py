"""Framework versions and the drift report: moving a programme from one version of a framework to another.

The versions of a framework share a ``family``; what links their items is data,
the associations (``replacedBy`` at every level for the shipped KSS, each with
why). The drift report lists every mapping of the programme to an item of the
older version, says what became of that item (unchanged, changed, split, merged,
removed) and proposes the newer item(s) with the association's reason. A lead
reviews it, edits the targets, and applies it in one confirmed step: the
``confirm_token`` of the report they reviewed, which matches only while the
mappings and the links are as they were.

Applying never rewrites learner evidence (see :mod:`capcourse.versions.evidence`)
and writes every change into the mapping history.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.catalogue.models import Activity, Module, Programme
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError
from capcourse.frameworks.crosswalks import COUNTED
from capcourse.frameworks.models import Association, Framework, Item
from capcourse.mapping.models import Depth, Mapping, MappingEvent, MappingProvenance
from capcourse.naturalsort import natural_key
from capcourse.records import evidence
from capcourse.records.models import Evidence
from capcourse.timestamps import utcnow
from capcourse.versions.models import MovedMapping, RetiredMapping, VersionMove

logger = logging.getLogger(__name__)

#: Association types that carry an item from one version to another, strongest first.
VERSION_LINKS = ("replacedBy", "exactMatchOf", "isRelatedTo")


class Change:
    """What became of an older item in the newer version."""

    UNCHANGED = "unchanged"
    CHANGED = "changed"
    SPLIT = "split"
    MERGED = "merged"
    REMOVED = "removed"
    ALL = (UNCHANGED, CHANGED, SPLIT, MERGED, REMOVED)


class Action:
    """What the lead decided for one mapping."""

    MOVE = "move"
    KEEP = "keep"
    DROP = "drop"
    ALL = (MOVE, KEEP, DROP)


def framework_label(framework: Framework) -> str:
    """A framework's title with its version, as people tell versions apart."""
    return f"{framework.title} ({framework.version})" if framework.version else framework.title


def item_label(item: Item, framework: Framework | None = None) -> str:
    """``KSS-PS.7.3 (2015) Reflect upon…``: a code is shown with its framework's version (codes repeat)."""
    version = (framework or item.framework).version
    code = f"{item.code} ({version})" if item.code and version else (item.code or "")
    name = item.abbreviated_statement or item.full_statement
    return f"{code} {name}".strip()


def code_label(item: Item, framework: Framework | None = None) -> str:
    """``KSS-PS.7.3 (2015)``: the code with its framework's version (the start of the text without a code)."""
    version = (framework or item.framework).version
    if not item.code:
        return item.full_statement[:60]
    return f"{item.code} ({version})" if version else item.code


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip().casefold()


def versions_of(session: Session, framework: Framework) -> list[Framework]:
    """The other frameworks of the family, oldest version first (those without a version last)."""
    others = session.scalars(
        select(Framework).where(Framework.family == framework.family, Framework.id != framework.id)
    ).all()
    return sorted(others, key=lambda f: (f.version is None, f.version or "", f.title))


@dataclass(frozen=True)
class Proposal:
    """A newer item proposed for a mapping, and why."""

    item: Item
    association_type: str
    provenance: str
    reason: str
    #: Weaker links joining the same two items (``exactMatchOf`` beside ``replacedBy``): shown, not followed again.
    also: tuple[str, ...] = ()


@dataclass
class DriftEntry:
    mapping: Mapping
    target_kind: str
    target_title: str
    course_title: str
    item: Item
    change: str
    #: Why, in a sentence built from the links (each proposal carries its link's own note).
    summary: str
    proposals: list[Proposal]
    #: Newer items the module or activity is mapped to already.
    already_mapped: set[uuid.UUID] = field(default_factory=set)


@dataclass
class DriftReport:
    programme: Programme
    source: Framework
    target: Framework
    entries: list[DriftEntry]
    #: Every item of the newer version, to pick another target from.
    target_items: list[Item]
    confirm_token: str

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(Change.ALL, 0)
        for entry in self.entries:
            counts[entry.change] += 1
        return counts

    def entry(self, mapping_id: uuid.UUID) -> DriftEntry | None:
        return next((e for e in self.entries if e.mapping.id == mapping_id), None)


def _links(
    session: Session, source: Framework, target: Framework, provenances: Collection[str] | None = None
) -> list[tuple[str, str, int | None, str | None, uuid.UUID, uuid.UUID]]:
    """(type, provenance, sequence, notes, source item, target item) for every version link between the two
    (of one of ``provenances`` when given)."""
    origin, destination = aliased(Item), aliased(Item)
    query = (
        select(
            Association.association_type,
            Association.provenance,
            Association.sequence,
            Association.notes,
            Association.origin_item_id,
            Association.destination_item_id,
            origin.framework_id,
        )
        .join(origin, origin.id == Association.origin_item_id)
        .join(destination, destination.id == Association.destination_item_id)
        .where(
            Association.association_type.in_(VERSION_LINKS),
            or_(
                (origin.framework_id == source.id) & (destination.framework_id == target.id),
                (origin.framework_id == target.id) & (destination.framework_id == source.id),
            ),
        )
    )
    if provenances is not None:
        query = query.where(Association.provenance.in_(sorted(provenances)))
    rows = session.execute(query).all()
    links = []
    for kind, provenance, sequence, notes, origin_id, destination_id, origin_framework in rows:
        assert destination_id is not None  # joined to an item
        ours, theirs = (origin_id, destination_id) if origin_framework == source.id else (destination_id, origin_id)
        links.append((kind, provenance, sequence, notes, ours, theirs))
    return links


Counterpart = tuple[Item, str, str, str | None, int | None]


def link_kinds(
    session: Session, source: Framework, target: Framework, provenances: Collection[str] | None = None
) -> dict[tuple[uuid.UUID, uuid.UUID], set[str]]:
    """(item of ``source``, item of ``target``) → the types of the version links joining the two directly.

    A KSS paragraph is ``replacedBy`` its successor and, where the text is the same, ``exactMatchOf`` it too;
    a split paragraph ``isRelatedTo`` each part besides: one pair, several kinds, followed once.
    """
    kinds: dict[tuple[uuid.UUID, uuid.UUID], set[str]] = defaultdict(set)
    for kind, _, _, _, ours, theirs in _links(session, source, target, provenances):
        kinds[ours, theirs].add(kind)
    return dict(kinds)


def _also(
    kinds: MappingType[tuple[uuid.UUID, uuid.UUID], set[str]], ours: uuid.UUID, theirs: uuid.UUID, kind: str
) -> tuple[str, ...]:
    return tuple(k for k in VERSION_LINKS if k != kind and k in kinds.get((ours, theirs), ()))


def _direct(
    session: Session, source: Framework, target: Framework, provenances: Collection[str] | None = None
) -> dict[uuid.UUID, list[Counterpart]]:
    links = _links(session, source, target, provenances)
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_({t for *_, t in links})))}
    found: dict[uuid.UUID, list[Counterpart]] = defaultdict(list)
    for kind in VERSION_LINKS:
        for link_kind, provenance, sequence, notes, ours, theirs in links:
            if link_kind != kind or (ours in found and found[ours][0][1] != kind):
                continue
            if all(existing[0].id != theirs for existing in found[ours]):
                found[ours].append((items[theirs], kind, provenance, notes, sequence))
    for entries in found.values():
        entries.sort(key=lambda e: (e[4] is None, e[4] or 0, e[0].position))
    return dict(found)


def successors(
    session: Session, source: Framework, target: Framework, provenances: Collection[str] | None = None
) -> dict[uuid.UUID, list[Counterpart]]:
    """Per item of ``source``: its counterparts in ``target`` through the strongest kind of link it has.

    The drift report reads links of every provenance (the lead reviews each
    proposal); evidence carried across versions passes ``provenances`` (the
    ones coverage counts).

    A ``replacedBy`` link is read in either direction (moving back to an older
    version follows it backwards); ``exactMatchOf`` and ``isRelatedTo`` are used
    only for an item that has no ``replacedBy`` link. Two versions with no link
    between them are bridged through a version between them (2015 → 2018 → 2022):
    the links are followed one after the other and their reasons joined.
    """
    found = _direct(session, source, target, provenances)
    if found:
        return found
    for middle in versions_of(session, source):
        if middle.id == target.id:
            continue
        first = _direct(session, source, middle, provenances)
        second = _direct(session, middle, target, provenances) if first else {}
        if not second:
            continue
        bridged: dict[uuid.UUID, list[Counterpart]] = {}
        for origin, steps in first.items():
            chain: list[Counterpart] = []
            for step, kind, provenance, notes, _ in steps:
                for end, kind2, provenance2, notes2, sequence in second.get(step.id, []):
                    if all(c[0].id != end.id for c in chain):
                        weakest = kind if VERSION_LINKS.index(kind) > VERSION_LINKS.index(kind2) else kind2
                        reason = f"{code_label(step, middle)}: {notes or kind} Then: {notes2 or kind2}"
                        chain.append((end, weakest, _weaker(provenance, provenance2), reason, sequence))
            if chain:
                bridged[origin] = chain
        return bridged
    return {}


def _weaker(a: str, b: str) -> str:
    """The provenance of a chain of two links: the less certain of the two."""
    order = ("published", "confirmed", "inferred", "suggested")
    return max(a, b, key=lambda p: order.index(p) if p in order else len(order))


def _classify(item: Item, proposals: Sequence[Proposal], predecessors: MappingType[uuid.UUID, int]) -> tuple[str, str]:
    if not proposals:
        return (
            Change.REMOVED,
            "No item of the newer version replaces it: keep the mapping on this version or choose a new item.",
        )
    codes = ", ".join(code_label(p.item) for p in proposals)
    if len(proposals) > 1:
        return (
            Change.SPLIT,
            f"Split into {len(proposals)} items ({codes}): the mapping goes to each, at the same depth.",
        )
    (proposal,) = proposals
    if predecessors.get(proposal.item.id, 0) > 1:
        return Change.MERGED, f"Merged: {codes} replaces {predecessors[proposal.item.id]} items of the older version."
    if _normalised(proposal.item.full_statement) == _normalised(item.full_statement):
        return Change.UNCHANGED, f"Same text as {codes}: the mapping moves as it is."
    return Change.CHANGED, f"The wording changed in {codes}: check the mapping still holds."


def _token(source: Framework, target: Framework, entries: Sequence[DriftEntry]) -> str:
    digest = hashlib.sha256(f"{source.id} {target.id}".encode())
    for entry in sorted(entries, key=lambda e: str(e.mapping.id)):
        digest.update(f"|{entry.mapping.id}:{entry.mapping.version}:{entry.item.id}:{entry.mapping.depth}".encode())
        digest.update(",".join(str(p.item.id) for p in entry.proposals).encode())
    return digest.hexdigest()[:20]


def check_versions(source: Framework, target: Framework) -> None:
    """:raises InvalidInputError: the two are not two versions of one framework."""
    if source.id == target.id:
        raise InvalidInputError("Choose two different versions.", {"to": ["Must differ from 'from'."]})
    if source.family != target.family:
        raise InvalidInputError(
            f"{framework_label(source)!r} and {framework_label(target)!r} are not versions of one framework.",
            {"to": [f"Must be a version of the family {source.family!r}."]},
        )


def drift_report(
    session: Session, principal: Principal, programme: Programme, source: Framework, target: Framework
) -> DriftReport:
    """Every mapping of ``programme`` to an item of ``source``, what became of its item in ``target``, and the proposal.

    :raises InvalidInputError: the frameworks are not two versions of one framework.
    """
    access.programme_for_read(session, principal, programme.id)
    check_versions(source, target)
    found = successors(session, source, target)
    predecessors: dict[uuid.UUID, int] = defaultdict(int)
    for counterparts in found.values():
        if len(counterparts) == 1:
            predecessors[counterparts[0][0].id] += 1
    mappings = session.scalars(
        select(Mapping)
        .join(Item, Item.id == Mapping.item_id)
        .where(Mapping.programme_id == programme.id, Item.framework_id == source.id)
        .options(
            selectinload(Mapping.item),
            selectinload(Mapping.module).selectinload(Module.course),
            selectinload(Mapping.activity).selectinload(Activity.module).selectinload(Module.course),
        )
    ).all()
    # What each module and activity maps to in the newer version already.
    target_mapped: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for module_id, activity_id, item_id in session.execute(
        select(Mapping.module_id, Mapping.activity_id, Mapping.item_id)
        .join(Item, Item.id == Mapping.item_id)
        .where(Mapping.programme_id == programme.id, Item.framework_id == target.id)
    ):
        owner = module_id or activity_id
        assert owner is not None  # a mapping has one target (check constraint)
        target_mapped[owner].add(item_id)
    kinds = link_kinds(session, source, target)
    entries: list[DriftEntry] = []
    for mapping in mappings:
        proposals = [
            Proposal(
                item, kind, provenance, notes or f"{kind} ({provenance})", _also(kinds, mapping.item_id, item.id, kind)
            )
            for item, kind, provenance, notes, _ in found.get(mapping.item_id, [])
        ]
        change, summary = _classify(mapping.item, proposals, predecessors)
        if mapping.module is not None:
            kind, title, course = "module", mapping.module.title, mapping.module.course
        else:
            assert mapping.activity is not None  # a mapping has one target (check constraint)
            kind, title, course = "activity", mapping.activity.title, mapping.activity.module.course
        entries.append(
            DriftEntry(
                mapping,
                kind,
                title,
                course.title,
                mapping.item,
                change,
                summary,
                proposals,
                target_mapped.get(mapping.module_id or mapping.activity_id, set()),  # type: ignore[arg-type]
            )
        )
    entries.sort(key=lambda e: (e.course_title, e.target_title, e.item.position, e.item.code or ""))
    target_items = session.scalars(select(Item).where(Item.framework_id == target.id).order_by(Item.code)).all()
    return DriftReport(programme, source, target, entries, list(target_items), _token(source, target, entries))


@dataclass(frozen=True)
class Decision:
    """The lead's decision for one mapping: move it to these items, keep it on the older version, or drop it."""

    mapping_id: uuid.UUID
    action: str
    item_ids: tuple[uuid.UUID, ...] = ()


def _check_decisions(report: DriftReport, decisions: Sequence[Decision]) -> dict[uuid.UUID, Decision]:
    errors: dict[str, list[str]] = {}
    targets = {i.id for i in report.target_items}
    chosen: dict[uuid.UUID, Decision] = {}
    for index, decision in enumerate(decisions):
        where = f"decisions.{index}"
        entry = report.entry(decision.mapping_id)
        if entry is None:
            errors[where] = [f"Mapping {decision.mapping_id} is not in this drift report."]
        elif decision.mapping_id in chosen:
            errors[where] = [f"Mapping {decision.mapping_id} has two decisions."]
        elif decision.action not in Action.ALL:
            errors[where] = [f"Unknown action {decision.action!r}: one of {', '.join(Action.ALL)}."]
        elif decision.action == Action.MOVE and not decision.item_ids:
            errors[where] = ["Moving needs at least one item of the newer version (or keep, or drop)."]
        elif decision.action == Action.MOVE and (strangers := [str(i) for i in decision.item_ids if i not in targets]):
            errors[where] = [f"Not an item of {framework_label(report.target)}: {', '.join(strangers)}."]
        else:
            chosen[decision.mapping_id] = decision
    if errors:
        raise InvalidInputError("Some decisions cannot be applied: see errors.", errors)
    return chosen


def default_decision(entry: DriftEntry) -> Decision:
    """Move to the proposals; keep a mapping whose item has no successor."""
    if entry.proposals:
        return Decision(entry.mapping.id, Action.MOVE, tuple(p.item.id for p in entry.proposals))
    return Decision(entry.mapping.id, Action.KEEP)


def _event(
    programme: Programme,
    mapping_id: uuid.UUID,
    entry: DriftEntry,
    item_id: uuid.UUID,
    label: str,
    action: str,
    before: str | None,
    after: str | None,
    actor: str,
    now: datetime,
) -> MappingEvent:
    return MappingEvent(
        programme_id=programme.id,
        mapping_id=mapping_id,
        module_id=entry.mapping.module_id,
        activity_id=entry.mapping.activity_id,
        target_title=entry.target_title[:300],
        item_id=item_id,
        item_label=label[:500],
        action=action,
        depth_before=before,
        depth_after=after,
        actor=actor,
        at=now,
    )


def _deeper(a: str, b: str) -> str:
    order = list(Depth)
    return a if order.index(Depth(a)) >= order.index(Depth(b)) else b


def apply_drift(
    session: Session,
    principal: Principal,
    programme: Programme,
    source: Framework,
    target: Framework,
    confirm_token: str | None,
    decisions: Sequence[Decision] = (),
) -> VersionMove:
    """Apply a reviewed drift report in one step; mappings without a decision take :func:`default_decision`.

    Each moved mapping is retired from the older item (its evidence up to now stays there) and the module
    or activity is mapped to the chosen newer items at the same depth (a mapping it has already keeps the
    deeper depth). The programme then follows the newer version (the older one stays while a mapping is
    kept on it). Every change is in the mapping history.

    :raises ForbiddenError: only the programme's leads (and admins) move it to another version.
    :raises InvalidInputError: no confirm token, or a decision that cannot be applied.
    :raises ConflictError: the mappings or links changed since the report was made (a new token is given).
    """
    access.require_programme_manager(session, principal, programme)
    report = drift_report(session, principal, programme, source, target)
    if not confirm_token:
        raise InvalidInputError(
            "Review the drift report first, then apply it with its confirm_token.",
            {"confirm_token": [f"Required: {report.confirm_token}"]},
        )
    if confirm_token != report.confirm_token:
        raise ConflictError(
            "The mappings or the links between the versions changed since this drift report was made: review it again.",
            {"confirm_token": [f"The current report's token is {report.confirm_token}."]},
        )
    chosen = _check_decisions(report, decisions)
    now = utcnow()
    # moved: mappings taken off the older version; created: new mappings; deepened / already: the module or
    # activity was mapped to the newer item already (at a shallower depth / as deep); kept; dropped.
    summary = {"moved": 0, "created": 0, "deepened": 0, "already": 0, "kept": 0, "dropped": 0}
    move = VersionMove(
        programme_id=programme.id,
        from_framework_id=source.id,
        to_framework_id=target.id,
        from_label=framework_label(source)[:600],
        to_label=framework_label(target)[:600],
        actor=principal.name,
        at=now,
        summary=dict(summary),  # a copy: the JSON column sees the final counts as a change
    )
    session.add(move)
    session.flush()
    targets = {i.id: i for i in report.target_items}
    touched: set[uuid.UUID] = set()
    for entry in report.entries:
        decision = chosen.get(entry.mapping.id) or default_decision(entry)
        if decision.action == Action.KEEP:
            summary["kept"] += 1
            continue
        mapping = entry.mapping
        new_items = [targets[i] for i in dict.fromkeys(decision.item_ids)] if decision.action == Action.MOVE else []
        old_label = item_label(entry.item, source)
        moved_to = ", ".join(code_label(i, target) for i in new_items)
        session.add(
            RetiredMapping(
                move_id=move.id,
                programme_id=programme.id,
                mapping_id=mapping.id,
                module_id=mapping.module_id,
                activity_id=mapping.activity_id,
                item_id=mapping.item_id,
                depth=mapping.depth,
                retired_at=now,
                moved_to=[str(i.id) for i in new_items],
            )
        )
        action = "moved" if new_items else "deleted"
        label = f"{old_label} → {moved_to}" if new_items else old_label
        session.add(
            _event(
                programme, mapping.id, entry, mapping.item_id, label, action, mapping.depth, None, principal.name, now
            )
        )
        touched.add(mapping.item_id)
        depth = mapping.depth
        target_id = mapping.module_id or mapping.activity_id
        session.delete(mapping)
        session.flush()
        summary["moved" if new_items else "dropped"] += 1
        for item in new_items:
            touched.add(item.id)
            column = Mapping.module_id if entry.target_kind == "module" else Mapping.activity_id
            existing = session.scalar(select(Mapping).where(column == target_id, Mapping.item_id == item.id))
            if existing is not None:
                deeper = _deeper(existing.depth, depth)
                if deeper != existing.depth:
                    before = existing.depth
                    existing.depth, existing.updated_by, existing.updated_at = deeper, principal.name, now
                    session.flush()
                    session.add(
                        _event(
                            programme,
                            existing.id,
                            entry,
                            item.id,
                            item_label(item, target),
                            "updated",
                            before,
                            deeper,
                            principal.name,
                            now,
                        )
                    )
                    summary["deepened"] += 1
                else:
                    summary["already"] += 1
                continue
            created = Mapping(
                programme_id=programme.id,
                module_id=mapping.module_id,
                activity_id=mapping.activity_id,
                item_id=item.id,
                depth=depth,
                provenance=MappingProvenance.MOVED,
                created_by=principal.name,
                created_at=now,
                updated_by=principal.name,
                updated_at=now,
            )
            session.add(created)
            session.flush()
            session.add(MovedMapping(mapping_id=created.id, move_id=move.id, counts_from=now))
            session.add(
                _event(
                    programme,
                    created.id,
                    entry,
                    item.id,
                    item_label(item, target),
                    "created",
                    None,
                    depth,
                    principal.name,
                    now,
                )
            )
            summary["created"] += 1
    # The programme follows the newer version; the older one stays while a mapping is kept on it.
    if target not in programme.frameworks:
        programme.frameworks.append(target)
    if summary["kept"] == 0 and source in programme.frameworks:
        programme.frameworks.remove(source)
    move.summary = dict(summary)
    session.flush()
    evidence.refresh_items(session, programme.id, touched)
    logger.info(
        "%s moved %r from %s to %s: %s", principal.name, programme.title, move.from_label, move.to_label, summary
    )
    return move


def moves_of(session: Session, programme: Programme) -> list[VersionMove]:
    """The programme's applied drift reports, newest first."""
    return list(
        session.scalars(
            select(VersionMove).where(VersionMove.programme_id == programme.id).order_by(VersionMove.at.desc())
        )
    )


def get_move(session: Session, principal: Principal, move_id: uuid.UUID) -> VersionMove:
    """:raises NotFoundError: no such move, or one of a programme ``principal`` may not read."""
    move = session.get(VersionMove, move_id)
    if move is None:
        raise NotFoundError(f"No version move has the identifier {move_id}.")
    try:
        access.programme_for_read(session, principal, move.programme_id)
    except NotFoundError as error:
        raise NotFoundError(f"No version move has the identifier {move_id}.") from error
    return move


@dataclass
class CarriedEvidence:
    """Learners with evidence for an item of another version, shown on the item it links to."""

    item: Item
    via: Item
    via_framework: Framework
    association_type: str
    learners: int
    completions: int
    #: The link's provenance (published or confirmed unless more were asked for).
    provenance: str = "published"
    #: Other links joining the same two items (``exactMatchOf`` beside ``replacedBy``): the evidence counts once.
    also: tuple[str, ...] = ()


def carried_evidence(
    session: Session, programme: Programme, framework: Framework, provenances: Collection[str] = COUNTED
) -> list[CarriedEvidence]:
    """Evidence recorded against the other versions of ``framework``, per item of ``framework`` it links to.

    Read straight from the evidence rows, never copied: the older items keep it. Only links coverage
    counts carry it (published and confirmed, :data:`~capcourse.frameworks.crosswalks.COUNTED`, unless
    the caller passes more).
    """
    rows: list[CarriedEvidence] = []
    for other in versions_of(session, framework):
        found = successors(session, other, framework, provenances)
        if not found:
            continue
        totals = {
            item_id: (learners, completions)
            for item_id, learners, completions in session.execute(
                select(Evidence.item_id, func.count(), func.sum(Evidence.completions))
                .where(Evidence.programme_id == programme.id, Evidence.item_id.in_(list(found)))
                .group_by(Evidence.item_id)
            )
        }
        if not totals:
            continue
        vias = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(list(totals))))}
        kinds = link_kinds(session, other, framework, provenances)
        for via_id, (learners, completions) in totals.items():
            for item, kind, provenance, *_ in found[via_id]:
                rows.append(
                    CarriedEvidence(
                        item,
                        vias[via_id],
                        other,
                        kind,
                        int(learners),
                        int(completions or 0),
                        provenance,
                        _also(kinds, via_id, item.id, kind),
                    )
                )
    rows.sort(key=lambda r: (natural_key(r.item.code or ""), natural_key(r.via.code or "")))
    return rows


def targets_in_programme(session: Session, programme: Programme) -> list[tuple[Framework, list[Framework]]]:
    """The programme's frameworks (and those it maps to) that have other versions, each with those versions."""
    # An IN (subquery), not DISTINCT over the frameworks' columns: PostgreSQL cannot compare
    # their JSON column (case_data) for DISTINCT.
    mapped = session.scalars(
        select(Framework).where(
            Framework.id.in_(
                select(Item.framework_id)
                .join(Mapping, Mapping.item_id == Item.id)
                .where(Mapping.programme_id == programme.id)
            )
        )
    ).all()
    frameworks = {f.id: f for f in [*programme.frameworks, *mapped]}
    out = []
    for framework in sorted(frameworks.values(), key=lambda f: (f.title, f.version or "")):
        others = versions_of(session, framework)
        if others:
            out.append((framework, others))
    return out
