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

Activities that came from an imported package take its files and launch data
and everything else its manifest said about them that the target version can
express (:mod:`scorm.carry`): the launch URL's query, item parameters,
sequencing and objectives, ``dataFromLMS``, mastery score, completion
threshold, the package's own LOM record and the files its manifest does not
list. When exactly one package's content is exported whole, its organization
tree is written again as it was (aggregations with their sequencing included).
What the target version cannot express, and files the package listed but never
had, are named in the export's report; an activity whose launch page is gone
cannot be exported (409, with the list). The other activities get a simple
launch page that tells the LMS the learner completed it. Retired activities
stay out; so do modules with no activity left, from a course (a module alone
with none cannot be exported).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from lxml import etree
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

import scorm
import scorm.carry
from capcourse.catalogue.models import Activity, Course, Module, Status
from capcourse.errors import ConflictError, InvalidInputError
from capcourse.frameworks.uris import node_uri
from capcourse.mapping.services import mappings_of
from capcourse.packages.models import ContentPackage, PackageItem
from capcourse.packages.settings import PackageSettings

#: The versions a package can be exported as, by the name the API and CLI take.
VERSIONS = {"2004-4th": scorm.ScormVersion.SCORM_2004_4TH, "1.2": scorm.ScormVersion.SCORM_12}
#: Where generated launch pages and their script go in the package.
GENERATED = "capcourse"
LAUNCH_SCRIPT = f"{GENERATED}/launch.js"
#: capcourse's run-time adapter, which SCOs exported as the other SCORM version launch through.
ADAPTER_PAGE = f"{GENERATED}/scorm-adapter.html"
ADAPTER_SCRIPT = f"{GENERATED}/scorm-adapter.js"
_CONTROL_SUFFIXES = (".xsd", ".dtd")
# Characters left alone when a package path becomes part of a URL (as the manifest writer does).
_HREF_SAFE = "/-._~!$&'()*+,;=:@"


@dataclass
class Export:
    """A package ready to write: the manifest's description, every file it names, and what was left out."""

    spec: scorm.PackageSpec
    content: dict[str, scorm.writer.ContentSource]
    #: The version to write (a key of :data:`VERSIONS`).
    version: str = "2004-4th"
    #: Modules left out, and why.
    skipped: list[str] = field(default_factory=list)
    #: What the package had that the target version cannot express.
    not_carried: list[str] = field(default_factory=list)
    #: Files the package's manifest listed that it never had (left out of the export).
    missing_files: list[str] = field(default_factory=list)
    #: Files the package had without its manifest listing them: kept, unlisted, as they were.
    unlisted: dict[str, scorm.writer.ContentSource] = field(default_factory=dict)
    #: SCOs written for the other SCORM version, which launch through capcourse's adapter.
    adapted: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.spec.identifier}.zip"

    def report(self) -> dict[str, Any]:
        """What the export keeps and leaves out, for the API, the page and the CLI."""
        return {
            "version": self.version,
            "filename": self.filename,
            "files": len(scorm.writer.manifest_files(self.spec)),
            "unlisted_files_kept": len(self.unlisted),
            "skipped": list(self.skipped),
            "not_carried": list(self.not_carried),
            "missing_files": list(self.missing_files),
            "adapted": list(self.adapted),
        }

    def report_lines(self) -> list[str]:
        """The report in sentences, for the CLI and headers."""
        lines = [f"Left out: {line}" for line in self.skipped]
        if self.adapted:
            lines.append(
                f"{len(self.adapted)} SCO(s) written for the other SCORM version launch through capcourse's "
                f"run-time adapter (scorm-adapter.html): {', '.join(self.adapted[:5])}"
                + (" …" if len(self.adapted) > 5 else "")
            )
        lines += [f"Not expressible in SCORM {self.version}: {line}" for line in self.not_carried]
        if self.missing_files:
            shown = ", ".join(self.missing_files[:5]) + (" …" if len(self.missing_files) > 5 else "")
            lines.append(
                f"{len(self.missing_files)} file(s) the package listed but never contained were left out: {shown}"
            )
        return lines


