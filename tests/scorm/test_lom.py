"""LOM in both shapes: reading, writing, round trips, and validity of what is written."""

from __future__ import annotations

import pytest
from lxml import etree

from scorm import Classification, Competency, LangString, Lom, LomFlavour, Taxon, TaxonPath, competencies, parse_lom
from scorm.lom import competency_classification, lom_element, text_of
from scorm.xsd import ManifestSchema
from tests.scorm.archives import STANDARDS

IMSMD = b"""<imsmd:lom xmlns:imsmd="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1">
  <imsmd:general>
    <imsmd:title><imsmd:langstring xml:lang="en">Supervision</imsmd:langstring>
      <imsmd:langstring xml:lang="fr">Supervision (fr)</imsmd:langstring></imsmd:title>
    <imsmd:description><imsmd:langstring xml:lang="en">About supervision.</imsmd:langstring></imsmd:description>
    <imsmd:keyword><imsmd:langstring xml:lang="en">reflection</imsmd:langstring></imsmd:keyword>
    <imsmd:keyword><imsmd:langstring xml:lang="en">practice</imsmd:langstring></imsmd:keyword>
  </imsmd:general>
  <imsmd:classification>
    <imsmd:purpose>
      <imsmd:source><imsmd:langstring xml:lang="x-none">LOMv1.0</imsmd:langstring></imsmd:source>
      <imsmd:value><imsmd:langstring xml:lang="x-none">Educational Objective</imsmd:langstring></imsmd:value>
    </imsmd:purpose>
    <imsmd:taxonpath>
      <imsmd:source><imsmd:langstring xml:lang="x-none">https://frameworks.example.org/kss</imsmd:langstring></imsmd:source>
      <imsmd:taxon>
        <imsmd:id>KSS-1</imsmd:id>
        <imsmd:entry><imsmd:langstring xml:lang="en">Statement 1</imsmd:langstring></imsmd:entry>
        <imsmd:taxon>
          <imsmd:id>KSS-1.2</imsmd:id>
          <imsmd:entry><imsmd:langstring xml:lang="en">Paragraph 2</imsmd:langstring></imsmd:entry>
        </imsmd:taxon>
      </imsmd:taxon>
    </imsmd:taxonpath>
    <imsmd:description><imsmd:langstring xml:lang="en">Why.</imsmd:langstring></imsmd:description>
    <imsmd:keyword><imsmd:langstring xml:lang="en">kss</imsmd:langstring></imsmd:keyword>
  </imsmd:classification>
</imsmd:lom>"""

IEEE = b"""<lom xmlns="http://ltsc.ieee.org/xsd/LOM">
  <general>
    <title><string language="en-GB">Supervision</string></title>
    <keyword><string language="en">reflection</string></keyword>
  </general>
  <classification>
    <purpose><source>LOMv1.0</source><value>competency</value></purpose>
    <taxonPath>
      <source><string language="x-none">https://frameworks.example.org/kss</string></source>
      <taxon><id>KSS-1</id><entry><string language="en">Statement 1</string></entry></taxon>
      <taxon><id>KSS-1.2</id><entry><string language="en">Paragraph 2</string></entry></taxon>
    </taxonPath>
  </classification>
  <classification>
    <purpose><source>LOMv1.0</source><value>discipline</value></purpose>
  </classification>
</lom>"""


def test_reads_ims_md_12() -> None:
    lom = parse_lom(etree.fromstring(IMSMD))
    assert lom.title == (LangString("Supervision", "en"), LangString("Supervision (fr)", "fr"))
    assert text_of(lom.title, "fr-CA") == "Supervision (fr)"
    assert lom.description == (LangString("About supervision.", "en"),)
    assert [keyword[0].value for keyword in lom.keywords] == ["reflection", "practice"]
    (classification,) = lom.classifications
    assert classification.purpose == "Educational Objective"
    assert not classification.is_competency
    (path,) = classification.taxon_paths
    assert path.source_text == "https://frameworks.example.org/kss"
    # Nested 1.2 taxons become a path from broadest to narrowest.
    assert [(taxon.id, taxon.entry_text) for taxon in path.taxons] == [
        ("KSS-1", "Statement 1"),
        ("KSS-1.2", "Paragraph 2"),
    ]
    assert classification.description == (LangString("Why.", "en"),)
    assert classification.keywords == ((LangString("kss", "en"),),)


