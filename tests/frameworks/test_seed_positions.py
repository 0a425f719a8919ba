"""Every shipped item is the text at its own place in its source document.

``test_seed_data.py`` checks that each statement occurs *somewhere* in its
source; that lets a bullet swapped between two statements, moved under the
wrong one, or cut to its first sentence pass. Here each source is read into its
own structure — headings, and under each heading its paragraphs, bullets, table
rows or attributes, as the layout of that document marks them — and the shipped
tree must be exactly that: the same children under the same parent, in the same
order, each child the whole text from where it starts to where the next one
starts. The number of children of every statement comes from the source, never
from a number typed here.

The parsers know each converted document's quirks, named where they are used
(the first 2018 supervisors' heading printed after its bullets, sentences cut
by page breaks, a 2018 leaders' text with no paragraph marks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from capcourse.frameworks.seed_data import SeedData, SeedItem, load_seed_data
from tests.shared import SHARED, needs_shared

pytestmark = needs_shared("seeds")
SEEDS = SHARED / "seeds"


@dataclass
class Node:
    """What the source says an item is: some of its fields, and its children in order."""

    fields: dict[str, str | None]
    children: list[Node] = field(default_factory=list)


def clean(text: str) -> str:
    """Text without HTML tags, Markdown emphasis and links, and with white space folded."""
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text)
    text = text.replace("**", "")
    return " ".join(text.split())


def source(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


# --- The sources, read --------------------------------------------------------


def kss_2015() -> dict[str, list[Node]]:
    """``001``: two parts; in each, ``1) Heading`` lines, then one paragraph a line.

    A line that starts in lower case continues the paragraph before it: the
    conversion cut those at page breaks ("…proactively to" / "complaints and
    mistakes…").
    """
    lines = [line.strip() for line in source("001_c55e251082dedb61.txt").splitlines()]
    parts: dict[str, list[Node]] = {}
    current: list[Node] | None = None
    for line in lines:
        if line in ("Knowledge and Skills for Practice Supervisors", "Knowledge and Skills for Practice Leaders"):
            current = parts.setdefault(line.rsplit(" ", 1)[1].lower(), [])
            continue
        if current is None or not line:
            continue
        if line == "Department":  # the back matter
            break
        if heading := re.fullmatch(r"(\d)\) (.+)", line):
            assert int(heading[1]) == len(current) + 1, line
            current.append(Node({"full_statement": heading[2]}))
        elif current and line[0].islower():
            paragraph = current[-1].children[-1].fields
            paragraph["full_statement"] = f"{paragraph['full_statement']} {line}"
        elif current:
            current[-1].children.append(Node({"full_statement": line}))
    return parts


def kss_supervisors_2018() -> list[Node]:
    """``003``: blocks apart by blank lines; ``•`` starts a bullet; a one-line block is a heading.

    A block without a bullet after a bullet continues it (a page break cut the
    sentence). The conversion printed the first heading after its own bullets,
    so bullets met before any heading belong to the first heading.
    """
    blocks = [block.strip() for block in re.split(r"\n\s*\n", source("003_38547d1e97c25771.txt"))]
    headings: list[Node] = []
    pending: list[Node] = []
    last: Node | None = None
    for block in filter(None, blocks):
        if block.startswith("•"):
            last = Node({"full_statement": clean(block.removeprefix("•"))})
            (headings[-1].children if headings else pending).append(last)
        elif "\n" not in block and not block.endswith("."):
            headings.append(Node({"full_statement": clean(block)}, children=pending if not headings else []))
        elif last is not None:
            last.fields["full_statement"] = f"{last.fields['full_statement']} {clean(block)}"
        # else: the introduction, before the first bullet.
    return headings


def kss_leaders_2018() -> tuple[list[Node], list[list[str]]]:
    """``004``: ``N)`` on a line, the heading, then the statement's lines with no paragraph marks.

    The paragraphs cannot be told apart in this text, so it gives the headings
    and, for each statement, its body as lines; the paragraph count is the 2015
    text's (the same statements, reworded: the source's README).
    """
    lines = source("004_516487b470083ef8.txt").splitlines()
    headings: list[Node] = []
    bodies: list[list[str]] = []
    index = 0
    while index < len(lines):
        if marker := re.fullmatch(r"\s*(\d)\)\s*", lines[index]):
            assert int(marker[1]) == len(headings) + 1
            index += 1
            while not lines[index].strip():
                index += 1
            headings.append(Node({"full_statement": clean(lines[index])}))
            bodies.append([])
        elif bodies and lines[index].strip():
            bodies[-1].append(clean(lines[index]))
        index += 1
    return headings, bodies


ICONS = "🗣️|🎯|🧠|💡"


def frontline() -> tuple[list[Node], list[str]]:
    """``000``: a capability heading, its description, then one table row per sub-capability.

    A row is ``<p>Name Description</p>`` and a list of effective attributes,
    each ending in its icon. Also the nine curriculum areas, one line apart by tabs.
    """
    lines = [line.strip() for line in source("000_47a85d076a87b883.txt").splitlines()]
    capabilities: list[Node] = []
    areas: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith("Next to each effective attribute"):
            areas = [clean(cell) for cell in next(filter(None, lines[index + 1 :])).split("\t") if cell.strip()]
        if line == "Sub-capability\tEffective attribute":
            above = [text for text in lines[:index] if text]
            capabilities.append(Node({"abbreviated_statement": above[-2], "full_statement": clean(above[-1])}))
            for row in lines[index + 1 :]:
                if not row.startswith("<p>"):
                    break
                described, attributes = row.split("</p>", 1)
                sub = Node({"name and description": clean(described)})
                for text, icon in re.findall(rf"(?:•)?([^•]+?)\s*({ICONS})", clean(attributes)):
                    sub.children.append(Node({"full_statement": text.strip(), "icon": icon}))
                capabilities[-1].children.append(sub)
    return capabilities, areas


CLF_REFERENCE = re.compile(r"\s*\((?:this (?:closely links|links closely) to )?CLF: [^)]*\)")
STAGES = ("emerging", "established", "accomplished")


def sssc() -> list[Node]:
    """``002``: capability headings (``**…**`` or ``## …``, "Name – definition"), then table rows.

    A row is a theme and its indicators at the three stages, tab apart; the
    indicators' CLF references are shipped as associations, not as text.
    """
    capabilities: list[Node] = []
    for line in source("002_a1c26997fe36bb87.txt").splitlines():
        heading = re.fullmatch(r"(?:\*\*(.+)\*\*|## (.+))", line.strip())
        if heading and "Continuous Learning Framework" not in line:
            name, _, definition = (heading[1] or heading[2]).partition(" – ")
            capabilities.append(Node({"abbreviated_statement": name, "full_statement": definition or name}))
            continue
        cells = [clean(cell) for cell in line.split("\t")]
        if len(cells) < 2 or cells[0] == "Theme of indicator" or re.fullmatch(r"-+", cells[0]):
            continue
        assert len(cells) == 4, line
        theme = Node({"full_statement": cells[0]})
        for stage, cell in zip(STAGES, cells[1:], strict=True):
            theme.children.append(Node({"full_statement": CLF_REFERENCE.sub("", cell), "stage": stage}))
        capabilities[-1].children.append(theme)
    return capabilities


# --- The shipped data, compared -----------------------------------------------


@pytest.fixture(scope="module")
def data() -> SeedData:
    return load_seed_data()


def tree(data: SeedData, key: str) -> list[tuple[SeedItem, list[SeedItem]]]:
    items = data.framework(key).items
    return [(item, [child for child in items if child.parent_key == item.key]) for item in items]


def value(item: SeedItem, name: str) -> str | None:
    if name == "name and description":
        return f"{item.abbreviated_statement} {item.full_statement}"
    return getattr(item, name)


def differences(data: SeedData, key: str, expected: list[Node]) -> list[str]:
    """Where the shipped tree of ``key`` differs from ``expected`` (the source's), as readable lines."""
    items = data.framework(key).items
    children: dict[str | None, list[SeedItem]] = {}
    for item in items:
        children.setdefault(item.parent_key, []).append(item)
    problems: list[str] = []

    def compare(parent: str | None, where: str, nodes: list[Node]) -> None:
        shipped = children.get(parent, [])
        if len(shipped) != len(nodes):
            problems.append(f"{where}: {len(nodes)} children in the source, {len(shipped)} shipped")
        for position, (item, node) in enumerate(zip(shipped, nodes, strict=False), start=1):
            for name, text in node.fields.items():
                if value(item, name) != text:
                    problems.append(
                        f"{item.code} (child {position} of {where}) {name}:\n  source:  {text}\n  shipped: {value(item, name)}"
                    )
            compare(item.key, item.code or item.key, node.children)

    compare(None, key, expected)
    return problems


def check(data: SeedData, key: str, expected: list[Node]) -> None:
    problems = differences(data, key, expected)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["supervisors", "leaders"])
def test_kss_2015_statement_by_statement_paragraph_by_paragraph(data: SeedData, role: str) -> None:
    expected = kss_2015()[role]
    assert len(expected) == {"supervisors": 8, "leaders": 6}[role]
    check(data, f"dfe-kss-practice-{role}-2015", expected)


def test_kss_supervisors_2018_statement_by_statement_bullet_by_bullet(data: SeedData) -> None:
    expected = kss_supervisors_2018()
    assert len(expected) == 8
    # Every bullet of the source is under a heading, and counted.
    assert sum(len(s.children) for s in expected) == source("003_38547d1e97c25771.txt").count("•")
    check(data, "dfe-kss-practice-supervisors-2018", expected)


def test_kss_leaders_2018_paragraphs_cover_their_statement_exactly(data: SeedData) -> None:
    headings, bodies = kss_leaders_2018()
    paragraphs_2015 = [len(s.children) for s in kss_2015()["leaders"]]
    assert len(headings) == len(paragraphs_2015) == 6
    for heading, count in zip(headings, paragraphs_2015, strict=True):
        heading.children = [Node({}) for _ in range(count)]
    check(data, "dfe-kss-practice-leaders-2018", headings)
    shipped = tree(data, "dfe-kss-practice-leaders-2018")
    for (statement, paragraphs), body in zip([t for t in shipped if t[0].parent_key is None], bodies, strict=True):
        # Nothing of the statement's text left out, nothing added, nothing from another statement.
        assert " ".join(p.full_statement for p in paragraphs) == " ".join(body), statement.code
        # Every paragraph starts where a line of the source starts.
        starts = [index for index, line in enumerate(body) for p in paragraphs if p.full_statement.startswith(line)]
        assert len(starts) == len(paragraphs) and starts == sorted(starts), statement.code


def test_frontline_capability_by_capability_row_by_row(data: SeedData) -> None:
    capabilities, _ = frontline()
    assert len(capabilities) == 4
    # Every attribute found in a row, and every icon of the text on an attribute.
    text = source("000_47a85d076a87b883.txt")
    icons = len(re.findall(ICONS, text))
    assert sum(len(sub.children) for c in capabilities for sub in c.children) == icons
    check(data, "frontline-lcf-pathway-1", capabilities)


def test_frontline_curriculum_areas_in_the_sources_order(data: SeedData) -> None:
    _, areas = frontline()
    assert len(areas) == 9
    check(data, "frontline-curriculum-areas", [Node({"full_statement": area}) for area in areas])


def test_sssc_capability_by_capability_theme_by_theme(data: SeedData) -> None:
    capabilities = sssc()
    assert len(capabilities) == 6
    check(data, "sssc-leadership-capabilities", capabilities)
