"""Step 1 of an import: reading a CASE package leniently, and saying what was normalised.

Real packages are looser than CASE 1.1. What a consumer can still make sense
of is read and normalised, and every normalisation is counted by kind (with
the JSON paths of the first examples) in :class:`Notes`, which the import
report shows:

- ``null`` anywhere is read as absent, and a required property that is
  missing or ``null`` gets a default (a ``urn:uuid:`` URI, the document's
  ``lastChangeDateTime``, the title for a missing description …);
- numbers and booleans sent as strings are read as numbers and booleans, and
  numbers where CASE wants a string as strings;
- identifiers need not be RFC 4122 UUIDs, nor UUIDs at all: an identifier
  that is no UUID is keyed by a UUID 5 derived from it and exported as it came;
- an optional property whose value CASE does not allow is left out;
- properties CASE does not define are kept, and exported where they were.

Only what cannot be represented refuses the package (not JSON, no
CFDocument, an item without an identifier, an association without a type or
an end …), with the JSON path of each problem.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from marshmallow import Schema, ValidationError, validate
from marshmallow import fields as ma_fields

from capcourse.case.schemas import (
    DEFINITION_SCHEMAS,
    RFC4122_PATTERN,
    UUID_PATTERN,
    CaseDate,
    CaseDateTime,
    CaseIdentifier,
    CaseNumber,
    CFPackageSchema,
    StringList,
    format_datetime,
    parse_datetime,
)
from capcourse.errors import InvalidInputError
from capcourse.frameworks.models import ASSOCIATION_TYPES
from capcourse.identifiers import NAMESPACE

#: How many problems a refusal lists, and how many examples a normalisation shows.
MAX_PROBLEMS = 20
MAX_EXAMPLES = 5
#: The date a package without any ``lastChangeDateTime`` is read as having (the same on every install).
EPOCH = "1970-01-01T00:00:00+00:00"

#: Each kind of normalisation, as the report explains it.
KINDS: dict[str, str] = {
    "null": "null read as absent (CASE has no nulls)",
    "default": "required property missing or null: a default was filled in",
    "number_from_string": "number sent as a string: read as a number",
    "boolean_from_string": "boolean sent as a string: read as a boolean",
    "string_from_number": "number where CASE wants a string: read as a string",
    "list_from_string": "one string where CASE 1.1 has a list: read as a list of one",
    "date_from_date_time": "date-time where CASE 1.1 has a date: cut to its date",
    "date_reformatted": "date written M/D/YYYY: read as YYYY-MM-DD",
    "association_type_spelling": "association type spelt otherwise (RelatedTo, ischildof): read as CASE spells it",
    "invalid_dropped": "optional property with a value CASE does not allow: left out",
    "derived_again": "CASE 1.0 link to the package or document: derived again on export",
    "empty_definitions": "empty CFDefinitions list (CASE 1.0): read as no definitions",
    "identifier_not_uuid": "identifier that is no UUID: keyed by a UUID 5 derived from it, exported as it came",
    "identifier_not_rfc4122": "identifier not RFC 4122 (version or variant): kept as it came (the CASE 1.1 OpenAPI "
    "wants RFC 4122)",
    "tree_cycle": "isChildOf link that would make an item its own ancestor: kept as a plain association, "
    "outside the tree",
    "unknown_property": "property CASE does not define: kept and exported where it was (so the export is only as "
    "valid as the package was); a strict export (and the provider API) moves it into the object's extensions",
}


class PackageError(InvalidInputError):
    """The package cannot be imported; ``errors`` maps the JSON path of each of the first problems to its message."""


@dataclass
class Note:
    kind: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Notes:
    """Normalisations by kind, with the JSON paths (and details) of the first examples."""

    kinds: dict[str, Note] = field(default_factory=dict)

    def add(self, kind: str, parts: Sequence[str | int], detail: str | None = None) -> None:
        note = self.kinds.setdefault(kind, Note(kind))
        note.count += 1
        if len(note.examples) < MAX_EXAMPLES:
            path = json_path(parts)
            note.examples.append(f"{path}: {detail}" if detail else path)

    def count(self, kind: str) -> int:
        return self.kinds[kind].count if kind in self.kinds else 0

    def report(self) -> list[dict[str, Any]]:
        """As :class:`~capcourse.case.schemas.NormalisationSchema` describes them, in :data:`KINDS` order."""
        order = list(KINDS)
        return [
            {"kind": n.kind, "description": KINDS[n.kind], "count": n.count, "examples": list(n.examples)}
            for n in sorted(self.kinds.values(), key=lambda n: order.index(n.kind))
        ]

    def warnings(self) -> list[str]:
        """One line per kind, for the command line and the page."""
        return [
            f"{n['count']} × {n['description']} (e.g. {'; '.join(n['examples'][:2])})."
            for n in self.report()
            if n["kind"] != "unknown_property"
        ] + [
            f"{n['count']} × {n['description']} (e.g. {'; '.join(n['examples'][:2])})."
            for n in self.report()
            if n["kind"] == "unknown_property"
        ]


@dataclass
class ParsedPackage:
    """A package read and normalised; values loaded (datetimes aware, identifiers as they came)."""

    document: dict[str, Any]
    items: list[dict[str, Any]]
    associations: list[dict[str, Any]]
    definitions: dict[str, list[dict[str, Any]]]
    rubrics: list[dict[str, Any]]
    definitions_extensions: dict[str, Any] | None
    package_extensions: dict[str, Any] | None
    #: Properties CASE does not define on the package and on its CFDefinitions, kept as they came.
    package_properties: dict[str, Any] | None
    definitions_properties: dict[str, Any] | None
    notes: Notes
    #: SHA-256 of the package as read, so a confirmation matches the package previewed.
    digest: str


# Whole packages in memory.

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a whole package is read, planned, written or built.

    A package of 20,000 items is a few million small dicts and strings, none
    of them in a cycle; every collection the allocations set off walks all of
    them again, which took 40 % of an import. Reference counting still frees
    everything as usual. Nested and concurrent pauses end when the last one does.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


# Identifiers.


@functools.lru_cache(maxsize=262_144)
def case_id(text: str) -> uuid.UUID:
    """The UUID capcourse keys a CASE identifier by: the UUID it spells, or a UUID 5 derived from it.

    Cached: a package names each item in several associations, and UUID() is slow.
    """
    if UUID_PATTERN.match(text):
        return uuid.UUID(text)
    return uuid.uuid5(NAMESPACE, f"case-identifier:{text}")


def kept_identifier(text: str) -> dict[str, str]:
    """``{"identifier": text}`` when the export's ``str(case_id(text))`` would not give it back as it came."""
    return {} if uuid_text(text) == text else {"identifier": text}


