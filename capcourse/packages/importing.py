"""Importing a SCORM package into a course: modules and activities from its organization, mappings from its LOM.

How a package becomes catalogue content (the default organization decides):

- **Course-shaped**: every top-level item has children. Each top-level item
  becomes a module; the leaves below it become its activities.
- **Module-shaped** (the usual bought package, one SCO or a flat list): the
  organization becomes one module; its leaves become the activities.

Deeper aggregations are flattened into their module, their titles kept as a
path ("Part 1 › Lesson 2"). Every module and activity gets the external id
``scorm: <manifest identifier>/<item identifier>``, so completions an LMS sends
for a SCORM item reach the activity. LOM ``competency`` classifications (on the
manifest for a module-shaped package, on items otherwise) that name a framework
item we hold, by URI or identifier, become mappings with provenance
``imported`` at the depth the classification's keyword gives (``introduced``
when it gives none). The manifest-level classifications of a course-shaped
package are reported, not applied: courses are not mapped.

Importing a package whose manifest identifier the programme already has makes
a new revision: modules and activities are updated in place (titles, launch
data), new items are added, items that are gone are retired (never deleted:
their learners' records stay), and every existing mapping is kept.

The package is checked completely (zip, manifest, launch files) before any
file is written; files go to a new folder of their own, which the caller
removes if the transaction does not commit (:func:`discard`) and which
replaces the previous revision's folder once it does (:func:`finish`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
from capcourse.accounts import access
from capcourse.accounts.access import Principal
from capcourse.catalogue import services as catalogue
from capcourse.catalogue.models import Activity, Course, Module, Status
from capcourse.errors import BadRequestError, ConflictError, PayloadTooLargeError
from capcourse.frameworks.models import Item
from capcourse.mapping.models import Depth, Mapping, MappingProvenance
from capcourse.mapping.services import map_items, mappings_of
from capcourse.packages.models import ContentPackage, PackageItem
from capcourse.packages.settings import PackageSettings
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

#: The ``system`` of the external ids given to imported modules and activities.
EXTERNAL_SYSTEM = "scorm"
#: The depth of a mapping imported from a classification that names none capcourse knows.
DEFAULT_DEPTH = Depth.INTRODUCED
#: Package errors that mean "too big" (413) rather than "broken" (400).
_TOO_BIG = {"too-large", "too-many-files", "compression-ratio", "size-mismatch"}
_UUID_AT_END = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?$")
_TITLE_LENGTH = 300
#: The key of a module made from a top-level item that is also an activity (a SCO with children).
MODULE_SUFFIX = "#module"


@dataclass(frozen=True)
class PlannedActivity:
    item: scorm.Item
    title: str


@dataclass
class PlannedModule:
    #: The organization's identifier (module-shaped) or the top-level item's.
    key: str
    title: str
    competencies: tuple[scorm.Competency, ...]
    activities: list[PlannedActivity] = field(default_factory=list)


#: How many examples a group of warnings keeps.
EXAMPLES = 10


@dataclass
class WarningGroup:
    """Warnings of one kind: what, how many, and the first few examples."""

    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str | None = None) -> None:
        self.count += 1
        if example is not None and len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def summary(self, shown: int = 5) -> str:
        """The group in one sentence: the message, the count, the first examples."""
        text = self.message if self.count <= 1 and not self.examples else f"{self.message} ({self.count:,})"
        if self.examples:
            text += ": " + ", ".join(self.examples[:shown]) + (", …" if self.count > shown else "")
        return text


class Warnings:
    """Warnings grouped by kind, in the order kinds first occur."""

    def __init__(self) -> None:
        self.groups: dict[str, WarningGroup] = {}

    def add(self, message: str, example: str | None = None) -> None:
        self.groups.setdefault(message, WarningGroup(message)).add(example)

    def summaries(self) -> list[str]:
        return [group.summary() for group in self.groups.values()]


@dataclass
class ImportReport:
    """What an import did, for the person who asked and for the transaction's owner."""

    package: ContentPackage
    first_import: bool
    modules_created: list[Module] = field(default_factory=list)
    modules_updated: list[Module] = field(default_factory=list)
    activities_created: list[Activity] = field(default_factory=list)
    activities_updated: list[Activity] = field(default_factory=list)
    #: In the previous revision, not in this one: kept, with status retired.
    activities_retired: list[Activity] = field(default_factory=list)
    mappings_created: list[Mapping] = field(default_factory=list)
    #: Competencies naming framework items capcourse does not hold: "URI (statement)".
    unmatched: list[str] = field(default_factory=list)
    #: Package-level competencies of a course-shaped package (courses are not mapped).
    not_applied: list[str] = field(default_factory=list)
    warning_groups: list[WarningGroup] = field(default_factory=list)
    #: This revision's files; :func:`discard` removes them if the transaction fails.
    new_folder: Path | None = None
    #: The previous revision's files; :func:`finish` removes them once this one is committed.
    old_folder: Path | None = None

    @property
    def warnings(self) -> list[str]:
        """One sentence per kind of warning, with its count and first examples."""
        return [group.summary() for group in self.warning_groups]


