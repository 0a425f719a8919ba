"""Learning Object Metadata (LOM) in manifests: reading and writing.

Two shapes exist and both are read, whatever namespace or prefix they come in:

- SCORM 1.2 uses IMS Meta-data 1.2.1 (``imsmd_rootv1p2p1``): lower-case names
  (``taxonpath``), text as ``<langstring xml:lang="en">``, vocabulary as
  ``<source><langstring>LOMv1.0</langstring></source><value><langstring>…</langstring></value>``,
  and the taxons of a path nested one inside the other.
- SCORM 2004 uses the IEEE LOM XML binding (``http://ltsc.ieee.org/xsd/LOM``):
  camel case (``taxonPath``), text as ``<string language="en">``, vocabulary as
  ``<source>LOMv1.0</source><value>competency</value>``, taxons side by side.

Only what capcourse uses is modelled: general title, description and keywords,
and classifications (purpose, description, keywords, taxon paths). Capability
mappings travel as classifications whose purpose is ``competency``: the taxon
path's source is the framework URI, the taxon's id the item URI and its entry
the item's statement (:class:`Competency`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from lxml import etree

from scorm import namespaces as ns
from scorm import safexml

#: The LOM vocabulary source of purpose values.
LOM_VOCABULARY = "LOMv1.0"
#: Classification purpose of capability mappings (LOMv1.0 vocabulary).
COMPETENCY = "competency"
#: Language tag of strings that are in no language (URIs, vocabulary terms).
NO_LANGUAGE = "x-none"


class LomFlavour(enum.StrEnum):
    """Which XML shape to write."""

    #: IMS Meta-data 1.2.1, for SCORM 1.2 manifests.
    IMSMD_12 = "imsmd-1.2"
    #: IEEE LOM XML binding, for SCORM 2004 manifests.
    IEEE = "ieee"

    @property
    def namespace(self) -> str:
        """The namespace the flavour's elements are in."""
        return ns.IMSMD_12 if self is LomFlavour.IMSMD_12 else ns.LOM_IEEE


@dataclass(frozen=True)
class LangString:
    """A string in a language (``language`` None when the document gave none)."""

    value: str
    language: str | None = None


#: One piece of text in one or more languages.
Text = tuple[LangString, ...]


def text_of(text: Text, language: str | None = None) -> str | None:
    """The string of ``text`` in ``language`` (or its primary subtag), else the first one; None when empty."""
    if not text:
        return None
    if language:
        wanted = language.lower()
        for string in text:
            if string.language and string.language.lower() == wanted:
                return string.value
        primary = wanted.split("-")[0]
        for string in text:
            if string.language and string.language.lower().split("-")[0] == primary:
                return string.value
    return text[0].value


@dataclass(frozen=True)
class Taxon:
    """One step of a taxon path: an id in the taxonomy and its entry (label)."""

    id: str | None
    entry: Text = ()

    @property
    def entry_text(self) -> str | None:
        """The entry in its first language."""
        return text_of(self.entry)


@dataclass(frozen=True)
class TaxonPath:
    """A path in one taxonomy (its ``source``), from the broadest taxon to the narrowest."""

    source: Text
    taxons: tuple[Taxon, ...] = ()

    @property
    def source_text(self) -> str | None:
        """The source in its first language (a framework URI, for competencies)."""
        return text_of(self.source)


@dataclass(frozen=True)
class Classification:
    """Where the learning object sits in a classification system, and why (``purpose``)."""

    purpose: str | None
    taxon_paths: tuple[TaxonPath, ...] = ()
    description: Text = ()
    keywords: tuple[Text, ...] = ()

    @property
    def is_competency(self) -> bool:
        """True when the purpose is ``competency`` (any case)."""
        return (self.purpose or "").strip().lower() == COMPETENCY


@dataclass(frozen=True)
class Lom:
    """The parts of a LOM record capcourse reads and writes."""

    title: Text = ()
    #: Every ``general/description`` string, in document order.
    description: Text = ()
    keywords: tuple[Text, ...] = ()
    classifications: tuple[Classification, ...] = ()

    @property
    def title_text(self) -> str | None:
        """The title in its first language."""
        return text_of(self.title)