@functools.lru_cache(maxsize=262_144)
def uuid_text(text: str) -> str:
    """``str(case_id(text))``: how the export writes the identifier (``text`` itself when it spells the UUID so).

    Cached by the text, like case_id: str(UUID) is slow, and a package names each identifier more than once.
    """
    found = str(case_id(text))
    # The package's own string when it is the same, so comparing them is comparing two references.
    return text if found == text else found


# Paths and refusals.


def json_path(parts: Sequence[str | int]) -> str:
    """``("CFItems", 3, "identifier")`` → ``$.CFItems[3].identifier``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_SECTIONS = ("$", "CFDocument", "CFItems", "CFAssociations", "CFDefinitions", "CFRubrics", "extensions")


def _path_key(path: str) -> tuple[Any, ...]:
    # Problems are listed in the package's order: sections as CASE orders them, numbers as numbers.
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    section = _SECTIONS.index(parts[1]) if len(parts) > 1 and parts[1] in _SECTIONS else len(_SECTIONS)
    return (section, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts[2:]))


def refuse(problems: list[tuple[str, str]], summary: str = "The package cannot be imported") -> PackageError:
    """A :class:`PackageError` listing the first problems, in document order."""
    ordered = sorted(problems, key=lambda p: _path_key(p[0]))
    errors: dict[str, list[str]] = {}
    for path, message in ordered:
        if len(errors) >= MAX_PROBLEMS and path not in errors:
            break
        errors.setdefault(path, []).append(message)
    count = len(problems)
    shown = f"; the first {len(errors)} are listed" if count > len(errors) else ""
    noun = "problem" if count == 1 else "problems"
    return PackageError(f"{summary}: {count} {noun}{shown}. Nothing was imported.", errors)


def _error_parts(messages: Any, parts: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(messages, dict):
        for key, inner in messages.items():
            if key == "_schema":
                yield from _error_parts(inner, parts)
            else:
                yield from _error_parts(inner, (*parts, key))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            yield parts, " ".join(messages)
        else:
            for inner in messages:
                yield from _error_parts(inner, parts)
    else:
        yield parts, str(messages)


def decode_package(raw: bytes | bytearray) -> Any:
    """The JSON value of ``raw``.

    orjson reads it (three to four times faster than :func:`json.loads`); what
    orjson refuses goes to :func:`json.loads`, which takes a little more
    (UTF-16 and UTF-32 with a byte order mark, lone surrogates, integers past
    64 bits) and words the refusal (line and column).

    :raises PackageError: not JSON, with the line and column of the mistake.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except UnicodeDecodeError as error:
        raise refuse([("$", f"Not UTF-8 text (byte {error.start}).")], "The package is not JSON") from error
    except json.JSONDecodeError as error:
        raise refuse(
            [("$", f"{error.msg} at line {error.lineno}, column {error.colno}.")], "The package is not valid JSON"
        ) from error
    except RecursionError as error:
        raise refuse([("$", "Nested too deeply.")], "The package is not valid JSON") from error


