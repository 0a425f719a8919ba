"""Opening uploaded SCORM packages (zip files) safely.

:func:`open_package` refuses, with a :class:`~scorm.errors.PackageError` whose
``reason`` says why: bytes that are not a zip; member names that are absolute
(``/x``, ``C:\\x``, ``\\\\server``) or climb out of the package (``../``);
symbolic links; encrypted members; two members whose names differ only in
case; more members than :attr:`Limits.max_files`; more uncompressed bytes than
:attr:`Limits.max_total_size`; members (or the archive) that inflate more than
:attr:`Limits.max_ratio` times; and a package without ``imsmanifest.xml`` at
its root (or, when there is none there, exactly one in the shallowest folder
that has one: then that folder is read as the package, and
:attr:`Package.manifest_folder` says where it was).

Files operating systems leave in archives (``__MACOSX/``, ``.DS_Store``,
``Thumbs.db``, ``desktop.ini``) are checked like any member but otherwise left
out, and listed in :attr:`Package.system_files`.

Those checks use the sizes the zip's headers declare. Headers can lie, so
every read also counts the bytes as they stream out: a member that inflates
past its declared size, past the total, or past the ratio stops the read
there (``zipfile`` itself also stops at the declared size and checks the CRC).
Nothing is ever read whole into memory except the manifest and metadata files,
and those up to :attr:`Limits.max_xml_size`.

Real packages are careless about case (``IMSManifest.xml``, ``Images/a.PNG``
where the manifest says ``images/a.png``), so :meth:`Package.find` looks names
up exactly, then ignoring case, then percent-decoded.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from scorm.errors import PackageError, Problem
from scorm.manifest import Manifest, parse_manifest

logger = logging.getLogger(__name__)

MANIFEST_NAME = "imsmanifest.xml"

_DRIVE = re.compile(r"^[A-Za-z]:")
# Never write through a link someone left in the destination.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SUPPORTED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
#: Files operating systems put in archives, which are no part of any package.
_SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})


def is_system_file(name: str) -> bool:
    """True for ``__MACOSX/…`` (and AppleDouble ``._x``), ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``."""
    parts = name.rstrip("/").split("/")
    return parts[0] == "__MACOSX" or parts[-1].lower() in _SYSTEM_FILES or parts[-1].startswith("._")


@dataclass(frozen=True)
class Limits:
    """What a package may hold. Every limit is configurable; the defaults suit real SCORM packages."""

    #: Uncompressed bytes of all members together (1 GiB).
    max_total_size: int = 1 << 30
    #: Members, folders included (20,000).
    max_files: int = 20_000
    #: Uncompressed over compressed size, per member and for the whole archive (100).
    max_ratio: float = 100.0
    #: Members (and archives) smaller than this uncompressed are not held to the ratio:
    #: small repetitive files legitimately compress hundreds of times, and the total
    #: size limit bounds them anyway (1 MiB).
    ratio_grace: int = 1 << 20
    #: The manifest and metadata files, which are read into memory (16 MiB).
    max_xml_size: int = 16 << 20
    #: Bytes per read when streaming a member (64 KiB).
    chunk_size: int = 64 << 10


def member_path(name: str) -> str:
    """The safe, normalised form of a zip member name (``/`` separators, no ``.`` parts).

    A trailing ``/`` (a folder entry) is kept.

    :raises PackageError: ``unsafe-path`` for an absolute name, a drive or UNC
        name, a ``..`` part, or a NUL character.
    """
    if "\x00" in name:
        raise PackageError("unsafe-path", f"member name {name!r} contains a NUL character", name)
    # Windows tools write backslashes; a name like "..\\evil" must be seen as climbing out.
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise PackageError("unsafe-path", f"member {name!r} has an absolute path", name)
    parts = [part for part in text.split("/") if part not in {"", "."}]
    if ".." in parts:
        raise PackageError("unsafe-path", f"member {name!r} points outside the package (..)", name)
    if not parts:
        raise PackageError("unsafe-path", f"member name {name!r} is empty", name)
    return "/".join(parts) + ("/" if text.endswith("/") else "")


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


class _Budget:
    """Bytes that may still be inflated across one extraction."""

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


class Package:
    """An opened, checked package. Use :func:`open_package` to make one; close it when done."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits, owned: IO[bytes] | None = None) -> None:
        self._archive = archive
        self._owned = owned
        self.limits = limits
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._folded: dict[str, str] = {}
        #: System files left out (``__MACOSX/…``, ``.DS_Store`` …), as named in the archive.
        self.system_files: list[str] = []
        #: The folder the manifest was found in when not at the root (``"course/"``); ``""`` at the root.
        self.manifest_folder = ""
        #: Files outside :attr:`manifest_folder`, left out because the package is that folder.
        self.outside_files: list[str] = []
        self._check()
        self.manifest_name = self._find_manifest()

    # opening checks

    def _check(self) -> None:
        infos = self._archive.infolist()
        limits = self.limits
        if len(infos) > limits.max_files:
            raise PackageError(
                "too-many-files", f"the package has {len(infos)} members; the limit is {limits.max_files}"
            )
        total = 0
        compressed = 0
        folders: set[str] = set()
        for info in infos:
            name = member_path(info.filename)
            if _is_link(info):
                raise PackageError("link", f"member {info.filename!r} is a symbolic link", info.filename)
            if info.flag_bits & 0x1:
                raise PackageError("encrypted", f"member {info.filename!r} is encrypted", info.filename)
            if info.compress_type not in _SUPPORTED_METHODS:
                raise PackageError(
                    "unsupported",
                    f"member {info.filename!r} uses compression method {info.compress_type}",
                    info.filename,
                )
            total += info.file_size
            compressed += info.compress_size
            if total > limits.max_total_size:
                raise PackageError(
                    "too-large",
                    f"the package inflates to more than {limits.max_total_size} bytes (at {info.filename!r})",
                    info.filename,
                )
            if info.file_size > limits.ratio_grace and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise PackageError(
                    "compression-ratio",
                    f"member {info.filename!r} inflates {info.file_size / max(info.compress_size, 1):.0f} times "
                    f"({info.compress_size} to {info.file_size} bytes); the limit is {limits.max_ratio:g}",
                    info.filename,
                )
            if is_system_file(name):
                if not name.endswith("/"):
                    self.system_files.append(name)
                continue
            folded = name.rstrip("/").casefold()
            if name.endswith("/"):
                folders.add(folded)
                continue
            if folded in self._folded:
                raise PackageError(
                    "duplicate",
                    f"members {self._folded[folded]!r} and {name!r} have the same name (ignoring case)",
                    info.filename,
                )
            self._folded[folded] = name
            self._members[name] = info
            parts = folded.split("/")
            folders.update("/".join(parts[:index]) for index in range(1, len(parts)))
        if total > limits.ratio_grace and total > limits.max_ratio * max(compressed, 1):
            raise PackageError(
                "compression-ratio",
                f"the package inflates {total / max(compressed, 1):.0f} times ({compressed} to {total} bytes); "
                f"the limit is {limits.max_ratio:g}",
            )
        clash = next((folded for folded in self._folded if folded in folders), None)
        if clash is not None:
            raise PackageError("duplicate", f"{self._folded[clash]!r} is both a file and a folder", self._folded[clash])

    def _find_manifest(self) -> str:
        name = self._folded.get(MANIFEST_NAME)
        if name is not None:
            return name
        nested = [member for member in self._members if member.casefold().endswith("/" + MANIFEST_NAME)]
        if not nested:
            raise PackageError("no-manifest", f"the package has no {MANIFEST_NAME}")
        depth = min(member.count("/") for member in nested)
        shallowest = sorted(member for member in nested if member.count("/") == depth)
        if len(shallowest) > 1:
            raise PackageError(
                "no-manifest",
                f"the package has no {MANIFEST_NAME} at its root, and several in folders "
                f"({', '.join(shallowest[:5])}): zip the contents of the one to import",
            )
        # Zipped with its folder, as people often do: that folder is the package.
        found = shallowest[0]
        folder = found[: len(found) - len(MANIFEST_NAME)]
        members, self._members, self._folded = self._members, {}, {}
        for member, info in members.items():
            if member.startswith(folder):
                relative = member[len(folder) :]
                self._members[relative] = info
                self._folded[relative.casefold()] = relative
            else:
                self.outside_files.append(member)
        self.manifest_folder = folder
        return found[len(folder) :]

    # looking up

    @property
    def names(self) -> tuple[str, ...]:
        """The files of the package (normalised names, folders left out), in archive order."""
        return tuple(self._members)

    def find(self, name: str) -> str | None:
        """The member a manifest path names, or None.

        Tried in turn: the name as given, ignoring case, and percent-decoded
        (manifests write ``a%20b.html`` for the file ``a b.html``).
        """
        candidates = [name]
        decoded = unquote(name)
        if decoded != name:
            candidates.append(decoded)
        for candidate in candidates:
            try:
                normal = member_path(candidate)
            except PackageError:
                return None
            if normal in self._members:
                return normal
            folded = self._folded.get(normal.casefold())
            if folded is not None:
                return folded
        return None

    def _info(self, name: str) -> zipfile.ZipInfo:
        member = self.find(name)
        if member is None:
            raise PackageError("missing-member", f"the package has no file {name!r}", name)
        return self._members[member]

    # reading

    def _chunks(self, info: zipfile.ZipInfo, budget: _Budget | None = None) -> Iterator[bytes]:
        """The member's bytes in chunks, each checked against the declared size, the budget and the ratio."""
        limits = self.limits
        produced = 0
        try:
            source = self._archive.open(info)
        except zipfile.BadZipFile as error:
            raise PackageError("corrupt", f"member {info.filename!r} is corrupt: {error}", info.filename) from None
        except NotImplementedError as error:
            raise PackageError("unsupported", f"member {info.filename!r}: {error}", info.filename) from None
        with source:
            while True:
                try:
                    chunk = source.read(limits.chunk_size)
                except zipfile.BadZipFile as error:
                    raise PackageError(
                        "corrupt", f"member {info.filename!r} is corrupt: {error}", info.filename
                    ) from None
                except (zlib.error, EOFError, OSError) as error:
                    # zlib, bz2 and lzma report broken streams in these three ways.
                    raise PackageError(
                        "corrupt", f"member {info.filename!r} cannot be inflated: {error}", info.filename
                    ) from None
                if not chunk:
                    return
                produced += len(chunk)
                if produced > info.file_size:
                    raise PackageError(
                        "size-mismatch",
                        f"member {info.filename!r} inflates past the {info.file_size} bytes its header declares",
                        info.filename,
                    )
                if budget is not None:
                    budget.remaining -= len(chunk)
                    if budget.remaining < 0:
                        raise PackageError(
                            "too-large",
                            f"the package inflates to more than {limits.max_total_size} bytes",
                            info.filename,
                        )
                if produced > limits.ratio_grace and produced > limits.max_ratio * max(info.compress_size, 1):
                    raise PackageError(
                        "compression-ratio",
                        f"member {info.filename!r} inflates more than {limits.max_ratio:g} times",
                        info.filename,
                    )
                yield chunk

    def read(self, name: str, max_size: int | None = None) -> bytes:
        """The bytes of one member, looked up as :meth:`find` does.

        :param max_size: refuse members larger than this (default :attr:`Limits.max_xml_size`):
            reading into memory is for small files; use :meth:`copy` or :meth:`extract` otherwise.
        :raises PackageError: ``missing-member``, ``too-large``, or a streaming check.
        """
        info = self._info(name)
        cap = self.limits.max_xml_size if max_size is None else max_size
        if info.file_size > cap:
            raise PackageError(
                "too-large", f"{info.filename!r} is {info.file_size} bytes; at most {cap} are read", name
            )
        buffer = io.BytesIO()
        for chunk in self._chunks(info):
            buffer.write(chunk)
        return buffer.getvalue()

    def copy(self, name: str, target: IO[bytes]) -> int:
        """Stream one member into ``target`` in chunks; the number of bytes written."""
        info = self._info(name)
        written = 0
        for chunk in self._chunks(info, _Budget(self.limits.max_total_size)):
            target.write(chunk)
            written += len(chunk)
        return written

    def manifest_bytes(self) -> bytes:
        """The bytes of ``imsmanifest.xml``."""
        return self.read(self.manifest_name)

    def manifest(self, *, strict: bool = True) -> Manifest:
        """The parsed manifest; metadata referenced by ``adlcp:location`` is read from the package.

        :raises ManifestError: see :func:`scorm.manifest.parse_manifest`.
        """
        return parse_manifest(self.manifest_bytes(), metadata_loader=self.read, strict=strict)

    def missing_files(self, manifest: Manifest) -> tuple[Problem, ...]:
        """The resource launch files and ``<file>`` entries of ``manifest`` that the package lacks.

        Absolute URLs are not package files and are not checked.
        """
        problems: list[Problem] = []
        for resource in manifest.all_resources():
            element = f'<resource identifier="{resource.identifier}">'
            if resource.path is not None and self.find(resource.path) is None:
                problems.append(
                    Problem(
                        "missing-file",
                        f"href {resource.href!r} ({resource.path}) is not in the package",
                        resource.line,
                        element,
                    )
                )
            for file in resource.files:
                if file.path is not None and self.find(file.path) is None:
                    problems.append(
                        Problem(
                            "missing-file",
                            f"file {file.href!r} ({file.path}) is not in the package",
                            resource.line,
                            element,
                        )
                    )
        return tuple(problems)

    # extracting

    def extract(self, destination: str | os.PathLike[str]) -> tuple[Path, ...]:
        """Write every file into the existing folder ``destination``; the paths written.

        Members stream in chunks under the limits. Nothing is written outside
        ``destination``, and no symbolic link is followed when writing. On an
        error the file being written is removed, files already written stay:
        extract into a fresh folder and discard it on failure.

        :raises PackageError: a streaming check failed, or a target would fall outside ``destination``.
        """
        root = Path(destination).resolve(strict=True)
        budget = _Budget(self.limits.max_total_size)
        written: list[Path] = []
        for name, info in self._members.items():
            target = root.joinpath(*name.split("/"))
            parent = target.parent
            parent.mkdir(parents=True, exist_ok=True)
            # The names are already safe; this guards against links planted in
            # the destination by anyone else.
            if not parent.resolve(strict=True).is_relative_to(root):
                raise PackageError("unsafe-path", f"member {name!r} would be written outside the folder", name)
            try:
                descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o644)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise PackageError("unsafe-path", f"{name!r} would be written through a link", name) from None
                raise
            try:
                with os.fdopen(descriptor, "wb") as output:
                    for chunk in self._chunks(info, budget):
                        output.write(chunk)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            written.append(target)
        logger.info("extracted %d files into %s", len(written), root)
        return tuple(written)

    # lifetime

    def close(self) -> None:
        """Close the archive (and the file :func:`open_package` opened for it)."""
        self._archive.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _seekable(source: IO[bytes], limits: Limits) -> tuple[IO[bytes], IO[bytes] | None]:
    """``source`` if it can seek, else a spooled copy (capped at the total size limit) that we own."""
    try:
        if source.seekable():
            return source, None
    except (AttributeError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - the package owns and closes it
    copied = 0
    while chunk := source.read(limits.chunk_size):
        copied += len(chunk)
        if copied > limits.max_total_size:
            spool.close()
            raise PackageError("too-large", f"the archive is larger than {limits.max_total_size} bytes")
        spool.write(chunk)
    spool.seek(0)
    return spool, spool


def open_package(source: str | os.PathLike[str] | IO[bytes], limits: Limits | None = None) -> Package:
    """Open and check a SCORM package: a zip file by path, or a binary file object.

    :param source: a path, or a binary file (an upload's stream; copied to a
        temporary file first when it cannot seek). A file object stays the caller's to close.
    :param limits: what the package may hold; :class:`Limits` defaults when None.
    :raises PackageError: the package is refused (see the module documentation for every reason).
    """
    limits = limits or Limits()
    owned: IO[bytes] | None = None
    if isinstance(source, (str, os.PathLike)):
        try:
            owned = open(source, "rb")  # noqa: SIM115 - the package owns and closes it
        except OSError as error:
            raise PackageError("not-a-zip", f"cannot open {os.fspath(source)!r}: {error}") from None
        stream: IO[bytes] = owned
    else:
        stream, owned = _seekable(source, limits)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
        if owned is not None:
            owned.close()
        # zipfile's own words ("File is not a zip file") would only repeat ours.
        detail = "" if isinstance(error, zipfile.BadZipFile) else f" ({error})"
        raise PackageError("not-a-zip", f"the file is not a zip archive{detail}") from None
    try:
        package = Package(archive, limits, owned)
    except BaseException:
        archive.close()
        if owned is not None:
            owned.close()
        raise
    logger.info("opened a package of %d files, manifest %s", len(package.names), package.manifest_name)
    return package
