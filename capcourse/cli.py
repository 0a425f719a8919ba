"""The ``capcourse`` command: Flask's CLI bound to :func:`capcourse.create_app`.

``capcourse db upgrade``, ``capcourse frameworks sync``, ``capcourse run`` …
"""

from __future__ import annotations

from flask.cli import FlaskGroup

from capcourse import create_app

cli = FlaskGroup(create_app=lambda: create_app(), help="capcourse: capability frameworks and course mapping.")


def main() -> None:
    cli.main()
