"""Build hook: the wheel carries the Alembic migrations inside the package.

By design the repository keeps ``migrations/`` at its top level (where
``flask db`` and reviewers expect it); an installed capcourse finds them as
``capcourse/migrations`` (see :mod:`capcourse.paths`). Everything else is
declared in ``setup.cfg``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithMigrations(build_py):
    """``build_py``, then ``migrations/`` copied into the built package as ``capcourse/migrations``."""

    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "migrations"
        target = Path(self.build_lib) / "capcourse" / "migrations"
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithMigrations})