def test_reads_ieee_lom() -> None:
    lom = parse_lom(etree.fromstring(IEEE))
    assert lom.title_text == "Supervision"
    assert lom.title[0].language == "en-GB"
    assert [classification.purpose for classification in lom.classifications] == ["competency", "discipline"]
    assert [taxon.id for taxon in lom.classifications[0].taxon_paths[0].taxons] == ["KSS-1", "KSS-1.2"]
    assert competencies(lom) == (
        Competency("https://frameworks.example.org/kss", "KSS-1", "Statement 1"),
        Competency("https://frameworks.example.org/kss", "KSS-1.2", "Paragraph 2"),
    )


def test_competencies_ignore_other_purposes_and_accept_any_case() -> None:
    lom = Lom(
        classifications=(
            Classification("Discipline", (TaxonPath((LangString("https://x"),), (Taxon("a", (LangString("A"),)),)),)),
            Classification(
                "Competency", (TaxonPath((LangString("https://f"),), (Taxon("b", (LangString("B", "de"),)),)),)
            ),
        )
    )
    assert competencies(lom) == (Competency("https://f", "b", "B", "de"),)
    assert competencies(None) == ()


FULL = Lom(
    title=(LangString("Supervision", "en"), LangString("Supervision", "fr")),
    description=(LangString("About it.", "en"),),
    keywords=((LangString("reflection", "en"),), (LangString("practice", "en"), LangString("pratique", "fr"))),
    classifications=(
        competency_classification(
            [
                Competency("https://case.example.org/CFDocuments/fw", "https://case.example.org/CFItems/1", "Leads"),
                Competency(
                    "https://case.example.org/CFDocuments/fw", "https://case.example.org/CFItems/2", "Coaches", "en-GB"
                ),
            ]
        ),
        Classification(
            purpose="discipline",
            taxon_paths=(
                TaxonPath(
                    (LangString("https://taxonomy", "x-none"),),
                    (Taxon("t1", (LangString("Top", "en"),)), Taxon("t2", (LangString("Below", "en"),))),
                ),
            ),
            description=(LangString("Subject.", "en"),),
            keywords=((LangString("social work", "en"),),),
        ),
    ),
)


@pytest.mark.parametrize("flavour", list(LomFlavour))
def test_round_trip(flavour: LomFlavour) -> None:
    element = lom_element(FULL, flavour)
    assert etree.QName(element).namespace == flavour.namespace
    reparsed = parse_lom(etree.fromstring(etree.tostring(element)))
    assert reparsed == FULL


@pytest.mark.parametrize(("flavour", "folder"), [(LomFlavour.IEEE, "2004-4th"), (LomFlavour.IMSMD_12, "1.2")])
def test_written_lom_validates(flavour: LomFlavour, folder: str) -> None:
    schema = ManifestSchema(STANDARDS / folder)
    assert schema.validate(etree.tostring(lom_element(FULL, flavour))) == []


def test_written_shapes_differ_as_the_standards_do() -> None:
    ieee = etree.tostring(lom_element(FULL, LomFlavour.IEEE)).decode()
    imsmd = etree.tostring(lom_element(FULL, LomFlavour.IMSMD_12, prefix="imsmd")).decode()
    assert "<taxonPath>" in ieee and '<string language="en">' in ieee
    assert "<purpose><source>LOMv1.0</source><value>competency</value></purpose>" in ieee
    assert "<imsmd:taxonpath>" in imsmd and '<imsmd:langstring xml:lang="en">' in imsmd
    # IMS MD 1.2 nests the narrower taxon in the broader one.
    tree = etree.fromstring(imsmd.encode())
    nested = tree.xpath("//*[local-name()='taxon']/*[local-name()='taxon']/*[local-name()='id']")
    assert [element.text for element in nested] == ["t2"]


def test_text_of() -> None:
    text = (LangString("colour", "en-GB"), LangString("color", "en-US"), LangString("Farbe", "de"))
    assert text_of(text, "en-US") == "color"
    assert text_of(text, "de-AT") == "Farbe"
    assert text_of(text, "fr") == "colour"
    assert text_of(()) is None
