"""A demo programme, so a newcomer sees a populated dashboard after ``make run``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's commands with ``app``."""
    from capcourse.demo.cli import demo_cli

    app.cli.add_command(demo_cli)
