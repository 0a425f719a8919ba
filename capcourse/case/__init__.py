"""1EdTech CASE: frameworks as CASE packages, the CASE provider API, and import.

- :mod:`.export` turns a framework into a CFPackage (CASE 1.1, or 1.0 on request);
- :mod:`.provider` answers the CASE REST API at ``/ims/case/v1p1/…`` and ``/ims/case/v1p0/…``;
- :mod:`.importing` reads CFPackages published by other tools (validated by
  :mod:`.schemas`) and creates or updates a framework by its identifier;
- :mod:`.fetch` reads a package from a file or an https URL, within a size cap.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's API, pages and commands with ``app``."""
    from capcourse.case.cli import case_cli
    from capcourse.case.pages import pages
    from capcourse.case.views import blp, provider_v1p0, provider_v1p1
    from capcourse.extensions import register_api

    register_api(app, blp, provider_v1p1, provider_v1p0)
    app.register_blueprint(pages)
    app.cli.add_command(case_cli)