def import_package(
    session: Session, principal: Principal, course: Course, upload: IO[bytes], settings: PackageSettings
) -> ImportReport:
    """Import the SCORM package ``upload`` (a seekable zip) into ``course``; only flushes.

    :raises BadRequestError: not a usable package (400), with the reason and, for a
        manifest, every problem with its line and element.
    :raises PayloadTooLargeError: it unpacks to more than the limits allow (413).
    :raises ConflictError: another course of the programme has this package.
    """
    access.require_content_editor(session, principal, course.programme)
    digest = _UploadDigest(upload)
    try:
        return _import(session, principal, course, upload, settings, digest)
    finally:
        digest.close()  # stopped if the import failed first: the caller may close the upload next


def _import(
    session: Session,
    principal: Principal,
    course: Course,
    upload: IO[bytes],
    settings: PackageSettings,
    digest: _UploadDigest,
) -> ImportReport:
    folder: Path | None = None
    try:
        with scorm.open_package(upload, settings.limits) as package:
            warnings = Warnings()
            _package_warnings(package, warnings)
            manifest = _manifest(package, warnings)
            organization, fallback = chosen_organization(manifest)
            if organization is None:
                raise BadRequestError(
                    "The manifest has no organization, so there is nothing to import.",
                    {"manifest": ["No <organization> in <organizations>."]},
                )
            if fallback:
                warnings.add(fallback)
            modules, not_applied = plan(manifest, organization)
            for planned_module in modules:
                for planned in planned_module.activities:
                    if _children(planned.item):
                        warnings.add(
                            "Items that launch content and also have sub-items were imported as activities, "
                            "their sub-items after them",
                            planned.item.title or planned.item.identifier,
                        )
            _check_files(package, manifest, modules, warnings)
            existing = session.scalar(
                select(ContentPackage).where(
                    ContentPackage.programme_id == course.programme_id, ContentPackage.identifier == manifest.identifier
                )
            )
            if existing is not None and existing.course_id != course.id:
                raise ConflictError(
                    f"This package ({manifest.identifier}) was imported into the course {existing.course.title!r}; "
                    "import new versions there.",
                    {"package": [f"Already in course {existing.course_id}."]},
                )
            record = existing or ContentPackage(
                id=uuid.uuid4(), programme_id=course.programme_id, course_id=course.id, revision=0
            )
            folder = settings.folder / str(record.id) / f"r{record.revision + 1}-{uuid.uuid4().hex[:8]}"
            folder.mkdir(parents=True)
            files = package.extract(folder)
    except BaseException as error:
        if folder is not None:  # refused while extracting (or the disk is full): nothing stays behind
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, scorm.PackageError):
            raise _package_error(error) from error
        raise
    report = ImportReport(
        record, first_import=existing is None, new_folder=folder, warning_groups=list(warnings.groups.values())
    )
    try:
        report.old_folder = settings.folder / record.storage_path if existing is not None else None
        record.identifier = manifest.identifier
        record.title = _title(organization.title or (manifest.lom.title_text if manifest.lom else None) or "Package")
        record.scorm_version = str(manifest.version)
        record.revision += 1
        record.storage_path = str(folder.relative_to(settings.folder))
        record.file_count = len(files)
        record.unpacked_bytes = sum(path.stat().st_size for path in files)
        record.sha256 = digest.hexdigest()
        record.imported_by = principal.name
        record.imported_at = utcnow()
        if existing is None:
            session.add(record)
        session.flush()
        report.not_applied = [_describe(c) for c in not_applied]
        _apply(session, principal, course, manifest, modules, report)
    except BaseException:
        discard(report)
        raise
    logger.info(
        "%s imported SCORM package %r (revision %d) into %r: %d module(s), %d activit(y/ies) created",
        principal.name,
        record.identifier,
        record.revision,
        course.title,
        len(report.modules_created),
        len(report.activities_created),
    )
    return report


