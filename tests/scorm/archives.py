"""Zip archives for the SCORM tests: real manifests with placeholder content, and hostile ones."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from tests.shared import SHARED, needs_shared, shared_params

FIXTURES = SHARED / "fixtures" / "scorm"
ADL_FOLDER = "fixtures/scorm/adl-2004-4th-lms-test-packages"
#: ADL's 189 test manifests (empty without ../shared: tests reading it are marked :data:`NEEDS_ADL`).
ADL_MANIFESTS = sorted((SHARED / ADL_FOLDER).glob("*.imsmanifest.xml"))
#: The same, to parametrize with (one skipped parameter without ../shared).
ADL_PARAMS = shared_params(ADL_FOLDER, "*.imsmanifest.xml")
NEEDS_ADL = needs_shared(ADL_FOLDER)
EDGE_CASES = FIXTURES / "edge-cases"
RUNTIME = FIXTURES / "runtime"
STANDARDS = SHARED / "standards" / "scorm"


def adl_manifest(name: str) -> Path:
    """ADL's manifest of test package ``name`` (e.g. ``CM-01``); reading it without ../shared skips the test."""
    return SHARED / ADL_FOLDER / f"LMSTestPackage_{name}.imsmanifest.xml"


XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``entries`` (name or ZipInfo, data)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    """A zip entry that unzips as a symbolic link to ``target``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def hrefs(manifest: bytes) -> set[str]:
    """Every package path a manifest names, worked out independently of the library.

    Resource and file hrefs resolved against the ``xml:base`` of the manifest,
    ``<resources>`` and ``<resource>``; absolute URLs left out.
    """
    root = etree.fromstring(manifest, etree.XMLParser(resolve_entities=False, no_network=True))
    found = set()
    for resource in root.iter("{*}resource"):
        base = ""
        for holder in (*reversed(list(resource.iterancestors())), resource):
            addition = holder.get(XML_BASE)
            if addition:
                base = urljoin(base, addition) if base else addition
        names = [resource.get("href")] + [file.get("href") for file in resource.iterchildren("{*}file")]
        for name in names:
            if not name:
                continue
            url = urljoin(base, name) if base else name
            parts = urlsplit(url)
            if not parts.scheme:
                found.add(unquote(parts.path))
    return found


def package_around(manifest: bytes, manifest_name: str = "imsmanifest.xml") -> bytes:
    """A zip of ``manifest`` and a small placeholder file for every path it names."""
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [(manifest_name, manifest)]
    entries.extend((name, f"placeholder for {name}\n".encode()) for name in sorted(hrefs(manifest)))
    return zip_bytes(entries)


def _patch(archive: bytes, name: str, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    """``archive`` with a field of member ``name`` set in its local and its central directory header."""
    data = bytearray(archive)
    encoded = name.encode()
    # Local header: name length at 26, name at 30. Central header: name length at 28, name at 46.
    for signature, length_at, name_at, field_at in (
        (b"PK\x03\x04", 26, 30, local_offset),
        (b"PK\x01\x02", 28, 46, central_offset),
    ):
        offset = 0
        while (offset := data.find(signature, offset)) != -1:
            name_length = struct.unpack_from("<H", data, offset + length_at)[0]
            if bytes(data[offset + name_at : offset + name_at + name_length]) == encoded:
                struct.pack_into(fmt, data, offset + field_at, value)
            offset += 4
    return bytes(data)


def lie_about_size(archive: bytes, name: str, declared: int) -> bytes:
    """``archive`` with the uncompressed size of member ``name`` replaced by ``declared`` in both headers."""
    return _patch(archive, name, 22, 24, "<I", declared)


def mark_encrypted(archive: bytes, name: str) -> bytes:
    """``archive`` with member ``name`` flagged as encrypted (general-purpose flag bit 0)."""
    return _patch(archive, name, 6, 8, "<H", 1)


def minimal_manifest(href: str = "index.html", extra_files: tuple[str, ...] = ()) -> bytes:
    """A small valid SCORM 1.2 manifest with one SCO."""
    files = "".join(f'<file href="{name}"/>' for name in (href, *extra_files))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="M" version="1.0" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
          xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="O"><organization identifier="O"><title>T</title>
    <item identifier="I" identifierref="R"><title>Lesson</title></item>
  </organization></organizations>
  <resources><resource identifier="R" type="webcontent" adlcp:scormtype="sco" href="{href}">{files}</resource></resources>
</manifest>
""".encode()
