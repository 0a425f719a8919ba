"""``capcourse suggest`` commands."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from capcourse.identifiers import item_id
from capcourse.mapping.models import Mapping
from capcourse.suggest.models import SuggestionDecision
from tests import factories

pytestmark = pytest.mark.db


def test_suggest_for_a_module_then_confirm_and_reject_by_rank(runner: FlaskCliRunner, session: Session) -> None:
    module = factories.module(session, factories.course(session, factories.programme(session)), "Biases and prejudices")
    session.commit()
    listed = runner.invoke(args=["suggest", "module", str(module.id), "--limit", "3", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert rows[0]["code"] == "LCF.MC.3.a" and rows[0]["rank"] == 1 and "biases" in rows[0]["why"]
    table = runner.invoke(args=["suggest", "module", str(module.id), "--limit", "2"])
    assert " 1.  1.00  LCF.MC.3.a (Pathway 1)" in table.output or " 1.  1.00  LCF.MC.3.a  " in table.output
    done = runner.invoke(
        args=[
            "suggest",
            "module",
            str(module.id),
            "--limit",
            "3",
            "--confirm",
            "1",
            "--reject",
            "2",
            "--depth",
            "assessed",
        ]
    )
    assert done.exit_code == 0, done.output
    assert "Mapped 'Biases and prejudices' to LCF.MC.3.a (assessed)." in done.output
    mapping = session.query(Mapping).filter_by(module_id=module.id).one()
    assert mapping.provenance == "suggested-then-confirmed" and mapping.depth == "assessed"
    decisions = {d.item_id: d for d in session.query(SuggestionDecision).filter_by(subject_id=module.id)}
    assert {d.decision for d in decisions.values()} == {"confirmed", "rejected"}
    assert {d.rank for d in decisions.values()} == {1, 2}


def test_suggest_for_an_activity_from_a_word_document(runner: FlaskCliRunner, session: Session, tmp_path: Path) -> None:
    activity = factories.activity(
        session, factories.module(session, factories.course(session, factories.programme(session))), "Session 3"
    )
    session.commit()
    document = tmp_path / "handout.docx"
    body = (
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        "<w:p><w:r><w:t>Anti-oppressive practice: our own biases</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>and prejudices</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", body)
    result = runner.invoke(args=["suggest", "activity", str(activity.id), "--document", str(document), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["code"] == "LCF.MC.3.a"
    bad = tmp_path / "handout.pdf"
    bad.write_bytes(b"%PDF-1.4")
    refused = runner.invoke(args=["suggest", "activity", str(activity.id), "--document", str(bad)])
    assert refused.exit_code != 0 and "one of these kinds" in refused.output


def test_equivalents_and_areas(runner: FlaskCliRunner) -> None:
    bullet = item_id("dfe-kss-practice-supervisors-2018", "7.3")
    result = runner.invoke(
        args=["suggest", "equivalents", str(bullet), "dfe-kss-practice-supervisors-2015", "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[2:4] == ["KSS-PS.7.2", "(2015)"]
    areas = runner.invoke(args=["suggest", "areas", str(item_id("frontline-lcf-pathway-1", "MC.3.a")), "--json"])
    assert areas.exit_code == 0 and all(
        row["framework"] == "frontline-curriculum-areas" for row in json.loads(areas.output)
    )
    unknown = runner.invoke(args=["suggest", "equivalents", "nope", "dfe-kss-practice-supervisors-2015"])
    assert unknown.exit_code != 0 and "not a valid item identifier" in unknown.output
    missing = runner.invoke(args=["suggest", "module", "00000000-0000-0000-0000-000000000000"])
    assert missing.exit_code != 0