def finish(report: ImportReport) -> None:
    """After the commit: the previous revision's files are no longer needed."""
    if report.old_folder is not None and report.old_folder != report.new_folder:
        shutil.rmtree(report.old_folder, ignore_errors=True)


def discard(report: ImportReport) -> None:
    """After a rollback (or a failure): remove this revision's files, so nothing is half-imported."""
    if report.new_folder is not None:
        shutil.rmtree(report.new_folder, ignore_errors=True)


def plan(
    manifest: scorm.Manifest, organization: scorm.Organization
) -> tuple[list[PlannedModule], tuple[scorm.Competency, ...]]:
    """The modules and activities ``organization`` becomes (see the module documentation for the rule).

    :returns: the planned modules, and the package-level competencies that apply to nothing.
    """
    package_level = scorm.competencies(manifest.lom) + _competencies_of(organization.metadata)
    top = organization.items
    if top and all(_children(item) for item in top):
        modules = []
        for item in top:
            activities = [leaf for child in _children(item) for leaf in _leaves(child, ())]
            key = item.identifier
            if item.resource is not None:
                # A top-level item that launches content and has children: the module, and its first activity.
                activities.insert(0, PlannedActivity(item, _title(item.title or item.identifier)))
                key = f"{item.identifier}{MODULE_SUFFIX}"
            modules.append(PlannedModule(key, _title(item.title), _competencies_of(item.metadata), activities))
        return modules, package_level
    title = organization.title or (manifest.lom.title_text if manifest.lom else None) or manifest.identifier
    module = PlannedModule(organization.identifier, _title(title), package_level)
    for item in top:
        module.activities.extend(_leaves(item, ()))
    if any(planned.item.identifier == module.key for planned in module.activities):
        # An organization may share its identifier with an item; the module needs one of its own.
        module.key = f"{organization.identifier}#organization"
    return [module], ()


def chosen_organization(manifest: scorm.Manifest) -> tuple[scorm.Organization | None, str | None]:
    """The organization to import: the default one; the first when ``default`` names none (as LMSs do),
    with a warning saying so."""
    organization = manifest.default_organization
    if organization is not None or not manifest.organizations:
        return organization, None
    first = manifest.organizations[0]
    return first, (
        f"The manifest's default organization {manifest.default_organization_id!r} does not exist; "
        f"the first organization, {first.title or first.identifier!r}, was imported instead."
    )


def _children(item: scorm.Item) -> tuple[scorm.Item, ...]:
    # An item that points at a sub-manifest stands for that sub-manifest's organization.
    if item.children:
        return item.children
    if item.submanifest is not None and item.submanifest.default_organization is not None:
        return item.submanifest.default_organization.items
    return ()


