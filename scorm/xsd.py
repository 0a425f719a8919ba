"""Validating manifests against ADL's XML Schemas, offline.

The library ships no schemas and knows no place where they are: the caller
passes the folder of one schema set (SCORM 1.2, 2004 3rd or 4th Edition). The
IMS CP schema imports the XML namespace from a web address, so the schemas are
loaded through a small wrapper schema that first imports that namespace from
the folder's ``xml.xsd`` (``ims_xml.xsd`` in 1.2 sets), then each SCORM
namespace the folder has a schema for. Everything is parsed with the network
off and entities unresolved.

XML Schema validity is not SCORM validity: libxml2 does not check that an
IDREF names an ID, and nothing in the schemas checks identifierref targets or
files. :func:`scorm.manifest.parse_manifest` checks those.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from scorm import namespaces as ns
from scorm import safexml
from scorm.errors import ScormError

logger = logging.getLogger(__name__)

#: The schema file of each namespace, as ADL and IMS name them.
NAMESPACE_FILES: tuple[tuple[str, str], ...] = (
    (ns.IMSCP_2004, "imscp_v1p1.xsd"),
    (ns.ADLCP_2004, "adlcp_v1p3.xsd"),
    (ns.ADLSEQ, "adlseq_v1p3.xsd"),
    (ns.ADLNAV, "adlnav_v1p3.xsd"),
    (ns.IMSSS, "imsss_v1p0.xsd"),
    (ns.LOM_IEEE, "lom.xsd"),
    (ns.IMSCP_12, "imscp_rootv1p1p2.xsd"),
    (ns.ADLCP_12, "adlcp_rootv1p2.xsd"),
    (ns.IMSMD_12, "imsmd_rootv1p2p1.xsd"),
)
#: Schemas of the XML namespace (``xml:lang``, ``xml:base``), in the order tried.
XML_NAMESPACE_FILES = ("xml.xsd", "ims_xml.xsd")


class SchemaError(ScormError):
    """A schema folder that cannot be loaded (missing files, broken schemas)."""


@dataclass(frozen=True)
class ValidationError:
    """One schema violation, where libxml2 found it."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def wrapper_schema(folder: str | os.PathLike[str]) -> bytes:
    """The wrapper schema document for ``folder``: imports with paths relative to the folder.

    :raises SchemaError: the folder has no schema of the XML namespace, or none of IMS CP.
    """
    root = Path(folder)
    xml_file = next((name for name in XML_NAMESPACE_FILES if (root / name).is_file()), None)
    if xml_file is None:
        raise SchemaError(f"{root} has no schema of the XML namespace ({' or '.join(XML_NAMESPACE_FILES)})")
    imports = [(namespace, file) for namespace, file in NAMESPACE_FILES if (root / file).is_file()]
    if not any(namespace in ns.IMSCP for namespace, _ in imports):
        raise SchemaError(f"{root} has no IMS content-packaging schema")
    lines = [
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">',
        f"  <xs:import namespace={quoteattr(ns.XML)} schemaLocation={quoteattr(xml_file)}/>",
    ]
    lines.extend(
        f"  <xs:import namespace={quoteattr(namespace)} schemaLocation={quoteattr(file)}/>"
        for namespace, file in imports
    )
    lines.append("</xs:schema>")
    return "\n".join(lines).encode("utf-8")


def load_schema(folder: str | os.PathLike[str]) -> etree.XMLSchema:
    """The XML Schema of the schema set in ``folder``, loaded without the network.

    :raises SchemaError: the folder's schemas do not load.
    """
    root = Path(folder).resolve()
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        document = etree.fromstring(wrapper_schema(root), parser, base_url=root.as_uri() + "/")
        return etree.XMLSchema(document)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as error:
        raise SchemaError(f"the schemas in {root} do not load: {error}") from None


class ManifestSchema:
    """A loaded schema set, to validate many manifests with (safe to share between threads)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._schema = load_schema(folder)
        # An lxml schema keeps its error log on itself: one validation at a time.
        self._lock = threading.Lock()

    def validate(self, manifest: bytes | etree._Element) -> list[ValidationError]:
        """Every schema violation of ``manifest`` (bytes, or a parsed element); empty when valid.

        :raises ManifestError: bytes that are not well-formed XML or declare entities.
        """
        document = safexml.parse(manifest) if isinstance(manifest, bytes) else manifest
        with self._lock:
            valid = self._schema.validate(document)
            entries = list(self._schema.error_log)
        if valid:
            return []
        errors = [ValidationError(int(entry.line), int(entry.column), str(entry.message)) for entry in entries]
        logger.debug("manifest invalid against %s: %s", self.folder, errors[0] if errors else "")
        return errors


def validate_manifest(manifest: bytes | etree._Element, folder: str | os.PathLike[str]) -> list[ValidationError]:
    """Every violation of the schemas in ``folder`` by ``manifest``; empty when valid.

    Loads the schemas each call (a few tens of milliseconds); keep a
    :class:`ManifestSchema` to validate many manifests.
    """
    return ManifestSchema(folder).validate(manifest)
