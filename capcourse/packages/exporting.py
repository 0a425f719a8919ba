"""Exporting a module or a course as a SCORM package that carries its capability mappings.

A module leaves as a module-shaped package (the organization is the module,
each activity an item); a course as a course-shaped one (one item per module,
its activities below). Import reads both shapes back the same way
(:mod:`capcourse.packages.importing`).

Every mapping travels as LOM: a ``competency`` classification per depth, the
depth as its keyword, one taxon path per item whose source is the framework's
CASE URI and whose taxon is the item's CASE URI and statement. The module's
mappings go on the manifest (module-shaped) or on the module's item
(course-shaped); an activity's on its item.

Activities that came from an imported package take its files and launch data;
the others get a simple launch page that tells the LMS the learner completed
it. Retired activities stay out; so do modules with no activity left, from a
course (a module alone with none cannot be exported).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import IO

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
from capcourse.catalogue.models import Activity, Course, Module, Status
from capcourse.errors import InvalidInputError
from capcourse.frameworks.uris import node_uri
from capcourse.mapping.services import mappings_of
from capcourse.packages.models import ContentPackage, PackageItem
from capcourse.packages.settings import PackageSettings

#: The versions a package can be exported as, by the name the API and CLI take.
VERSIONS = {"2004-4th": scorm.ScormVersion.SCORM_2004_4TH, "1.2": scorm.ScormVersion.SCORM_12}
#: Where generated launch pages and their script go in the package.
GENERATED = "capcourse"
LAUNCH_SCRIPT = f"{GENERATED}/launch.js"


@dataclass
class Export:
    """A package ready to write: the manifest's description and every file it names."""

    spec: scorm.PackageSpec
    content: dict[str, scorm.writer.ContentSource]
    #: What was left out, and why.
    skipped: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.spec.identifier}.zip"


def module_export(session: Session, module: Module, settings: PackageSettings) -> Export:
    """The module as a module-shaped package.

    :raises InvalidInputError: it has no activity to export.
    """
    builder = _Builder(session, settings)
    activities = builder.live(module)
    if not activities:
        raise InvalidInputError(
            f"The module {module.title!r} has no activities to export: add one first.", {"module": ["No activities."]}
        )
    items = tuple(builder.activity_item(activity) for activity in activities)
    origin = builder.single_origin([module])
    organization = _origin_key(session, module) if origin else None
    spec = scorm.PackageSpec(
        identifier=origin.identifier if origin else scorm.xml_identifier(f"capcourse-module-{module.id}"),
        title=module.title,
        description=module.description,
        items=items,
        organization_identifier=organization or scorm.xml_identifier(f"ORG-{module.id}"),
        competencies=builder.competencies(module),
        shared_files=builder.shared_files(),
    )
    return Export(spec, builder.content)


def course_export(session: Session, course: Course, settings: PackageSettings) -> Export:
    """The course as a course-shaped package (modules with no activity left out, and said so).

    :raises InvalidInputError: no module of the course has an activity.
    """
    builder = _Builder(session, settings)
    skipped: list[str] = []
    # Every module's activities first: where packaged files go depends on how many packages there are.
    live = {module.id: builder.live(module) for module in course.modules if module.status != Status.RETIRED}
    modules: list[Module] = []
    items: list[scorm.ItemSpec] = []
    for module in course.modules:
        if module.id not in live:
            continue
        activities = live[module.id]
        if not activities:
            skipped.append(f"Module {module.title!r}: no activities.")
            continue
        modules.append(module)
        items.append(
            scorm.ItemSpec(
                identifier=builder.identifier(_origin_key(session, module), f"MOD-{module.id}"),
                title=module.title,
                competencies=builder.competencies(module),
                children=tuple(builder.activity_item(activity) for activity in activities),
            )
        )
    if not items:
        raise InvalidInputError(
            f"No module of {course.title!r} has activities to export.", {"course": ["No activities."]}
        )
    origin = builder.single_origin(modules)
    spec = scorm.PackageSpec(
        identifier=origin.identifier if origin else scorm.xml_identifier(f"capcourse-course-{course.id}"),
        title=course.title,
        description=course.description,
        items=tuple(items),
        organization_identifier=scorm.xml_identifier(f"ORG-{course.id}"),
        shared_files=builder.shared_files(),
    )
    return Export(spec, builder.content, skipped)


def write(export: Export, destination: IO[bytes], version: str) -> None:
    """Write the package as ``version`` (a key of :data:`VERSIONS`) to ``destination``."""
    scorm.write_package(export.spec, destination, export.content, VERSIONS[version])