@functools.lru_cache(maxsize=4096)
def datetime_text(moment: datetime) -> str:
    """:func:`format_datetime`, remembered: a package's objects share a handful of change times."""
    return format_datetime(moment)


def flat_jsonable(obj: dict[str, Any]) -> dict[str, Any]:
    """A CFDocument, CFItem or CFAssociation as read, back to JSON.

    Their date-times are their own properties (links and extensions hold
    none), so only the top level needs looking at; :func:`jsonable` walks
    every depth.
    """
    return {k: datetime_text(v) if type(v) is datetime else v for k, v in obj.items()}


def jsonable(value: Any) -> Any:
    """Loaded values back to JSON: datetimes become RFC 3339 strings."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


# The lenient pass: guided by the schemas, before they validate.

_DECLARED: dict[type[Schema], dict[str, ma_fields.Field[Any]]] = {}


def declared(schema: Schema) -> dict[str, ma_fields.Field[Any]]:
    """The properties a CASE schema declares, by their CASE names (worked out once per class)."""
    key = type(schema)
    if key not in _DECLARED:
        _DECLARED[key] = {f.data_key or name: f for name, f in schema.fields.items()}
    return _DECLARED[key]


def _nested(field_: ma_fields.Field[Any]) -> Schema | None:
    if isinstance(field_, ma_fields.Nested):
        return field_.schema if isinstance(field_.schema, Schema) else None
    return None


@dataclass
class _Context:
    notes: Notes
    #: The document's lastChangeDateTime: what members without one get.
    last_change: str = EPOCH
    #: Whether a value is left that the schemas refuse: then they load the package, and say where.
    invalid: bool = False


def _link_default(name: str) -> Callable[[dict[str, Any], _Context], Any]:
    def fill(obj: dict[str, Any], context: _Context) -> Any:
        identifier, uri = obj.get("identifier"), obj.get("uri")
        if name == "title":
            return str(identifier or uri or "")
        if name == "identifier":
            return _uuid_in(str(uri)) if uri else None
        return f"urn:uuid:{identifier}" if identifier and UUID_PATTERN.match(str(identifier)) else identifier

    return fill


def _uuid_in(text: str) -> str:
    # Many tools end a URI with the identifier; otherwise a UUID 5 of the URI names the node.
    match = re.search(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text)
    return match.group(0) if match else str(uuid.uuid5(NAMESPACE, f"case-uri:{text}"))


def _urn(obj: dict[str, Any], context: _Context) -> Any:
    identifier = obj.get("identifier")
    if not isinstance(identifier, str) or not identifier:
        return None
    return f"urn:uuid:{identifier}" if UUID_PATTERN.match(identifier) else f"urn:case:{identifier}"


def _last_change(obj: dict[str, Any], context: _Context) -> Any:
    return context.last_change


def _title(obj: dict[str, Any], context: _Context) -> Any:
    return obj.get("description") or obj.get("identifier")


#: Defaults for required properties, by the schema's name. What has none here cannot be made up.
_DEFAULTS: dict[str, dict[str, Callable[[dict[str, Any], _Context], Any]]] = {
    "CFPackageDocumentSchema": {
        "uri": _urn,
        "creator": lambda obj, _: obj.get("publisher") or "Unknown",
        "title": lambda obj, _: f"Untitled framework {obj.get('identifier')}",
        "lastChangeDateTime": _last_change,
    },
    "CFPackageItemSchema": {
        "uri": _urn,
        "fullStatement": lambda obj, _: (
            obj.get("alternativeLabel") or obj.get("abbreviatedStatement") or obj.get("humanCodingScheme") or ""
        ),
        "lastChangeDateTime": _last_change,
    },
    "CFPackageAssociationSchema": {"uri": _urn, "lastChangeDateTime": _last_change},
    "LinkURISchema": {name: _link_default(name) for name in ("title", "identifier", "uri")},
    "LinkGenURISchema": {name: _link_default(name) for name in ("title", "identifier", "uri")},
    "CFItemTypeSchema": {"title": _title, "hierarchyCode": lambda obj, _: ""},
    "CFConceptSchema": {"title": _title, "hierarchyCode": lambda obj, _: ""},
    "CFSubjectSchema": {"title": _title, "hierarchyCode": lambda obj, _: ""},
    "CFLicenseSchema": {"title": _title, "licenseText": lambda obj, _: obj.get("title") or obj.get("uri") or ""},
    "CFAssociationGroupingSchema": {"title": _title},
}
#: Every definition, rubric, criterion and level has these too.
_COMMON = {"uri": _urn, "lastChangeDateTime": _last_change}

_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}
#: Some tools write 12/31/2024 (OpenSALT fixes the same up on import).
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
#: CASE's association types by their lower-case spelling, with and without ``is``.
_ASSOCIATION_SPELLINGS = {
    **{t.lower(): t for t in ASSOCIATION_TYPES},
    **{t[2:].lower(): t for t in ASSOCIATION_TYPES if t.startswith("is")},
}


def _number(text: str) -> int | float | None:
    try:
        return int(text.strip())
    except ValueError:
        pass
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _coerce(value: Any, field_: ma_fields.Field[Any], parts: tuple[str | int, ...], context: _Context) -> Any:
    notes = context.notes
    if isinstance(field_, StringList):
        if isinstance(value, str):
            notes.add("list_from_string", parts)
            return [value]
        if isinstance(value, list):
            kept = []
            for index, member in enumerate(value):
                if member is None:
                    notes.add("null", (*parts, index))
                else:
                    kept.append(_coerce(member, field_.inner, (*parts, index), context))
            return kept
        return value
    if isinstance(field_, ma_fields.List):
        if not isinstance(value, list):
            return value
        # A list of CASE objects (a package's items and associations): each read by lenient() directly.
        nested = _nested(field_.inner)
        profile = _profile(nested) if nested is not None else None
        kept = []
        for index, member in enumerate(value):
            if member is None:
                notes.add("null", (*parts, index))
            elif profile is not None and type(member) is dict:
                kept.append(_lenient(member, profile, (*parts, index), context))
            else:
                kept.append(_coerce(member, field_.inner, (*parts, index), context))
        return kept
    nested = _nested(field_)
    if nested is not None:
        return lenient(value, nested, parts, context) if isinstance(value, dict) else value
    if isinstance(value, bool):
        return value
    if isinstance(field_, ma_fields.Integer | CaseNumber) and isinstance(value, str):
        number = _number(value)
        if number is not None and (not isinstance(field_, ma_fields.Integer) or float(number).is_integer()):
            notes.add("number_from_string", parts, repr(value))
            return int(number) if isinstance(field_, ma_fields.Integer) else number
        return value
    if isinstance(field_, ma_fields.Integer) and isinstance(value, float) and value.is_integer():
        notes.add("number_from_string", parts, repr(value))
        return int(value)
    if isinstance(field_, ma_fields.Boolean) and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        notes.add("boolean_from_string", parts, repr(value))
        return value.strip().lower() in _TRUE
    if isinstance(field_, CaseDate) and isinstance(value, str):
        us_date = _US_DATE.match(value.strip())
        if us_date:
            month, day, year = (int(g) for g in us_date.groups())
            year += 2000 if year < 100 else 0
            notes.add("date_reformatted", parts, repr(value))
            return f"{year:04d}-{month:02d}-{day:02d}"
        if len(value) > 10:
            notes.add("date_from_date_time", parts, repr(value))
        return value
    if parts and parts[-1] == "associationType" and isinstance(value, str):
        spelt = _ASSOCIATION_SPELLINGS.get(value.strip().lower())
        if spelt is not None and spelt != value:
            notes.add("association_type_spelling", parts, f"{value!r} → {spelt!r}")
            return spelt
        return value
    if isinstance(field_, CaseIdentifier) and isinstance(value, str) and value:
        if not UUID_PATTERN.match(value):
            notes.add("identifier_not_uuid", parts, repr(value))
        elif not RFC4122_PATTERN.match(value.lower()):
            notes.add("identifier_not_rfc4122", parts, value)
        return value
    if isinstance(field_, ma_fields.String) and isinstance(value, int | float):
        notes.add("string_from_number", parts, repr(value))
        return str(value)
    return value


def lenient(value: dict[str, Any], schema: Schema, parts: tuple[str | int, ...], context: _Context) -> dict[str, Any]:
    """One CASE object, its nulls dropped, values coerced and required defaults filled (all noted)."""
    return _lenient(value, _profile(schema), parts, context)


@dataclass(frozen=True)
class _Profile:
    """What :func:`lenient` needs of a schema, worked out once per class (not once per object of a package)."""

    fields: dict[str, ma_fields.Field[Any]]
    #: Per property, the kind of value read as it is on the fast path (see _plain).
    kinds: dict[str, str]
    defaults: list[tuple[str, Callable[[dict[str, Any], _Context], Any]]]
    default_keys: frozenset[str]
    required: frozenset[str]


_PROFILES: dict[type[Schema], _Profile] = {}


def _profile(schema: Schema) -> _Profile:
    found = _PROFILES.get(type(schema))
    if found is None:
        defaults = _required_defaults(schema)
        found = _PROFILES[type(schema)] = _Profile(
            declared(schema), _plain(schema), defaults, frozenset(k for k, _ in defaults), _required(schema)
        )
    return found


def _lenient(
    value: dict[str, Any], profile: _Profile, parts: tuple[str | int, ...], context: _Context
) -> dict[str, Any]:
    fields_ = profile.fields
    kinds = profile.kinds
    out: dict[str, Any] = {}
    for key, inner in value.items():
        # The bulk of a package: plain strings, well-formed identifiers, date-times, numbers, lists of
        # strings and links, read as they are.
        kind = kinds.get(key)
        if kind is not None:
            kind_of = type(inner)
            if kind_of is str:
                if kind == "str" or (kind == "nonempty" and inner):
                    out[key] = inner
                    continue
                if kind == "id" and _identifier_kind(inner) == "uuid":
                    out[key] = inner
                    continue
                if kind == "datetime":
                    moment = _moment(inner)
                    if moment is not None:
                        out[key] = moment
                        continue
                if kind == "type" and inner in _ASSOCIATION_TYPE_SET:
                    out[key] = inner
                    continue
            elif kind_of is int:
                if kind == "int" or kind == "number":
                    out[key] = inner
                    continue
            elif kind_of is float:
                if kind == "number":
                    out[key] = inner
                    continue
            elif kind_of is list:
                if kind == "strings" and all(type(v) is str for v in inner):
                    out[key] = inner
                    continue
            elif kind_of is dict:
                if kind == "link" and _plain_link(inner):
                    out[key] = inner
                    continue
                if kind == "genlink" and _plain_gen_link(inner):
                    out[key] = inner
                    continue
        path = (*parts, key)
        if inner is None:
            context.notes.add("null", path)
            continue
        field_ = fields_.get(key)
        if field_ is None:
            context.notes.add("unknown_property", path)
            out[key] = inner
        elif key == "extensions":
            out[key] = inner
        else:
            out[key] = _coerce(inner, field_, path, context)
        if out.get(key) == "" and field_ is not None and field_.required and key in ("uri", "identifier"):
            del out[key]
            continue
        if field_ is not None:
            ok, out[key] = _check(out[key], field_)
            if not ok:
                context.invalid = True
    for key, make in () if profile.default_keys <= out.keys() else profile.defaults:
        if key in out:
            continue
        filled = make(out, context)
        if filled is not None:
            ok, out[key] = _check(filled, fields_[key])
            context.invalid = context.invalid or not ok
            context.notes.add("default", (*parts, key), f"{filled!r}" if len(repr(filled)) < 80 else None)
    # The package itself (parts ()) is read without its CFDocument, which was read first.
    if parts and not context.invalid and not profile.required <= out.keys():
        context.invalid = True
    return out


_REQUIRED: dict[type[Schema], frozenset[str]] = {}
_REQUIRED_DEFAULTS: dict[type[Schema], list[tuple[str, Callable[[dict[str, Any], _Context], Any]]]] = {}


def _required_defaults(schema: Schema) -> list[tuple[str, Callable[[dict[str, Any], _Context], Any]]]:
    """The defaults :func:`lenient` fills in for a schema's required properties (worked out once per class)."""
    key = type(schema)
    if key not in _REQUIRED_DEFAULTS:
        fields_ = declared(schema)
        name = key.__name__
        defaults = _DEFAULTS.get(name, {})
        if name not in ("CFPackageDocumentSchema", "CFPackageItemSchema", "CFPackageAssociationSchema") and (
            "lastChangeDateTime" in fields_
        ):
            defaults = {**_COMMON, **defaults}
        _REQUIRED_DEFAULTS[key] = [(k, make) for k, make in defaults.items() if fields_[k].required]
    return _REQUIRED_DEFAULTS[key]


