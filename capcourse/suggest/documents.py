"""The text of an uploaded document, for suggestions: plain text, Markdown, HTML or Word (.docx)."""

from __future__ import annotations

import io
import zipfile

from lxml import etree, html

from capcourse.errors import InvalidInputError

#: Uploads beyond this are refused: a document's topic shows long before.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
#: A .docx whose document part unpacks beyond this is refused (a zip bomb).
MAX_DOCX_XML_BYTES = 20 * 1024 * 1024
KINDS = (".txt", ".md", ".html", ".htm", ".docx")
WORD = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def document_text(filename: str, data: bytes) -> str:
    """The words of ``data``, read by the kind ``filename`` names.

    :raises InvalidInputError: an unknown kind, too large, or a file that is not what it says.
    """
    name = filename.lower()
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInputError(f"The document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB.")
    if not name.endswith(KINDS):
        raise InvalidInputError(f"Upload a document of one of these kinds: {', '.join(KINDS)}.")
    if name.endswith(".docx"):
        return _docx(data)
    text = data.decode("utf-8", errors="replace")
    if name.endswith((".html", ".htm")):
        if not text.strip():
            return ""
        # No network, no entities: the HTML parser fetches nothing.
        return " ".join(html.document_fromstring(text).text_content().split())
    return text


def _docx(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise InvalidInputError("The Word document is too large once unpacked.")
            xml = archive.read(info)
    except (zipfile.BadZipFile, KeyError) as error:
        raise InvalidInputError("That is not a Word (.docx) document.") from error
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as error:
        raise InvalidInputError("The Word document's text cannot be read.") from error
    paragraphs = []
    for paragraph in root.iter(f"{WORD}p"):
        paragraphs.append("".join(t.text or "" for t in paragraph.iter(f"{WORD}t")))
    return "\n".join(p for p in paragraphs if p)