def _origin_key(session: Session, module: Module) -> str | None:
    """The identifier the module had in the package it came from (its organization or item)."""
    return session.scalar(select(PackageItem.item_identifier).where(PackageItem.module_id == module.id))


class _Builder:
    """Collects item specs and the files they name, keeping identifiers and paths unique."""

    def __init__(self, session: Session, settings: PackageSettings) -> None:
        self.session = session
        self.settings = settings
        self.content: dict[str, scorm.writer.ContentSource] = {}
        self.identifiers: set[str] = set()
        self.generated = False
        self.packages: dict[uuid.UUID, ContentPackage] = {}
        self.entries: dict[uuid.UUID, PackageItem] = {}

    def live(self, module: Module) -> list[Activity]:
        activities = [a for a in module.activities if a.status != Status.RETIRED]
        ids = [a.id for a in activities]
        for entry in self.session.scalars(select(PackageItem).where(PackageItem.activity_id.in_(ids))):
            assert entry.activity_id is not None
            self.entries[entry.activity_id] = entry
            self.packages[entry.package_id] = entry.package
        return activities

    def single_origin(self, modules: Sequence[Module]) -> ContentPackage | None:
        """The package everything exported came from, when there is exactly one and it holds exactly these modules.

        Then the export keeps the package's identifiers, so importing it again updates that package.
        """
        if self.generated or len(self.packages) != 1:
            return None
        (package,) = self.packages.values()
        exported = {m.id for m in modules}
        theirs = {entry.module_id for entry in package.items if entry.module_id is not None}
        return package if exported == theirs else None

    def identifier(self, wanted: str | None, fallback: str) -> str:
        name = scorm.xml_identifier(wanted) if wanted else scorm.xml_identifier(fallback)
        if name in self.identifiers:
            name = scorm.xml_identifier(fallback)
        self.identifiers.add(name)
        return name

    def competencies(self, target: Module | Activity) -> tuple[scorm.Competency, ...]:
        base = self.settings.base_url
        found = []
        for mapping in mappings_of(self.session, target):
            item = mapping.item
            framework = item.framework
            found.append(
                scorm.Competency(
                    framework=node_uri(base, framework.id, framework.uri),
                    item=node_uri(base, item.id, item.uri),
                    statement=item.full_statement,
                    language=item.language or framework.language or "en",
                    level=mapping.depth,
                )
            )
        return tuple(found)

    def activity_item(self, activity: Activity) -> scorm.ItemSpec:
        entry = self.entries.get(activity.id)
        if entry is not None and entry.launch_path:
            prefix = self._prefix(entry.package)
            folder = (self.settings.folder / entry.package.storage_path).resolve()
            files = [entry.launch_path, *entry.files]
            for name in files:
                source = (folder / name).resolve()
                # Only files of the package's own folder, whatever was recorded.
                if not source.is_relative_to(folder):
                    raise InvalidInputError(f"The package of {activity.title!r} names a file outside it: {name}.")
                self.content[prefix + name] = source
            return scorm.ItemSpec(
                identifier=self.identifier(entry.item_identifier, f"ACT-{activity.id}"),
                title=activity.title,
                href=prefix + entry.launch_path,
                files=tuple(prefix + name for name in entry.files),
                parameters=entry.parameters,
                mastery_score=entry.passing_score,
                competencies=self.competencies(activity),
            )
        self.generated = True
        page = f"{GENERATED}/{activity.id}.html"
        self.content[page] = _launch_page(activity)
        return scorm.ItemSpec(
            identifier=self.identifier(None, f"ACT-{activity.id}"),
            title=activity.title,
            href=page,
            competencies=self.competencies(activity),
        )

    def shared_files(self) -> tuple[str, ...]:
        if not self.generated:
            return ()
        self.content[LAUNCH_SCRIPT] = resources.files("capcourse.packages").joinpath("launch.js").read_bytes()
        return (LAUNCH_SCRIPT,)

    def _prefix(self, package: ContentPackage) -> str:
        # Content of several packages side by side: each in a folder of its own, so
        # their files cannot collide (their own relative links still hold).
        if len(self.packages) <= 1:
            return ""
        return f"packages/{scorm.xml_identifier(package.identifier)}/"


@cache
def _launch_template() -> str:
    return resources.files("capcourse.packages").joinpath("launch.html").read_text(encoding="utf-8")


def _launch_page(activity: Activity) -> bytes:
    page = (
        _launch_template()
        .replace("{{ title }}", str(escape(activity.title)))
        .replace("{{ description }}", str(escape(activity.description or "")))
    )
    return page.encode("utf-8")