_PLAIN: dict[type[Schema], dict[str, str]] = {}


def _plain(schema: Schema) -> dict[str, str]:
    """The properties :func:`lenient` reads on its fast path, by kind.

    Plain strings, identifiers, date-times, numbers, lists of strings, CASE's
    association types, and links (LinkURI, LinkGenURI) that need nothing done.
    """
    key = type(schema)
    if key not in _PLAIN:
        kinds = {}
        for name, field_ in declared(schema).items():
            nested = _nested(field_)
            if isinstance(field_, CaseIdentifier):
                kinds[name] = "id"
            elif isinstance(field_, CaseDateTime):
                kinds[name] = "datetime"
            elif name == "associationType":
                kinds[name] = "type"
            elif type(field_) is ma_fields.String and not field_.validators:
                kinds[name] = "str"
            elif (
                type(field_) is ma_fields.String
                and len(field_.validators) == 1
                and isinstance(field_.validators[0], validate.Length)
                and field_.validators[0].min == 1
                and field_.validators[0].max is None
            ):
                kinds[name] = "nonempty"
            elif type(field_) is ma_fields.Integer and not field_.validators:
                kinds[name] = "int"
            elif type(field_) is CaseNumber:
                kinds[name] = "number"
            elif type(field_) is StringList:
                kinds[name] = "strings"
            elif nested is not None and type(nested).__name__ == "LinkURISchema":
                kinds[name] = "link"
            elif nested is not None and type(nested).__name__ == "LinkGenURISchema":
                kinds[name] = "genlink"
        _PLAIN[key] = kinds
    return _PLAIN[key]


