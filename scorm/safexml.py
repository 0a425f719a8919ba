"""Parsing untrusted XML: no entity expansion, no network, no DTD loading; freeing a big tree cheaply.

Manifests and metadata files come from uploaded packages, so the parser never
resolves entities, never fetches anything and refuses a DOCTYPE that declares
entities (billion laughs, external entities such as ``file:///etc/passwd``)
with a :class:`~scorm.errors.ManifestError` instead of expanding them. A UTF-8
or UTF-16 byte-order mark is accepted, and so is whitespace before the XML
declaration (a common authoring-tool slip that libxml2 otherwise rejects).
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lxml import etree

from scorm.errors import ManifestError

logger = logging.getLogger(__name__)

_START_TAG = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE\b")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s\"'>]+)")
_DECLARATION = re.compile(rb"^(\s*)(<\?xml\b[^>]*\?>)")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class _BlankTextDroppingParser(etree.XMLParser):  # type: ignore[misc]  # lxml has no type hints
    """The parser of a tree without its blank text: ``tree.parser``'s type tells :func:`text` so."""


class BlankTextDroppedError(Exception):
    """:func:`text` was asked for the text of markup whose blank text the parser left out: parse the document
    again keeping it (``keep_blank_text=True``). Never raised for a tree parsed with it kept."""


def text(element: etree._Element) -> str:
    """All the text in ``element``, its descendants' included, as the document has it.

    :raises BlankTextDroppedError: ``element`` has children and its tree was parsed without blank text, which may
        have stood between them (``<title><b>a</b> <i>b</i></title>`` reads "ab" without it).
    """
    if len(element) and isinstance(element.getroottree().parser, _BlankTextDroppingParser):
        raise BlankTextDroppedError
    return "".join(element.itertext())


def _parser(keep_blank_text: bool = True) -> etree.XMLParser:
    # A new parser per document: lxml parsers keep state and are not safe to
    # share between threads.
    return (etree.XMLParser if keep_blank_text else _BlankTextDroppingParser)(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_blank_text=not keep_blank_text,
        # Nothing looks elements up by xml:id: not collecting IDs spares libxml2 a check per attribute.
        collect_ids=False,
    )


