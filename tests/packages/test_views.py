"""Importing through the API, the upload page and ``capcourse scorm import``; the caps on uploads."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from capcourse.packages.models import ContentPackage
from tests import factories
from tests.factories import bearer
from tests.pages import csrf_token, sign_in
from tests.scorm.archives import adl_manifest, package_around

pytestmark = pytest.mark.db

CM_01 = adl_manifest("CM-01")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    programme = factories.programme(session)
    course = factories.course(session, programme)
    author = factories.user(session, Role.AUTHOR)
    factories.member(session, programme, author, MembershipRole.AUTHOR)
    lead = factories.user(session, Role.LEAD)
    factories.member(session, programme, lead, MembershipRole.LEAD)
    return {
        "course": course,
        "author": author,
        "key": bearer(factories.api_key(session, Role.AUTHOR, author)[1]),
        "lead_key": bearer(factories.api_key(session, Role.LEAD, lead)[1]),
    }


def upload(client: FlaskClient, world: dict[str, Any], data: bytes, key: str = "key") -> Any:
    return client.post(
        f"/api/v1/courses/{world['course'].id}/packages",
        data={"file": (io.BytesIO(data), "package.zip")},
        headers=world[key],
        content_type="multipart/form-data",
    )


def test_import_through_the_api(client: FlaskClient, session: Session, world: dict[str, Any]) -> None:
    response = upload(client, world, package_around(CM_01.read_bytes()))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["first_import"] is True
    assert body["package"]["scorm_version"].startswith("2004")
    assert len(body["activities_created"]) >= 1
    listed = client.get(f"/api/v1/courses/{world['course'].id}/packages", headers=world["lead_key"]).json
    assert [p["id"] for p in listed] == [body["package"]["id"]]
    detail = client.get(f"/api/v1/packages/{body['package']['id']}", headers=world["lead_key"])
    assert detail.json["revision"] == 1
    again = upload(client, world, package_around(CM_01.read_bytes()))
    assert again.status_code == 201 and again.json["package"]["revision"] == 2
    assert again.json["activities_created"] == []


def test_the_api_refuses_bad_uploads_clearly(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    not_zip = upload(client, world, b"%PDF-1.7 not a zip")
    assert not_zip.status_code == 400
    # One plain sentence, said once, and no internal code.
    assert not_zip.json["message"] == "This is not a package capcourse can import: the file is not a zip archive."
    assert "not-a-zip" not in not_zip.get_data(as_text=True)
    assert upload(client, world, package_around(CM_01.read_bytes()), key="lead_key").status_code == 403
    missing = client.post(
        f"/api/v1/courses/{world['course'].id}/packages",
        data={},
        headers=world["key"],
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    app.config["CAPCOURSE_PACKAGE_MAX_BYTES"] = 1000
    try:
        too_big = upload(client, world, package_around(CM_01.read_bytes()) + b"\0" * 2000)
    finally:
        app.config["CAPCOURSE_PACKAGE_MAX_BYTES"] = 512 * 1024 * 1024
    assert too_big.status_code == 413 and too_big.json["code"] == 413
    assert session.scalar(select(func.count()).select_from(ContentPackage)) == 0


def test_the_upload_page_answers_script_and_plain_forms(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    sign_in(client, world["author"].email)
    page = f"/courses/{world['course'].id}"
    html = client.get(page).get_data(as_text=True)
    assert "Import a SCORM package" in html and "upload.js" in html
    token = csrf_token(client, page)
    as_script = client.post(
        f"{page}/packages",
        data={"file": (io.BytesIO(package_around(CM_01.read_bytes())), "cm01.zip"), "csrf_token": token},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert as_script.status_code == 201, as_script.get_data(as_text=True)
    report_page = client.get(as_script.json["location"]).get_data(as_text=True)
    assert "What the last import did" in report_page
    refused = client.post(
        f"{page}/packages",
        data={"file": (io.BytesIO(b"nope"), "nope.zip"), "csrf_token": token},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "not a zip" in refused.json["message"]
    plain = client.post(
        f"{page}/packages",
        data={"file": (io.BytesIO(b"nope"), "nope.zip"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert plain.status_code == 303
    assert "not a zip" in client.get(page).get_data(as_text=True)
    assert "SCORM 1.2" in client.get(page).get_data(as_text=True)


def test_cli_import(runner: FlaskCliRunner, world: dict[str, Any], tmp_path: Path) -> None:
    archive = tmp_path / "cm01.zip"
    archive.write_bytes(package_around(CM_01.read_bytes()))
    result = runner.invoke(args=["scorm", "import", str(archive), "--course", str(world["course"].id)])
    assert result.exit_code == 0, result.output
    assert "revision 1" in result.output and "activities: " in result.output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    refused = runner.invoke(args=["scorm", "import", str(broken), "--course", str(world["course"].id)])
    assert refused.exit_code != 0 and "not a zip" in refused.output


class _Body(io.RawIOBase):
    """A request body that records, on every read, whether a database transaction was open."""

    def __init__(self, data: bytes, explode: bool = False, size: int | None = None) -> None:
        self.data = io.BytesIO(data)
        self.explode = explode
        self.transaction_open: list[bool] = []
        #: What the stream says its length is (werkzeug's test client makes the Content-Length from it).
        self.size = len(data) if size is None else size
        self.position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size if whence == 2 else offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.explode:
            raise AssertionError("the body was read")
        from capcourse.extensions import db

        self.transaction_open.append(db.session().in_transaction())
        chunk = self.data.read(min(len(buffer), 64 << 10))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def multipart(fields: dict[str, str], data: bytes, boundary: str = "capcourse-test-boundary") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode()


def big_package(size: int) -> bytes:
    """A valid package of about ``size`` bytes (incompressible content)."""
    from tests.scorm.archives import minimal_manifest, zip_bytes

    return zip_bytes(
        [("imsmanifest.xml", minimal_manifest()), ("index.html", b"<html/>"), ("video.bin", os.urandom(size))],
        compression=zipfile.ZIP_STORED,
    )


def test_the_page_takes_packages_beyond_the_request_cap_streamed_with_no_transaction_open(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] < 20 << 20
    sign_in(client, world["author"].email)
    page = f"/courses/{world['course'].id}"
    html = client.get(page).get_data(as_text=True)
    assert f'data-max-bytes="{app.config["CAPCOURSE_PACKAGE_MAX_BYTES"]}"' in html
    token = csrf_token(client, page)
    body = _Body(multipart({}, big_package(20 << 20)))
    response = client.post(
        f"{page}/packages",
        input_stream=body,
        headers={"Accept": "application/json", "X-CSRFToken": token},
        content_type="multipart/form-data; boundary=capcourse-test-boundary",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert body.transaction_open and not any(body.transaction_open)  # spooled with no transaction open
    assert session.scalar(select(func.count()).select_from(ContentPackage)) == 1


def test_uploads_are_refused_before_the_body_is_read(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    sign_in(client, world["author"].email)
    page = f"/courses/{world['course'].id}"
    token = csrf_token(client, page)
    cap = app.config["CAPCOURSE_PACKAGE_MAX_BYTES"]
    for path, headers in (
        (f"{page}/packages", {"X-CSRFToken": token, "Accept": "application/json"}),
        (f"/api/v1/courses/{world['course'].id}/packages", world["key"]),
    ):
        response = client.post(
            path,
            input_stream=_Body(b"", explode=True, size=cap + 1),
            headers=headers,
            content_type="multipart/form-data; boundary=x",
        )
        assert response.status_code == 413, response.get_data(as_text=True)
        assert "this server takes packages up to 512.0 MiB" in response.json["message"]
    # A wrong token, or an unknown key: refused before the body is read too.
    for path, headers, status in (
        (f"{page}/packages", {"X-CSRFToken": "forged", "Accept": "application/json"}, 400),
        (f"/api/v1/courses/{world['course'].id}/packages", {"Authorization": "Bearer nope"}, 401),
    ):
        response = client.post(
            path,
            input_stream=_Body(b"", explode=True, size=100),
            headers=headers,
            content_type="multipart/form-data; boundary=x",
        )
        assert response.status_code == status, response.get_data(as_text=True)
    # A form posted without script carries its token in the body: checked once the file is on disk.
    plain = client.post(
        f"{page}/packages",
        data={"file": (io.BytesIO(b"nope"), "nope.zip"), "csrf_token": "forged"},
        content_type="multipart/form-data",
    )
    assert plain.status_code == 400
    assert session.scalar(select(func.count()).select_from(ContentPackage)) == 0
