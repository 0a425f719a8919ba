"""What an export keeps of the manifest its content came from.

capcourse models only part of a manifest (items, launch files, mastery
scores, competencies). Everything else an item, organization or manifest
carries — IMS Simple Sequencing, ``adlcp:dataFromLMS``, ``completionThreshold``,
``timeLimitAction``, ``adlnav:presentation``, ``adlseq`` attributes, the
manifest's ``sequencingCollection``, its LOM record — must leave again with the
content, or exported packages stop behaving as they did.

:class:`Original` reads the manifest as it was imported and gives, per element,
the :class:`Extras` an export writes back. When the export's SCORM version is
of the same family (1.2 → 1.2, 2004 → 2004) the extension elements and
attributes are copied as they were. Across families only what the other
version can express travels (``dataFromLMS`` ↔ ``datafromlms``,
``timeLimitAction`` ↔ ``timelimitaction``; mastery scores travel through
:attr:`scorm.writer.ItemSpec.mastery_score`), and everything else is named, in
plain words, in the notes the export reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from scorm import namespaces as ns
from scorm import safexml
from scorm.lom import find_lom
from scorm.versions import ScormVersion

#: Extension elements by lower-case local name, in plain words for notes.
_WORDS = {
    "sequencing": "sequencing rules and objectives",
    "sequencingcollection": "shared sequencing rules (sequencingCollection)",
    "completionthreshold": "completion threshold",
    "presentation": "navigation presentation settings",
    "prerequisites": "prerequisites",
    "maxtimeallowed": "time allowed (maxtimeallowed)",
    "masteryscore": "mastery score",
    "datafromlms": "launch data (dataFromLMS)",
    "timelimitaction": "time limit action",
    "objectives": "shared objectives (adlseq:objectives)",
    "data": "shared data (adlcp:data)",
}
#: Extension elements both versions have, written again in the target's spelling.
_PORTABLE = frozenset({"datafromlms", "timelimitaction"})
#: Carried elsewhere: the mastery score travels as a number, whatever the version.
_CARRIED_APART = frozenset({"masteryscore"})
_IGNORED_ATTRIBUTE_NAMESPACES = frozenset({ns.XML, ns.XSI})


@dataclass(frozen=True)
class Extras:
    """What one element of the original manifest carries beyond capcourse's model."""

    #: Extension elements written again as they were (same version family), serialised.
    elements: tuple[bytes, ...] = ()
    #: Namespaced attributes written again as they were: (Clark name, value).
    attributes: tuple[tuple[str, str], ...] = ()
    #: ``dataFromLMS`` (the target's spelling is the writer's business), across families.
    data_from_lms: str | None = None
    #: ``timeLimitAction``, across families.
    time_limit_action: str | None = None
    #: What the target version cannot express, in plain words.
    lost: tuple[str, ...] = ()


def same_family(source: ScormVersion, target: ScormVersion) -> bool:
    """True when both are 1.2, or both are 2004 (any edition)."""
    return source.is_2004 == target.is_2004


def launch_suffix(url: str | None) -> str:
    """The query and fragment of a launch URL as written (``?content=playing``), or ``""``."""
    if not url:
        return ""
    parts = urlsplit(url)
    suffix = f"?{parts.query}" if parts.query else ""
    return suffix + (f"#{parts.fragment}" if parts.fragment else "")


class Original:
    """A manifest as imported, read for what an export should carry.

    :param data: the bytes of ``imsmanifest.xml``.
    :param version: the package's SCORM version (as the import detected it).
    :raises scorm.ManifestError: the bytes are not a well-formed, entity-free manifest.
    """

    def __init__(self, data: bytes, version: ScormVersion) -> None:
        self.root = safexml.parse(data, "manifest")
        self.version = version
        self._by_identifier: dict[tuple[str, str], etree._Element] = {}
        for element in self.root.iter("{*}item", "{*}organization"):
            identifier = (element.get("identifier") or "").strip()
            if identifier:
                self._by_identifier.setdefault((ns.local(element), identifier), element)

    def item(self, identifier: str) -> etree._Element | None:
        """The ``<item>`` element with this identifier."""
        return self._by_identifier.get(("item", identifier))

    def organization(self, identifier: str) -> etree._Element | None:
        """The ``<organization>`` element with this identifier."""
        return self._by_identifier.get(("organization", identifier))

    def extras(self, element: etree._Element | None, target: ScormVersion, where: str) -> Extras:
        """The extension elements and attributes of an item or organization, for ``target``.

        :param where: how notes name the element ("item 'Playing the Game'").
        """
        if element is None:
            return Extras()
        keep = same_family(self.version, target)
        elements: list[bytes] = []
        lost: list[str] = []
        portable: dict[str, str] = {}
        for child in element:
            if not isinstance(child.tag, str) or _is_cp(child):
                continue
            name = ns.local(child).lower()
            if keep:
                elements.append(etree.tostring(child, with_tail=False))
            elif name in _PORTABLE and ns.namespace(child) in ns.ADLCP:
                portable[name] = "".join(child.itertext()).strip()
            elif name not in _CARRIED_APART:
                lost.append(f"{where}: {_WORDS.get(name, f'the <{ns.local(child)}> element')}")
        attributes: list[tuple[str, str]] = []
        for key, value in element.attrib.items():
            namespace, local = ns.split(str(key))
            if not namespace or namespace in _IGNORED_ATTRIBUTE_NAMESPACES:
                continue
            if keep:
                attributes.append((str(key), str(value)))
            else:
                lost.append(f"{where}: the {local} setting")
        return Extras(
            elements=tuple(elements),
            attributes=tuple(attributes),
            data_from_lms=portable.get("datafromlms"),
            time_limit_action=portable.get("timelimitaction") or None,
            lost=tuple(lost),
        )

    def manifest_extras(self, target: ScormVersion) -> Extras:
        """The manifest's own extension elements (a ``sequencingCollection``), for ``target``."""
        return self.extras(self.root, target, "the package")

    def lom_record(self, element: etree._Element | None = None) -> bytes | None:
        """The LOM record in the ``<metadata>`` of ``element`` (the manifest when None), serialised."""
        metadata = _metadata(self.root if element is None else element)
        lom = find_lom(metadata) if metadata is not None else None
        return None if lom is None else etree.tostring(lom, with_tail=False)

    def metadata_location(self, element: etree._Element | None = None) -> str | None:
        """The ``adlcp:location`` of the ``<metadata>`` of ``element`` (the manifest when None)."""
        metadata = _metadata(self.root if element is None else element)
        if metadata is None:
            return None
        for child in metadata:
            if isinstance(child.tag, str) and ns.namespace(child) in ns.ADLCP and ns.local(child).lower() == "location":
                return "".join(child.itertext()).strip() or None
        return None


def _is_cp(element: etree._Element) -> bool:
    namespace = ns.namespace(element)
    return namespace in ns.IMSCP or namespace == ""


def _metadata(element: etree._Element) -> etree._Element | None:
    for child in element:
        if isinstance(child.tag, str) and _is_cp(child) and ns.local(child) == "metadata":
            return child
    return None