@dataclass(frozen=True)
class Competency:
    """A capability mapping: a framework item (by URI) the learning object addresses."""

    #: The framework's URI (taxon path source).
    framework: str
    #: The framework item's URI (taxon id).
    item: str
    #: The item's statement (taxon entry).
    statement: str
    language: str = "en"
    #: How far the learning object takes the competency (capcourse: introduced,
    #: developed, assessed), carried as the classification's keyword; None when unsaid.
    level: str | None = None


def competency_classification(competencies: Iterable[Competency]) -> Classification:
    """One ``competency`` classification with a taxon path per competency (their levels are not written)."""
    return Classification(
        purpose=COMPETENCY,
        taxon_paths=tuple(
            TaxonPath(
                source=(LangString(competency.framework, NO_LANGUAGE),),
                taxons=(Taxon(competency.item, (LangString(competency.statement, competency.language),)),),
            )
            for competency in competencies
        ),
    )


def competency_classifications(competencies: Iterable[Competency]) -> tuple[Classification, ...]:
    """One ``competency`` classification per level, the level as its keyword, in first-seen order of levels."""
    by_level: dict[str | None, list[Competency]] = {}
    for competency in competencies:
        by_level.setdefault(competency.level, []).append(competency)
    found = []
    for level, group in by_level.items():
        classification = competency_classification(group)
        if level:
            classification = replace(classification, keywords=((LangString(level, NO_LANGUAGE),),))
        found.append(classification)
    return tuple(found)


def competencies(lom: Lom | None) -> tuple[Competency, ...]:
    """The competencies of every ``competency`` classification of ``lom``.

    A taxon path gives one competency per taxon that has an id: the path's
    source is the framework, the taxon id the item, its entry the statement.
    """
    if lom is None:
        return ()
    found: list[Competency] = []
    for classification in lom.classifications:
        if not classification.is_competency:
            continue
        level = text_of(classification.keywords[0]) if classification.keywords else None
        for path in classification.taxon_paths:
            framework = path.source_text or ""
            for taxon in path.taxons:
                if not taxon.id:
                    continue
                entry = taxon.entry[0] if taxon.entry else LangString("")
                found.append(Competency(framework, taxon.id, entry.value, entry.language or "en", level))
    return tuple(found)


# Reading ---------------------------------------------------------------------


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    # Case-insensitive: 1.2 says "taxonpath", IEEE "taxonPath"; prefixes and
    # namespaces vary between tools.
    wanted = name.lower()
    for child in element:
        if ns.local(child).lower() == wanted:
            yield child


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next(_children(element, name), None)


def _string(value: object) -> str:
    return "" if value is None else str(value).strip()


def _text(element: etree._Element | None) -> Text:
    """The language strings of a LangString container, in either shape."""
    if element is None:
        return ()
    strings: list[LangString] = []
    for child in element:
        if ns.local(child).lower() in {"langstring", "string"}:
            language = child.get(ns.XML_LANG) or child.get("language") or child.get("lang")
            strings.append(LangString(_string(safexml.text(child)), _string(language) or None))
    if not strings:
        # Some tools write the text directly into the container.
        direct = _string(safexml.text(element))
        if direct:
            strings.append(LangString(direct))
    return tuple(strings)


