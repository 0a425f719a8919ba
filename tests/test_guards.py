"""Input no endpoint may be handed is refused with a 400 naming it, never a 500."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import flask_smorest
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from capcourse import guards
from capcourse.accounts.models import Role
from capcourse.errors import BadRequestError
from capcourse.identifiers import framework_id
from tests.conftest import ScratchDatabase, make_app
from tests.factories import api_key, bearer, programme

pytestmark = pytest.mark.db

FRONTLINE = framework_id("frontline-lcf-pathway-1")
LEGEND = f"/api/v1/frameworks/{FRONTLINE}/icon-legend"
HUGE = str(2**64)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_loads_refuses_depth_nul_and_huge_integers_naming_the_path() -> None:
    assert guards.loads(nested(guards.MAX_DEPTH)) is not None
    with pytest.raises(BadRequestError) as deep:
        guards.loads(nested(guards.MAX_DEPTH + 1))
    assert "Nested deeper" in deep.value.message
    with pytest.raises(BadRequestError) as deeper:  # past the interpreter's own limit
        guards.loads(nested(200_000))
    assert deeper.value.errors == {"$": ["Nested too deeply."]}
    with pytest.raises(BadRequestError) as nul:
        guards.loads('{"actor": {"name": "a\\u0000b"}}')
    assert nul.value.errors == {"$.actor.name": ["NUL characters are not allowed."]}
    with pytest.raises(BadRequestError) as key:
        guards.loads('{"a\\u0000": 1}')
    assert "key" in key.value.message
    with pytest.raises(BadRequestError) as huge:
        guards.loads(f'{{"items": [1, {HUGE}]}}')
    assert huge.value.errors == {"$.items[1]": ["Integers must fit in 64 bits."]}
    assert guards.loads(f'{{"items": [1, {HUGE}]}}', check_ints=False) == {"items": [1, 2**64]}
    assert guards.loads(f'"{HUGE}"') == HUGE  # digits in a string are text
    with pytest.raises(BadRequestError):
        guards.loads(b"\xff")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_refuses_what_python_decodes_but_json_has_not(constant: str) -> None:
    with pytest.raises(BadRequestError) as error:
        guards.loads(f'{{"result": {{"extensions": {{"https://x.example/e": {constant}}}}}}}')
    assert f"{constant} is no JSON value" in error.value.message
    assert guards.loads('"NaN"') == "NaN"  # text is text


def test_depth_is_counted_on_brackets_outside_strings() -> None:
    # Many brackets in all, shallow: a batch of statements is not walked, and passes.
    wide = "[" + ",".join('{"a": [1, {"b": []}]}' for _ in range(200)) + "]"
    assert len(guards.loads(wide)) == 200
    # Brackets and escaped quotes inside strings are text, not nesting.
    text = '"' + '\\"[{' * (guards.MAX_DEPTH + 5) + '"'
    assert guards.loads("[" + text + "]") == ['"[{' * (guards.MAX_DEPTH + 5)]
    # One deep value among many shallow ones is still found, with its path.
    deep = "[" + ",".join(["[]"] * 100 + [nested(guards.MAX_DEPTH)]) + "]"
    with pytest.raises(BadRequestError) as error:
        guards.loads(deep)
    assert "Nested deeper" in error.value.message


def test_numbers_beyond_a_double_are_refused_not_kept_as_infinity() -> None:
    for body in ("1e400", '{"score": -1.5e309}', "[0, 2E+999]"):
        with pytest.raises(BadRequestError) as error:
            guards.loads(body)
        assert "beyond the range of a double-precision number" in error.value.message
    assert guards.loads("[1.7976931348623157e308, 5e-324, 1e-400]") == [1.7976931348623157e308, 5e-324, 0.0]


def _reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


#: Strings that could fool a scan of the text: quotes, backslashes, brackets, digits, non-ASCII, escapes.
_TRICKY = st.text(alphabet=st.sampled_from(list('"\\[]{}0123456789a é\u2028\n\x01\ud800')), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TRICKY
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, ascii_only=st.booleans(), as_bytes=st.booleans())
def test_loads_decodes_as_the_standard_library_and_counts_depth_as_a_walk(
    value: Any, ascii_only: bool, as_bytes: bool
) -> None:
    """orjson where it agrees, the standard library where it does not: the same value, types and key order."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    if as_bytes:
        try:
            body: str | bytes = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: sent escaped instead
            body = json.dumps(value).encode()
    else:
        body = text
    expected = json.loads(body)
    if _reference_depth(expected) > guards.MAX_DEPTH:
        with pytest.raises(BadRequestError):
            guards.loads(body, check_ints=False)
        return
    if "\x00" in json.dumps(expected, ensure_ascii=False):
        return  # NUL is refused (above)
    got = guards.loads(body, check_ints=False)
    assert json.dumps(got) == json.dumps(expected)
    assert repr(got) == repr(expected)  # ints stay ints, floats floats, keys in order


