"""Writing SCORM packages for export: ``imsmanifest.xml`` and the zip around it.

A :class:`PackageSpec` describes a course simply: an identifier, a title, an
organization of nested :class:`ItemSpec` items, each leaf pointing to a launch
file (``href``) with the other files it needs, an optional mastery score, and
the capability mappings (:class:`~scorm.lom.Competency`) that travel as LOM
classifications with purpose ``competency``.

:func:`build_manifest` writes the manifest for SCORM 2004 4th Edition (the
default), SCORM 2004 3rd Edition, or SCORM 1.2. The 2004 manifests use no
4th-Edition-only element, so they validate against both 2004 schema sets; the
1.2 manifest carries plain IMS Meta-data 1.2.1 (no extension elements, which
the usual 1.2 LOM schema cannot accept). :func:`write_package` streams the
manifest and the content files into a zip.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

from lxml import etree

from scorm import namespaces as ns
from scorm.errors import PackageError
from scorm.lom import Competency, LangString, Lom, LomFlavour, competency_classifications, lom_element, parse_lom
from scorm.package import MANIFEST_NAME, member_path
from scorm.versions import ScormVersion
from scorm.xsd import NAMESPACE_FILES

logger = logging.getLogger(__name__)

# xs:NCName, which xs:ID (every identifier of a manifest) is: no colon, no leading digit.
_NCNAME = re.compile(r"^[^\W\d][\w.-]*$")
_NOT_NAME = re.compile(r"[^\w.-]+")
# Characters left alone when a package path becomes an href (RFC 3986 pchar and "/").
_HREF_SAFE = "/-._~!$&'()*+,;=:@"

# The namespaces each version's manifest declares a schema location for; the files are xsd's.
_SCHEMA_FILES = dict(NAMESPACE_FILES)
_SCHEMA_NAMESPACES = {
    ScormVersion.SCORM_12: (ns.IMSCP_12, ns.IMSMD_12, ns.ADLCP_12),
    ScormVersion.SCORM_2004_3RD: (ns.IMSCP_2004, ns.ADLCP_2004, ns.ADLSEQ, ns.ADLNAV, ns.IMSSS, ns.LOM_IEEE),
}
_SCHEMA_NAMESPACES[ScormVersion.SCORM_2004_4TH] = _SCHEMA_NAMESPACES[ScormVersion.SCORM_2004_3RD]
_SCHEMA_LOCATIONS = {
    version: tuple((namespace, _SCHEMA_FILES[namespace]) for namespace in namespaces)
    for version, namespaces in _SCHEMA_NAMESPACES.items()
}
_CONTROL_SUFFIXES = frozenset({".xsd", ".dtd"})


@dataclass(frozen=True)
class ItemSpec:
    """An item of the organization: a leaf launches ``href``; a parent groups ``children``."""

    identifier: str
    title: str
    #: The launch file's path in the package (leaves only).
    href: str | None = None
    #: The other files the launch file needs (the launch file is listed anyway).
    files: tuple[str, ...] = ()
    #: Scaled 0–1: 1.2 ``adlcp:masteryscore`` (× 100); 2004 the primary objective's
    #: ``minNormalizedMeasure`` with ``satisfiedByMeasure``.
    mastery_score: float | None = None
    competencies: tuple[Competency, ...] = ()
    children: tuple[ItemSpec, ...] = ()
    #: Launch parameters (``?a=b``) appended to ``href`` by the LMS.
    parameters: str | None = None
    #: The query and fragment the resource's ``href`` had (``?content=playing``): part of the launch URL.
    href_suffix: str = ""
    isvisible: bool = True
    #: ``adlcp:dataFromLMS`` (2004) / ``adlcp:datafromlms`` (1.2): the SCO's ``cmi.launch_data``.
    data_from_lms: str | None = None
    #: ``adlcp:timeLimitAction`` (2004) / ``adlcp:timelimitaction`` (1.2).
    time_limit_action: str | None = None
    #: Extension elements written as they are after the item's metadata (sequencing, presentation …),
    #: serialised; they must suit the version written (see :mod:`scorm.carry`).
    extensions: tuple[bytes, ...] = ()
    #: Namespaced attributes written as they are: (Clark name, value).
    extension_attributes: tuple[tuple[str, str], ...] = ()
    #: A LOM record (serialised) to write as the item's metadata, competency classifications replaced
    #: by :attr:`competencies`; ignored unless in the LOM binding of the version written.
    lom_record: bytes | None = None
    #: ``adlcp:location`` of the item's metadata: a package file holding its LOM record.
    metadata_location: str | None = None


@dataclass(frozen=True)
class PackageSpec:
    """A course to export as one SCORM package with one organization."""

    identifier: str
    title: str
    items: tuple[ItemSpec, ...]
    organization_identifier: str = "ORG-1"
    description: str | None = None
    #: Capability mappings of the whole course (manifest-level LOM).
    competencies: tuple[Competency, ...] = ()
    #: Files every launch file needs (scripts, styles): an asset all SCOs depend on.
    shared_files: tuple[str, ...] = ()
    language: str = "en"
    #: Extension elements of the manifest (a ``sequencingCollection``) and of the organization
    #: (its ``imsss:sequencing``), and the organization's namespaced attributes, written as they are.
    manifest_extensions: tuple[bytes, ...] = ()
    organization_extensions: tuple[bytes, ...] = ()
    organization_attributes: tuple[tuple[str, str], ...] = ()
    #: The package's own LOM record and metadata file (as :attr:`ItemSpec.lom_record`, ``metadata_location``).
    lom_record: bytes | None = None
    metadata_location: str | None = None


def xml_identifier(text: str, prefix: str = "ID-") -> str:
    """``text`` made into a valid manifest identifier (xs:ID): other characters become ``-``,
    and ``prefix`` goes in front when ``text`` does not start with a letter (a UUID, say)."""
    name = _NOT_NAME.sub("-", text).strip("-") or "X"
    if not _NCNAME.match(name):
        name = prefix + name
    return name


def resource_identifier(item: ItemSpec) -> str:
    """The identifier of the resource written for a leaf item."""
    return f"RES-{item.identifier}"


_SHARED_RESOURCE = "RES-SHARED-ASSETS"


def _walk(items: tuple[ItemSpec, ...]) -> Iterator[ItemSpec]:
    for item in items:
        yield item
        yield from _walk(item.children)


def _files(item: ItemSpec) -> tuple[str, ...]:
    names = [item.href] if item.href else []
    names.extend(item.files)
    return tuple(dict.fromkeys(names))


def _check(spec: PackageSpec, version: ScormVersion) -> None:
    if version not in _SCHEMA_LOCATIONS:
        raise ValueError(f"writing SCORM {version} is not supported; write 1.2, 2004 3rd or 2004 4th Edition")
    if not spec.items:
        raise ValueError("a package needs at least one item")
    identifiers = [spec.identifier, spec.organization_identifier]
    for item in _walk(spec.items):
        identifiers.append(item.identifier)
        if item.children and item.href and version.is_2004:
            raise ValueError(f"item {item.identifier!r}: in SCORM 2004 only leaf items launch content; it has children")
        if not item.children and not item.href:
            raise ValueError(f"item {item.identifier!r} has neither an href nor children")
        if item.href:
            identifiers.append(resource_identifier(item))
        if not item.href and (item.files or item.mastery_score is not None):
            raise ValueError(f"item {item.identifier!r} has files or a mastery score but no href")
        if item.mastery_score is not None and not 0.0 <= item.mastery_score <= 1.0:
            raise ValueError(f"item {item.identifier!r}: mastery_score {item.mastery_score} is not between 0 and 1")
        if not item.title.strip():
            raise ValueError(f"item {item.identifier!r} has no title")
        if item.href_suffix and (item.href_suffix[0] not in "?#" or any(c.isspace() for c in item.href_suffix)):
            raise ValueError(f"item {item.identifier!r}: href_suffix {item.href_suffix!r} is no query or fragment")
    if spec.shared_files:
        identifiers.append(_SHARED_RESOURCE)
    for identifier in identifiers:
        if not _NCNAME.match(identifier):
            raise ValueError(f"{identifier!r} is not a valid manifest identifier (xs:ID); see xml_identifier()")
    duplicates = sorted({identifier for identifier in identifiers if identifiers.count(identifier) > 1})
    if duplicates:
        raise ValueError(f"identifiers used twice: {', '.join(duplicates)}")
    for path in manifest_files(spec):
        try:
            normal = member_path(path)
        except PackageError as error:
            raise ValueError(f"file {path!r}: {error}") from None
        if normal != path or normal.endswith("/"):
            raise ValueError(f"file {path!r} is not a plain package path (use {normal.rstrip('/')!r})")


def manifest_files(spec: PackageSpec) -> tuple[str, ...]:
    """Every package path the manifest of ``spec`` names, each once, in manifest order."""
    names: list[str] = []
    for item in _walk(spec.items):
        names.extend(_files(item))
    names.extend(spec.shared_files)
    return tuple(dict.fromkeys(names))


def _href(path: str) -> str:
    return quote(path, safe=_HREF_SAFE)


def _decimal(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


class _Builder:
    def __init__(self, spec: PackageSpec, version: ScormVersion) -> None:
        self.spec = spec
        self.version = version
        if version.is_2004:
            self.cp, self.adlcp = ns.IMSCP_2004, ns.ADLCP_2004
            self.flavour = LomFlavour.IEEE
            self.nsmap: dict[str | None, str] = {
                None: ns.IMSCP_2004,
                "adlcp": ns.ADLCP_2004,
                "adlseq": ns.ADLSEQ,
                "adlnav": ns.ADLNAV,
                "imsss": ns.IMSSS,
                "lom": ns.LOM_IEEE,
                "xsi": ns.XSI,
            }
            self.lom_prefix = "lom"
        else:
            self.cp, self.adlcp = ns.IMSCP_12, ns.ADLCP_12
            self.flavour = LomFlavour.IMSMD_12
            self.nsmap = {None: ns.IMSCP_12, "adlcp": ns.ADLCP_12, "imsmd": ns.IMSMD_12, "xsi": ns.XSI}
            self.lom_prefix = "imsmd"

    def cp_element(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.cp}}}{name}")
        if text is not None:
            element.text = text
        return element

    def lom(self, title: str, description: str | None, competencies: tuple[Competency, ...]) -> etree._Element:
        language = self.spec.language
        lom = Lom(
            title=(LangString(title, language),),
            description=(LangString(description, language),) if description else (),
            classifications=competency_classifications(competencies),
        )
        return lom_element(lom, self.flavour, prefix=self.lom_prefix)

    def kept_lom(self, record: bytes | None, competencies: tuple[Competency, ...]) -> etree._Element | None:
        """``record`` with its competency classifications replaced by ``competencies``; None when it is
        not in this version's LOM binding (or not a LOM record)."""
        if record is None:
            return None
        lom = etree.fromstring(record)
        if ns.namespace(lom) != self.flavour.namespace or ns.local(lom) != "lom":
            return None
        if competencies:
            for child in list(lom):
                if isinstance(child.tag, str) and ns.local(child).lower() == "classification":
                    purpose = parse_lom(_wrap(child)).classifications
                    if purpose and purpose[0].is_competency:
                        lom.remove(child)
            made = lom_element(Lom(classifications=competency_classifications(competencies)), self.flavour)
            for classification in list(made):
                lom.append(classification)
        return lom

    def metadata(
        self,
        parent: etree._Element,
        title: str,
        description: str | None,
        competencies: tuple[Competency, ...],
        record: bytes | None,
        location: str | None,
        always: bool,
    ) -> None:
        """Write ``<metadata>``: the kept LOM record (or one made here) and the metadata file's location."""
        lom = self.kept_lom(record, competencies)
        if lom is None and (always or competencies):
            lom = self.lom(title, description, competencies)
        if lom is None and location is None:
            return
        metadata = parent.find(f"{{{self.cp}}}metadata")
        if metadata is None:
            metadata = self.cp_element(parent, "metadata")
        if location is not None:
            etree.SubElement(metadata, f"{{{self.adlcp}}}location").text = location
        if lom is not None:
            metadata.append(lom)

    def build(self) -> etree._Element:
        spec = self.spec
        root = etree.Element(f"{{{self.cp}}}manifest", nsmap=self.nsmap)
        root.set("identifier", spec.identifier)
        root.set("version", "1.0")
        root.set(
            f"{{{ns.XSI}}}schemaLocation",
            " ".join(f"{namespace} {file}" for namespace, file in _SCHEMA_LOCATIONS[self.version]),
        )
        metadata = self.cp_element(root, "metadata")
        self.cp_element(metadata, "schema", "ADL SCORM")
        self.cp_element(metadata, "schemaversion", self.version.schemaversion)
        self.metadata(
            root, spec.title, spec.description, spec.competencies, spec.lom_record, spec.metadata_location, True
        )
        organizations = self.cp_element(root, "organizations")
        organizations.set("default", spec.organization_identifier)
        organization = self.cp_element(organizations, "organization")
        organization.set("identifier", spec.organization_identifier)
        for key, value in spec.organization_attributes:
            organization.set(key, value)
        self.cp_element(organization, "title", spec.title)
        for item in spec.items:
            self.item(organization, item)
        for extension in spec.organization_extensions:
            organization.append(etree.fromstring(extension))
        resources = self.cp_element(root, "resources")
        for item in _walk(spec.items):
            if item.href:
                self.resource(resources, resource_identifier(item), "sco", item.href, _files(item), item.href_suffix)
        if spec.shared_files:
            self.resource(resources, _SHARED_RESOURCE, "asset", None, spec.shared_files)
        for extension in spec.manifest_extensions:
            root.append(etree.fromstring(extension))
        return root

    def item(self, parent: etree._Element, item: ItemSpec) -> None:
        element = self.cp_element(parent, "item")
        element.set("identifier", item.identifier)
        if item.href:
            element.set("identifierref", resource_identifier(item))
        if not item.isvisible:
            element.set("isvisible", "false")
        if item.parameters:
            element.set("parameters", item.parameters)
        for key, value in item.extension_attributes:
            element.set(key, value)
        # CP fixes the order: title, item*, metadata, then extensions.
        self.cp_element(element, "title", item.title)
        for child in item.children:
            self.item(element, child)
        self.metadata(element, item.title, None, item.competencies, item.lom_record, item.metadata_location, False)
        kept = [etree.fromstring(extension) for extension in item.extensions]
        names = {ns.local(extension).lower() for extension in kept}
        # SCORM 2004 spells them timeLimitAction and dataFromLMS; 1.2 in lower case.
        portable: tuple[tuple[str, str | None], ...] = (
            ("timeLimitAction", item.time_limit_action),
            ("dataFromLMS", item.data_from_lms),
        )
        for name, text in portable:
            if text is not None and name.lower() not in names:
                written = name if self.version.is_2004 else name.lower()
                etree.SubElement(element, f"{{{self.adlcp}}}{written}").text = text
        for extension in kept:
            element.append(extension)
        if item.mastery_score is None or names & {"sequencing", "masteryscore"}:
            return  # no mastery score, or the kept extensions carry it
        if self.version.is_2004:
            sequencing = etree.SubElement(element, f"{{{ns.IMSSS}}}sequencing")
            objectives = etree.SubElement(sequencing, f"{{{ns.IMSSS}}}objectives")
            primary = etree.SubElement(objectives, f"{{{ns.IMSSS}}}primaryObjective")
            primary.set("satisfiedByMeasure", "true")
            etree.SubElement(primary, f"{{{ns.IMSSS}}}minNormalizedMeasure").text = _decimal(item.mastery_score)
        else:
            etree.SubElement(element, f"{{{ns.ADLCP_12}}}masteryscore").text = _decimal(item.mastery_score * 100)

    def resource(
        self,
        parent: etree._Element,
        identifier: str,
        scorm_type: str,
        href: str | None,
        files: tuple[str, ...],
        suffix: str = "",
    ) -> None:
        element = self.cp_element(parent, "resource")
        element.set("identifier", identifier)
        element.set("type", "webcontent")
        element.set(f"{{{self.adlcp}}}{'scormType' if self.version.is_2004 else 'scormtype'}", scorm_type)
        if href:
            element.set("href", _href(href) + suffix)
        for file in files:
            self.cp_element(element, "file").set("href", _href(file))
        if scorm_type == "sco" and self.spec.shared_files:
            self.cp_element(element, "dependency").set("identifierref", _SHARED_RESOURCE)


