"""Accounts: API keys for machine clients and administrators, with roles."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.accounts import throttle
    from capcourse.accounts.admin_pages import pages as admin_pages
    from capcourse.accounts.cli import keys_cli, users_cli
    from capcourse.accounts.pages import pages
    from capcourse.accounts.views import blp
    from capcourse.extensions import register_api

    throttle.init_app(app)
    register_api(app, blp)
    app.register_blueprint(pages)
    app.register_blueprint(admin_pages)
    app.cli.add_command(keys_cli)
    app.cli.add_command(users_cli)