_ASSOCIATION_TYPE_SET = frozenset(ASSOCIATION_TYPES)


def _plain_link(link: dict[str, Any]) -> bool:
    """A LinkURI with its three properties, as CASE 1.1 has them (nothing to note or fill in)."""
    if len(link) != 3:
        return False
    title, identifier, uri = link.get("title"), link.get("identifier"), link.get("uri")
    return (
        type(title) is str
        and type(uri) is str
        and uri != ""
        and type(identifier) is str
        and _identifier_kind(identifier) == "uuid"
    )


def _plain_gen_link(link: dict[str, Any]) -> bool:
    """A LinkGenURI (an association's end) with title, identifier, URI and perhaps ``targetType: CASE``."""
    size = len(link)
    if size != 3 and not (size == 4 and link.get("targetType") == "CASE"):
        return False
    title, identifier, uri = link.get("title"), link.get("identifier"), link.get("uri")
    return type(title) is str and type(uri) is str and uri != "" and type(identifier) is str and identifier != ""


@functools.lru_cache(maxsize=262_144)
def _identifier_kind(text: str) -> str:
    """``uuid`` (RFC 4122, as CASE wants), ``loose`` (another UUID), ``other`` or ``empty``."""
    if not text.strip():
        return "empty"
    if RFC4122_PATTERN.match(text):
        return "uuid"
    return "loose" if UUID_PATTERN.match(text) else "other"


