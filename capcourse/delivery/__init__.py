"""Delivering emitted statements from the outbox to Learning Record Stores, never losing one."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.delivery.cli import delivery_cli
    from capcourse.delivery.views import blp, pages
    from capcourse.extensions import register_api

    register_api(app, blp)
    app.register_blueprint(pages)
    app.cli.add_command(delivery_cli)
