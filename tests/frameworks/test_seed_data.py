"""The shipped frameworks, checked against the source documents themselves."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from capcourse.frameworks.seed_data import SeedData, SeedDataError, load_seed_data
from tests.shared import SHARED

SEEDS = SHARED / "seeds"


@pytest.fixture(scope="module")
def data() -> SeedData:
    return load_seed_data()


def normalised_source(name: str) -> str:
    """The source text with conversion debris removed and white space folded."""
    text = (SEEDS / name).read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text)
    text = text.replace("•", " ").replace("**", "")
    return re.sub(r"\s+", " ", text)


def counts(data: SeedData, key: str) -> Counter[str]:
    return Counter(item.item_type for item in data.framework(key).items)


def test_the_shipped_frameworks_are_exactly_the_sources_documents(data: SeedData) -> None:
    assert sorted(f.key for f in data.frameworks) == [
        "dfe-kss-practice-leaders-2015",
        "dfe-kss-practice-leaders-2018",
        "dfe-kss-practice-supervisors-2015",
        "dfe-kss-practice-supervisors-2018",
        "frontline-curriculum-areas",
        "frontline-lcf-pathway-1",
        "sssc-clf-as-referenced",
        "sssc-leadership-capabilities",
    ]


def test_frontline_counts(data: SeedData) -> None:
    assert counts(data, "frontline-lcf-pathway-1") == {
        "Capability": 4,
        "Sub-capability": 28,
        "Effective attribute": 36,
    }
    assert counts(data, "frontline-curriculum-areas") == {"Curriculum area": 9}


def test_frontline_attributes_keep_their_icons(data: SeedData) -> None:
    attributes = [i for i in data.framework("frontline-lcf-pathway-1").items if i.item_type == "Effective attribute"]
    assert Counter(i.icon for i in attributes) == {"🗣️": 26, "🎯": 4, "🧠": 3, "💡": 3}
    # Each icon is the one printed right after the attribute's text in the source.
    source = normalised_source("000_47a85d076a87b883.txt")
    for attribute in attributes:
        assert f"{attribute.full_statement} {attribute.icon}" in source, attribute.code


def test_frontline_icon_legend_is_inferred_and_explained(data: SeedData) -> None:
    (legend,) = data.legends
    assert legend.framework_key == "frontline-lcf-pathway-1"
    assert {entry.icon for entry in legend.icons} == {"🗣️", "🎯", "🧠", "💡"}
    for entry in legend.icons:
        assert entry.provenance == "inferred"
        assert len(entry.rationale) > 100, "the reasoning must be written down"


def test_frontline_sub_capabilities_split_name_from_description(data: SeedData) -> None:
    items = {i.code: i for i in data.framework("frontline-lcf-pathway-1").items}
    assert items["LCF.MC.2"].abbreviated_statement == "Curiosity of self"
    assert items["LCF.MC.2"].full_statement.startswith("Demonstrate self-reflexivity by rigorously")
    assert items["LCF.EC.7"].abbreviated_statement == "Capacity for advocacy"
    assert items["LCF.MC"].abbreviated_statement == "Maintaining Curiosity"


# How many paragraphs or bullets each statement has is read from the sources in
# test_seed_positions.py, with the place of each.
@pytest.mark.parametrize(
    ("key", "statements", "child_type"),
    [
        ("dfe-kss-practice-supervisors-2015", 8, "Paragraph"),
        ("dfe-kss-practice-supervisors-2018", 8, "Bullet"),
        ("dfe-kss-practice-leaders-2015", 6, "Paragraph"),
        ("dfe-kss-practice-leaders-2018", 6, "Paragraph"),
    ],
)
def test_kss_item_types(data: SeedData, key: str, statements: int, child_type: str) -> None:
    assert set(counts(data, key)) == {"Statement", child_type}
    assert counts(data, key)["Statement"] == statements


def _spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.replace("\u2019", "'")) if s]


def test_kss_versions_are_one_framework_linked_at_every_level(data: SeedData) -> None:
    """Every 2015 statement and paragraph is replaced by its 2018 successor(s), and every 2018 item has a predecessor."""
    splits = {"7.2": ["7.2", "7.3"], "7.3": ["7.4"], "8.2": ["8.2", "8.3"], "8.3": ["8.4", "8.5"]}
    for role in ("supervisors", "leaders"):
        old = data.framework(f"dfe-kss-practice-{role}-2015")
        new = data.framework(f"dfe-kss-practice-{role}-2018")
        assert old.fields["family"] == new.fields["family"]
        assert (old.fields["version"], new.fields["version"]) == ("2015", "2018")
        links = [a for a in old.associations if a.association_type == "replacedBy"]
        # Published: the crosswalk the sources support (successive editions of the same DfE statements),
        # each link with the reason the two texts give for it.
        assert all(a.provenance == "published" and a.notes for a in links)
        successors: dict[str, list[str]] = {}
        for link in sorted(links, key=lambda a: (a.origin_key, a.sequence or 0)):
            framework, _, key = link.destination.partition(":")
            assert framework == new.key
            successors.setdefault(link.origin_key, []).append(key)
        assert set(successors) == {i.key for i in old.items}
        expected = {i.key: (splits.get(i.key, [i.key]) if role == "supervisors" else [i.key]) for i in old.items}
        assert successors == expected
        assert {k for keys in successors.values() for k in keys} == {i.key for i in new.items}
        # Derived from the texts: the parts of a split are the 2015 paragraph's sentences, in order.
        old_text = {i.key: i.full_statement for i in old.items}
        new_text = {i.key: i.full_statement for i in new.items}
        for origin, keys in successors.items():
            if len(keys) > 1:
                assert _sentences(old_text[origin]) == [s for k in keys for s in _sentences(new_text[k])]
                assert all("Split" in a.notes for a in links if a.origin_key == origin)  # type: ignore[operator]
        # Beside replacedBy, from the texts too: exactMatchOf exactly where the successor's text is the same once
        # whitespace is normalised; isRelatedTo exactly from a split paragraph to each part (it takes only some).
        same = {
            (origin, keys[0])
            for origin, keys in successors.items()
            if len(keys) == 1 and _spaced(old_text[origin]) == _spaced(new_text[keys[0]])
        }
        parts = {(origin, key) for origin, keys in successors.items() if len(keys) > 1 for key in keys}
        for kind, expected_pairs in (("exactMatchOf", same), ("isRelatedTo", parts)):
            extra = [a for a in old.associations if a.association_type == kind]
            assert {(a.origin_key, a.destination.partition(":")[2]) for a in extra} == expected_pairs
            assert all(a.provenance == "published" and a.notes for a in extra)
            assert all(a.destination.startswith(f"{new.key}:") for a in extra)
        assert len(same) == (21 if role == "supervisors" else 12) and len(parts) == (6 if role == "supervisors" else 0)
        # No 2018 item takes part of a 2015 item other than the split parts: every other 2018 text is no
        # sentence-for-sentence piece of an older paragraph it does not succeed.
        for key, text in new_text.items():
            for origin, older in old_text.items():
                if key not in successors[origin] and len(_sentences(text)) < len(_sentences(older)):
                    assert not set(_sentences(text)) <= set(_sentences(older)), (origin, key)


def test_titles_are_the_sources_words_and_versions_only_where_the_source_gives_one(data: SeedData) -> None:
    titles = {f.key: (f.fields["title"], f.fields.get("version")) for f in data.frameworks}
    assert titles["dfe-kss-practice-supervisors-2015"] == ("Knowledge and Skills for Practice Supervisors", "2015")
    assert titles["dfe-kss-practice-leaders-2015"] == ("Knowledge and Skills for Practice Leaders", "2015")
    assert titles["dfe-kss-practice-leaders-2018"] == ("Knowledge and skills for practice leaders", "2018")
    assert titles["frontline-lcf-pathway-1"] == (
        "Leadership Capability Framework — Pathway 1: Practice Supervisors",
        None,
    )
    assert titles["frontline-curriculum-areas"][1] is None
    for framework in data.frameworks:
        assert "follows the 2015 title" not in framework.fields.get("notes", "")
    # The 2015 document holds both sections under its own title, which the notes keep.
    for role in ("supervisors", "leaders"):
        notes = data.framework(f"dfe-kss-practice-{role}-2015").fields["notes"]
        assert "Knowledge and skills statements for practice leaders and practice supervisors" in notes


def test_kss_titles_appear_in_their_sources() -> None:
    assert "Knowledge and Skills for Practice Supervisors" in normalised_source("001_c55e251082dedb61.txt")
    assert "Knowledge and Skills for Practice Leaders" in normalised_source("001_c55e251082dedb61.txt")
    assert "Knowledge and skills for practice leaders" in normalised_source("004_516487b470083ef8.txt")


@pytest.mark.parametrize(
    ("key", "code", "sentence"),
    [
        # Sentences that cross a page break in the source.
        (
            "dfe-kss-practice-supervisors-2015",
            "KSS-PS.8.3",
            "Respond thoughtfully and proactively to complaints and mistakes, creating learning opportunities "
            "for self, staff and the organisation.",
        ),
        (
            "dfe-kss-practice-leaders-2015",
            "KSS-PL.4.1",
            "Secure the resources and support needed to implement the practice framework and shape, "
            "in partnership with others,",
        ),
        (
            "dfe-kss-practice-leaders-2015",
            "KSS-PL.6.2",
            "Ensure local children, families and communities play an active role in assessing the quality",
        ),
        (
            "dfe-kss-practice-supervisors-2018",
            "KSS-PS.5.1",
            "to test current hypotheses and dominant perspectives. Ensure that children and young people’s "
            "expectations are met where possible and any disappointment sensitively acknowledged and "
            "sufficiently addressed.",
        ),
        (
            "dfe-kss-practice-leaders-2018",
            "KSS-PL.4.1",
            "Secure the resources and support needed to implement the practice framework and shape, "
            "in partnership with others, the current and future quality of practice",
        ),
        # Source typos are kept.
        ("dfe-kss-practice-leaders-2015", "KSS-PL.3.1", "Aably translate local and national policy"),
        ("dfe-kss-practice-leaders-2018", "KSS-PL.3.1", "Ably translate local and national policy"),
    ],
)
def test_verbatim_spot_checks(data: SeedData, key: str, code: str, sentence: str) -> None:
    items = {i.code: i for i in data.framework(key).items}
    assert sentence in items[code].full_statement


def test_practice_supervisors_2018_statement_one_heads_its_bullets(data: SeedData) -> None:
    items = data.framework("dfe-kss-practice-supervisors-2018").items
    first = next(i for i in items if i.key == "1")
    assert first.full_statement == "Promote and govern excellent practice"
    bullets = [i for i in items if i.parent_key == "1"]
    assert bullets[0].full_statement.startswith("Establish and maintain a highly valued position")


def test_sssc_counts_and_stages(data: SeedData) -> None:
    framework = data.framework("sssc-leadership-capabilities")
    assert counts(data, framework.key) == {"Leadership capability": 6, "Theme": 22, "Indicator": 66}
    indicators = [i for i in framework.items if i.item_type == "Indicator"]
    assert Counter(i.stage for i in indicators) == {"emerging": 22, "established": 22, "accomplished": 22}
    themes_per_capability = Counter(i.parent_key for i in framework.items if i.item_type == "Theme")
    assert sorted(themes_per_capability.values()) == [3, 3, 3, 4, 4, 5]


def test_sssc_stages_precede_each_other_within_every_theme(data: SeedData) -> None:
    framework = data.framework("sssc-leadership-capabilities")
    items = {i.key: i for i in framework.items}
    precedes = {
        (a.origin_key, a.destination.partition(":")[2])
        for a in framework.associations
        if a.association_type == "precedes"
    }
    assert len(precedes) == 44
    for origin, destination in precedes:
        assert items[origin].parent_key == items[destination].parent_key
        order = ["emerging", "established", "accomplished"]
        assert order.index(items[destination].stage) == order.index(items[origin].stage) + 1


def test_every_clf_reference_is_an_association_with_its_level(data: SeedData) -> None:
    source = (SEEDS / "002_a1c26997fe36bb87.txt").read_text(encoding="utf-8")
    references = re.findall(r"\((?:this (?:closely links|links closely) to )?CLF: ([^–)]+?) – (\w+)\)", source)
    framework = data.framework("sssc-leadership-capabilities")
    clf = {i.key: i for i in data.framework("sssc-clf-as-referenced").items}
    links = [a for a in framework.associations if a.destination.startswith("sssc-clf-as-referenced:")]
    assert len(links) == len(references) > 20
    linked = Counter(clf[a.destination.partition(":")[2]].full_statement for a in links)
    assert linked == Counter(f"{name} – {level}" for name, level in references)
    softened = [a for a in links if a.qualifier]
    assert sorted(a.qualifier for a in softened) == ["closely links to", "links closely to"]


def test_sssc_definitions_where_the_text_has_one(data: SeedData) -> None:
    capabilities = {
        i.key: i for i in data.framework("sssc-leadership-capabilities").items if i.item_type == "Leadership capability"
    }
    assert capabilities["VIS"].full_statement == (
        "seeing what is possible for individuals, families and communities now and in the future"
    )
    assert capabilities["EMP"].full_statement == "enabling others to develop and use their leadership capacity"
    assert capabilities["MIO"].full_statement == "Motivating and inspiring others"


SOURCES = {
    "frontline-lcf-pathway-1": "000_47a85d076a87b883.txt",
    "frontline-curriculum-areas": "000_47a85d076a87b883.txt",
    "dfe-kss-practice-supervisors-2015": "001_c55e251082dedb61.txt",
    "dfe-kss-practice-leaders-2015": "001_c55e251082dedb61.txt",
    "dfe-kss-practice-supervisors-2018": "003_38547d1e97c25771.txt",
    "dfe-kss-practice-leaders-2018": "004_516487b470083ef8.txt",
    "sssc-leadership-capabilities": "002_a1c26997fe36bb87.txt",
    "sssc-clf-as-referenced": "002_a1c26997fe36bb87.txt",
}


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_every_statement_is_verbatim_from_its_source(data: SeedData, key: str) -> None:
    source = normalised_source(SOURCES[key])
    framework = data.framework(key)
    assert framework.fields["source_document"] == SOURCES[key]
    for item in framework.items:
        for text in (item.full_statement, item.abbreviated_statement):
            if text:
                assert text in source, f"{item.code}: {text[:80]}"
                assert "  " not in text and "<" not in text and "•" not in text, item.code


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_descriptions_are_the_sources_own_words(data: SeedData, key: str) -> None:
    source = normalised_source(SOURCES[key])
    description = data.framework(key).fields.get("description")
    assert description
    for paragraph in description.split("\n\n"):
        assert " ".join(paragraph.split()) in source


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


FRAMEWORK_HEADER = """
[framework]
key = "t"
family = "t"
title = "T"
creator = "C"
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\nparent = "zz"\n',
            "parent 'zz' is not an item listed before",
        ),
        ('[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\ncolour = "red"\n', "unknown field(s) colour"),
        ('[[items]]\nkey = "a"\ntype = "X"\n', "missing required field(s) full_statement"),
        (
            '[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\n[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "B"\n',
            "duplicate item key 'a'",
        ),
        (
            '[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\n'
            '[[associations]]\ntype = "isRelatedTo"\norigin = "a"\ndestination = "t:nope"\nprovenance = "published"\n',
            "points to 't:nope', which is no item",
        ),
        (
            '[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\n'
            '[[associations]]\ntype = "looksLike"\norigin = "a"\ndestination = "t:a"\nprovenance = "published"\n',
            "'looksLike' is not a CASE association type",
        ),
        (
            '[[items]]\nkey = "a"\ntype = "X"\nfull_statement = "A"\n'
            '[[associations]]\ntype = "isRelatedTo"\norigin = "a"\ndestination = "t:a"\nprovenance = "guessed"\n',
            "provenance 'guessed' is not one of",
        ),
        ('[[items]]\nkey = "a"\ntype = "X"\nfull_statement = " A"\n', "leading or trailing white space"),
        ("[[items]\n", "t.toml"),
    ],
)
def test_invalid_data_files_are_refused_with_the_place_named(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path, "t.toml", FRAMEWORK_HEADER + body)
    with pytest.raises(SeedDataError, match=re.escape(message)):
        load_seed_data(tmp_path)
