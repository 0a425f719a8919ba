"""One JSON error shape for the whole API, and no 500 for bad input."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.errors import error_body
from capcourse.identifiers import framework_id
from tests.conftest import ScratchDatabase, make_app
from tests.factories import api_key, bearer

pytestmark = pytest.mark.db

LEGEND = f"/api/v1/frameworks/{framework_id('frontline-lcf-pathway-1')}/icon-legend"


def test_error_body_shape() -> None:
    assert error_body(404, "No such thing.") == {"code": 404, "status": "Not Found", "message": "No such thing."}
    assert error_body(422, "Bad.", {"json": {"x": ["y"]}})["errors"] == {"json": {"x": ["y"]}}


def test_malformed_json_is_400(client: FlaskClient, session: Session) -> None:
    _, key = api_key(session, Role.ADMIN)
    response = client.put(LEGEND, data="{not json", content_type="application/json", headers=bearer(key))
    assert response.status_code == 400
    assert response.json["code"] == 400
    assert response.json["status"] == "Bad Request"


def test_oversized_body_is_413(app, client: FlaskClient, session: Session) -> None:  # type: ignore[no-untyped-def]
    _, key = api_key(session, Role.ADMIN)
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = '{"icon": "x", "areas": [], "rationale": "' + "x" * limit + '"}'
    response = client.put(LEGEND, data=body, content_type="application/json", headers=bearer(key))
    assert response.status_code == 413
    assert response.json["code"] == 413


def test_unexpected_errors_are_500_in_the_error_shape_without_details(database: ScratchDatabase) -> None:
    app = make_app(database, PROPAGATE_EXCEPTIONS=False)

    @app.get("/api/v1/_boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    response = app.test_client().get("/api/v1/_boom")
    assert response.status_code == 500
    assert response.json == {
        "code": 500,
        "status": "Internal Server Error",
        "message": "An unexpected error occurred; it has been logged.",
    }