def module_export(session: Session, module: Module, settings: PackageSettings, version: str = "2004-4th") -> Export:
    """The module as a module-shaped package in ``version`` (a key of :data:`VERSIONS`).

    :raises InvalidInputError: it has no activity to export.
    :raises ConflictError: the launch page of an activity from a package is gone from its files.
    """
    builder = _Builder(session, settings, version)
    activities = builder.live(module)
    if not activities:
        raise InvalidInputError(
            f"The module {module.title!r} has no activities to export: add one first.", {"module": ["No activities."]}
        )
    whole = builder.whole_package([module], activities)
    tree = builder.tree(whole) if whole is not None else None
    items = tree[1] if tree is not None else tuple(builder.activity_item(activity) for activity in activities)
    origin = builder.single_origin([module])
    organization = tree[0].identifier if tree is not None else (_origin_key(session, module) if origin else None)
    spec = scorm.PackageSpec(
        identifier=origin.identifier if origin else scorm.xml_identifier(f"capcourse-module-{module.id}"),
        title=module.title,
        description=module.description,
        items=items,
        organization_identifier=scorm.xml_identifier(organization or f"ORG-{module.id}"),
        competencies=builder.competencies(module),
        shared_files=builder.shared_files(),
        **builder.package_extras(origin, tree[0] if tree is not None else None),
    )
    return builder.finish(spec)


def course_export(session: Session, course: Course, settings: PackageSettings, version: str = "2004-4th") -> Export:
    """The course as a course-shaped package in ``version`` (modules with no activity left out, and said so).

    :raises InvalidInputError: no module of the course has an activity.
    :raises ConflictError: the launch page of an activity from a package is gone from its files.
    """
    builder = _Builder(session, settings, version)
    # Every module's activities first: where packaged files go depends on how many packages there are.
    live = {module.id: builder.live(module) for module in course.modules if module.status != Status.RETIRED}
    modules = [module for module in course.modules if live.get(module.id)]
    builder.skipped.extend(
        f"Module {module.title!r}: no activities." for module in course.modules if live.get(module.id) == []
    )
    if not modules:
        raise InvalidInputError(
            f"No module of {course.title!r} has activities to export.", {"course": ["No activities."]}
        )
    whole = builder.whole_package(modules, [a for module in modules for a in live[module.id]])
    tree = builder.tree(whole) if whole is not None else None
    if tree is not None:
        items = tree[1]
    else:
        items = tuple(
            scorm.ItemSpec(
                identifier=builder.identifier(_origin_key(session, module), f"MOD-{module.id}"),
                title=module.title,
                competencies=builder.competencies(module),
                children=tuple(builder.activity_item(activity) for activity in live[module.id]),
            )
            for module in modules
        )
    origin = builder.single_origin(modules)
    spec = scorm.PackageSpec(
        identifier=origin.identifier if origin else scorm.xml_identifier(f"capcourse-course-{course.id}"),
        title=course.title,
        description=course.description,
        items=items,
        organization_identifier=scorm.xml_identifier(tree[0].identifier if tree is not None else f"ORG-{course.id}"),
        shared_files=builder.shared_files(),
        **builder.package_extras(origin, tree[0] if tree is not None else None),
    )
    return builder.finish(spec)


def write(export: Export, destination: IO[bytes], version: str | None = None) -> None:
    """Write the package to ``destination`` (in the version it was built for; ``version``, if given, must be it)."""
    if version is not None and version != export.version:
        raise ValueError(f"this export was built for SCORM {export.version}, not {version}")
    scorm.write_package(export.spec, destination, export.content, VERSIONS[export.version], unlisted=export.unlisted)


def _origin_key(session: Session, module: Module) -> str | None:
    """The identifier the module had in the package it came from (its organization or item)."""
    return session.scalar(select(PackageItem.item_identifier).where(PackageItem.module_id == module.id))