@functools.lru_cache(maxsize=65_536)
def _moment(text: str) -> datetime | None:
    # Cached: a package's objects mostly share a handful of change times.
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def _required(schema: Schema) -> frozenset[str]:
    key = type(schema)
    if key not in _REQUIRED:
        _REQUIRED[key] = frozenset(name for name, f in declared(schema).items() if f.required)
    return _REQUIRED[key]


def _check(value: Any, field_: ma_fields.Field[Any]) -> tuple[bool, Any]:
    """Whether the schemas accept ``value``, and the value as they load it (without their per-object cost).

    Objects were checked by their own :func:`lenient`; leaves are checked here,
    the common kinds inline and the rest by the field itself.
    """
    if isinstance(field_, ma_fields.List):
        if not isinstance(value, list):
            return False, value
        if _nested(field_.inner) is not None:
            # A package's items and associations: tens of thousands, checked by map() in C.
            return all(map(isinstance, value, itertools.repeat(dict))), value
        checked = [_check(v, field_.inner) for v in value]
        return all(ok for ok, _ in checked), [v for _, v in checked]
    if _nested(field_) is not None or isinstance(field_, ma_fields.Dict):
        return isinstance(value, dict), value
    if isinstance(field_, CaseDateTime):
        if isinstance(value, datetime):
            return True, value
        if not isinstance(value, str):
            return False, value
        try:
            return True, parse_datetime(value)
        except ValueError:
            return False, value
    if type(field_) is ma_fields.String and not field_.validators:
        return isinstance(value, str), value
    try:
        return True, field_.deserialize(value)
    except ValidationError:
        return False, value