def _leaves(item: scorm.Item, path: tuple[str, ...]) -> Iterator[PlannedActivity]:
    """The leaves under ``item`` (itself, if it is one), titled with the aggregations between."""
    children = _children(item)
    if not children or item.resource is not None:
        # A leaf; or a SCO with children (LMSs launch those too): an activity, its children after it.
        yield PlannedActivity(item, _title(" › ".join((*path, item.title or item.identifier))))
    for child in children:
        yield from _leaves(child, (*path, item.title or item.identifier))


def _competencies_of(metadata: scorm.Metadata | None) -> tuple[scorm.Competency, ...]:
    return scorm.competencies(metadata.lom if metadata else None)


def _title(text: str) -> str:
    text = " ".join(text.split()) or "Untitled"
    return text if len(text) <= _TITLE_LENGTH else text[: _TITLE_LENGTH - 1] + "…"


def _describe(competency: scorm.Competency) -> str:
    return f"{competency.item} ({competency.statement})" if competency.statement else competency.item


#: How much of the upload the digest reads at a time (one buffer, reused: memory stays flat).
_DIGEST_CHUNK = 1 << 20


class _UploadDigest:
    """The SHA-256 of the whole upload, worked out beside the import when the upload is a file.

    Hashing is about a third of the work of importing a big package and needs nothing the import does, so a
    thread reads the file by position (``os.preadv``: the import's own reads and the file's position are
    untouched) while the import checks, unpacks and records; hashlib and the reads release the GIL, so the
    two overlap. An upload without a file descriptor (one held in memory) is hashed at once, as before.
    """

    def __init__(self, upload: IO[bytes]) -> None:
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        descriptor = _descriptor(upload) if hasattr(os, "preadv") else None
        if descriptor is None:
            upload.seek(0)
            while chunk := upload.read(_DIGEST_CHUNK):
                self._digest.update(chunk)
            upload.seek(0)
        else:
            self._thread = threading.Thread(target=self._read, args=(descriptor,), name="package-digest", daemon=True)
            self._thread.start()

    def _read(self, descriptor: int) -> None:
        try:
            buffer = bytearray(_DIGEST_CHUNK)
            view = memoryview(buffer)
            offset = 0
            while not self._stop.is_set():
                count = os.preadv(descriptor, [buffer], offset)
                if not count:
                    return
                self._digest.update(view[:count])
                offset += count
        except BaseException as error:  # handed to the importing thread by hexdigest()
            self._error = error

    def hexdigest(self) -> str:
        """The digest, once the whole upload is read (waits for the thread)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def close(self) -> None:
        """Stop reading (if still reading) and wait for the thread: the upload's descriptor is free afterwards."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()


def _descriptor(upload: IO[bytes]) -> int | None:
    """The OS file behind ``upload`` with everything written to it flushed, or None when it has none."""
    try:
        upload.flush()  # a file the upload was spooled into may still hold its last write in a buffer
        descriptor = upload.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        return None
    return descriptor if isinstance(descriptor, int) else None


def _package_error(error: scorm.PackageError) -> BadRequestError | PayloadTooLargeError:
    # One sentence, said once; the member concerned apart, when there is one.
    details = {"file": [error.member]} if error.member else None
    if error.reason in _TOO_BIG:
        return PayloadTooLargeError(f"The package is too big to import: {error}.", details)
    return BadRequestError(f"This is not a package capcourse can import: {error}.", details)


def _package_warnings(package: scorm.Package, warnings: Warnings) -> None:
    if package.manifest_folder:
        warnings.add(
            f"The manifest is not at the root of the zip but in the folder {package.manifest_folder!r}; "
            "that folder was imported as the package"
        )
    for name in package.outside_files:
        warnings.add(f"Files outside the folder {package.manifest_folder!r} were left out", name)
    for name in package.system_files:
        warnings.add("Files operating systems leave in zips (__MACOSX, .DS_Store, Thumbs.db) were left out", name)


