"""Version detection: schemaversion first, then namespaces and 4th-Edition features."""

from __future__ import annotations

import pytest

from scorm import ScormVersion, parse_manifest
from scorm.versions import version_from_schemaversion

V12 = ScormVersion.SCORM_12
V2ND = ScormVersion.SCORM_2004_2ND
V3RD = ScormVersion.SCORM_2004_3RD
V4TH = ScormVersion.SCORM_2004_4TH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2", V12),
        ("SCORM 1.2", V12),
        ("CAM 1.3", V2ND),
        ("cam  1.3", V2ND),
        ("2004 2nd Edition", V2ND),
        ("2004 3rd Edition", V3RD),
        ("SCORM 2004 3rd Edition", V3RD),
        ("2004 4th Edition", V4TH),
        (" 2004 4TH EDITION ", V4TH),
        ("2004", None),
        ("ADL SCORM", None),
        ("", None),
        (None, None),
    ],
)
def test_schemaversion_values(text: str | None, expected: ScormVersion | None) -> None:
    assert version_from_schemaversion(text) is expected


def manifest(
    namespace: str, adlcp: str | None, body: str = "", schemaversion: str | None = None, extra_ns: str = ""
) -> bytes:
    metadata = f"<metadata><schema>ADL SCORM</schema><schemaversion>{schemaversion}</schemaversion></metadata>"
    adlcp_ns = f' xmlns:adlcp="{adlcp}"' if adlcp else ""
    return f"""<manifest identifier="M" xmlns="{namespace}"{adlcp_ns}{extra_ns}>
  {metadata if schemaversion else ""}
  <organizations default="O"><organization identifier="O"><title>T</title>
    <item identifier="I" identifierref="R"><title>I</title>{body}</item>
  </organization></organizations>
  <resources><resource identifier="R" type="webcontent" href="a.html"/></resources>
</manifest>""".encode()


CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = ' xmlns:imsss="http://www.imsglobal.org/xsd/imsss"'
ADLSEQ = ' xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (manifest(CP12, ADLCP12), V12),
        # IMS CP 1.1.3 shares the 2004 namespace; the 1.2 adlcp namespace decides.
        (manifest(CP2004, ADLCP12), V12),
        (manifest(CP2004, None), V3RD),
        (manifest(CP12, None), V12),
        (manifest("", None), V12),
        (manifest(CP2004, ADLCP2004), V3RD),
        (manifest(CP2004, "http://www.adlnet.org/xsd/adlcp_v1p2", extra_ns=IMSSS), V3RD),
        (manifest(CP2004, ADLCP2004, '<adlcp:completionThreshold completedByMeasure="true"/>'), V4TH),
        (manifest(CP2004, ADLCP2004, "<adlcp:completionThreshold>0.5</adlcp:completionThreshold>"), V3RD),
        (manifest(CP2004, ADLCP2004, '<adlcp:data><adlcp:map targetID="x"/></adlcp:data>'), V4TH),
        (
            manifest(
                CP2004,
                ADLCP2004,
                "<imsss:sequencing><adlseq:objectives/></imsss:sequencing>",
                extra_ns=IMSSS + ADLSEQ,
            ),
            V4TH,
        ),
    ],
    ids=[
        "cp12-adlcp12",
        "cp2004-adlcp12",
        "cp2004-only",
        "cp12-only",
        "no-namespace",
        "adlcp2004",
        "adlcp_v1p2-with-imsss",
        "completion-threshold-attributes",
        "completion-threshold-text",
        "adlcp-data-map",
        "adlseq-objectives",
    ],
)
def test_detected_from_namespaces(data: bytes, expected: ScormVersion) -> None:
    parsed = parse_manifest(data)
    assert parsed.version is expected
    assert parsed.version_source == "namespaces"


def test_schemaversion_wins_over_namespaces() -> None:
    data = manifest(CP2004, ADLCP2004, '<adlcp:completionThreshold completedByMeasure="true"/>', "2004 3rd Edition")
    parsed = parse_manifest(data)
    assert (parsed.version, parsed.version_source) == (V3RD, "schemaversion")


def test_an_unknown_schemaversion_falls_back_to_namespaces() -> None:
    parsed = parse_manifest(manifest(CP12, ADLCP12, schemaversion="2004"))
    assert (parsed.version, parsed.version_source) == (V12, "namespaces")
    assert parsed.schemaversion == "2004"


def test_version_properties() -> None:
    assert not V12.is_2004 and V2ND.is_2004 and V4TH.is_2004
    assert V2ND.schemaversion == "CAM 1.3"
    assert V4TH.schemaversion == "2004 4th Edition"
    assert V12.schemaversion == "1.2"
