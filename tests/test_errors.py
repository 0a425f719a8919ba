"""One JSON error shape for the whole API, and no 500 for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from capcourse import create_app
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


def test_an_unreachable_database_answers_503_with_retry_after(tmp_path: Path) -> None:
    # A SQLite file in a folder that does not exist cannot be opened: the database is "down".
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'capcourse.db'}",
        }
    )
    response = app.test_client().get("/api/v1/programmes", headers={"Authorization": "Bearer cc_whatever"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "try again" in response.json["message"]