def _tolerated(problem: scorm.Problem) -> str | None:
    """What to warn about a manifest problem LMSs let pass; None for one that refuses the package."""
    if problem.reason == "metadata":
        return "Metadata files the manifest names cannot be read, so their metadata was not imported"
    if problem.reason == "dangling-reference" and (problem.element or "").startswith("<organizations"):
        return ""  # the fallback to the first organization says it
    return None


def _manifest(package: scorm.Package, warnings: Warnings) -> scorm.Manifest:
    try:
        manifest = package.manifest(strict=False)
    except scorm.ManifestError as error:
        _refuse(list(error.problems) or [scorm.Problem(error.reason, str(error))], error)
    refusing = []
    for problem in manifest.problems:
        tolerated = _tolerated(problem)
        if tolerated is None:
            refusing.append(problem)
        elif tolerated:
            warnings.add(tolerated, str(problem))
    if refusing:
        _refuse(refusing, None)
    return manifest


def _refuse(problems: Sequence[scorm.Problem], cause: Exception | None) -> NoReturn:
    lines = [str(problem) for problem in problems]
    raise BadRequestError(
        f"The package's imsmanifest.xml is not usable: {lines[0]}"
        + (f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""),
        {"manifest": lines},
    ) from cause


def _check_files(
    package: scorm.Package, manifest: scorm.Manifest, modules: Sequence[PlannedModule], warnings: Warnings
) -> None:
    """Refuse a package whose launch pages are missing; warn about other files it lists but lacks."""
    missing_launch = []
    for module in modules:
        for planned in module.activities:
            resource = planned.item.resource
            if resource is None or not resource.path:
                continue
            if safe_path(resource.path) is None:
                missing_launch.append(f"{planned.item.identifier}: {resource.path} is outside the package")
            elif package.find(resource.path) is None:
                missing_launch.append(f"{planned.item.identifier}: {resource.path}")
    if missing_launch:
        raise BadRequestError(
            "The package lacks the launch page of some items, so they could never be opened.",
            {"files": missing_launch},
        )
    for resource in manifest.all_resources():
        paths = [resource.path] if resource.path is not None else []
        paths.extend(file.path for file in resource.files if file.path is not None)
        for path in dict.fromkeys(paths):
            if package.find(path) is None:
                warnings.add("Files the manifest lists are not in the package", path)


# Applying the plan ----------------------------------------------------------------------------------------------


def _apply(
    session: Session,
    principal: Principal,
    course: Course,
    manifest: scorm.Manifest,
    modules: Sequence[PlannedModule],
    report: ImportReport,
) -> None:
    record = report.package
    previous = {entry.item_identifier: entry for entry in record.items}
    seen: set[str] = set()
    position = 0

    def entry_for(identifier: str) -> PackageItem:
        # An identifier that stood for something else in the last revision keeps its row.
        entry = previous.get(identifier)
        if entry is None:
            entry = PackageItem(package=record, item_identifier=identifier)
            session.add(entry)
        return entry

    for planned in modules:
        entry = entry_for(planned.key)
        module = entry.module
        if module is None:
            module = catalogue.create_module(
                session, principal, course, {"title": planned.title, "external_ids": [_external(manifest, planned.key)]}
            )
            report.modules_created.append(module)
            entry.module, entry.activity = module, None
        elif _update(module, planned.title):
            report.modules_updated.append(module)
        entry.position, position = position, position + 1
        seen.add(planned.key)
        _map(session, principal, module, planned.competencies, report)
        entries = [entry_for(activity_plan.item.identifier) for activity_plan in planned.activities]
        # The module's new activities are created as a set (one flush), in the package's order.
        new = [(plan, entry) for plan, entry in zip(planned.activities, entries, strict=True) if entry.activity is None]
        created = catalogue.create_activities(
            session,
            principal,
            module,
            [{"title": plan.title, "external_ids": [_external(manifest, plan.item.identifier)]} for plan, _ in new],
        )
        for (_, entry), new_activity in zip(new, created, strict=True):
            entry.activity, entry.module = new_activity, None
        report.activities_created.extend(created)
        fresh = set(created)
        for activity_plan, entry in zip(planned.activities, entries, strict=True):
            item = activity_plan.item
            existing = entry.activity
            assert existing is not None  # created above when it had none
            activity = existing
            if activity not in fresh and _update(activity, activity_plan.title):
                report.activities_updated.append(activity)
            _launch_data(entry, manifest, item)
            entry.position, position = position, position + 1
            seen.add(item.identifier)
            _map(session, principal, activity, _competencies_of(item.metadata), report)
    for identifier, entry in previous.items():
        if identifier in seen:
            continue
        for gone in (entry.activity, entry.module):
            if gone is not None and gone.status != Status.RETIRED:
                gone.status = Status.RETIRED
                if isinstance(gone, Activity):
                    report.activities_retired.append(gone)
        session.delete(entry)
    session.flush()


