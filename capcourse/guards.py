"""Request-input guards: what no endpoint may be handed, refused once for all of them.

Bad input gets a 400 naming the problem, never a 500 from deep inside a parser
or the database. The guards are installed on every request, not per endpoint:

- **JSON** is read through :func:`loads` (the app's JSON provider and the API's
  argument parser both use it): nesting deeper than :data:`MAX_DEPTH`, NUL
  characters in strings or keys (PostgreSQL text cannot hold them) and integers
  beyond 64 bits are refused with the JSON path of the first offender; NaN,
  Infinity and numbers beyond a double (``1e400``) are refused as no JSON value. Views
  that read a body themselves call :func:`loads` too (or ``request.get_json()``).
- **Query strings, forms and URL path segments** with NUL characters are refused
  before any view runs; ``<int:…>`` URL segments beyond 64 bits match no route (404).
- **Integer arguments** parsed by flask-smorest are at most 64 bits (400), and
  the OpenAPI document says so (``minimum``/``maximum`` on every integer).
- **Database value errors** that still slip through (a value the column cannot
  hold) answer 400 instead of 500, as a last line; the guards above name the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any

import flask_smorest
import flask_smorest.pagination
import marshmallow as ma
import orjson
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import IntegerConverter

from capcourse.errors import BadRequestError

#: Deepest nesting of arrays and objects a JSON body may have. xAPI statements,
#: CASE packages and SCORM commits need well under 20; 64 leaves room and stays
#: far below the interpreter's recursion limit.
MAX_DEPTH = 64
#: The range of a signed 64-bit integer: what every integer column holds.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: 19 digits or more: the only integers that may not fit in 64 bits. Found by translating every digit
#: to "0" and everything else to a space, then looking for the run: a twentieth of a regular expression's time.
_LONG_RUN = b"0" * 19
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))


def _has_long_digits(data: bytes | bytearray) -> bool:
    """Whether the JSON text ``data`` has a run of 19 digits or more anywhere (in strings too)."""
    return data.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) != -1


def _path(parts: tuple[str | int, ...]) -> str:
    """A JSON path such as ``$.statements[3].actor.name``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


#: Where a node sits: its parent's link and its key or index (None at the top), spelled out by :func:`_parts`.
_Link = tuple[Any, str | int] | None


