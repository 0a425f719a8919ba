"""The ``capcourse`` command itself."""

from __future__ import annotations

from click.testing import CliRunner

from capcourse import __version__
from capcourse.cli import cli


def test_version_is_capcourses_own() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"capcourse {__version__}"