def _reference_walk(value: Any, check_ints: bool, parts: tuple[str | int, ...] = ()) -> list[tuple[Any, str]]:
    """The walk's (path, problem) list, recursively and in its order (last child first), paths made as it goes."""
    if isinstance(value, dict | list) and len(parts) >= guards.MAX_DEPTH:
        return [(parts, f"Nested deeper than {guards.MAX_DEPTH} levels.")]
    found: list[tuple[Any, str]] = []
    if isinstance(value, dict):
        found += [(parts, "A key holds a NUL character, which is not allowed.") for k in value if "\x00" in k]
        for k, v in reversed(value.items()):
            found += _reference_walk(v, check_ints, (*parts, k.replace("\x00", "\\u0000")))
    elif isinstance(value, list):
        for i in reversed(range(len(value))):
            found += _reference_walk(value[i], check_ints, (*parts, i))
    elif isinstance(value, str) and "\x00" in value:
        found.append((parts, "NUL characters are not allowed."))
    elif check_ints and type(value) is int and not guards.INT64_MIN <= value <= guards.INT64_MAX:
        found.append((parts, "Integers must fit in 64 bits."))
    return found


_WITH_NUL = st.text(alphabet=st.sampled_from(list("ab\x00")), max_size=4)
_NESTING = st.recursive(
    _SCALARS | _WITH_NUL,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY | _WITH_NUL, inner, max_size=3),
    max_leaves=guards.MAX_DEPTH * 2,
)


@settings(max_examples=400, deadline=None)
@given(value=_NESTING, extra_depth=st.integers(0, guards.MAX_DEPTH + 2), check_ints=st.booleans())
def test_the_walk_finds_and_names_what_a_recursive_walk_does(value: Any, extra_depth: int, check_ints: bool) -> None:
    """The walk, its paths spelled out only for problems, finds and names what a plain recursive one does."""
    for _ in range(extra_depth):
        value = [value]
    expected = _reference_walk(value, check_ints)
    assert list(guards._walk(value, check_ints)) == expected
    assert (next(guards._walk(value, check_ints), None) is not None) is bool(expected)


@given(depth=st.integers(min_value=1, max_value=guards.MAX_DEPTH + 3), filler=_TRICKY, width=st.integers(0, 30))
def test_depth_check_agrees_with_a_walk_whatever_the_strings_hold(depth: int, filler: str, width: int) -> None:
    value: Any = filler
    for level in range(depth):
        value = [value, filler] if level % 2 else {filler: value, "k": [filler] * (width % 3)}
    body = json.dumps([[filler] * width, value, {"s": filler}])
    expected = _reference_depth(json.loads(body))
    assert guards._bracket_depth_may_exceed(body.encode("utf-8", "surrogatepass")) is (expected > guards.MAX_DEPTH)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (nested(100), "$"),
        ('{"icon": "x\\u0000", "areas": [], "rationale": "r"}', "$.icon"),
        ('{"icon": "x", "areas": [], "rationale": "r", "n": ' + HUGE + "}", "$.n"),
    ],
)
def test_json_bodies_of_every_api_endpoint_are_guarded(
    client: FlaskClient, session: Session, body: str, field: str
) -> None:
    _, key = api_key(session, Role.ADMIN)
    response = client.put(LEGEND, data=body, content_type="application/json", headers=bearer(key))
    assert response.status_code == 400, response.json
    assert field in response.json["errors"] or field == "$"
    assert response.json["code"] == 400


def test_get_json_is_guarded(app: Flask) -> None:
    with app.test_request_context(data=nested(1000), content_type="application/json"):
        from flask import request

        with pytest.raises(BadRequestError):
            request.get_json()