def _strip_tolerated(data: dict[str, Any], notes: Notes) -> None:
    """Take out what CASE 1.0 packages carry and 1.1 forbids; the export derives it anew."""
    document = data.get("CFDocument")
    if isinstance(document, dict) and document.pop("CFPackageURI", None) is not None:
        notes.add("derived_again", ("CFDocument", "CFPackageURI"))
    for section in ("CFItems", "CFAssociations"):
        members = data.get(section)
        if isinstance(members, list):
            for index, member in enumerate(members):
                if isinstance(member, dict) and member.pop("CFDocumentURI", None) is not None:
                    notes.add("derived_again", (section, index, "CFDocumentURI"))
    if data.get("CFDefinitions") == []:
        notes.add("empty_definitions", ("CFDefinitions",))
        del data["CFDefinitions"]


def _last_change_of(data: dict[str, Any]) -> str:
    """The document's lastChangeDateTime, or the latest of its members', or :data:`EPOCH`."""
    document = data.get("CFDocument") or {}
    candidates = [document.get("lastChangeDateTime")] if isinstance(document, dict) else []
    if not isinstance(candidates[0] if candidates else None, str):
        candidates = [
            m.get("lastChangeDateTime")
            for section in ("CFItems", "CFAssociations")
            for m in (data.get(section) or [])
            if isinstance(m, dict)
        ]
    latest = None
    for text in candidates:
        if isinstance(text, str):
            try:
                moment = parse_datetime(text)
            except ValueError:
                continue
            latest = moment if latest is None or moment > latest else latest
    return format_datetime(latest) if latest is not None else EPOCH


def _drop(data: Any, parts: tuple[str | int, ...], schema: Schema) -> bool:
    """Leave out the optional property at ``parts``; ``False`` if it is required, or no property."""
    if not parts or not isinstance(parts[-1], str):
        return False
    node: Any = data
    current: Schema | None = schema
    for part in parts[:-1]:
        if current is None:
            return False
        if isinstance(part, str):
            field_ = declared(current).get(part)
            if field_ is None:
                return False
            if isinstance(field_, ma_fields.List):
                field_ = field_.inner
            current = _nested(field_)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if current is None or not isinstance(node, dict) or parts[-1] not in node:
        return False
    field_ = declared(current).get(parts[-1])
    # Whole sections and lists of CASE objects are never left out: that would lose the publisher's data.
    if field_ is None or field_.required or len(parts) == 1:
        return False
    if isinstance(field_, ma_fields.List) and _nested(field_.inner) is not None:
        return False
    del node[parts[-1]]
    return True