def _wrap(classification: etree._Element) -> etree._Element:
    # parse_lom reads classifications of a <lom>; lend it one around a copy of this one.
    holder = etree.Element("lom")
    holder.append(etree.fromstring(etree.tostring(classification, with_tail=False)))
    return holder


def build_manifest(spec: PackageSpec, version: ScormVersion = ScormVersion.SCORM_2004_4TH) -> bytes:
    """The ``imsmanifest.xml`` of ``spec`` for ``version``, as UTF-8 bytes with an XML declaration.

    :raises ValueError: the spec cannot make a valid manifest (bad or duplicate
        identifiers, a leaf without ``href``, a 2004 parent with one, a mastery
        score outside 0–1, unsafe file paths), or ``version`` is 2004 2nd Edition.
    """
    _check(spec, version)
    root = _Builder(spec, version).build()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


ContentSource = str | os.PathLike[str] | bytes


def write_package(
    spec: PackageSpec,
    destination: str | os.PathLike[str] | IO[bytes],
    content: Mapping[str, ContentSource],
    version: ScormVersion = ScormVersion.SCORM_2004_4TH,
    control_documents: str | os.PathLike[str] | None = None,
    unlisted: Mapping[str, ContentSource] | None = None,
) -> tuple[str, ...]:
    """Write the package of ``spec`` as a zip: the manifest first, then every content file.

    :param destination: a path, or a binary file open for writing.
    :param content: every file the manifest names (and no other), by package path:
        a filesystem path (streamed in chunks) or the bytes themselves.
    :param control_documents: a folder of the version's XML Schemas to copy to the
        package root, as SCORM asks packages to carry them (``*.xsd`` and ``*.dtd``,
        subfolders kept). The library ships none; the caller says where they are.
    :param unlisted: files to put in the package that the manifest does not name (as the
        package they came from had them), by package path, as ``content``.
    :return: the member names written, in order.
    :raises ValueError: the spec is invalid, or ``content`` lacks a file the manifest names or has one it does not.
    """
    manifest = build_manifest(spec, version)
    needed = manifest_files(spec)
    missing = [name for name in needed if name not in content]
    extra = sorted(set(content) - set(needed))
    if missing:
        raise ValueError(f"no content given for {', '.join(repr(name) for name in missing)}")
    if extra:
        raise ValueError(f"content not named by the manifest: {', '.join(repr(name) for name in extra)}")
    controls = _control_documents(control_documents) if control_documents is not None else {}
    clash = sorted((set(controls) | {MANIFEST_NAME}) & set(needed))
    if clash:
        raise ValueError(f"content would overwrite {', '.join(clash)}")
    others = dict(unlisted or {})
    for name in others:
        try:
            normal = member_path(name)
        except PackageError as error:
            raise ValueError(f"unlisted file {name!r}: {error}") from None
        if normal != name or name in needed or name in controls or name.casefold() == MANIFEST_NAME:
            raise ValueError(f"unlisted file {name!r} is not a plain path of its own")
    written = [MANIFEST_NAME]
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST_NAME, manifest)
        for name, path in controls.items():
            _stream_file(archive, name, path)
            written.append(name)
        for name in needed:
            source = content[name]
            if isinstance(source, bytes):
                archive.writestr(name, source)
            else:
                _stream_file(archive, name, Path(source))
            written.append(name)
        for name, source in others.items():
            if isinstance(source, bytes):
                archive.writestr(name, source)
            else:
                _stream_file(archive, name, Path(source))
            written.append(name)
    logger.info("wrote SCORM %s package %r with %d members", version, spec.identifier, len(written))
    return tuple(written)


def _control_documents(folder: str | os.PathLike[str]) -> dict[str, Path]:
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"control documents folder {os.fspath(folder)!r} does not exist")
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix.lower() in _CONTROL_SUFFIXES
    }


def _stream_file(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    size = path.stat().st_size
    info = zipfile.ZipInfo.from_file(path, arcname=name)
    info.compress_type = zipfile.ZIP_DEFLATED
    # zipfile needs to know up front whether the entry may pass 4 GiB.
    with open(path, "rb") as source, archive.open(info, "w", force_zip64=size > zipfile.ZIP64_LIMIT) as target:
        shutil.copyfileobj(source, target, 64 << 10)