def test_nul_in_query_form_and_path_is_400(client: FlaskClient) -> None:
    response = client.get("/api/v1/items?q=lead%00er")
    assert response.status_code == 400
    assert response.json["errors"] == {"query": {"q": ["NUL characters are not allowed."]}}
    response = client.get("/ims/case/v1p1/CFItems/abc%00def")
    assert response.status_code == 400
    response = client.post("/login", data={"email": "a\x00b@example.org", "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize("query", [f"page={HUGE}", f"page_size={HUGE}", f"q=x&page={'9' * 40}"])
def test_integer_query_arguments_beyond_64_bits_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/v1/items?{query}")
    assert response.status_code in (400, 422), response.json
    assert response.status_code != 500


def test_a_page_far_past_the_end_is_empty_not_an_overflow(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/items?page={2**63 - 1}&page_size=100")
    assert response.status_code == 200
    assert response.json == []


@pytest.mark.parametrize("offset", [HUGE, str(2**63 - 1)])
def test_case_provider_offsets_never_overflow(client: FlaskClient, offset: str) -> None:
    response = client.get(f"/ims/case/v1p1/CFDocuments?offset={offset}")
    assert response.status_code in (200, 400, 404)  # a page past the end may be empty or unknown, never a 500
    if response.status_code != 200:
        assert response.json["imsx_codeMajor"] == "failure"


def test_int_path_segments_beyond_64_bits_match_no_route(client: FlaskClient, session: Session) -> None:
    _, key = api_key(session, Role.ADMIN)
    response = client.get(
        f"/api/v1/programmes/{FRONTLINE}/learners/{HUGE}/evidence?framework_id={FRONTLINE}", headers=bearer(key)
    )
    assert response.status_code == 404


def test_openapi_bounds_every_integer_the_api_reads(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    unbounded: list[str] = []

    def visit(node: object, where: str) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            integer = kind == "integer" or (isinstance(kind, list) and "integer" in kind)
            if integer and ("maximum" not in node or "minimum" not in node):
                unbounded.append(where)
            for key, value in node.items():
                # Only what the API reads: flask-smorest's own response schemas are written, not read.
                if key != "responses" and key not in ("Error", "PaginationMetadata"):
                    visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}/{index}")

    visit(spec, "#")
    assert unbounded == []


def test_timestamps_read_back_carry_their_offset(client: FlaskClient, session: Session) -> None:
    _, key = api_key(session, Role.ADMIN)
    course_programme = programme(session)
    created = client.post(
        f"/api/v1/programmes/{course_programme.id}/cohorts", json={"name": "Autumn"}, headers=bearer(key)
    )
    assert created.status_code == 201
    session.expire_all()
    read = client.get(f"/api/v1/cohorts/{created.json['id']}", headers=bearer(key))
    stamp = datetime.fromisoformat(read.json["created_at"])
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_values_the_database_cannot_hold_are_400_as_a_last_line(database: ScratchDatabase) -> None:
    app = make_app(database, PROPAGATE_EXCEPTIONS=False)

    @app.get("/api/v1/_overflow")
    def overflow() -> str:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    @app.get("/api/v1/_deep")
    def deep() -> str:
        raise RecursionError

    assert app.test_client().get("/api/v1/_overflow").status_code == 400
    assert app.test_client().get("/api/v1/_deep").status_code == 400


def test_an_argument_schema_is_made_once_and_keeps_nothing_between_requests(
    client: FlaskClient, session: Session
) -> None:
    from capcourse.records.schemas import CompletionBatchSchema

    parser = flask_smorest.Blueprint.ARGUMENTS_PARSER
    made = parser._get_schema(CompletionBatchSchema, None)
    assert isinstance(made, CompletionBatchSchema) and parser._get_schema(CompletionBatchSchema, None) is made
    headers = bearer(api_key(session, Role.INTEGRATION)[1])
    good = {
        "learner": {"email": "ada@example.org"},
        "activity": "https://lms.example.org/unmapped",
        "outcome": "completed",
        "timestamp": "2026-11-24T09:30:00Z",
    }

    refused = client.post("/api/v1/completions", json={"completions": [good, {"activity": 7}]}, headers=headers)
    kept = client.post("/api/v1/completions", json={"completions": [good]}, headers=headers)

    assert refused.status_code == 422 and "1" in json.dumps(refused.json)
    assert kept.status_code == 200, kept.json
    assert [r["status"] for r in kept.json["results"]] == ["pending"]
