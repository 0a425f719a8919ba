"""Reading and checking the framework data files shipped in ``capcourse/data``.

The files are hand-built from the source documents; this module turns them into
plain, validated records and refuses a file with a precise message (file, item,
field) rather than loading half of it. See ``capcourse/data/README.md``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from capcourse.frameworks.models import ASSOCIATION_TYPES, Provenance
from capcourse.paths import DATA_DIR

LEGEND_SUFFIX = "-icon-legend.toml"

FRAMEWORK_FIELDS = {
    "key": True,
    "family": True,
    "title": True,
    "creator": True,
    #: A TOML date: when the data last changed. Every shipped row's last change, so every install exports alike.
    "last_change": False,
    "publisher": False,
    "version": False,
    "adoption_status": False,
    "language": False,
    "licence": False,
    "licence_uri": False,
    "official_source_url": False,
    "source_document": False,
    "description": False,
    "notes": False,
}
ITEM_FIELDS = {
    "key": True,
    "code": False,
    "type": True,
    "parent": False,
    "full_statement": True,
    "abbreviated_statement": False,
    "stage": False,
    "icon": False,
    "notes": False,
}
ASSOCIATION_FIELDS = {
    "type": True,
    "origin": True,
    "destination": True,
    "provenance": True,
    "qualifier": False,
    "notes": False,
    "sequence": False,
}
LEGEND_ICON_FIELDS = {"icon": True, "areas": True, "provenance": True, "rationale": True}
ADOPTION_STATUSES = {"Private Draft", "Draft", "Adopted", "Deprecated"}


class SeedDataError(ValueError):
    """A data file is not valid; the message names the file and the place."""


@dataclass(frozen=True)
class SeedItem:
    key: str
    item_type: str
    full_statement: str
    position: int
    code: str | None = None
    parent_key: str | None = None
    abbreviated_statement: str | None = None
    stage: str | None = None
    icon: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class SeedAssociation:
    association_type: str
    origin_key: str
    #: ``"<framework key>:<item key>"`` or an absolute URI.
    destination: str
    provenance: str
    qualifier: str | None = None
    notes: str | None = None
    sequence: int | None = None

    @property
    def destination_is_uri(self) -> bool:
        return "://" in self.destination


@dataclass(frozen=True)
class SeedFramework:
    path: Path
    fields: Mapping[str, str]
    items: tuple[SeedItem, ...]
    associations: tuple[SeedAssociation, ...]

    @property
    def key(self) -> str:
        return self.fields["key"]

    @property
    def last_change(self) -> datetime:
        """The data's date, as midnight UTC (1970-01-01 for a file without one: still the same on every install)."""
        day: Any = self.fields.get("last_change", date(1970, 1, 1))
        return datetime.combine(day, time(0), UTC)


@dataclass(frozen=True)
class SeedLegendIcon:
    icon: str
    area_keys: tuple[str, ...]
    provenance: str
    rationale: str


@dataclass(frozen=True)
class SeedLegend:
    path: Path
    framework_key: str
    areas_framework_key: str
    icons: tuple[SeedLegendIcon, ...]


@dataclass(frozen=True)
class SeedData:
    frameworks: tuple[SeedFramework, ...]
    legends: tuple[SeedLegend, ...] = field(default=())

    def framework(self, key: str) -> SeedFramework:
        return next(f for f in self.frameworks if f.key == key)


