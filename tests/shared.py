"""``../shared``: third-party standards, samples and the source documents, beside the clone.

It is not part of the product, and a plain clone does not have it: a test that
needs one of its files asks for it here and is skipped with a note saying what
is missing (``make test`` passes without it). CI sets
``CAPCOURSE_REQUIRE_SHARED=1``, and a missing file then fails the test instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CAPCOURSE_SHARED_DIR", ROOT.parent / "shared"))
#: CI: a missing artefact fails instead of skipping.
REQUIRED = os.environ.get("CAPCOURSE_REQUIRE_SHARED") == "1"


def note(relative: str) -> str:
    """What a test that lacks ``relative`` says."""
    return (
        f"needs ../shared/{relative} (third-party standards, samples and source documents, not part of capcourse):"
        " check out shared beside the repository or set CAPCOURSE_SHARED_DIR"
    )


def missing(relative: str) -> NoReturn:
    """Skip the running test for want of ``relative`` (fail it when CI requires ../shared)."""
    if REQUIRED:
        pytest.fail(note(relative))
    pytest.skip(note(relative))


def shared_path(*parts: str) -> Path:
    """The file or folder ``../shared/<parts>``; skips the running test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing("/".join(parts))
    return path


def shared_params(folder: str, pattern: str) -> list[Any]:
    """Files of ``../shared/<folder>`` matching ``pattern``, to parametrize a test with at collection.

    Without the folder, one parameter marked :func:`needs_shared` (skipped with the
    note, or failed in CI); with it, never an empty list (an empty folder means the
    checkout is broken).
    """
    path = SHARED / folder
    if not path.is_dir():
        return [pytest.param(None, marks=needs_shared(folder), id="no-shared")]
    files = sorted(path.glob(pattern))
    if not files:
        raise RuntimeError(f"../shared/{folder} has no {pattern}: the checkout of shared is incomplete")
    return files


def needs_shared(relative: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, as ``pytestmark``) that reads ``../shared/<relative>``."""
    return pytest.mark.shared(relative)
