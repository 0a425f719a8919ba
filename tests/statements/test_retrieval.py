"""The Statement resource as an LRS must serve it: parameters, formats, attachments, signatures, the alternate syntax."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from jwt.api_jws import PyJWS
from sqlalchemy.orm import Session

from capcourse.accounts.models import Role
from capcourse.lrs import multipart
from tests import factories

pytestmark = pytest.mark.db

ADA = {"objectType": "Agent", "mbox": "mailto:ada@example.org"}
GRACE = {"objectType": "Agent", "mbox": "mailto:grace@example.org"}
ATTENDED = {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended", "fr-FR": "a assisté"}}
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


@pytest.fixture
def lms(session: Session) -> dict[str, str]:
    key = factories.api_key(session, Role.INTEGRATION)[1]
    return {
        "Authorization": "Basic " + base64.b64encode(f"lms:{key}".encode()).decode(),
        "X-Experience-API-Version": "1.0.3",
    }


def statement(**changes: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": ADA,
        "verb": ATTENDED,
        "object": {
            "objectType": "Activity",
            "id": f"http://example.org/meetings/{uuid.uuid4()}",
            "definition": {"name": {"en-US": "meeting", "fr-FR": "réunion"}},
        },
        **changes,
    }


def post(client: FlaskClient, lms: dict[str, str], *statements: dict[str, Any]) -> None:
    response = client.post("/xapi/statements", json=list(statements), headers=lms)
    assert response.status_code == 200, response.json


def test_consistent_through_on_every_answer(client: FlaskClient, lms: dict[str, str]) -> None:
    for query in ({}, {"statementId": str(uuid.uuid4())}, {"unknown": "1"}):
        response = client.get("/xapi/statements", query_string=query, headers=lms)
        assert response.status_code in (200, 404, 400)
        assert dt.datetime.fromisoformat(response.headers["X-Experience-API-Consistent-Through"].replace("Z", "+00:00"))


@pytest.mark.parametrize(
    "query",
    [
        {"Verb": "http://adlnet.gov/expapi/verbs/attended"},
        {"statementId": str(uuid.uuid4()), "agent": json.dumps(ADA)},
        {"statementId": str(uuid.uuid4()), "voidedStatementId": str(uuid.uuid4())},
        {"format": "full"},
        {"ascending": "yes"},
        {"agent": json.dumps({"name": "nobody"})},
        {"since": "yesterday"},
        {"limit": "²"},
        {"cursor": "9" * 40},
    ],
)
def test_bad_parameters_are_400(client: FlaskClient, lms: dict[str, str], query: dict[str, str]) -> None:
    response = client.get("/xapi/statements", query_string=query, headers=lms)
    assert response.status_code == 400, response.json


def test_a_limit_beyond_the_largest_page_gives_the_largest_page(client: FlaskClient, lms: dict[str, str]) -> None:
    response = client.get("/xapi/statements", query_string={"limit": "9" * 5000}, headers=lms)
    assert response.status_code == 200 and "statements" in response.json


def test_formats_and_languages(client: FlaskClient, lms: dict[str, str]) -> None:
    sent = statement(context={"contextActivities": {"parent": {"id": "http://example.org/course"}}})
    post(client, lms, sent)
    query = {"statementId": sent["id"]}
    exact = client.get("/xapi/statements", query_string=query, headers=lms).json
    assert exact["context"]["contextActivities"]["parent"] == [{"id": "http://example.org/course"}]
    assert exact["verb"]["display"] == ATTENDED["display"]
    ids = client.get("/xapi/statements", query_string={**query, "format": "ids"}, headers=lms).json
    assert ids["object"] == {"id": sent["object"]["id"]} and ids["verb"] == {"id": ATTENDED["id"]}
    canonical = client.get(
        "/xapi/statements", query_string={**query, "format": "canonical"}, headers={**lms, "Accept-Language": "fr-FR"}
    ).json
    assert canonical["verb"]["display"] == {"fr-FR": "a assisté"}
    assert canonical["object"]["definition"]["name"] == {"fr-FR": "réunion"}
    # Canonical: the LRS's definition, which a later statement about the same activity completed.
    later = statement(object={**sent["object"], "definition": {"name": {"cy": "cyfarfod"}}})
    post(client, lms, later)
    welsh = client.get(
        "/xapi/statements", query_string={**query, "format": "canonical"}, headers={**lms, "Accept-Language": "cy"}
    ).json
    assert welsh["object"]["definition"]["name"] == {"cy": "cyfarfod"}
    assert client.get("/xapi/statements", query_string=query, headers=lms).json["object"] == sent["object"]


def test_related_agents_and_activities(client: FlaskClient, lms: dict[str, str]) -> None:
    taught = statement(
        actor=GRACE, context={"instructor": ADA, "contextActivities": {"grouping": [{"id": "http://example.org/p"}]}}
    )
    post(client, lms, taught)

    def found(**query: str) -> list[str]:
        response = client.get("/xapi/statements", query_string=query, headers=lms)
        return [s["id"] for s in response.json["statements"]]

    assert taught["id"] not in found(agent=json.dumps(ADA))
    assert taught["id"] in found(agent=json.dumps(ADA), related_agents="true")
    assert taught["id"] not in found(activity="http://example.org/p")
    assert taught["id"] in found(activity="http://example.org/p", related_activities="true")


def test_a_voiding_statement_comes_with_its_targets_filter(client: FlaskClient, lms: dict[str, str]) -> None:
    target = statement(actor=GRACE)
    voiding = {
        "actor": ADA,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    post(client, lms, target)
    post(client, lms, voiding)
    listed = client.get("/xapi/statements", query_string={"activity": target["object"]["id"]}, headers=lms).json
    assert [s["verb"]["id"] for s in listed["statements"]] == ["http://adlnet.gov/expapi/verbs/voided"]


def test_references_are_followed_through_chains_whatever_the_case_of_the_ids(
    client: FlaskClient, lms: dict[str, str]
) -> None:
    """A statement targeting a match comes with it, and one targeting that: ids sent in upper case too."""
    target = {**statement(actor=GRACE), "id": str(uuid.uuid4()).upper()}
    comment = {
        "id": str(uuid.uuid4()).upper(),
        "actor": ADA,
        "verb": {"id": "http://example.org/commented"},
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    reply = {
        "actor": GRACE,
        "verb": {"id": "http://example.org/replied"},
        "object": {"objectType": "StatementRef", "id": comment["id"].lower()},
    }
    for sent in (target, comment, reply, statement(actor=ADA)):
        post(client, lms, sent)
    listed = client.get("/xapi/statements", query_string={"activity": target["object"]["id"]}, headers=lms).json
    assert sorted(s["verb"]["id"] for s in listed["statements"]) == sorted(
        [target["verb"]["id"], "http://example.org/commented", "http://example.org/replied"]
    )


def test_a_resend_without_timestamp_is_no_conflict(client: FlaskClient, lms: dict[str, str]) -> None:
    sent = statement()
    post(client, lms, sent)
    post(client, lms, sent)
    changed = client.post("/xapi/statements", json=[{**sent, "verb": {"id": "http://example.org/other"}}], headers=lms)
    assert changed.status_code == 409


def _multipart(statements: Any, parts: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    return multipart.build(json.dumps(statements).encode(), [(hashlib.sha256(d).hexdigest(), t, d) for t, d in parts])


def test_attachments_travel_both_ways(client: FlaskClient, lms: dict[str, str]) -> None:
    data = b"\x00\x01 certificate \xff"
    sha2 = hashlib.sha256(data).hexdigest()
    sent = statement(
        attachments=[{
            "usageType": "http://example.org/certificate", "display": {"en-US": "certificate"},
            "contentType": "application/pdf", "length": len(data), "sha2": sha2,
        }]
    )  # fmt: skip
    # Without its data, as JSON: refused.
    assert client.post("/xapi/statements", json=sent, headers=lms).status_code == 400
    body, content_type = _multipart(sent, [("application/pdf", data)])
    tampered = body.replace(b"certificate \xff", b"certificate \xfe")
    assert (
        client.post("/xapi/statements", data=tampered, headers={**lms, "Content-Type": content_type}).status_code == 400
    )
    response = client.post("/xapi/statements", data=body, headers={**lms, "Content-Type": content_type})
    assert response.status_code == 200, response.json
    back = client.get("/xapi/statements", query_string={"statementId": sent["id"], "attachments": "true"}, headers=lms)
    assert back.mimetype == "multipart/mixed"
    parts = multipart.parse(back.data, back.headers["Content-Type"])
    assert json.loads(parts[0].body)["id"] == sent["id"]
    assert parts[1].body == data and parts[1].headers["x-experience-api-hash"] == sha2


def test_other_content_types_are_refused(client: FlaskClient, lms: dict[str, str]) -> None:
    response = client.post(
        "/xapi/statements",
        data=json.dumps(statement()),
        headers={**lms, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400


def _signed(sent: dict[str, Any], algorithm: str, *, signed_over: dict[str, Any] | None = None) -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lms.example.org")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    jws = (
        PyJWS()
        .encode(json.dumps(signed_over or sent).encode(), key, algorithm=algorithm, headers={"x5c": [x5c]})
        .encode()
    )
    with_signature = {
        **sent,
        "attachments": [{
            "usageType": SIGNATURE, "display": {"en-US": "signature"}, "contentType": "application/octet-stream",
            "length": len(jws), "sha2": hashlib.sha256(jws).hexdigest(),
        }],
    }  # fmt: skip
    return _multipart(with_signature, [("application/octet-stream", jws)])


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_signed_statements_are_verified(client: FlaskClient, lms: dict[str, str], algorithm: str) -> None:
    sent = statement()
    body, content_type = _signed(sent, algorithm)
    response = client.post("/xapi/statements", data=body, headers={**lms, "Content-Type": content_type})
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("algorithm", "other"),
    [("HS256", False), ("RS256", True)],
)
def test_bad_signatures_are_refused(client: FlaskClient, lms: dict[str, str], algorithm: str, other: bool) -> None:
    sent = statement()
    if algorithm == "HS256":
        jws = (
            PyJWS()
            .encode(json.dumps(sent).encode(), "a-shared-secret-of-more-than-32-bytes", algorithm="HS256")
            .encode()
        )
        with_signature = {**sent, "attachments": [{
            "usageType": SIGNATURE, "display": {"en-US": "signature"}, "contentType": "application/octet-stream",
            "length": len(jws), "sha2": hashlib.sha256(jws).hexdigest(),
        }]}  # fmt: skip
        body, content_type = _multipart(with_signature, [("application/octet-stream", jws)])
    else:
        body, content_type = _signed(sent, algorithm, signed_over={**sent, "verb": {"id": "http://example.org/x"}})
    response = client.post("/xapi/statements", data=body, headers={**lms, "Content-Type": content_type})
    assert response.status_code == 400, response.json
    assert client.get("/xapi/statements", query_string={"statementId": sent["id"]}, headers=lms).status_code == 404


def test_the_alternate_request_syntax(client: FlaskClient, lms: dict[str, str]) -> None:
    sent = statement()
    form = {"statementId": sent["id"], "content": json.dumps(sent), **lms}
    put = client.post(
        "/xapi/statements?method=PUT",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert put.status_code == 204, put.json
    got = client.post(
        "/xapi/statements?method=GET",
        data=urlencode({"statementId": sent["id"], **lms}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert got.status_code == 200 and got.json["id"] == sent["id"]
    extra = client.post(
        f"/xapi/statements?method=PUT&statementId={sent['id']}",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert extra.status_code == 400


def test_index_entries_name_everyone_and_everything_a_statement_relates() -> None:
    import xapi
    from capcourse.lrs.retrieval import index_entries

    def key(name: str) -> str:
        return xapi.agent_key({"mbox": f"mailto:{name}@example.org"})

    group = {"objectType": "Group", "mbox": "mailto:g@example.org", "member": [{"mbox": "mailto:m@example.org"}, "x"]}
    anonymous = {"objectType": "Group", "member": [{"mbox": "mailto:a@example.org"}, {"objectType": "Group"}]}
    long_iri = "http://example.org/" + "a" * 300
    statement: dict[str, Any] = {
        "actor": group,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {
            "objectType": "SubStatement",
            "actor": anonymous,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
            "object": {"id": "http://example.org/inner"},
            "context": {"instructor": {"mbox": "mailto:i@example.org"}},
        },
        "context": {
            "team": anonymous,
            "contextActivities": {"parent": {"id": "http://example.org/p"}, "other": [{"id": long_iri}, "junk"]},
        },
        "authority": {"mbox": "mailto:auth@example.org"},
    }

    assert index_entries(statement) == {
        ("agent", key("g")),
        ("related_agent", key("m")),
        ("related_agent", key("a")),
        ("related_activity", "http://example.org/inner"),
        ("related_agent", key("i")),
        ("related_activity", "http://example.org/p"),
        ("related_activity", "sha256:" + hashlib.sha256(long_iri.encode()).hexdigest()),
        ("related_agent", key("auth")),
    }
    reference = {"actor": {"mbox": "mailto:x@example.org"}, "object": {"objectType": "StatementRef", "id": "ABCD"}}
    assert index_entries(reference) == {("agent", key("x")), ("target", "abcd")}