def _check_fields(record: Any, spec: Mapping[str, bool], where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise SeedDataError(f"{where}: expected a table")
    unknown = sorted(set(record) - set(spec))
    if unknown:
        raise SeedDataError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = [name for name, required in spec.items() if required and not record.get(name)]
    if missing:
        raise SeedDataError(f"{where}: missing required field(s) {', '.join(missing)}")
    for name, value in record.items():
        if isinstance(value, str) and value != value.strip():
            raise SeedDataError(f"{where}: field {name} has leading or trailing white space")
    return record


def _parse_framework(path: Path, document: dict[str, Any]) -> SeedFramework:
    unknown = sorted(set(document) - {"framework", "items", "associations"})
    if unknown:
        raise SeedDataError(f"{path.name}: unknown table(s) {', '.join(unknown)}")
    fields = _check_fields(document.get("framework"), FRAMEWORK_FIELDS, f"{path.name} [framework]")
    stamp = fields.get("last_change", date(1970, 1, 1))
    if not isinstance(stamp, date) or isinstance(stamp, datetime):
        raise SeedDataError(f"{path.name} [framework]: last_change must be a TOML date (2026-11-24)")
    status = fields.get("adoption_status")
    if status and status not in ADOPTION_STATUSES:
        raise SeedDataError(f"{path.name} [framework]: adoption_status {status!r} is not a CASE status")

    items: list[SeedItem] = []
    seen: set[str] = set()
    positions: dict[str | None, int] = {}
    for index, raw in enumerate(document.get("items", [])):
        where = f"{path.name} items[{index}]"
        record = _check_fields(raw, ITEM_FIELDS, where)
        key = record["key"]
        if key in seen:
            raise SeedDataError(f"{where}: duplicate item key {key!r}")
        parent = record.get("parent") or None
        if parent is not None and parent not in seen:
            raise SeedDataError(f"{where}: parent {parent!r} is not an item listed before {key!r}")
        for name in ("full_statement", "abbreviated_statement"):
            if "\n" in (record.get(name) or ""):
                raise SeedDataError(f"{where}: {name} of {key!r} contains a line break")
        seen.add(key)
        position = positions.get(parent, 0)
        positions[parent] = position + 1
        items.append(
            SeedItem(
                key=key,
                item_type=record["type"],
                full_statement=record["full_statement"],
                position=position,
                code=record.get("code"),
                parent_key=parent,
                abbreviated_statement=record.get("abbreviated_statement"),
                stage=record.get("stage"),
                icon=record.get("icon"),
                notes=record.get("notes"),
            )
        )

    associations: list[SeedAssociation] = []
    for index, raw in enumerate(document.get("associations", [])):
        where = f"{path.name} associations[{index}]"
        record = _check_fields(raw, ASSOCIATION_FIELDS, where)
        kind = record["type"]
        if kind == "isChildOf":
            raise SeedDataError(f"{where}: isChildOf is derived from `parent`; do not list it")
        if kind not in ASSOCIATION_TYPES and not kind.startswith("ext:"):
            raise SeedDataError(f"{where}: {kind!r} is not a CASE association type")
        if record["provenance"] not in set(Provenance):
            raise SeedDataError(f"{where}: provenance {record['provenance']!r} is not one of {', '.join(Provenance)}")
        if record["origin"] not in seen:
            raise SeedDataError(f"{where}: origin {record['origin']!r} is not an item of {fields['key']}")
        associations.append(
            SeedAssociation(
                association_type=kind,
                origin_key=record["origin"],
                destination=record["destination"],
                provenance=record["provenance"],
                qualifier=record.get("qualifier"),
                notes=record.get("notes"),
                sequence=record.get("sequence"),
            )
        )
    return SeedFramework(path=path, fields=fields, items=tuple(items), associations=tuple(associations))


def _parse_legend(path: Path, document: dict[str, Any]) -> SeedLegend:
    unknown = sorted(set(document) - {"framework", "areas_framework", "icons"})
    if unknown:
        raise SeedDataError(f"{path.name}: unknown field(s) {', '.join(unknown)}")
    for name in ("framework", "areas_framework"):
        if not isinstance(document.get(name), str):
            raise SeedDataError(f"{path.name}: missing {name}")
    icons = []
    for index, raw in enumerate(document.get("icons", [])):
        where = f"{path.name} icons[{index}]"
        record = _check_fields(raw, LEGEND_ICON_FIELDS, where)
        if record["provenance"] not in set(Provenance):
            raise SeedDataError(f"{where}: provenance {record['provenance']!r} is not one of {', '.join(Provenance)}")
        icons.append(
            SeedLegendIcon(
                icon=record["icon"],
                area_keys=tuple(record["areas"]),
                provenance=record["provenance"],
                rationale=record["rationale"],
            )
        )
    return SeedLegend(
        path=path,
        framework_key=document["framework"],
        areas_framework_key=document["areas_framework"],
        icons=tuple(icons),
    )


def _check_references(frameworks: Iterable[SeedFramework], legends: Iterable[SeedLegend]) -> None:
    items_by_framework = {f.key: {i.key: i for i in f.items} for f in frameworks}
    for framework in frameworks:
        for association in framework.associations:
            if association.destination_is_uri:
                continue
            framework_key, _, item_key = association.destination.partition(":")
            if item_key not in items_by_framework.get(framework_key, {}):
                raise SeedDataError(
                    f"{framework.path.name}: association {association.association_type} from "
                    f"{association.origin_key!r} points to {association.destination!r}, which is no item"
                )
    for legend in legends:
        items = items_by_framework.get(legend.framework_key)
        areas = items_by_framework.get(legend.areas_framework_key)
        if items is None or areas is None:
            raise SeedDataError(f"{legend.path.name}: names a framework that is not shipped")
        icons_in_use = {i.icon for i in items.values() if i.icon}
        for entry in legend.icons:
            if entry.icon not in icons_in_use:
                raise SeedDataError(f"{legend.path.name}: icon {entry.icon!r} marks no item of {legend.framework_key}")
            for area in entry.area_keys:
                if area not in areas:
                    raise SeedDataError(
                        f"{legend.path.name}: area {area!r} is not an item of {legend.areas_framework_key}"
                    )
        missing = icons_in_use - {entry.icon for entry in legend.icons}
        if missing:
            raise SeedDataError(f"{legend.path.name}: no legend entry for icon(s) {', '.join(sorted(missing))}")


def load_seed_data(data_dir: Path = DATA_DIR) -> SeedData:
    """Read and check every data file in ``data_dir``.

    :raises SeedDataError: on the first problem, naming file and place.
    """
    frameworks: list[SeedFramework] = []
    legends: list[SeedLegend] = []
    for path in sorted(data_dir.glob("*.toml")):
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise SeedDataError(f"{path.name}: {error}") from error
        if path.name.endswith(LEGEND_SUFFIX):
            legends.append(_parse_legend(path, document))
        else:
            frameworks.append(_parse_framework(path, document))
    keys = [f.key for f in frameworks]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise SeedDataError(f"framework key(s) used by more than one file: {', '.join(duplicates)}")
    _check_references(frameworks, legends)
    return SeedData(frameworks=tuple(frameworks), legends=tuple(legends))
