"""Reading ``imsmanifest.xml``: organizations, items, resources, metadata, sub-manifests.

:func:`parse_manifest` reads SCORM 1.2 and SCORM 2004 (2nd, 3rd and 4th
Edition) manifests into frozen dataclasses. It matches elements by namespace
URI and local name, whatever the prefixes, and reads the ADL extensions in
either spelling (``adlcp:scormtype``/``scormType``, ``datafromlms``/
``dataFromLMS`` …), because real packages mix them.

It also checks what XML Schema validation cannot: that ``organizations/@default``
names an organization, that every item ``identifierref`` names a resource or a
sub-manifest, that every ``dependency`` names a resource, that no two items,
organizations or resources share an identifier, and that metadata referenced
by ``adlcp:location`` can be read. Each finding is a
:class:`~scorm.errors.Problem` with its line and element; by default they are
raised together as one :class:`~scorm.errors.ManifestError`, so an import can
refuse with a precise message.
"""

from __future__ import annotations

import gc
import logging
import math
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import cached_property
from types import MappingProxyType
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from scorm import namespaces as ns
from scorm import safexml
from scorm.errors import ManifestError, ManifestReason, Problem, ScormError
from scorm.lom import Lom, find_lom, parse_lom
from scorm.versions import ScormVersion, VersionSource, detect_version

logger = logging.getLogger(__name__)

#: Reads a file of the package by its path from the package root (for ``adlcp:location``).
MetadataLoader = Callable[[str], bytes]

ScormType = Literal["sco", "asset"]


@dataclass(frozen=True)
class Metadata:
    """A ``<metadata>`` element: schema, schema version, and the LOM record (inline or by location)."""

    schema: str | None = None
    schemaversion: str | None = None
    #: The LOM record, read inline or from :attr:`location`.
    lom: Lom | None = None
    #: ``adlcp:location``: a package file holding the LOM record.
    location: str | None = None


@dataclass(frozen=True)
class File:
    """A ``<file>`` of a resource."""

    #: As written in the manifest.
    href: str
    #: Its path in the package: resolved against ``xml:base`` and percent-decoded;
    #: None for an absolute URL.
    path: str | None
    metadata: Metadata | None = None


@dataclass(frozen=True)
class Resource:
    """A ``<resource>``: what an item launches, or an asset other resources depend on."""

    identifier: str
    type: str
    #: ``sco`` or ``asset`` (``adlcp:scormtype`` in 1.2, ``adlcp:scormType`` in 2004); None when absent.
    scorm_type: ScormType | None
    #: ``href`` as written (None for resources without a launch file).
    href: str | None
    #: The combined ``xml:base`` of the manifest, ``<resources>`` and ``<resource>`` ("" when none).
    base: str
    #: ``href`` resolved against :attr:`base` (a URL: may carry a query, percent escapes).
    url: str | None
    #: The launch file's path in the package (None without ``href`` or for an absolute URL).
    path: str | None
    files: tuple[File, ...] = ()
    #: The identifiers the ``<dependency>`` elements name, in order.
    dependencies: tuple[str, ...] = ()
    metadata: Metadata | None = None
    line: int | None = None

    @property
    def is_sco(self) -> bool:
        """True when the resource is a SCO (it talks to the run-time API)."""
        return self.scorm_type == "sco"


@dataclass(frozen=True)
class ObjectiveMap:
    """``imsss:mapInfo``: how a local objective reads and writes a global one."""

    target_objective_id: str
    read_satisfied_status: bool = True
    read_normalized_measure: bool = True
    write_satisfied_status: bool = False
    write_normalized_measure: bool = False


@dataclass(frozen=True)
class Objective:
    """A sequencing objective of an item (SCORM 2004)."""

    objective_id: str | None
    #: True for the ``primaryObjective``: the one that says whether the activity is satisfied.
    primary: bool
    #: When true, the objective is satisfied by ``score.scaled`` ≥ :attr:`min_normalized_measure`.
    satisfied_by_measure: bool = False
    #: As written; the standard's default when absent is 1.0.
    min_normalized_measure: float | None = None
    maps: tuple[ObjectiveMap, ...] = ()


@dataclass(frozen=True)
class CompletionThreshold:
    """``adlcp:completionThreshold`` (SCORM 2004).

    4th Edition writes it as attributes; 3rd Edition as the element's text (a
    decimal), which is read as ``min_progress_measure`` with
    ``completed_by_measure`` true, because the run-time then judges completion
    by ``cmi.progress_measure`` against it.
    """

    completed_by_measure: bool = False
    min_progress_measure: float = 1.0
    progress_weight: float = 1.0


@dataclass(frozen=True)
class Prerequisites:
    """``adlcp:prerequisites`` (SCORM 1.2): an AICC script expression over item identifiers."""

    expression: str
    type: str = "aicc_script"