def _walk(value: Any, check_ints: bool) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, problem) of every offending node, iteratively (no recursion on hostile input).

    A node carries a link to its parent, and its path is spelled out only for a problem: nearly
    every value has none, and copying a path for every node cost a batch of 100 completions, whose
    parsed arguments are walked so, 1% of its instructions (bench/instructions.py: 144.4 against
    142.7 million).
    """
    stack: list[tuple[Any, int, _Link]] = [(value, 0, None)]
    while stack:
        node, depth, link = stack.pop()
        if isinstance(node, dict | list) and depth >= MAX_DEPTH:
            yield _parts(link), f"Nested deeper than {MAX_DEPTH} levels."
            continue
        if isinstance(node, dict):
            for key, child in node.items():
                if "\x00" in key:
                    yield _parts(link), "A key holds a NUL character, which is not allowed."
                stack.append((child, depth + 1, (link, key)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1, (link, index)) for index, child in enumerate(node))
        elif isinstance(node, str):
            if "\x00" in node:
                yield _parts(link), "NUL characters are not allowed."
        elif check_ints and isinstance(node, int) and not isinstance(node, bool) and not INT64_MIN <= node <= INT64_MAX:
            yield _parts(link), "Integers must fit in 64 bits."


def _parts(link: _Link) -> tuple[str | int, ...]:
    """The keys and indexes from the top to a node, a NUL in a key written as ``\\u0000``."""
    parts: list[str | int] = []
    while link is not None:
        link, part = link
        parts.append(part.replace("\x00", "\\u0000") if isinstance(part, str) else part)
    return tuple(reversed(parts))


def check_value(value: Any, *, check_ints: bool = True) -> None:
    """Refuse a decoded JSON value that is too deep, holds NUL or (``check_ints``) a huge integer.

    :raises BadRequestError: naming the JSON path of the first problem.
    """
    for parts, problem in _walk(value, check_ints):
        raise BadRequestError(
            f"The JSON body is not acceptable at {_path(parts)}: {problem}", {_path(parts): [problem]}
        )


#: Every byte but the quote, the backslash and the brackets: deleted before the depth is counted.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"\\[]{}')
#: A JSON string once its escaped quotes and backslashes are gone: quote, anything but a quote, quote.
_BARE_STRING = re.compile(rb'"[^"]*"')
#: +1 for an opening bracket, -1 for a closing one, by byte.
_STEP = [1 if b in b"[{" else -1 for b in range(256)]


def _bracket_depth_may_exceed(data: bytes | bytearray) -> bool:
    """Whether the well-formed JSON text ``data`` (UTF-8) nests deeper than :data:`MAX_DEPTH`.

    Counted on the brackets outside strings, in C: escaped backslashes and quotes
    are dropped, then every byte but quotes and brackets, then the (now plain)
    strings, and the brackets left are summed. No byte of a multi-byte UTF-8
    character is ASCII, so none is mistaken for a quote or a bracket. A batch of
    statements needs no walk of its values.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False  # fewer brackets than the limit cannot nest deeper
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two quotes side by side (an empty string, or one string's end and the next one's start) hold no
    # bracket: dropping them changes no bracket's side. Strings with brackets in them are all that is left.
    structure = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _BARE_STRING.sub(b"", structure)
    return bool(structure) and max(accumulate(map(_STEP.__getitem__, structure))) > MAX_DEPTH


def _no_constant(name: str) -> Any:
    # Python's decoder takes NaN and Infinity, which JSON (RFC 8259) has not: PostgreSQL would refuse
    # them late, and SQLite would keep text that no other JSON reader takes.
    raise ValueError(f"{name} is no JSON value (numbers must be finite)")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        # 1e400 would become Infinity, which no JSON writer can write back (orjson writes null).
        raise ValueError(f"{text} is beyond the range of a double-precision number")
    return number


def _decode(text: str, data: str | bytes | bytearray, long_digits: bool) -> Any:
    """``text`` decoded: by orjson (about twice as fast) where it gives what the standard library gives.

    orjson refuses what Python's decoder takes and this module names (NaN, lone
    surrogates, nesting past its limit, numbers beyond a double) and reads integers
    beyond 64 bits as floats: those bodies (``long_digits``), and any it refuses,
    are decoded by the standard library, so every value and message stays as it was.
    """
    if not long_digits:
        try:
            return orjson.loads(data)
        except (orjson.JSONDecodeError, UnicodeError):
            pass
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def loads(data: str | bytes | bytearray, *, check_ints: bool = True) -> Any:
    """Decode a JSON request body, refusing what no endpoint accepts.

    :param check_ints: refuse integers beyond 64 bits (xAPI keeps statements as
        sent and may pass ``False``; everything stored in an integer column needs ``True``).
    :raises BadRequestError: malformed JSON, or a problem :func:`check_value` names.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequestError(f"The body is not UTF-8: {error.reason} at byte {error.start}.") from error
    else:
        text = data
    raw = data if isinstance(data, bytes | bytearray) else text.encode("utf-8", "surrogatepass")
    long_digits = _has_long_digits(raw)
    try:
        value = _decode(text, data, long_digits)
    except RecursionError as error:
        raise BadRequestError(
            f"The JSON body is nested deeper than {MAX_DEPTH} levels.", {"$": ["Nested too deeply."]}
        ) from error
    except ValueError as error:
        raise BadRequestError(f"The body is not JSON: {error}.") from error
    # A NUL arrives escaped (JSON forbids raw control characters in strings), so
    # a body without "\u0000" (or a huge number, or many brackets) needs no walk.
    if "\\u0000" in text or _bracket_depth_may_exceed(raw) or (check_ints and long_digits):
        check_value(value, check_ints=check_ints)
    return value


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`loads` for decoding: ``request.get_json()`` is guarded."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class GuardedParser(FlaskParser):
    """flask-smorest's argument parser, reading JSON through :func:`loads` and bounding integers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        # A view's arguments name a schema class, and webargs made an instance of it (and of its
        # nested schemas) for every request: 15% of the instructions of a request bringing one
        # completion (bench/instructions.py: 7.04 against 5.97 million). A schema keeps nothing
        # of what it loads, so one instance serves every request and thread.
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return ma.missing
        return loads(req.get_data(cache=True))

    def parse(self, argmap: Any, req: Any = None, **kwargs: Any) -> Any:
        parsed = super().parse(argmap, req, **kwargs)
        location = kwargs.get("location") or "json"
        for parts, problem in _walk(_plain(parsed), True):
            name = ".".join(str(p) for p in parts) or location
            raise BadRequestError(f"{name} is out of range: {problem}", {location: {name: [problem]}})
        return parsed


def _plain(value: Any) -> Any:
    """Parsed arguments as dicts and lists (webargs may hand back objects, e.g. page parameters)."""
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: v for k, v in vars(value).items() if isinstance(v, int | str | list | dict)}
    return value