@gc_paused()
def parse_package(raw: bytes | Any) -> ParsedPackage:
    """Read a package (bytes as read, or an already decoded JSON value), leniently.

    :raises PackageError: what cannot be represented, with JSON paths.
    """
    is_bytes = isinstance(raw, bytes | bytearray)
    data = decode_package(raw) if is_bytes else raw
    if not isinstance(data, dict) or not isinstance(data.get("CFDocument"), dict):
        raise refuse([("$", "A CASE package is a JSON object with a CFDocument object.")])
    if is_bytes:
        # Line ends outside strings are whitespace, and a form sends the package back with CRLF.
        digest = hashlib.sha256(raw.replace(b"\r\n", b"\n") if b"\r" in raw else raw).hexdigest()
    else:
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    notes = Notes()
    data = dict(data)
    _strip_tolerated(data, notes)
    schema = CFPackageSchema()
    context = _Context(notes, _last_change_of(data))
    # The document first: its lastChangeDateTime is the default of its members'.
    document = lenient(data["CFDocument"], declared(schema)["CFDocument"].schema, ("CFDocument",), context)  # type: ignore[attr-defined]
    rest = lenient({k: v for k, v in data.items() if k != "CFDocument"}, schema, (), context)
    data = {"CFDocument": document, **rest}

    for _ in range(3 if context.invalid else 0):
        try:
            loaded = schema.load(data)
            break
        except ValidationError as error:
            fatal = []
            for parts, message in _error_parts(error.messages):
                if _drop(data, parts, schema):
                    notes.add("invalid_dropped", parts, message)
                else:
                    fatal.append((json_path(parts), message))
            if fatal:
                raise refuse(fatal) from error
    else:
        if context.invalid:  # pragma: no cover - each round drops what it reports
            raise refuse([("$", "The package could not be read.")])
        # Everything was checked on the way (the common case): the schemas need not load it again.
        loaded = data

    document = loaded["CFDocument"]
    items = loaded.get("CFItems", [])
    associations = loaded.get("CFAssociations", [])
    definitions_in = loaded.get("CFDefinitions", {})
    definitions = {kind: definitions_in.get(kind, []) for kind in DEFINITION_SCHEMAS}
    rubrics = loaded.get("CFRubrics", [])

    problems: list[tuple[str, str]] = []
    # Where each identifier was first seen, as (section, index): the path is only written for a duplicate.
    seen: dict[uuid.UUID, tuple[str, int]] = {case_id(document["identifier"]): ("CFDocument", -1)}
    # Mostly there is none: counted first by the UUIDs' integers (hashed in C, unlike UUIDs), and
    # only a package with a duplicate is walked again to say where.
    distinct = {case_id(member["identifier"]).int for members in (items, associations) for member in members}
    distinct.add(case_id(document["identifier"]).int)
    unique = len(distinct) == 1 + len(items) + len(associations)
    for section, members in () if unique else (("CFItems", items), ("CFAssociations", associations)):
        for index, member in enumerate(members):
            identifier = case_id(member["identifier"])
            first = seen.setdefault(identifier, (section, index))
            if first[1] != index or first[0] != section:
                where = "$.CFDocument.identifier" if first[1] < 0 else json_path((first[0], first[1], "identifier"))
                problems.append(
                    (json_path((section, index, "identifier")), f"Duplicate identifier: {where} has it too.")
                )
    for section, members in [*(("CFDefinitions." + k, v) for k, v in definitions.items()), ("CFRubrics", rubrics)]:
        local: dict[uuid.UUID, str] = {}
        for index, member in enumerate(members):
            path = json_path((*section.split("."), index, "identifier"))
            identifier = case_id(member["identifier"])
            if identifier in local:
                problems.append((path, f"Duplicate identifier: {local[identifier]} has it too."))
            local.setdefault(identifier, path)
    if problems:
        raise refuse(problems)

    for index, item_type in enumerate(definitions["CFItemTypes"]):
        if "description" not in item_type:
            # CASE 1.1 requires one; 1.0 did not.
            item_type["description"] = item_type["title"]
            notes.add("default", ("CFDefinitions", "CFItemTypes", index, "description"), "its title")
    return ParsedPackage(
        document=document,
        items=items,
        associations=associations,
        definitions=definitions,
        rubrics=rubrics,
        definitions_extensions=definitions_in.get("extensions"),
        package_extensions=loaded.get("extensions"),
        package_properties={k: v for k, v in loaded.items() if k not in declared(schema)} or None,
        definitions_properties={
            k: v
            for k, v in definitions_in.items()
            if k not in declared(declared(schema)["CFDefinitions"].schema)  # type: ignore[attr-defined]
        }
        or None,
        notes=notes,
        digest=digest,
    )