@dataclass(frozen=True)
class Item:
    """An ``<item>`` of an organization, with its children."""

    identifier: str
    title: str
    identifierref: str | None = None
    #: The resource ``identifierref`` names (None for a parent item, or a sub-manifest reference).
    resource: Resource | None = None
    #: The sub-manifest ``identifierref`` names, when it names one.
    submanifest: Manifest | None = None
    parameters: str | None = None
    isvisible: bool = True
    children: tuple[Item, ...] = ()
    metadata: Metadata | None = None
    # SCORM 1.2 (adlcp_rootv1p2)
    prerequisites: Prerequisites | None = None
    #: ``adlcp:masteryscore`` as written, on the 0–100 scale of ``cmi.core.score.raw``.
    masteryscore: float | None = None
    #: ``adlcp:maxtimeallowed`` (1.2, ``HHHH:MM:SS.SS``).
    max_time_allowed: str | None = None
    # Both versions
    #: ``adlcp:timelimitaction`` (1.2) or ``adlcp:timeLimitAction`` (2004).
    time_limit_action: str | None = None
    #: ``adlcp:datafromlms`` (1.2) or ``adlcp:dataFromLMS`` (2004): becomes ``cmi.launch_data``.
    data_from_lms: str | None = None
    # SCORM 2004
    completion_threshold: CompletionThreshold | None = None
    #: Sequencing objectives, the primary one first when there is one.
    objectives: tuple[Objective, ...] = ()
    line: int | None = None

    @property
    def primary_objective(self) -> Objective | None:
        """The primary sequencing objective, if the item has one."""
        return next((objective for objective in self.objectives if objective.primary), None)

    @property
    def passing_score(self) -> float | None:
        """The mastery score, scaled 0–1 (what ``cmi.scaled_passing_score`` starts as).

        1.2: ``masteryscore`` / 100. 2004: the primary objective's
        ``minNormalizedMeasure`` (default 1.0) when it is ``satisfiedByMeasure``.
        None when the item has no mastery score.
        """
        if self.masteryscore is not None:
            return self.masteryscore / 100
        primary = self.primary_objective
        if primary is not None and primary.satisfied_by_measure:
            return 1.0 if primary.min_normalized_measure is None else primary.min_normalized_measure
        return None

    @property
    def launch_url(self) -> str | None:
        """The resource's URL with :attr:`parameters` appended as SCORM CAM says."""
        if self.resource is None or self.resource.url is None:
            return None
        return append_parameters(self.resource.url, self.parameters)

    def walk(self) -> Iterator[Item]:
        """This item and all its descendants, depth first."""
        yield self
        if self.children:
            yield from _descendants(self.children)


def _descendants(items: tuple[Item, ...]) -> Iterator[Item]:
    """``items`` and all their descendants, depth first: one generator for the whole tree, not one per item."""
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            yield item
            if item.children:
                stack.append(iter(item.children))
                break
        else:
            stack.pop()