class _Origin:
    """An imported package's stored files, and its manifest as imported (read once per export)."""

    def __init__(self, package: ContentPackage, settings: PackageSettings) -> None:
        self.package = package
        self.folder = (settings.folder / package.storage_path).resolve()
        try:
            self.version = scorm.ScormVersion(package.scorm_version)
        except ValueError:
            self.version = scorm.ScormVersion.SCORM_12
        self.original: scorm.carry.Original | None = None
        self.manifest: scorm.Manifest | None = None
        path = self.file(scorm.package.MANIFEST_NAME)
        if path is not None:
            data = path.read_bytes()
            try:
                self.original = scorm.carry.Original(data, self.version)
                self.manifest = scorm.parse_manifest(data, metadata_loader=self.read, strict=False)
            except scorm.ScormError:
                self.original, self.manifest = None, None

    def file(self, name: str) -> Path | None:
        """The stored file at package path ``name``; None when it is not there (or not inside the folder)."""
        source = (self.folder / name).resolve()
        return source if source.is_relative_to(self.folder) and source.is_file() else None

    def read(self, name: str) -> bytes:
        path = self.file(name)
        if path is None:
            raise FileNotFoundError(name)
        return path.read_bytes()

    def item(self, identifier: str) -> scorm.Item | None:
        return self.manifest.item(identifier) if self.manifest is not None else None

    def unlisted(self) -> list[str]:
        """Package paths of the stored files its manifest does not name."""
        named = {scorm.package.MANIFEST_NAME}
        if self.manifest is not None:
            for resource in self.manifest.all_resources():
                if resource.path:
                    named.add(resource.path.casefold())
                named.update(f.path.casefold() for f in resource.files if f.path)
        found = []
        for directory, _, names in os.walk(self.folder):
            for name in names:
                relative = (Path(directory) / name).relative_to(self.folder).as_posix()
                if relative.casefold() not in named:
                    found.append(relative)
        return sorted(found)