def _external(manifest: scorm.Manifest, identifier: str) -> dict[str, str]:
    return {"system": EXTERNAL_SYSTEM, "value": f"{manifest.identifier}/{identifier}"}


def _update(entity: Module | Activity, title: str) -> bool:
    """A re-imported item: its title follows the package; a retired one comes back as a draft."""
    changed = False
    if entity.title != title:
        entity.title, changed = title, True
    if entity.status == Status.RETIRED:
        entity.status, changed = Status.DRAFT, True
    return changed


def _launch_data(entry: PackageItem, manifest: scorm.Manifest, item: scorm.Item) -> None:
    resource = item.resource
    entry.launch_path = safe_path(resource.path) if resource is not None and resource.path else None
    entry.parameters = item.parameters
    entry.scorm_type = str(resource.scorm_type) if resource is not None and resource.scorm_type else None
    entry.passing_score = item.passing_score
    files: list[str] = []
    if resource is not None:
        for needed in (resource, *manifest.dependencies(resource)):
            files.extend(name for f in needed.files if f.path and (name := safe_path(f.path)))
    entry.files = [name for name in dict.fromkeys(files) if name != entry.launch_path]


def safe_path(name: str) -> str | None:
    """``name`` as a path inside the package, or None when it would leave it (``..``, absolute)."""
    try:
        normal = scorm.package.member_path(name)
    except scorm.PackageError:
        return None
    return None if normal.endswith("/") else normal


def resolve_item(session: Session, reference: str) -> Item | None:
    """The framework item a competency names: by its URI (imported frameworks keep theirs), or by the
    identifier its URI ends with (ours: ``…/uri/<id>``; CASE: ``…/CFItems/<id>``), or a bare identifier."""
    reference = reference.strip()
    item: Item | None = session.scalar(select(Item).where(Item.uri == reference).limit(1))
    if item is None:
        found = _UUID_AT_END.search(reference)
        if found:
            item = session.get(Item, uuid.UUID(found.group(1)))
    return item


def _map(
    session: Session,
    principal: Principal,
    target: Module | Activity,
    competencies: Sequence[scorm.Competency],
    report: ImportReport,
) -> None:
    if not competencies:
        return
    kept = {mapping.item_id for mapping in mappings_of(session, target)}
    by_depth: dict[str, list[uuid.UUID]] = defaultdict(list)
    for competency in competencies:
        item = resolve_item(session, competency.item)
        if item is None:
            report.unmatched.append(_describe(competency))
            continue
        if item.id in kept:
            continue  # mapped already: the author's depth stands
        kept.add(item.id)
        level = (competency.level or "").strip().lower()
        by_depth[level if level in set(Depth) else DEFAULT_DEPTH].append(item.id)
    for depth, item_ids in by_depth.items():
        report.mappings_created += map_items(session, principal, target, item_ids, depth, MappingProvenance.IMPORTED)
