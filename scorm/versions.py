"""Which SCORM a manifest is: 1.2, or 2004 2nd, 3rd or 4th Edition.

The rule, in order:

1. ``metadata/schemaversion``, when it names a version: ``1.2`` → 1.2;
   ``CAM 1.3`` (or ``1.3``, ``2004 2nd Edition``) → 2004 2nd Edition;
   ``2004 3rd Edition`` → 3rd; ``2004 4th Edition`` → 4th. Case, spacing and a
   leading ``SCORM`` do not matter. What the manifest declares wins, as in the
   LMSs that import packages (a 3rd Edition manifest that uses a 4th Edition
   element is still called 3rd Edition; validating against the 3rd Edition
   schemas shows the mistake).
2. Otherwise the namespaces the document declares or uses:

   a. any SCORM 2004-only namespace (``adlcp_v1p3``, ``imsss``, ``adlseq_v1p3``,
      ``adlnav_v1p3``) → 2004;
   b. else the SCORM 1.2 ``adlcp_rootv1p2`` namespace → 1.2;
   c. else the root's IMS CP namespace: ``imscp_v1p1`` → 2004, ``imscp_rootv1p1p2`` → 1.2;
   d. else 1.2, the most common SCORM in the wild (logged as a guess).

   A 2004 manifest is 4th Edition when it uses a feature only 4th Edition has:
   ``adlseq:objectives``, ``adlcp:data``, ``adlcp:map``, ``adlcp:sharedDataGlobalToSystem``,
   or ``adlcp:completionThreshold`` with ``completedByMeasure``/``minProgressMeasure``/
   ``progressWeight`` attributes; otherwise 3rd Edition (2nd and 3rd Edition
   manifests read the same way, and nothing in a manifest tells them apart reliably).
"""

from __future__ import annotations

import enum
import logging
from typing import Literal

from lxml import etree

from scorm import namespaces as ns

logger = logging.getLogger(__name__)

VersionSource = Literal["schemaversion", "namespaces"]


class ScormVersion(enum.StrEnum):
    """A SCORM version; the value is the version's canonical name."""

    SCORM_12 = "1.2"
    SCORM_2004_2ND = "2004 2nd Edition"
    SCORM_2004_3RD = "2004 3rd Edition"
    SCORM_2004_4TH = "2004 4th Edition"

    @property
    def is_2004(self) -> bool:
        """True for every SCORM 2004 edition."""
        return self is not ScormVersion.SCORM_12

    @property
    def schemaversion(self) -> str:
        """What a manifest of this version says in ``metadata/schemaversion``."""
        return "CAM 1.3" if self is ScormVersion.SCORM_2004_2ND else self.value


_FOURTH_EDITION_ATTRIBUTES = frozenset({"completedByMeasure", "minProgressMeasure", "progressWeight"})


def version_from_schemaversion(text: str | None) -> ScormVersion | None:
    """The version a ``schemaversion`` value names, or None when it names none we know."""
    if not text:
        return None
    value = " ".join(text.lower().split())
    if value.startswith("scorm"):
        value = value[len("scorm") :].strip(" _-")
    if value in {"1.2", "1.2.0", "12"}:
        return ScormVersion.SCORM_12
    if "4th" in value:
        return ScormVersion.SCORM_2004_4TH
    if "3rd" in value:
        return ScormVersion.SCORM_2004_3RD
    if "2nd" in value or value in {"cam 1.3", "1.3", "cam1.3"}:
        return ScormVersion.SCORM_2004_2ND
    return None


def uses_fourth_edition_features(root: etree._Element) -> bool:
    """True when the document uses an element or attribute only SCORM 2004 4th Edition has."""
    for element in root.iter(etree.Element):
        namespace, name = ns.namespace(element), ns.local(element)
        if namespace == ns.ADLSEQ and name == "objectives":
            return True
        if namespace in ns.ADLCP:
            if name in {"data", "map"}:
                return True
            if name == "completionThreshold" and _FOURTH_EDITION_ATTRIBUTES & set(map(str, element.attrib)):
                return True
        for attribute in element.attrib:
            attribute_namespace, attribute_name = ns.split(str(attribute))
            if attribute_namespace in ns.ADLCP and attribute_name == "sharedDataGlobalToSystem":
                return True
    return False


def namespaces_in(root: etree._Element) -> frozenset[str]:
    """Every namespace URI the document declares or uses on elements and attributes."""
    found: set[str] = set()
    for element in root.iter(etree.Element):
        found.update(uri for uri in element.nsmap.values() if uri)
        found.add(ns.namespace(element))
        found.update(ns.split(str(attribute))[0] for attribute in element.attrib)
    found.discard("")
    return frozenset(found)


def detect_version(root: etree._Element, schemaversion: str | None = None) -> tuple[ScormVersion, VersionSource]:
    """The SCORM version of the manifest whose root is ``root``, and what told it.

    :param schemaversion: the manifest's ``metadata/schemaversion`` text, if any.
    :return: the version, and ``"schemaversion"`` or ``"namespaces"`` for the rule that decided.
    """
    declared = version_from_schemaversion(schemaversion)
    if declared is not None:
        return declared, "schemaversion"
    if schemaversion:
        logger.info("schemaversion %r names no SCORM version; detecting from namespaces", schemaversion)
    found = namespaces_in(root)
    root_namespace = ns.namespace(root)
    if found & ns.SCORM_2004_ONLY:
        is_2004 = True
    elif ns.ADLCP_12 in found:
        is_2004 = False
    elif root_namespace == ns.IMSCP_2004:
        is_2004 = True
    else:
        if root_namespace not in ns.IMSCP:
            logger.warning("manifest namespace %r is no IMS CP namespace; assuming SCORM 1.2", root_namespace)
        is_2004 = False
    if not is_2004:
        return ScormVersion.SCORM_12, "namespaces"
    if uses_fourth_edition_features(root):
        return ScormVersion.SCORM_2004_4TH, "namespaces"
    return ScormVersion.SCORM_2004_3RD, "namespaces"
