"""Opening packages: real manifests in zips, and every kind of hostile archive refused."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from scorm import Limits, ManifestError, PackageError, open_package
from scorm.package import Package, member_path
from tests.scorm.archives import (
    ADL_PARAMS,
    EDGE_CASES,
    hrefs,
    lie_about_size,
    mark_encrypted,
    minimal_manifest,
    package_around,
    symlink_entry,
    zip_bytes,
)


def open_bytes(data: bytes, limits: Limits | None = None) -> Package:
    return open_package(io.BytesIO(data), limits)


def refused(data: bytes, limits: Limits | None = None) -> PackageError:
    with pytest.raises(PackageError) as caught:
        open_bytes(data, limits)
    return caught.value


# Real packages ---------------------------------------------------------------


@pytest.mark.parametrize("path", ADL_PARAMS, ids=lambda path: path.name.split(".")[0])
def test_adl_manifests_in_a_zip_open_and_extract(path: Path, tmp_path: Path) -> None:
    manifest_bytes = path.read_bytes()
    with open_bytes(package_around(manifest_bytes)) as package:
        manifest = package.manifest()
        assert package.missing_files(manifest) == ()
        assert package.manifest_bytes() == manifest_bytes
        written = package.extract(tmp_path)
    expected = hrefs(manifest_bytes) | {"imsmanifest.xml"}
    assert {path.relative_to(tmp_path).as_posix() for path in written} == expected
    assert (tmp_path / "imsmanifest.xml").read_bytes() == manifest_bytes
    some = sorted(expected - {"imsmanifest.xml"})[0]
    assert (tmp_path / some).read_text() == f"placeholder for {some}\n"


def test_synthetic_sub_manifest_package_resolves_files_through_xml_base() -> None:
    manifest_bytes = (EDGE_CASES / "synthetic-2004-4th-multiorg-submanifest.imsmanifest.xml").read_bytes()
    with open_bytes(package_around(manifest_bytes)) as package:
        manifest = package.manifest()
        assert package.missing_files(manifest) == ()
        assert package.find("content/unit1/index.html") == "content/unit1/index.html"


def test_a_path_on_disk_opens_and_closes_its_file(tmp_path: Path) -> None:
    archive = tmp_path / "course.zip"
    archive.write_bytes(zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"<html/>")]))
    package = open_package(archive)
    assert package.read("index.html") == b"<html/>"
    package.close()
    assert package._owned is not None and package._owned.closed


def test_a_stream_that_cannot_seek_is_spooled() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"<html/>")])

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.source = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self.source.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    with open_package(io.BufferedReader(Pipe())) as package:
        assert package.manifest().identifier == "M"


def test_odd_case_names_are_found() -> None:
    manifest = minimal_manifest("images/index.html", ("images/a.png", "Scripts/app.js"))
    data = zip_bytes(
        [
            ("IMSManifest.xml", manifest),
            ("Images/Index.HTML", b"<html/>"),
            ("Images/a.PNG", b"png"),
            ("scripts/APP.js", b"js"),
        ]
    )
    with open_bytes(data) as package:
        assert package.manifest_name == "IMSManifest.xml"
        parsed = package.manifest()
        assert package.missing_files(parsed) == ()
        assert package.find("images/a.png") == "Images/a.PNG"
        assert package.read("IMAGES/A.png") == b"png"


def test_percent_encoded_hrefs_find_their_files() -> None:
    manifest = minimal_manifest("my%20lesson/index.html")
    data = zip_bytes([("imsmanifest.xml", manifest), ("my lesson/index.html", b"<html/>")])
    with open_bytes(data) as package:
        parsed = package.manifest()
        assert parsed.resources["R"].path == "my lesson/index.html"
        assert package.missing_files(parsed) == ()


def test_missing_files_are_reported_with_their_resource() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest("index.html", ("style.css",))), ("index.html", b"")])
    with open_bytes(data) as package:
        problems = package.missing_files(package.manifest())
    assert [(problem.reason, problem.element) for problem in problems] == [
        ("missing-file", '<resource identifier="R">')
    ]
    assert "style.css" in problems[0].message
    assert problems[0].line == 8


def test_metadata_by_location_is_read_from_the_package() -> None:
    manifest = minimal_manifest().replace(
        b"<schemaversion>1.2</schemaversion>",
        b"<schemaversion>1.2</schemaversion><adlcp:location>Meta/Course.xml</adlcp:location>",
    )
    lom = b"""<lom xmlns="http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"><general><title>
        <langstring xml:lang="en">From the file</langstring></title></general></lom>"""
    data = zip_bytes([("imsmanifest.xml", manifest), ("index.html", b""), ("meta/course.XML", lom)])
    with open_bytes(data) as package:
        parsed = package.manifest()
    assert parsed.metadata is not None
    assert parsed.metadata.location == "Meta/Course.xml"
    assert parsed.lom is not None and parsed.lom.title_text == "From the file"


def test_metadata_location_missing_from_the_package_is_a_problem() -> None:
    manifest = minimal_manifest().replace(
        b"<schemaversion>1.2</schemaversion>",
        b"<schemaversion>1.2</schemaversion><adlcp:location>nowhere.xml</adlcp:location>",
    )
    package = open_bytes(zip_bytes([("imsmanifest.xml", manifest), ("index.html", b"")]))
    with package, pytest.raises(ManifestError) as caught:
        package.manifest()
    assert caught.value.reason == "metadata"
    assert "nowhere.xml" in str(caught.value)


def test_reading_a_missing_member_says_so() -> None:
    package = open_bytes(zip_bytes([("imsmanifest.xml", minimal_manifest())]))
    with package, pytest.raises(PackageError) as caught:
        package.read("index.html")
    assert caught.value.reason == "missing-member"


def test_reading_into_memory_is_capped() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"x" * 5000)])
    with open_bytes(data, Limits(max_xml_size=4096)) as package:
        with pytest.raises(PackageError) as caught:
            package.read("index.html")
        assert caught.value.reason == "too-large"
        target = io.BytesIO()
        assert package.copy("index.html", target) == 5000


# Refused ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"hello, not a zip", b"PK\x03\x04broken"], ids=["empty", "text", "truncated"])
def test_not_a_zip(data: bytes) -> None:
    assert refused(data).reason == "not-a-zip"


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as caught:
        open_package(tmp_path / "missing.zip")
    assert caught.value.reason == "not-a-zip"


def test_no_manifest() -> None:
    error = refused(zip_bytes([("index.html", b"<html/>")]))
    assert error.reason == "no-manifest"


def test_a_package_zipped_with_its_folder_is_read_from_that_folder(tmp_path: Path) -> None:
    data = zip_bytes(
        [("course/imsmanifest.xml", minimal_manifest()), ("course/index.html", b"<html/>"), ("notes.txt", b"")]
    )
    with open_package(io.BytesIO(data)) as package:
        assert (package.manifest_folder, package.manifest_name) == ("course/", "imsmanifest.xml")
        assert package.names == ("imsmanifest.xml", "index.html")
        assert package.outside_files == ["notes.txt"]
        assert package.find("index.html") == "index.html"
        package.extract(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imsmanifest.xml", "index.html"]


def test_several_manifests_in_folders_and_none_at_the_root_are_refused() -> None:
    error = refused(zip_bytes([("a/imsmanifest.xml", minimal_manifest()), ("b/imsmanifest.xml", minimal_manifest())]))
    assert error.reason == "no-manifest"
    assert "a/imsmanifest.xml" in str(error) and "b/imsmanifest.xml" in str(error)


def test_system_files_are_left_out() -> None:
    data = zip_bytes(
        [
            ("imsmanifest.xml", minimal_manifest()),
            ("index.html", b"<html/>"),
            ("__MACOSX/._index.html", b"\0"),
            ("__MACOSX/imsmanifest.xml", b"junk"),
            ("images/.DS_Store", b"\0"),
            ("images/Thumbs.db", b"\0"),
        ]
    )
    with open_package(io.BytesIO(data)) as package:
        assert package.names == ("imsmanifest.xml", "index.html")
        assert len(package.system_files) == 4


@pytest.mark.parametrize(
    "name", ["../evil.html", "content/../../evil.html", "..\\evil.html", "a/..\\..\\evil.html", ".."]
)
def test_zip_slip_is_refused(name: str) -> None:
    error = refused(zip_bytes([("imsmanifest.xml", minimal_manifest()), (name, b"evil")]))
    assert error.reason == "unsafe-path"
    assert error.member == name


@pytest.mark.parametrize(
    "name", ["/etc/evil", "C:\\evil.html", "c:/evil.html", "\\\\server\\share\\evil", "//server/x"]
)
def test_absolute_paths_are_refused(name: str) -> None:
    error = refused(zip_bytes([("imsmanifest.xml", minimal_manifest()), (name, b"evil")]))
    assert error.reason == "unsafe-path"


def test_nul_in_a_name_is_refused() -> None:
    with pytest.raises(PackageError) as caught:
        member_path("index.html\x00.png")
    assert caught.value.reason == "unsafe-path"


def test_symlink_entries_are_refused() -> None:
    error = refused(zip_bytes([("imsmanifest.xml", minimal_manifest()), symlink_entry("index.html", "/etc/passwd")]))
    assert error.reason == "link"
    assert error.member == "index.html"


def test_encrypted_entries_are_refused() -> None:
    data = mark_encrypted(zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"x")]), "index.html")
    assert refused(data).reason == "encrypted"


def test_names_differing_only_in_case_are_refused() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"a"), ("INDEX.html", b"b")])
    error = refused(data)
    assert error.reason == "duplicate"


def test_a_name_that_is_both_file_and_folder_is_refused() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"a"), ("index.html/x", b"b")])
    assert refused(data).reason == "duplicate"


def test_zip_bomb_of_zeros_is_refused_from_its_headers() -> None:
    zeros = bytes(50 * 1024 * 1024)
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", zeros)])
    assert len(data) < 1024 * 1024
    error = refused(data)
    assert error.reason == "compression-ratio"
    assert error.member == "index.html"


def test_many_small_bombs_are_refused_by_the_overall_ratio() -> None:
    # Each member is under the per-member grace; together they inflate a thousandfold.
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [("imsmanifest.xml", minimal_manifest())]
    entries += [(f"part{index}.bin", bytes(900 * 1024)) for index in range(4)]
    error = refused(zip_bytes(entries))
    assert error.reason == "compression-ratio"
    assert error.member is None


def test_the_ratio_limit_is_configurable() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", bytes(4 * 1024 * 1024))])
    assert refused(data).reason == "compression-ratio"
    with open_bytes(data, Limits(max_ratio=10_000)) as package:
        assert len(package.read("index.html", max_size=1 << 23)) == 4 * 1024 * 1024


def test_too_large_in_total() -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", os.urandom(3000))])
    error = refused(data, Limits(max_total_size=2000))
    assert error.reason == "too-large"


def test_too_many_files() -> None:
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [("imsmanifest.xml", minimal_manifest())]
    entries += [(f"f{index}.txt", b"x") for index in range(10)]
    assert refused(zip_bytes(entries), Limits(max_files=10)).reason == "too-many-files"
    with open_bytes(zip_bytes(entries), Limits(max_files=11)) as package:
        assert len(package.names) == 11


def test_default_limits() -> None:
    limits = Limits()
    assert (limits.max_total_size, limits.max_files, limits.max_ratio) == (1 << 30, 20_000, 100.0)


def test_a_header_that_lies_about_the_size_stops_the_read(tmp_path: Path) -> None:
    honest = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", bytes(5 * 1024 * 1024))])
    lying = lie_about_size(honest, "index.html", 100)
    with open_bytes(lying) as package:
        assert package._members["index.html"].file_size == 100
        with pytest.raises(PackageError) as caught:
            package.extract(tmp_path)
    assert caught.value.reason in {"corrupt", "size-mismatch"}
    assert caught.value.member == "index.html"
    # The partly written file is removed, and never grew past the declared size.
    assert not (tmp_path / "index.html").exists()


def test_a_reader_that_inflates_past_the_declared_size_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    # zipfile itself stops at the declared size; this checks our own count
    # holds even with a reader that does not.
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"x" * 100)])
    with open_bytes(data) as package:
        real_open = package._archive.open
        monkeypatch.setattr(
            package._archive,
            "open",
            lambda info, *args, **kwargs: (
                io.BytesIO(b"x" * 10_000) if info.filename == "index.html" else real_open(info)
            ),
        )
        with pytest.raises(PackageError) as caught:
            package.read("index.html")
    assert caught.value.reason == "size-mismatch"


def test_limits_are_enforced_while_streaming(tmp_path: Path) -> None:
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", bytes(3 * 1024 * 1024))])
    with open_bytes(data, Limits(max_ratio=1e6)) as package:
        # As if the headers had passed the checks: the streaming counts still hold.
        package.limits = Limits(max_total_size=1024 * 1024, max_ratio=1e6)
        with pytest.raises(PackageError) as caught:
            package.extract(tmp_path)
        assert caught.value.reason == "too-large"
        assert not (tmp_path / "index.html").exists()
        package.limits = Limits(max_ratio=100)
        with pytest.raises(PackageError) as caught:
            package.copy("index.html", io.BytesIO())
        assert caught.value.reason == "compression-ratio"


def test_extraction_never_follows_a_link_planted_in_the_destination(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "content").symlink_to(outside, target_is_directory=True)
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("content/index.html", b"evil")])
    with open_bytes(data) as package, pytest.raises(PackageError) as caught:
        package.extract(destination)
    assert caught.value.reason == "unsafe-path"
    assert list(outside.iterdir()) == []


def test_extraction_does_not_follow_a_planted_file_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "index.html").symlink_to(victim)
    data = zip_bytes([("imsmanifest.xml", minimal_manifest()), ("index.html", b"evil")])
    with open_bytes(data) as package, pytest.raises(PackageError) as caught:
        package.extract(destination)
    assert caught.value.reason == "unsafe-path"
    assert victim.read_text() == "keep"


def test_member_path_normalises() -> None:
    assert member_path("./a//b/./c.html") == "a/b/c.html"
    assert member_path("folder\\file.html") == "folder/file.html"
    assert member_path("folder/") == "folder/"