def normalise_bytes(data: bytes) -> bytes:
    """``data`` as UTF-8 that libxml2 accepts: byte-order mark gone, declaration fixed.

    - UTF-8 BOM: removed.
    - UTF-16 (LE or BE) with BOM: decoded and re-encoded as UTF-8, the declaration's
      ``encoding`` rewritten to match.
    - Whitespace before ``<?xml …?>``: the declaration is blanked out (same length,
      so line numbers stay true) after decoding with the encoding it declared.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ManifestError(
                f"the document starts with a UTF-16 byte-order mark but is not UTF-16: {error}"
            ) from None
        data = text.encode("utf-8")
        match = _DECLARATION.match(data)
        if match:
            declaration = _ENCODING.sub(b'encoding="UTF-8"', match.group(2))
            data = match.group(1) + declaration + data[match.end() :]
    match = _DECLARATION.match(data)
    if match and match.group(1):
        encoding = _ENCODING.search(match.group(2))
        name = encoding.group(1).decode("ascii") if encoding else "utf-8"
        try:
            codecs.lookup(name)
            body = data[match.end() :].decode(name)
        except (LookupError, UnicodeDecodeError) as error:
            raise ManifestError(
                f"the document declares encoding {name!r} but cannot be read as such: {error}"
            ) from None
        blank = re.sub(rb"[^\n]", b" ", match.group(2))
        data = match.group(1) + blank + body.encode("utf-8")
    return data


def _refuse_entities(what: str, names: list[str], line: int) -> ManifestError:
    logger.warning("refused a %s whose DOCTYPE declares entities %s", what, names[:5])
    return ManifestError(
        f"the {what} declares entities in its DOCTYPE ({', '.join(names[:5])}); entities are refused "
        "because they can expand without bound or read local files",
        reason="entities",
        line=line,
        element="<!DOCTYPE>",
    )


def _check_prolog(data: bytes, what: str) -> None:
    """Refuse entity declarations before the parser sees them (the DOCTYPE sits before the root element)."""
    start = _START_TAG.search(data)
    prolog = data[: start.start()] if start else data
    doctype = _DOCTYPE.search(prolog)
    if doctype is None:
        return
    names = [match.group(2).decode("utf-8", "replace") for match in _ENTITY_DECLARATION.finditer(prolog, doctype.end())]
    if names:
        raise _refuse_entities(what, names, data.count(b"\n", 0, doctype.start()) + 1)


def parse(data: bytes, what: str = "manifest", *, keep_blank_text: bool = True) -> etree._Element:
    """The root element of the XML document ``data``, parsed safely.

    :param what: names the document in error messages (``manifest``, ``metadata file x.xml``).
    :param keep_blank_text: when false, the whitespace-only text between elements is left out of the
        tree (libxml2's ``NOBLANKS``: kept under ``xml:space="preserve"``, in an element with no other
        content, and beside other text). A reader that never looks at that whitespace gets a tree with
        half the nodes of a pretty-printed document: faster to build, to walk and to free. It reads text
        with :func:`text`, which says when the text it asks for may have lost some.
    :raises ManifestError: not well-formed (with the line), or a DOCTYPE declares entities.
    """
    data = normalise_bytes(data)
    _check_prolog(data, what)
    try:
        root = etree.fromstring(data, _parser(keep_blank_text))
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        message = error.msg or str(error)
        if "amplification" in message:
            # libxml2's own guard against entity expansion.
            raise ManifestError(
                f"the {what} expands entities without bound: {message}", reason="entities", line=line
            ) from None
        raise ManifestError(f"the {what} is not well-formed XML: {message}", reason="malformed", line=line) from None
    tree = root.getroottree()
    dtd = tree.docinfo.internalDTD
    if dtd is not None:
        # A second guard, for declarations the prolog scan could not see.
        entities = [str(entity.name) for entity in dtd.iterentities() if entity.name]
        if entities:
            raise _refuse_entities(what, entities, 1)
    return root


# Freeing a tree ------------------------------------------------------------------------------------------------


#: glibc's ``mallopt`` parameter for the largest chunk kept in a fast bin.
_M_MXFAST = 1


def _glibc_mallopt() -> tuple[Callable[[int, int], int], int] | None:
    """glibc's ``mallopt`` and the fast-bin limit it starts with; None under another C library (or none)."""
    try:
        import ctypes  # not in every Python build

        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  # glibc's own: musl has a mallopt that does nothing
        mallopt = libc.mallopt
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # DEFAULT_MXFAST (64 * sizeof(size_t) / 4), unless the process was started with another.
    limit = 16 * ctypes.sizeof(ctypes.c_size_t)
    for tunable in os.environ.get("GLIBC_TUNABLES", "").replace(":", " ").split():
        name, _, value = tunable.partition("=")
        if name == "glibc.malloc.mxfast" and value.isdigit():
            limit = int(value)
    return mallopt, limit


_MALLOPT = _glibc_mallopt()
_fast_bins_lock = threading.Lock()
_fast_bins_off_count = 0


@contextmanager
def fast_bins_off() -> Iterator[None]:
    """glibc's fast bins off for the block (a no-op under other C libraries): drop the last reference to a big
    tree in it.

    libxml2 allocates a node, an attribute and each string with its own ``malloc``, nearly all of them small
    enough for glibc's fast bins, where ``free`` leaves them unmerged. The bench manifest's tree (25,000
    elements) leaves 120,000 chunks (14 MB) there, and the next allocation of a kilobyte or more anywhere in the
    process merges them all (``malloc_consolidate``): 6 to 9 ms, longer than freeing them took (4 ms). With
    the fast bins off, ``free`` merges each chunk with its freed neighbours at once, which took the free no
    longer (they are freed in the order they were allocated), and nothing is left to merge.

    The limit is process-wide: another thread that frees meanwhile merges its chunks too (slower for it, the
    same result). It is set back to the one the process started with (glibc's default, or the
    ``glibc.malloc.mxfast`` tunable) when the last block that turned it off ends; a process that changed it
    with ``mallopt`` itself gets that default back.
    """
    global _fast_bins_off_count
    if _MALLOPT is None:
        yield
        return
    mallopt, limit = _MALLOPT
    with _fast_bins_lock:
        _fast_bins_off_count += 1
        if _fast_bins_off_count == 1:
            mallopt(_M_MXFAST, 0)
    try:
        yield
    finally:
        with _fast_bins_lock:
            _fast_bins_off_count -= 1
            if _fast_bins_off_count == 0:
                mallopt(_M_MXFAST, limit)