class Int64Converter(IntegerConverter):
    """``<int:…>`` in URLs: beyond 64 bits no route matches (404), rather than an overflow in the database."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def _refuse_nul() -> None:
    """No NUL character in a query string, a URL-encoded form or a path segment."""
    sources: list[tuple[str, Any]] = [("query", request.args)]
    if request.mimetype == "application/x-www-form-urlencoded":
        # Read and cache the raw body first, so views that read it themselves still can.
        raw = request.get_data(cache=True)
        if b"%00" in raw or b"\x00" in raw:
            sources.append(("form", request.form))
    for location, values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                label = name.replace("\x00", "\\u0000")
                raise BadRequestError(
                    f"The {location} parameter {label!r} holds a NUL character, which is not allowed.",
                    {location: {label: ["NUL characters are not allowed."]}},
                )
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            raise BadRequestError(
                f"The path segment {name!r} holds a NUL character, which is not allowed.",
                {"path": {name: ["NUL characters are not allowed."]}},
            )


def _integer_bounds(converter: Any, field: Any, ret: dict[str, Any]) -> dict[str, Any]:
    """apispec attribute function: every integer the API reads or writes says it is 64-bit."""
    if isinstance(field, ma.fields.Integer):
        extra: dict[str, Any] = {}
        if "maximum" not in ret:
            extra["maximum"] = INT64_MAX
        if "minimum" not in ret:
            extra["minimum"] = INT64_MIN
        return extra
    return {}


# flask-smorest binds its parser when views are decorated, at import: install it
# on the Blueprint class before any view module is imported (capcourse/__init__ imports this).
flask_smorest.Blueprint.ARGUMENTS_PARSER = GuardedParser()
flask_smorest.Blueprint.PAGINATION_ARGUMENTS_PARSER = GuardedParser()
# X-Pagination carries a JSON object: OpenAPI describes such a header with
# ``content``, not ``schema`` (which means a comma-separated key,value list), so
# clients and schemathesis read it as what it is. Registered at Api.init_app.
_pagination_header = flask_smorest.pagination.PAGINATION_HEADER
_pagination_header["content"] = {"application/json": {"schema": _pagination_header.pop("schema")}}


def init_app(app: Flask, api: flask_smorest.Api) -> None:
    """Install the guards on ``app`` (after flask-smorest's ``Api`` is initialised)."""
    app.json = GuardedJSONProvider(app)
    app.url_map.converters["int"] = Int64Converter
    app.before_request(_refuse_nul)
    api.ma_plugin.converter.add_attribute_function(_integer_bounds)
