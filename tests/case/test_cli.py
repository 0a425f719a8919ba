"""``capcourse case export`` and ``capcourse case import``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from capcourse.frameworks.models import Framework
from capcourse.mapping.models import Depth, Mapping, MappingEvent
from capcourse.mapping.services import map_items
from tests import factories
from tests.case.deviations import DEVIATIONS
from tests.case.standards import (
    ADMIN_PRINCIPAL,
    FIXTURES,
    ident,
    official_1p1,
    package_1p0,
    problems,
    third_party_package,
)

pytestmark = pytest.mark.db


def test_export_to_stdout_and_to_a_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["case", "export", "frontline-lcf-pathway-1"])
    assert result.exit_code == 0, result.output
    package = json.loads(result.output)
    assert problems(official_1p1(), package) == []
    assert len(package["CFItems"]) == 68

    target = tmp_path / "kss.json"
    result = runner.invoke(
        args=["case", "export", "dfe-kss-practice-leaders-2015", "-o", str(target), "--case-version", "1.0"]
    )
    assert result.exit_code == 0, result.output
    assert f"written to {target} (CASE 1.0)" in result.output
    assert problems(package_1p0(), json.loads(target.read_text(encoding="utf-8"))) == []

    unknown = runner.invoke(args=["case", "export", "no-such-framework"])
    assert unknown.exit_code != 0 and "No framework has the key or identifier" in unknown.output


def test_import_a_file_dry_run_then_for_real(runner: FlaskCliRunner, session: Session) -> None:
    path = FIXTURES / "opensalt-ItemTypeTestFramework.json"
    dry = runner.invoke(args=["case", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Item Type Test (item-type-test, d0000000-0000-0000-0000-000000000000): preview" in dry.output
    assert "Dry run: nothing was written." in dry.output
    assert session.get(Framework, uuid.UUID("d0000000-0000-0000-0000-000000000000")) is None

    real = runner.invoke(args=["case", "import", str(path)])
    assert real.exit_code == 0, real.output
    assert ": created" in real.output and "items +1 ~0 -0" in real.output
    assert "× identifier not RFC 4122" in real.output
    assert runner.invoke(args=["case", "import", str(path)]).output.count(": unchanged") == 1


def test_an_update_of_a_mapped_framework_waits_for_confirm(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    source = third_party_package()
    original, update = tmp_path / "v1.json", tmp_path / "v2.json"
    original.write_text(json.dumps(source))
    assert runner.invoke(args=["case", "import", str(original)]).exit_code == 0
    module = factories.module(session, factories.course(session, factories.programme(session)))
    (mapping,) = map_items(session, ADMIN_PRINCIPAL, module, [uuid.UUID(ident("skill-2"))], Depth.INTRODUCED)
    session.commit()
    del source["CFItems"][2]
    source["CFAssociations"] = [
        a for a in source["CFAssociations"] if a["originNodeURI"]["identifier"] != ident("skill-2")
    ]
    update.write_text(json.dumps(source))

    waiting = runner.invoke(args=["case", "import", str(update)])
    assert waiting.exit_code == 1
    assert "mapping removed: Reflective supervision → DS.1.2 Keeps personal data secure. (introduced)" in waiting.output
    assert "run again with --confirm" in waiting.output
    assert session.get(Mapping, mapping.id) is not None

    confirmed = runner.invoke(args=["case", "import", str(update), "--confirm"])
    assert confirmed.exit_code == 0, confirmed.output
    assert ": updated" in confirmed.output
    session.expire_all()
    assert session.get(Mapping, mapping.id) is None
    event = session.scalars(
        select(MappingEvent).where(MappingEvent.mapping_id == mapping.id, MappingEvent.action == "deleted")
    ).one()
    assert event.actor == "capcourse case import (command line)"


def test_bad_input_is_explained(runner: FlaskCliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    package = third_party_package()
    package["CFAssociations"][0]["associationType"] = "isFriendOf"
    broken.write_text(json.dumps(package))
    result = runner.invoke(args=["case", "import", str(broken)])
    assert result.exit_code == 1
    assert "$.CFAssociations[0].associationType: Not a CASE association type" in result.output
    assert "Nothing was imported" in result.output
    assert "https only" in runner.invoke(args=["case", "import", "http://case.example.org/p.json"]).output
    assert "No file" in runner.invoke(args=["case", "import", str(tmp_path / "missing.json")]).output


def test_export_strict_moves_what_case_does_not_define_into_extensions(runner: FlaskCliRunner, tmp_path: Path) -> None:
    package = DEVIATIONS["unknown properties"].build()
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(package), encoding="utf-8")
    assert runner.invoke(args=["case", "import", str(path)]).exit_code == 0
    identifier = package["CFDocument"]["identifier"]
    as_came = json.loads(runner.invoke(args=["case", "export", identifier]).output)
    strict = json.loads(runner.invoke(args=["case", "export", identifier, "--strict"]).output)
    assert as_came["generatedBy"] == "Example Tool 4.1"
    assert "generatedBy" not in strict and strict["extensions"]["generatedBy"] == "Example Tool 4.1"