class _Builder:
    """Collects item specs and the files they name, keeping identifiers and paths unique."""

    def __init__(self, session: Session, settings: PackageSettings, version: str) -> None:
        if version not in VERSIONS:
            raise InvalidInputError(f"SCORM {version!r} is not a version capcourse exports: 2004-4th or 1.2.")
        self.session = session
        self.settings = settings
        self.version_name = version
        self.version = VERSIONS[version]
        self.content: dict[str, scorm.writer.ContentSource] = {}
        self.identifiers: set[str] = set()
        self.generated = False
        self.adapted: list[str] = []
        self.packages: dict[uuid.UUID, ContentPackage] = {}
        self.entries: dict[uuid.UUID, PackageItem] = {}
        self.origins: dict[uuid.UUID, _Origin] = {}
        self.skipped: list[str] = []
        self.not_carried: list[str] = []
        self.missing_files: list[str] = []
        self.missing_launch: list[str] = []

    def live(self, module: Module) -> list[Activity]:
        activities = [a for a in module.activities if a.status != Status.RETIRED]
        ids = [a.id for a in activities]
        for entry in self.session.scalars(select(PackageItem).where(PackageItem.activity_id.in_(ids))):
            assert entry.activity_id is not None
            self.entries[entry.activity_id] = entry
            self.packages[entry.package_id] = entry.package
        return activities

    def origin(self, package: ContentPackage) -> _Origin:
        if package.id not in self.origins:
            self.origins[package.id] = _Origin(package, self.settings)
        return self.origins[package.id]

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

    def whole_package(self, modules: Sequence[Module], activities: Iterable[Activity]) -> _Origin | None:
        """The package whose content these modules and activities are, all of it from there, or None."""
        if len(self.packages) != 1 or any(activity.id not in self.entries for activity in activities):
            return None
        (package,) = self.packages.values()
        theirs = {entry.module_id for entry in package.items if entry.module_id is not None}
        if {m.id for m in modules} != theirs:
            return None
        origin = self.origin(package)
        return origin if origin.manifest is not None and origin.original is not None else None

    def top_is_module(self, origin: _Origin) -> bool:
        """True when the package was course-shaped: its modules came from top-level items."""
        keys = {entry.item_identifier.removesuffix("#module") for entry in origin.package.items if entry.module_id}
        return any(origin.item(key) is not None for key in keys)

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

    # the organization tree of one package, as it was

    def tree(self, origin: _Origin) -> tuple[scorm.Organization, tuple[scorm.ItemSpec, ...]] | None:
        """The package's organization rebuilt item by item (aggregations and their sequencing kept),
        its leaves the live activities; None when that cannot be done (sub-manifests)."""
        from capcourse.packages.importing import MODULE_SUFFIX, chosen_organization, plan

        manifest = origin.manifest
        assert manifest is not None
        organization = chosen_organization(manifest)[0]
        if organization is None or any(item.submanifest is not None for item in organization.walk()):
            return None
        planned_modules, _ = plan(manifest, organization)
        planned = {m.key: m.title for m in planned_modules}
        planned.update({a.item.identifier: a.title for m in planned_modules for a in m.activities})
        entries = {entry.item_identifier: entry for entry in origin.package.items}

        def title(item: scorm.Item, current: str) -> str:
            # The author's title when they changed it; the package's own otherwise.
            return item.title or current if current == planned.get(item.identifier) else current

        def build(item: scorm.Item) -> scorm.ItemSpec | None:
            entry = entries.get(item.identifier)
            children = tuple(spec for spec in (build(child) for child in item.children) if spec is not None)
            activity = entry.activity if entry is not None else None
            if activity is not None and activity.status != Status.RETIRED:
                leaf = self.activity_item(activity, title(item, activity.title))
                if not children:
                    return leaf
                # A SCO with children (LMSs accept them): only leaves launch, so it becomes its own first child.
                children = (leaf, *children)
            if not children:
                return None
            module_entry = entries.get(item.identifier + MODULE_SUFFIX) or entry
            module = module_entry.module if module_entry is not None else None
            extras = self.extras(origin, origin.original.item(item.identifier) if origin.original else None, item.title)
            return scorm.ItemSpec(
                identifier=self.identifier(
                    item.identifier + ("-group" if activity is not None else ""), item.identifier
                ),
                title=title(item, module.title) if module is not None else item.title or item.identifier,
                competencies=self.competencies(module) if module is not None else (),
                children=children,
                isvisible=item.isvisible,
                extensions=extras.elements,
                extension_attributes=extras.attributes,
            )

        items = tuple(spec for spec in (build(item) for item in organization.items) if spec is not None)
        return (organization, items) if items else None

    def extras(self, origin: _Origin, element: etree._Element | None, where: str) -> scorm.carry.Extras:
        if origin.original is None:
            return scorm.carry.Extras()
        extras = origin.original.extras(element, self.version, repr(where))
        self.not_carried.extend(extras.lost)
        return extras

    def package_extras(self, origin: ContentPackage | None, organization: scorm.Organization | None) -> dict[str, Any]:
        """The manifest and organization extras of the one package everything came from."""
        found: dict[str, Any] = {}
        if len(self.origins) > 1:
            found["manifest_extensions"] = self._merged_collections()
        if len(self.origins) != 1:
            return found
        (source,) = self.origins.values()
        if source.original is None:
            return found
        manifest = self.extras(source, source.original.root, "the package")
        found["manifest_extensions"] = manifest.elements
        if organization is not None:
            element = source.original.organization(organization.identifier)
            extras = self.extras(source, element, organization.title or organization.identifier)
            found["organization_extensions"] = extras.elements
            found["organization_attributes"] = extras.attributes
        if origin is not None:
            found["lom_record"] = self._lom(source, None, "the package")
            found["metadata_location"] = source.original.metadata_location()
        return found

    def _merged_collections(self) -> tuple[bytes, ...]:
        """The sequencing collections of several packages as one (items refer to their entries by ID)."""
        merged: etree._Element | None = None
        seen: set[str] = set()
        for origin in self.origins.values():
            if origin.original is None:
                continue
            for raw in self.extras(origin, origin.original.root, origin.package.title).elements:
                collection = etree.fromstring(raw)
                if scorm.namespaces.local(collection) != "sequencingCollection":
                    continue
                if merged is None:
                    merged = etree.Element(collection.tag, nsmap=collection.nsmap)
                for sequencing in collection:
                    key = (sequencing.get("ID") or "").strip() if isinstance(sequencing.tag, str) else ""
                    if key and key not in seen:
                        seen.add(key)
                        merged.append(sequencing)
        return () if merged is None else (etree.tostring(merged),)

    def _lom(self, origin: _Origin, element: etree._Element | None, where: str) -> bytes | None:
        assert origin.original is not None
        record = origin.original.lom_record(element)
        if record is not None and not scorm.carry.same_family(origin.version, self.version):
            self.not_carried.append(f"{where}: its LOM metadata record (SCORM {origin.version} binding)")
            return None
        return record

    # leaves

    def activity_item(self, activity: Activity, title: str | None = None) -> scorm.ItemSpec:
        entry = self.entries.get(activity.id)
        if entry is not None and entry.launch_path:
            origin = self.origin(entry.package)
            prefix = self._prefix(entry.package)
            launch = origin.file(entry.launch_path)
            if launch is None:
                self.missing_launch.append(f"{activity.title}: {entry.launch_path}")
            else:
                self.content[prefix + entry.launch_path] = launch
            files = []
            for name in entry.files:
                source = origin.file(name)
                if source is None:
                    self.missing_files.append(name)
                    continue
                self.content[prefix + name] = source
                files.append(prefix + name)
            original = origin.item(entry.item_identifier)
            element = origin.original.item(entry.item_identifier) if origin.original is not None else None
            extras = self.extras(origin, element, activity.title)
            resource = original.resource if original is not None else None
            href = prefix + entry.launch_path
            suffix = scorm.carry.launch_suffix(resource.url if resource is not None else None)
            if entry.scorm_type == "sco" and not scorm.carry.same_family(origin.version, self.version):
                # Content that talks to the other version's API: launched through the adapter, which
                # offers it that API over the LMS's.
                self.adapted.append(title or activity.title)
                files.insert(0, href)
                wanted = "2004" if origin.version.is_2004 else "1.2"
                suffix = (
                    f"?capcourse_api={wanted}&capcourse_launch={quote(quote(href, safe=_HREF_SAFE) + suffix, safe='')}"
                )
                href = ADAPTER_PAGE
            return scorm.ItemSpec(
                identifier=self.identifier(entry.item_identifier, f"ACT-{activity.id}"),
                title=title or activity.title,
                href=href,
                href_suffix=suffix,
                files=tuple(files),
                parameters=entry.parameters,
                mastery_score=entry.passing_score,
                competencies=self.competencies(activity),
                isvisible=original.isvisible if original is not None else True,
                data_from_lms=extras.data_from_lms,
                time_limit_action=extras.time_limit_action,
                extensions=extras.elements,
                extension_attributes=extras.attributes,
                lom_record=self._lom(origin, element, activity.title) if element is not None else None,
                metadata_location=origin.original.metadata_location(element)
                if origin.original is not None and element is not None
                else None,
            )
        self.generated = True
        page = f"{GENERATED}/{activity.id}.html"
        self.content[page] = _launch_page(activity)
        return scorm.ItemSpec(
            identifier=self.identifier(None, f"ACT-{activity.id}"),
            title=title or activity.title,
            href=page,
            competencies=self.competencies(activity),
        )

    def shared_files(self) -> tuple[str, ...]:
        shared: list[str] = []
        here = resources.files("capcourse.packages")
        if self.generated:
            self.content[LAUNCH_SCRIPT] = here.joinpath("launch.js").read_bytes()
            shared.append(LAUNCH_SCRIPT)
        if self.adapted:
            self.content[ADAPTER_PAGE] = here.joinpath("scorm-adapter.html").read_bytes()
            self.content[ADAPTER_SCRIPT] = here.joinpath("scorm-adapter.js").read_bytes()
            shared.extend((ADAPTER_PAGE, ADAPTER_SCRIPT))
        return tuple(shared)

    def _prefix(self, package: ContentPackage) -> str:
        # Content of several packages side by side: each in a folder of its own, so
        # their files cannot collide (their own relative links still hold).
        if len(self.packages) <= 1:
            return ""
        return f"packages/{scorm.xml_identifier(package.identifier)}/"

    # the end

    def finish(self, spec: scorm.PackageSpec) -> Export:
        """The export, with every package's unlisted files; refused when launch pages are gone.

        :raises ConflictError: activities whose launch page is not among their package's files.
        """
        if self.missing_launch:
            raise ConflictError(
                f"{len(self.missing_launch)} activit{'y' if len(self.missing_launch) == 1 else 'ies'} cannot be "
                "exported: the launch page is missing from the files of the package it came from. "
                "Import the package again, or retire those activities.",
                {"files": self.missing_launch},
            )
        export = Export(spec, self.content, self.version_name, self.skipped, self.not_carried)
        export.adapted = self.adapted
        export.missing_files = list(dict.fromkeys(self.missing_files))
        named = {name.casefold() for name in scorm.writer.manifest_files(spec)}
        dropped_controls = 0
        for origin in self.origins.values():
            prefix = self._prefix(origin.package)
            keep_controls = scorm.carry.same_family(origin.version, self.version)
            for name in origin.unlisted():
                if "/" not in name and name.lower().endswith(_CONTROL_SUFFIXES) and not keep_controls:
                    dropped_controls += 1  # the other version's XML Schemas would only mislead
                    continue
                path = prefix + name
                if path.casefold() not in named and path.casefold() != scorm.package.MANIFEST_NAME:
                    source = origin.file(name)
                    if source is not None:
                        export.unlisted[path] = source
        if dropped_controls:
            export.not_carried.append(
                f"the package: its {dropped_controls} SCORM {next(iter(self.origins.values())).version} "
                "schema file(s) (.xsd/.dtd), which do not describe the new manifest"
            )
        export.not_carried = list(dict.fromkeys(export.not_carried))
        return export


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