def _vocabulary_value(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    value = _child(element, "value")
    if value is None:
        return None
    text = _text(value)
    return text[0].value if text else None


def _taxons(element: etree._Element) -> Iterator[etree._Element]:
    # 1.2 nests each narrower taxon inside the broader one; IEEE puts them side
    # by side. Depth-first document order gives broadest to narrowest in both.
    for taxon in _children(element, "taxon"):
        yield taxon
        yield from _taxons(taxon)


def _classification(element: etree._Element) -> Classification:
    paths = []
    for path in _children(element, "taxonpath"):
        taxons = tuple(
            Taxon(_string(_child_text(taxon, "id")) or None, _text(_child(taxon, "entry"))) for taxon in _taxons(path)
        )
        paths.append(TaxonPath(_text(_child(path, "source")), taxons))
    return Classification(
        purpose=_vocabulary_value(_child(element, "purpose")),
        taxon_paths=tuple(paths),
        description=tuple(string for description in _children(element, "description") for string in _text(description)),
        keywords=tuple(_text(keyword) for keyword in _children(element, "keyword")),
    )


def _child_text(element: etree._Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None else safexml.text(child)


def find_lom(metadata: etree._Element) -> etree._Element | None:
    """The ``<lom>`` element inside a ``<metadata>`` element (any LOM namespace), or None."""
    for child in metadata:
        if ns.local(child).lower() == "lom":
            return child
    return None


def parse_lom(element: etree._Element) -> Lom:
    """Read a ``<lom>`` element of either shape."""
    general = _child(element, "general")
    title: Text = ()
    description: Text = ()
    keywords: tuple[Text, ...] = ()
    if general is not None:
        title = _text(_child(general, "title"))
        description = tuple(string for item in _children(general, "description") for string in _text(item))
        keywords = tuple(_text(keyword) for keyword in _children(general, "keyword"))
    return Lom(
        title=title,
        description=description,
        keywords=keywords,
        classifications=tuple(_classification(item) for item in _children(element, "classification")),
    )


# Writing ---------------------------------------------------------------------


class _Writer:
    def __init__(self, flavour: LomFlavour, prefix: str | None) -> None:
        self.flavour = flavour
        self.namespace = flavour.namespace
        self.prefix = prefix

    def element(self, parent: etree._Element | None, name: str) -> etree._Element:
        if self.flavour is LomFlavour.IMSMD_12:
            name = name.lower()
        tag = f"{{{self.namespace}}}{name}"
        if parent is None:
            return etree.Element(tag, nsmap={self.prefix: self.namespace})
        return etree.SubElement(parent, tag)

    def text(self, parent: etree._Element, name: str, text: Text) -> None:
        container = self.element(parent, name)
        for string in text:
            if self.flavour is LomFlavour.IMSMD_12:
                child = self.element(container, "langstring")
                if string.language:
                    child.set(ns.XML_LANG, string.language)
            else:
                child = self.element(container, "string")
                if string.language:
                    child.set("language", string.language)
            child.text = string.value

    def vocabulary(self, parent: etree._Element, name: str, value: str) -> None:
        container = self.element(parent, name)
        if self.flavour is LomFlavour.IMSMD_12:
            self.text(container, "source", (LangString(LOM_VOCABULARY, NO_LANGUAGE),))
            self.text(container, "value", (LangString(value, NO_LANGUAGE),))
        else:
            self.element(container, "source").text = LOM_VOCABULARY
            self.element(container, "value").text = value

    def taxon_path(self, parent: etree._Element, path: TaxonPath) -> None:
        element = self.element(parent, "taxonPath")
        if path.source:
            self.text(element, "source", path.source)
        holder = element
        for taxon in path.taxons:
            node = self.element(holder, "taxon")
            if taxon.id is not None:
                self.element(node, "id").text = taxon.id
            if taxon.entry:
                self.text(node, "entry", taxon.entry)
            # IMS MD 1.2 allows one taxon per path, refined by a nested one.
            if self.flavour is LomFlavour.IMSMD_12:
                holder = node

    def classification(self, parent: etree._Element, classification: Classification) -> None:
        element = self.element(parent, "classification")
        # IMS MD 1.2 fixes the order: purpose, taxonpath*, description, keyword*.
        if classification.purpose:
            self.vocabulary(element, "purpose", classification.purpose)
        for path in classification.taxon_paths:
            self.taxon_path(element, path)
        if classification.description:
            self.text(element, "description", classification.description)
        for keyword in classification.keywords:
            self.text(element, "keyword", keyword)


def lom_element(lom: Lom, flavour: LomFlavour, prefix: str | None = None) -> etree._Element:
    """A ``<lom>`` element for ``lom`` in the given flavour, in that flavour's namespace.

    :param prefix: the namespace prefix to write (None: the default namespace).

    The element validates against the flavour's schema: IMS MD 1.2.1 for
    :attr:`LomFlavour.IMSMD_12`, IEEE LOM (strict vocabulary) for :attr:`LomFlavour.IEEE`
    as long as purposes are LOMv1.0 terms such as ``competency``.
    """
    writer = _Writer(flavour, prefix)
    root = writer.element(None, "lom")
    if lom.title or lom.description or lom.keywords:
        general = writer.element(root, "general")
        if lom.title:
            writer.text(general, "title", lom.title)
        if lom.description:
            writer.text(general, "description", lom.description)
        for keyword in lom.keywords:
            writer.text(general, "keyword", keyword)
    for classification in lom.classifications:
        writer.classification(root, classification)
    return root
