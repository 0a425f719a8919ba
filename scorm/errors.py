"""One hierarchy of errors for everything the library refuses.

:class:`ScormError` is the base. A package that is unsafe or broken raises
:class:`PackageError` with a machine-readable :attr:`PackageError.reason`; a
manifest that cannot be used raises :class:`ManifestError` with the line and
element where known; run-time data that breaks the SCORM data model raises
:class:`RuntimeDataError` naming the data-model element.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: Why a package was refused.
#:
#: - ``not-a-zip``: the bytes are not a zip archive (or its directory is unreadable).
#: - ``corrupt``: a member does not decompress, or fails its CRC check.
#: - ``encrypted``: a member is encrypted; packages must be readable without a password.
#: - ``unsupported``: a member uses a compression method ``zipfile`` cannot read.
#: - ``no-manifest``: no ``imsmanifest.xml`` at the package root.
#: - ``unsafe-path``: a member name is absolute or climbs out of the package (``../``).
#: - ``link``: a member is a symbolic link.
#: - ``duplicate``: two members have the same name (ignoring case), or a name is both file and folder.
#: - ``too-large``: the uncompressed content, or one file read into memory, is over the limit.
#: - ``too-many-files``: more members than the limit.
#: - ``compression-ratio``: a member, or the whole archive, inflates more than the limit allows.
#: - ``size-mismatch``: a member inflates to more bytes than its header declares.
#: - ``missing-member``: a name asked for is not in the package.
PackageReason = Literal[
    "not-a-zip",
    "corrupt",
    "encrypted",
    "unsupported",
    "no-manifest",
    "unsafe-path",
    "link",
    "duplicate",
    "too-large",
    "too-many-files",
    "compression-ratio",
    "size-mismatch",
    "missing-member",
]

#: Why a manifest was refused.
#:
#: - ``malformed``: not well-formed XML (or not decodable).
#: - ``entities``: a DOCTYPE declares entities (billion laughs, external entities).
#: - ``not-a-manifest``: the root element is not ``<manifest>``.
#: - ``missing``: a required attribute or element is absent.
#: - ``invalid-value``: a value has the wrong form (a mastery score that is not a number …).
#: - ``dangling-reference``: ``default``, ``identifierref`` or a dependency names nothing.
#: - ``duplicate-identifier``: two elements share an identifier.
#: - ``metadata``: metadata referenced by ``adlcp:location`` cannot be read or parsed.
#: - ``missing-file``: a file the manifest names is not in the package.
ManifestReason = Literal[
    "malformed",
    "entities",
    "not-a-manifest",
    "missing",
    "invalid-value",
    "dangling-reference",
    "duplicate-identifier",
    "metadata",
    "missing-file",
]


class ScormError(Exception):
    """Base of every error the :mod:`scorm` library raises."""


class PackageError(ScormError):
    """A package that is unsafe to open or cannot be read.

    :param reason: why, as one of :data:`PackageReason`.
    :param message: what, for a person.
    :param member: the member name concerned, when there is one.
    """

    def __init__(self, reason: PackageReason, message: str, member: str | None = None) -> None:
        super().__init__(message)
        self.reason: PackageReason = reason
        self.member = member


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest: where, which element, and what."""

    reason: ManifestReason
    message: str
    line: int | None = None
    #: The element as it reads in the manifest, e.g. ``<item identifier="item_1">``.
    element: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element:
            where.append(self.element)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ManifestError(ScormError):
    """A manifest that cannot be used.

    :attr:`line` and :attr:`element` locate the (first) problem where known;
    :attr:`problems` lists every problem found when there were several, so an
    import can show them all at once.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: ManifestReason = "malformed",
        line: int | None = None,
        element: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        self.reason: ManifestReason = reason
        self.line = line
        self.element = element
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem(reason, message, line, element),)
        self.detail = message
        super().__init__(str(self.problems[0]) if not problems else _summary(self.problems))

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> ManifestError:
        """One error carrying every problem; its line and element are the first problem's."""
        if not problems:
            raise ValueError("from_problems() needs at least one problem")
        first = problems[0]
        return cls(first.message, reason=first.reason, line=first.line, element=first.element, problems=problems)


def _summary(problems: Sequence[Problem]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    return f"{len(problems)} problems in the manifest:\n" + "\n".join(f"- {problem}" for problem in problems)


class RuntimeDataError(ScormError, ValueError):
    """Run-time data that breaks the SCORM data model.

    The message names the data-model element, e.g.
    ``cmi.core.lesson_status: 'done' is not one of 'passed', 'completed', …``;
    :attr:`errors` holds every ``(element, message)`` found.
    """

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        if not errors:
            raise ValueError("RuntimeDataError needs at least one error")
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        self.element = self.errors[0][0]
        super().__init__("; ".join(f"{element}: {message}" for element, message in self.errors))
