"""The ``capcourse`` command: Flask's CLI bound to :func:`capcourse.create_app`.

``capcourse db upgrade``, ``capcourse frameworks sync``, ``capcourse run`` …
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from capcourse import __version__, create_app

cli = click.version_option(__version__, prog_name="capcourse", message="%(prog)s %(version)s")(
    FlaskGroup(
        create_app=lambda: create_app(),
        add_version_option=False,
        help="capcourse: capability frameworks and course mapping.",
    )
)


def main() -> None:
    cli.main()
