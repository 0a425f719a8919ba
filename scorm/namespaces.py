"""The XML namespaces of SCORM manifests, and matching elements by namespace URI.

Real manifests bind these namespaces to any prefix (or none), and some put the
SCORM 1.2 ``adlcp`` namespace in a 2004 manifest, so the parser matches by URI
and local name, never by prefix.
"""

from __future__ import annotations

from functools import lru_cache

from lxml import etree

#: IMS Content Packaging 1.1.2 (SCORM 1.2).
IMSCP_12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
#: IMS Content Packaging 1.1.3/1.1.4 (SCORM 2004; some 1.2 packages use it too).
IMSCP_2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
#: Every IMS CP namespace seen in the wild (imsglobal.org spelling of the 1.2 one included).
IMSCP = frozenset({IMSCP_12, IMSCP_2004, "http://www.imsglobal.org/xsd/imscp_rootv1p1p2"})

#: ADL content-packaging extensions, SCORM 1.2.
ADLCP_12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
#: ADL content-packaging extensions, SCORM 2004.
ADLCP_2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
#: ``adlcp_v1p2`` is no ADL namespace, but real 2004 manifests bind ``adlcp`` to it.
ADLCP = frozenset({ADLCP_12, ADLCP_2004, "http://www.adlnet.org/xsd/adlcp_v1p2"})

#: IMS Simple Sequencing (SCORM 2004).
IMSSS = "http://www.imsglobal.org/xsd/imsss"
#: ADL sequencing extensions (SCORM 2004).
ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
#: ADL navigation extensions (SCORM 2004).
ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"

#: IEEE LOM XML binding (SCORM 2004 metadata).
LOM_IEEE = "http://ltsc.ieee.org/xsd/LOM"
#: IMS Meta-data 1.2.1 (SCORM 1.2 metadata).
IMSMD_12 = "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"
#: Every LOM namespace seen in manifests.
LOM = frozenset(
    {LOM_IEEE, IMSMD_12, "http://www.imsproject.org/xsd/imsmd_rootv1p2p1", "http://www.imsglobal.org/xsd/imsmd_v1p2"}
)

XML = "http://www.w3.org/XML/1998/namespace"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_BASE = f"{{{XML}}}base"
XML_LANG = f"{{{XML}}}lang"

#: Namespaces only SCORM 2004 uses.
SCORM_2004_ONLY = frozenset({ADLCP_2004, IMSSS, ADLSEQ, ADLNAV})


@lru_cache(maxsize=4096)
def split(tag: str) -> tuple[str, str]:
    """``(namespace, local name)`` of a Clark-notation name (``{ns}local``); namespace ``""`` when none.

    Cached: a manifest repeats a few dozen names tens of thousands of times.
    """
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def local(element: etree._Element) -> str:
    """The local name of an element; ``""`` for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return split(tag)[1]


def namespace(element: etree._Element) -> str:
    """The namespace URI of an element (``""`` when none, or for comments)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return split(tag)[0]


def describe(element: etree._Element) -> str:
    """The element as it reads in the manifest, e.g. ``<item identifier="item_1">``, for messages."""
    name = local(element)
    for attribute in ("identifier", "identifierref", "default", "href"):
        value = element.get(attribute)
        if value is not None:
            return f'<{name} {attribute}="{value}">'
    return f"<{name}>"