@dataclass(frozen=True)
class Organization:
    """An ``<organization>``: one way through the content (a tree of items)."""

    identifier: str
    title: str
    items: tuple[Item, ...] = ()
    metadata: Metadata | None = None
    line: int | None = None

    def walk(self) -> Iterator[Item]:
        """Every item, depth first."""
        return _descendants(self.items)


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest (or sub-manifest)."""

    identifier: str
    version: ScormVersion
    #: What decided :attr:`version`: ``schemaversion`` or ``namespaces`` (see :mod:`scorm.versions`).
    version_source: VersionSource
    schema: str | None
    schemaversion: str | None
    #: ``organizations/@default`` as written.
    default_organization_id: str | None
    organizations: tuple[Organization, ...]
    resources: Mapping[str, Resource]
    metadata: Metadata | None = None
    submanifests: tuple[Manifest, ...] = ()
    #: The manifest's own ``xml:base`` ("" when none).
    base: str = ""
    #: What the checks found (empty unless parsed with ``strict=False``, or none found).
    problems: tuple[Problem, ...] = ()
    line: int | None = None

    @cached_property
    def _items(self) -> Mapping[str, Item]:
        return MappingProxyType({item.identifier: item for item in self.walk()})

    @property
    def default_organization(self) -> Organization | None:
        """The organization ``default`` names; the first one when there is no ``default``."""
        if self.default_organization_id is None:
            return self.organizations[0] if self.organizations else None
        return next((org for org in self.organizations if org.identifier == self.default_organization_id), None)

    @property
    def lom(self) -> Lom | None:
        """The manifest-level LOM record, if any."""
        return self.metadata.lom if self.metadata else None

    def item(self, identifier: str) -> Item | None:
        """The item with this identifier in any organization of this manifest."""
        return self._items.get(identifier)

    def walk(self) -> Iterator[Item]:
        """Every item of every organization, depth first."""
        for organization in self.organizations:
            yield from organization.walk()

    def all_resources(self) -> Iterator[Resource]:
        """The resources of this manifest and of its sub-manifests."""
        yield from self.resources.values()
        for submanifest in self.submanifests:
            yield from submanifest.all_resources()

    def dependencies(self, resource: Resource) -> tuple[Resource, ...]:
        """Every resource ``resource`` depends on, directly or not, each once, in first-seen order."""
        found: dict[str, Resource] = {}
        pending = list(resource.dependencies)
        while pending:
            identifier = pending.pop(0)
            if identifier in found or identifier == resource.identifier:
                continue
            dependency = self.resources.get(identifier)
            if dependency is None:
                continue
            found[identifier] = dependency
            pending.extend(dependency.dependencies)
        return tuple(found.values())


def append_parameters(url: str, parameters: str | None) -> str:
    """``url`` with an item's ``parameters`` appended (SCORM CAM, launch parameters).

    Leading ``?`` and ``&`` of the parameters are dropped; a ``#`` fragment is
    kept only when the URL has none; the rest joins with ``&`` when the URL
    already has a query, else with ``?``.
    """
    if not parameters:
        return url
    parameters = parameters.lstrip("?&")
    if not parameters:
        return url
    if parameters.startswith("#"):
        return url if "#" in url else url + parameters
    fragment = ""
    if "#" in url:
        url, _, rest = url.partition("#")
        fragment = "#" + rest
    separator = "&" if "?" in url else "?"
    return url + separator + parameters + fragment


def package_path(url: str) -> str | None:
    """The package path of a relative URL: query and fragment dropped, percent-decoded, no ``./``.

    None for an absolute URL (``http://…``), which is not in the package.
    """
    if url and not _NOT_PLAIN.search(url):
        return url  # the usual case, "folder/page.html": nothing to split, decode or normalise
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path:
        return None
    normal = posixpath.normpath(path)
    return normal[2:] if normal.startswith("./") else normal


# Parsing ---------------------------------------------------------------------


# What makes a relative path need resolving: a scheme, query, fragment or escape (":?#%"), a backslash, "//",
# a "." or ".." part (or a hidden file: "/." and a leading "." also send those the long way), a leading or
# trailing "/". One scan; the paths of nearly every manifest have none of them.
_NOT_PLAIN = re.compile(r"[:?#%\\]|//|/\.|^[./]|/$")


#: Two-character runs that make a URL need resolving ("//", "/.", a "/" ending it) or start it ("\0." and "\0/"
#: after the NUL that ends the URL before), in URLs joined by NUL: a substring search for each costs less than
#: a regular expression, which stops at every "/" (several in every URL) to try its alternatives.
_RUNS = ("//", "/.", "/\0", "\0.", "\0/")
#: ".", NUL and newline as "/" (see :func:`_all_plain`); str.translate maps one character to one at C speed.
_FOLDED = str.maketrans({".": "/", "\0": "/", "\n": "/"})


def _all_plain(urls: list[str]) -> bool:
    """True when none of ``urls`` is empty and :data:`_NOT_PLAIN` finds none of them needs resolving.

    The same test as one scan per URL, done as a few searches over all of them joined by NUL (which no XML
    document can hold), each at C speed: a big manifest has tens of thousands of URLs, and a regular
    expression with alternatives tries each of them at every character.
    """
    if not all(urls):
        return False  # an empty URL: not a path
    joined = "\0".join(urls)
    if any(character in joined for character in ":?#%\\"):
        return False
    # First one search instead of the five below: with ".", NUL and newline all read as "/", each run below
    # (and a "/" before a URL's final newline) becomes "//", or a "/" at either end. So do a few plain URLs
    # ("a..b", "a./b", "a/b." and the like), which then take the five searches.
    folded = joined.translate(_FOLDED)
    if "//" not in folded and folded[0] != "/" and folded[-1] != "/":
        return True
    # "//", "/." and "^[./]": runs of two characters, and a first URL starting with "." or "/".
    if any(run in joined for run in _RUNS) or joined.startswith((".", "/")):
        return False
    # "/$": a URL ending with "/" (found above, or last), or with "/" and the newline "$" also matches before.
    return not (joined.endswith(("/", "/\n")) or ("\n" in joined and "/\n\0" in joined))


# Building items, resources and files: a frozen dataclass's ``__init__`` sets each field through
# ``object.__setattr__``; filling the new instance's dictionary directly (``object.__new__(cls).__dict__``)
# costs a fraction of that, and a big manifest has tens of thousands of them. A field left out reads as its
# default, which the dataclass keeps as a class attribute (every field with a default in this module has a
# plain one, never a ``default_factory``; the tests check), so equality, hashing, ``repr`` and
# ``dataclasses.replace`` see every field, and an instance holds only the fields set: most items and files
# leave most of theirs at the default.
_new = object.__new__


def _str(value: object) -> str | None:
    return None if value is None else str(value)


#: Every element of an ADL CP namespace, as lxml's tag filter takes it.
_ADLCP_ANY = tuple(f"{{{namespace}}}*" for namespace in sorted(ns.ADLCP))


def _adlcp_children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    # ADL extension elements, matched without case: 1.2 says "datafromlms",
    # 2004 "dataFromLMS", and real manifests mix them.
    wanted = name.lower()
    for child in element.iterchildren(*_ADLCP_ANY):
        if ns.local(child).lower() == wanted:
            yield child


def _adlcp_child(element: etree._Element, name: str) -> etree._Element | None:
    return next(_adlcp_children(element, name), None)


#: ``adlcp:scormType`` / ``adlcp:scormtype`` as written by ADL's schemas, in each ADL CP namespace.
_SCORM_TYPE_NAMES = tuple(
    f"{{{namespace}}}{name}" for namespace in sorted(ns.ADLCP) for name in ("scormType", "scormtype")
)


def _scorm_type(element: etree._Element) -> tuple[str | None, str | None]:
    """``adlcp:scormType`` in any ADL CP namespace and any case, and its name when it is one of the usual ones."""
    for name in _SCORM_TYPE_NAMES:
        value = element.get(name)
        if value is not None:
            return str(value), name
    return _adlcp_attribute(element, "scormtype"), None


def _adlcp_attribute(element: etree._Element, name: str) -> str | None:
    wanted = name.lower()
    for key, value in element.attrib.items():
        namespace, local = ns.split(str(key))
        if local.lower() == wanted and (namespace in ns.ADLCP or namespace == ""):
            return str(value)
    return None


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    if not len(element):
        return (element.text or "").strip()  # the usual case, and much cheaper than itertext()
    return safexml.text(element).strip()


def _boolean(value: str | None, default: bool) -> bool | None:
    """``true``/``false`` (xs:boolean, any case); None when the value is neither."""
    if value is None:
        return default
    text = value.strip().lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    return None


def _join_base(base: str, addition: str | None) -> str:
    if not addition:
        return base
    return urljoin(base, addition) if base else addition


class _Parser:
    def __init__(
        self,
        metadata_loader: MetadataLoader | None,
        root_namespace: str = "",
    ) -> None:
        self.metadata_loader = metadata_loader
        #: The attribute name that last gave a resource's scormType: the next resource most likely uses it too.
        self.scorm_type_name = _SCORM_TYPE_NAMES[0].encode()
        self.problems: list[Problem] = []
        #: Kind (``item``, ``organization``, ``target``) → identifier → the line of its first use.
        self.identifiers: dict[str, dict[str, int | None]] = {"item": {}, "organization": {}, "target": {}}
        #: Those of items, and of identifierref targets (resources, sub-manifests), looked up the most.
        self.item_identifiers = self.identifiers["item"]
        self.targets = self.identifiers["target"]
        # Content-packaging elements are in an IMS CP namespace, in none, or in the root's (a CP version we
        # do not list): every element reached from the root is in one of these, so "in its parent's namespace"
        # comes to the same. lxml filters children by these names in C; no Python work per child.
        self.cp_namespaces = tuple(sorted(ns.IMSCP | {"", root_namespace}))
        self.cp_tags: dict[str, tuple[str, ...]] = {}
        #: Tag → what the element is (see :meth:`kind`); a manifest repeats a few dozen tags.
        self.kinds: dict[object, str] = {}
        # The tags of the children met most (an item's title and items, a resource's files), in the root's
        # namespace as nearly every manifest writes them: compared before the look-up, which hashes the tag.
        qualified = f"{{{root_namespace}}}" if root_namespace else ""
        self.title_tag = qualified + "title"
        self.item_tag = qualified + "item"
        self.file_tag = qualified + "file"
        # The manifest being read: its dependencies to check, what its items may name, their dangling names.
        self.references: list[tuple[str, etree._Element]] = []
        self.scope: Mapping[str, Resource] = {}
        self.submanifests: Mapping[str, Manifest] = {}
        self.dangling: list[Problem] = []

    def cp_children(self, element: etree._Element, name: str) -> Iterator[etree._Element]:
        """The content-packaging children of ``element`` called ``name``, in document order."""
        tags = self.cp_tags.get(name)
        if tags is None:
            tags = self.cp_tags[name] = tuple(f"{{{namespace}}}{name}" for namespace in self.cp_namespaces)
        children: Iterator[etree._Element] = element.iterchildren(*tags)
        return children

    def cp_child(self, element: etree._Element, name: str) -> etree._Element | None:
        return next(self.cp_children(element, name), None)

    def kind(self, tag: object) -> str:
        """What an element with this tag is: a content-packaging local name (``"item"``), ``"adlcp:"`` and the
        lower-case local name of an ADL extension, ``"imsss:"`` and the local name of a sequencing element, or
        ``""`` (anything else, comments included). Items and resources sort their children with it in one pass.
        """
        found = self.kinds.get(tag)
        if found is None:
            found = ""
            if isinstance(tag, str):
                namespace, local = ns.split(tag)
                if namespace in self.cp_namespaces:
                    found = local
                elif namespace in ns.ADLCP:
                    found = "adlcp:" + local.lower()
                elif namespace == ns.IMSSS:
                    found = "imsss:" + local
            self.kinds[tag] = found
        return found

    def problem(self, reason: ManifestReason, message: str, element: etree._Element | None) -> None:
        line = element.sourceline if element is not None else None
        self.problems.append(Problem(reason, message, line, ns.describe(element) if element is not None else None))

    def claim(self, kind: str, identifier: str, element: etree._Element) -> None:
        """Record ``identifier`` as used by a ``kind`` (``item``, ``organization``, ``target``) at ``element``;
        a second use of it is a problem."""
        # XML Schema wants every identifier unique in the document, but LMSs
        # accept an item named like its resource; only clashes that make a
        # reference or a tracked item ambiguous are problems: two items, two
        # organizations, or two identifierref targets (resources, manifests).
        seen = self.identifiers[kind]
        if identifier in seen:
            first = seen[identifier]
            where = f" (first used on line {first})" if first else ""
            self.problem("duplicate-identifier", f"identifier {identifier!r} is used twice{where}", element)
        else:
            seen[identifier] = element.sourceline

    def required(self, element: etree._Element, attribute: str) -> str:
        value = _str(element.get(attribute))
        if value is None or not value.strip():
            self.problem("missing", f"<{ns.local(element)}> has no {attribute}", element)
            return ""
        return value.strip()

    # metadata

    def metadata(self, parent: etree._Element) -> Metadata | None:
        if not len(parent):
            return None  # most <file>s: no children to look through
        return self.metadata_of(self.cp_child(parent, "metadata"))

    def metadata_of(self, element: etree._Element | None) -> Metadata | None:
        """What a ``<metadata>`` element says (None for None)."""
        if element is None:
            return None
        lom_element = find_lom(element)
        lom = parse_lom(lom_element) if lom_element is not None else None
        location_element = _adlcp_child(element, "location")
        location = _text(location_element) or None
        if location and lom is None:
            lom = self.load_metadata(location, location_element)
        return Metadata(
            schema=_text(self.cp_child(element, "schema")) or None,
            schemaversion=_text(self.cp_child(element, "schemaversion")) or None,
            lom=lom,
            location=location,
        )

    def load_metadata(self, location: str, element: etree._Element | None) -> Lom | None:
        if self.metadata_loader is None:
            return None
        path = package_path(location)
        if path is None:
            logger.info("metadata location %r is not in the package; not read", location)
            return None
        try:
            data = self.metadata_loader(path)
        except (ScormError, OSError, KeyError) as error:
            self.problem("metadata", f"metadata file {location!r} cannot be read: {error}", element)
            return None
        try:
            root = safexml.parse(data, f"metadata file {location}")
        except ManifestError as error:
            self.problem("metadata", str(error), element)
            return None
        lom_element = root if ns.local(root).lower() == "lom" else find_lom(root)
        if lom_element is None:
            self.problem("metadata", f"metadata file {location!r} holds no <lom> record", element)
            return None
        return parse_lom(lom_element)

    # resources

    def resources(self, manifest: etree._Element, base: str) -> dict[str, Resource]:
        found: dict[str, Resource] = {}
        # Every package path is first taken to be the URL as written (nearly always true), then all the URLs
        # are checked at once (see _all_plain); only when one needs resolving are the paths worked out one by
        # one, from the URL each path holds until then.
        urls: list[str] = []
        for container in self.cp_children(manifest, "resources"):
            container_base = _join_base(base, _str(container.get(ns.XML_BASE)))
            for element in self.cp_children(container, "resource"):
                resource = self.resource(element, container_base, urls)
                if resource.identifier and resource.identifier not in found:
                    found[resource.identifier] = resource
        if not _all_plain(urls):
            for resource in found.values():
                if resource.path is not None:
                    resource.__dict__["path"] = package_path(resource.path)
                for file in resource.files:
                    if file.path is not None:
                        file.__dict__["path"] = package_path(file.path)
        return found

    def resource(self, element: etree._Element, base: str, urls: list[str]) -> Resource:
        """The resource, its files and dependencies; the URL of each file and of the resource goes on ``urls``,
        and is its path until :meth:`resources` has checked them.

        The hot path of a big manifest with the item's (one call per resource, one turn of the loop per file):
        each attribute is read once, and the usual absent parts cost one test each. The hot attributes are
        named in bytes, as the item's are: lxml encodes a name given as a string to UTF-8 at every read.
        """
        line: int | None = element.sourceline
        identifier: str | None = element.get(b"identifier")
        present = identifier is not None
        if identifier is not None:
            identifier = identifier.strip()
        if not identifier:
            self.problem("missing", "<resource> has no identifier", element)
            identifier = ""
        elif identifier in self.targets:
            self.claim("target", identifier, element)
        else:
            self.targets[identifier] = line
        href: str | None = element.get(b"href")
        type_: str | None = element.get(b"type")
        scorm_type_value: str | None = element.get(self.scorm_type_name)
        if scorm_type_value is None:
            scorm_type_value, name = _scorm_type(element)
            if name is not None:
                self.scorm_type_name = name.encode()
        # Most resources have no attribute but these four: counting them (in C) costs less than asking for xml:base.
        found = present + (href is not None) + (type_ is not None) + (scorm_type_value is not None)
        if len(element.attrib) > found:
            base = _join_base(base, _str(element.get(ns.XML_BASE)))
        url = (urljoin(base, href) if base else href) if href else None
        scorm_type: ScormType | None = None
        if scorm_type_value == "sco":
            scorm_type = "sco"
        elif scorm_type_value is not None:
            normal = scorm_type_value.strip().lower()
            if normal == "sco":
                scorm_type = "sco"
            elif normal == "asset":
                scorm_type = "asset"
            else:
                self.problem("invalid-value", f"scormType {scorm_type_value!r} is neither 'sco' nor 'asset'", element)
        files = []
        dependencies: list[str] | None = None
        metadata_element = None
        kinds = self.kinds
        file_tag = self.file_tag
        for child in element[:]:
            tag = child.tag
            kind: str | None
            if tag == file_tag:
                kind = "file"
            else:
                kind = kinds.get(tag)
                if kind is None:
                    kind = self.kind(tag)
            if kind == "file":
                file_href: str | None = child.get(b"href")
                if not file_href:
                    self.problem("missing", "<file> has no href", child)
                    continue
                file_url = urljoin(base, file_href) if base else file_href
                file = _new(File)
                fields = file.__dict__
                fields["href"] = file_href
                fields["path"] = file_url
                if len(child):
                    fields["metadata"] = self.metadata(child)
                files.append(file)
                urls.append(file_url)
            elif kind == "dependency":
                reference = self.required(child, "identifierref")
                if reference:
                    if dependencies is None:
                        dependencies = []
                    dependencies.append(reference)
                    self.references.append((reference, child))
            elif kind == "metadata" and metadata_element is None:
                metadata_element = child
        resource = _new(Resource)
        fields = resource.__dict__
        fields["identifier"] = identifier
        fields["type"] = type_ or ""
        fields["scorm_type"] = scorm_type
        fields["href"] = href
        fields["base"] = base
        fields["url"] = url
        fields["path"] = url
        fields["files"] = tuple(files)
        if dependencies is not None:
            fields["dependencies"] = tuple(dependencies)
        if metadata_element is not None:
            fields["metadata"] = self.metadata_of(metadata_element)
        fields["line"] = line
        if url is not None:
            urls.append(url)
        return resource

    # sequencing

    def sequencing_collection(self, manifest: etree._Element) -> dict[str, etree._Element]:
        found: dict[str, etree._Element] = {}
        for collection in manifest:
            if ns.namespace(collection) == ns.IMSSS and ns.local(collection) == "sequencingCollection":
                for sequencing in collection:
                    if ns.namespace(sequencing) == ns.IMSSS and ns.local(sequencing) == "sequencing":
                        key = (_str(sequencing.get("ID")) or "").strip()
                        if key:
                            found[key] = sequencing
        return found

    def objectives(
        self, sequencing: etree._Element | None, collection: Mapping[str, etree._Element]
    ) -> tuple[Objective, ...]:
        """The objectives of an item's ``<imsss:sequencing>``."""
        if sequencing is None:
            return ()
        container = self.imsss_child(sequencing, "objectives")
        # IDs and IDREFs collapse whitespace (XML Schema), and ADL's own tests pad them.
        reference = (_str(sequencing.get("IDRef")) or "").strip()
        if container is None and reference:
            # IMS SS: what the item leaves out comes from the collection entry it references.
            shared = collection.get(reference)
            if shared is None:
                self.problem(
                    "dangling-reference", f"IDRef {reference!r} names no sequencing in sequencingCollection", sequencing
                )
            else:
                container = self.imsss_child(shared, "objectives")
        if container is None:
            return ()
        found = []
        for element in container:
            if ns.namespace(element) != ns.IMSSS or ns.local(element) not in {"primaryObjective", "objective"}:
                continue
            found.append(self.objective(element))
        found.sort(key=lambda objective: not objective.primary)
        return tuple(found)

    @staticmethod
    def imsss_child(element: etree._Element, name: str) -> etree._Element | None:
        return next((child for child in element if ns.namespace(child) == ns.IMSSS and ns.local(child) == name), None)

    def objective(self, element: etree._Element) -> Objective:
        by_measure = _boolean(_str(element.get("satisfiedByMeasure")), False)
        if by_measure is None:
            self.problem("invalid-value", "satisfiedByMeasure is neither true nor false", element)
            by_measure = False
        measure_element = self.imsss_child(element, "minNormalizedMeasure")
        measure = None
        if measure_element is not None:
            measure = self.number(_text(measure_element), measure_element, "minNormalizedMeasure", -1.0, 1.0)
        maps = []
        for map_element in element:
            if ns.namespace(map_element) != ns.IMSSS or ns.local(map_element) != "mapInfo":
                continue
            target = self.required(map_element, "targetObjectiveID")
            flags = {}
            for attribute, default in (
                ("readSatisfiedStatus", True),
                ("readNormalizedMeasure", True),
                ("writeSatisfiedStatus", False),
                ("writeNormalizedMeasure", False),
            ):
                value = _boolean(_str(map_element.get(attribute)), default)
                if value is None:
                    self.problem("invalid-value", f"{attribute} is neither true nor false", map_element)
                    value = default
                flags[attribute] = value
            maps.append(
                ObjectiveMap(
                    target,
                    read_satisfied_status=flags["readSatisfiedStatus"],
                    read_normalized_measure=flags["readNormalizedMeasure"],
                    write_satisfied_status=flags["writeSatisfiedStatus"],
                    write_normalized_measure=flags["writeNormalizedMeasure"],
                )
            )
        return Objective(
            objective_id=_str(element.get("objectiveID")),
            primary=ns.local(element) == "primaryObjective",
            satisfied_by_measure=by_measure,
            min_normalized_measure=measure,
            maps=tuple(maps),
        )

    def number(
        self, text: str | None, element: etree._Element, name: str, low: float | None, high: float | None
    ) -> float | None:
        if text is None or text == "":
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if (
            math.isnan(value)
            or math.isinf(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            bounds = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
            self.problem("invalid-value", f"{name} {text!r} is not a number{bounds}", element)
            return None
        return value

    def completion_threshold(self, element: etree._Element | None) -> CompletionThreshold | None:
        if element is None:
            return None
        text = _text(element)
        if text:
            value = self.number(text, element, "completionThreshold", 0.0, 1.0)
            return CompletionThreshold(completed_by_measure=True, min_progress_measure=1.0 if value is None else value)
        by_measure = _boolean(_str(element.get("completedByMeasure")), False)
        if by_measure is None:
            self.problem("invalid-value", "completedByMeasure is neither true nor false", element)
            by_measure = False
        minimum = self.number(_str(element.get("minProgressMeasure")), element, "minProgressMeasure", 0.0, 1.0)
        weight = self.number(_str(element.get("progressWeight")), element, "progressWeight", 0.0, 1.0)
        return CompletionThreshold(
            completed_by_measure=by_measure,
            min_progress_measure=1.0 if minimum is None else minimum,
            progress_weight=1.0 if weight is None else weight,
        )

    # organizations

    def item(self, element: etree._Element, collection: Mapping[str, etree._Element]) -> Item:
        """The item and its children, their ``identifierref`` resolved against :attr:`scope` as they are read.

        The hot path of a big manifest (one call per item): attributes are read once each, the usual absent
        parts (metadata, sequencing, ADL elements) cost one test each, and the item is built as :func:`_new`
        says.
        """
        line: int | None = element.sourceline
        identifier: str | None = element.get(b"identifier")
        identifierref: str | None = element.get(b"identifierref")
        isvisible_value: str | None = None
        parameters: str | None = None
        # Most items have no attribute but these two: counting them (in C) costs less than asking for the others.
        if len(element.attrib) > (identifier is not None) + (identifierref is not None):
            isvisible_value = element.get(b"isvisible")
            parameters = element.get(b"parameters")
        if identifier is not None:
            identifier = identifier.strip()
        if not identifier:
            self.problem("missing", "<item> has no identifier", element)
            identifier = ""
        elif identifier in self.item_identifiers:
            self.claim("item", identifier, element)
        else:
            self.item_identifiers[identifier] = line
        isvisible: bool | None = True
        if isvisible_value is not None:
            isvisible = _boolean(isvisible_value, True)
            if isvisible is None:
                self.problem("invalid-value", f"isvisible {isvisible_value!r} is neither true nor false", element)
                isvisible = True
        # One pass over the children: title, child items, metadata, the ADL elements and sequencing.
        title_element = None
        metadata_element = None
        sequencing = None
        # Made when needed: most items have neither child items nor ADL elements.
        children: list[etree._Element] | None = None
        adl: dict[str, etree._Element] | None = None
        kinds = self.kinds
        title_tag, item_tag = self.title_tag, self.item_tag
        for child in element[:]:
            tag = child.tag
            kind: str | None
            if tag == title_tag:
                kind = "title"
            elif tag == item_tag:
                kind = "item"
            else:
                kind = kinds.get(tag)
                if kind is None:
                    kind = self.kind(tag)
            if kind == "title":
                if title_element is None:
                    title_element = child
            elif kind == "item":
                if children is None:
                    children = [child]
                else:
                    children.append(child)
            elif kind == "metadata":
                if metadata_element is None:
                    metadata_element = child
            elif kind == "imsss:sequencing":
                if sequencing is None:
                    sequencing = child
            elif kind.startswith("adlcp:"):
                if adl is None:
                    adl = {}
                adl.setdefault(kind[6:], child)
        prerequisites = None
        masteryscore = None
        if adl:
            prerequisites_element = adl.get("prerequisites")
            if prerequisites_element is not None:
                expression = _text(prerequisites_element)
                if expression:
                    prerequisites = Prerequisites(expression, _str(prerequisites_element.get("type")) or "aicc_script")
            masteryscore_element = adl.get("masteryscore")
            if masteryscore_element is not None:
                masteryscore = self.number(
                    _text(masteryscore_element), masteryscore_element, "masteryscore", 0.0, 100.0
                )
        resource = None
        submanifest = None
        if identifierref is not None:
            identifierref = identifierref.strip() or None
        if identifierref is not None:
            resource = self.scope.get(identifierref)
            submanifest = self.submanifests.get(identifierref) if resource is None else None
            if resource is None and submanifest is None:
                # Reported after the manifest's other checks, where a reader looks for it.
                self.dangling.append(
                    Problem(
                        "dangling-reference",
                        f"identifierref {identifierref!r} names no resource or sub-manifest",
                        line,
                        f'<item identifier="{identifier}">',
                    )
                )
        if title_element is None:
            title = ""
        elif len(title_element):
            title = safexml.text(title_element).strip()
        else:
            title = (title_element.text or "").strip()
        item = _new(Item)
        fields = item.__dict__
        fields["identifier"] = identifier
        fields["title"] = title
        if identifierref is not None:
            fields["identifierref"] = identifierref
            if resource is not None:
                fields["resource"] = resource
            elif submanifest is not None:
                fields["submanifest"] = submanifest
        if parameters is not None:
            fields["parameters"] = parameters
        if not isvisible:
            fields["isvisible"] = False
        if children:
            fields["children"] = tuple([self.item(child, collection) for child in children])
        fields["line"] = line
        # The rest in the order the checks report their problems: metadata, completion threshold, objectives.
        if metadata_element is not None:
            fields["metadata"] = self.metadata_of(metadata_element)
        if adl:
            fields["prerequisites"] = prerequisites
            fields["masteryscore"] = masteryscore
            fields["max_time_allowed"] = _text(adl.get("maxtimeallowed")) or None
            fields["time_limit_action"] = _text(adl.get("timelimitaction")) or None
            fields["data_from_lms"] = _text(adl.get("datafromlms"))
            fields["completion_threshold"] = self.completion_threshold(adl.get("completionthreshold"))
        if sequencing is not None:
            fields["objectives"] = self.objectives(sequencing, collection)
        return item

    def organization(self, element: etree._Element, collection: Mapping[str, etree._Element]) -> Organization:
        identifier = self.required(element, "identifier")
        if identifier:
            self.claim("organization", identifier, element)
        return Organization(
            identifier=identifier,
            title=_text(self.cp_child(element, "title")) or "",
            items=tuple(self.item(child, collection) for child in self.cp_children(element, "item")),
            metadata=self.metadata(element),
            line=element.sourceline,
        )

    # manifest

    def manifest(
        self,
        element: etree._Element,
        version: ScormVersion | None,
        version_source: VersionSource | None,
        base: str,
        scope: Mapping[str, Resource],
    ) -> Manifest:
        identifier = self.required(element, "identifier")
        if identifier:
            self.claim("target", identifier, element)
        base = _join_base(base, _str(element.get(ns.XML_BASE)))
        metadata = self.metadata(element)
        schemaversion = metadata.schemaversion if metadata else None
        if version is None or version_source is None:
            version, version_source = detect_version(element, schemaversion)
        references: list[tuple[str, etree._Element]] = []
        self.references = references
        resources = self.resources(element, base)
        visible = {**scope, **resources}
        submanifests = tuple(
            self.manifest(child, version, version_source, base, visible)
            for child in self.cp_children(element, "manifest")
        )
        by_identifier = {submanifest.identifier: submanifest for submanifest in submanifests}
        collection = self.sequencing_collection(element)
        dangling: list[Problem] = []
        self.scope, self.submanifests, self.dangling = visible, by_identifier, dangling
        organizations_element = self.cp_child(element, "organizations")
        organizations: tuple[Organization, ...] = ()
        default = None
        if organizations_element is None:
            self.problem("missing", "the manifest has no <organizations>", element)
        else:
            organizations = tuple(
                self.organization(child, collection)
                for child in self.cp_children(organizations_element, "organization")
            )
            default = (_str(organizations_element.get("default")) or "").strip() or None
            if default is not None and default not in {organization.identifier for organization in organizations}:
                known = ", ".join(repr(organization.identifier) for organization in organizations) or "none"
                self.problem(
                    "dangling-reference",
                    f"default {default!r} names no organization of this manifest (organizations: {known})",
                    organizations_element,
                )
        if self.cp_child(element, "resources") is None:
            self.problem("missing", "the manifest has no <resources>", element)
        for reference, dependency in references:
            if reference not in visible:
                self.problem("dangling-reference", f"identifierref {reference!r} names no resource", dependency)
        self.problems.extend(dangling)
        return Manifest(
            identifier=identifier,
            version=version,
            version_source=version_source,
            schema=metadata.schema if metadata else None,
            schemaversion=schemaversion,
            default_organization_id=default,
            organizations=organizations,
            resources=MappingProxyType(resources),
            metadata=metadata,
            submanifests=submanifests,
            base=base,
            line=element.sourceline,
        )


#: From this size on (some 800 items with their resources), :func:`_collector_paused` spares the collector its
#: walk through what the parse made; below it, that walk costs less than the collection it would need first.
#: The tree of a document this big is also freed with glibc's fast bins off (:func:`safexml.fast_bins_off`).
_MANY_OBJECTS = 256 * 1024


@contextmanager
def _collector_paused(size: int = 0) -> Iterator[None]:
    """The cyclic garbage collector off for the block, then as it was.

    Reading a manifest makes an object or more per element (items, resources, files, their dictionaries and
    tuples, lxml's element proxies) and none of them can form a cycle: they only point down the tree. With
    the collector on, a manifest of 5,000 items sets off some sixty collections that each walk the young
    objects to find nothing, a twentieth of the time of the parse. Reference counting still frees everything
    as before. When two threads overlap here, the one that turned the collector off turns it back on; one
    that found it off leaves it off.

    Turned back on, the collector would still find every object the parse kept young, and the first
    allocation after would walk them all (some 35,000 for 5,000 items) only to move them on. For a document
    of ``size`` bytes from :data:`_MANY_OBJECTS` on, they are moved on without the walk: the young generations
    are collected first (what the process made before the call, examined as any collection soon would), and
    on the way out what is young, the parse's own objects, goes to the oldest generation, as ``gc.freeze()``
    and ``gc.unfreeze()`` move it (with whatever another thread made meanwhile: the next full collection
    examines that). Not when objects are frozen already (by a server before it forks, say): ``unfreeze``
    would let those go too.
    """
    enabled = gc.isenabled()
    promote = enabled and size >= _MANY_OBJECTS and not gc.get_freeze_count()
    if promote:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if promote and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def parse_manifest(data: bytes, metadata_loader: MetadataLoader | None = None, *, strict: bool = True) -> Manifest:
    """Parse the bytes of an ``imsmanifest.xml``.

    :param data: the manifest as stored (any BOM and encoding declaration are handled).
    :param metadata_loader: reads a package file by its path from the package root,
        for metadata referenced by ``adlcp:location``; without one, such metadata
        is recorded by location only. :meth:`scorm.package.Package.manifest` passes one.
    :param strict: raise when the checks find problems (default); when false, return
        the manifest with :attr:`Manifest.problems` listing them (dangling references
        then resolve to None).
    :raises ManifestError: not well-formed XML (with the line), entities declared,
        not a manifest, or (when ``strict``) the checks' problems, all of them in
        :attr:`ManifestError.problems`, the first one's line and element on the error.
    """
    with _collector_paused(len(data)):
        return _parse_manifest(data, metadata_loader, strict)


def _parse_manifest(data: bytes, metadata_loader: MetadataLoader | None, strict: bool) -> Manifest:
    # A tree without the whitespace-only text between elements is built, read and freed in much less time, and
    # the texts the parser reads (titles, LOM strings, ADL values) hold no elements, so none can have lost any;
    # one that does (markup in a title) sends the parser back to a tree that keeps it.
    root = safexml.parse(data, "manifest", keep_blank_text=False)
    if ns.local(root) != "manifest":
        raise ManifestError(
            f"the root element is {root.tag!r}, not an IMS content-packaging <manifest>",
            reason="not-a-manifest",
            line=root.sourceline,
            element=f"<{ns.local(root)}>",
        )
    if ns.namespace(root) not in ns.IMSCP | {""}:
        logger.warning(
            "manifest in namespace %r, which is no IMS CP namespace we know; reading it as one", ns.namespace(root)
        )
    parser = _Parser(metadata_loader, ns.namespace(root))
    try:
        manifest = parser.manifest(root, None, None, "", {})
    except safexml.BlankTextDroppedError:
        root = safexml.parse(data, "manifest", keep_blank_text=True)
        parser = _Parser(metadata_loader, ns.namespace(root))
        manifest = parser.manifest(root, None, None, "", {})
    problems = tuple(parser.problems)
    # The tree's last references go here. A big tree is freed with glibc's fast bins off: see fast_bins_off.
    with safexml.fast_bins_off() if len(data) >= _MANY_OBJECTS else nullcontext():
        del root, parser
    if problems:
        logger.info("manifest %r: %d problem(s), first: %s", manifest.identifier, len(problems), problems[0])
        if strict:
            raise ManifestError.from_problems(problems)
    return replace(manifest, problems=problems)
