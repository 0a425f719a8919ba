"""capcourse's run-time adapter forwards interactions and comments between SCORM 1.2 and 2004, in Chromium.

The LMS is scorm-again (``Scorm12API`` or ``Scorm2004API``); the content, written for the other version,
runs through ``scorm-adapter.html`` as an export to the other version launches it. The content records an
interaction (with its objective, correct response, learner response, result, latency and time) and a
comment, and reads back what the LMS told it; the test then reads scorm-again's own data model, as it
would commit it to the LMS, and checks each value arrived in that version's names and forms.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from capcourse.packages.exporting import ADAPTER_PAGE, ADAPTER_SCRIPT
from tests.browser import CHROMIUM_ARGS, require_chromium
from tests.launches.test_browser import require_scorm_again, static_server

pytestmark = pytest.mark.browser

#: The LMS: scorm-again, with comments from the LMS loaded before the content starts.
PLAYER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LMS</title></head>
<body><iframe id="content" title="Activity" width="900" height="300"></iframe>
<script type="module">
  import {{ {api_class} }} from "./scorm-again/{module}";
  const api = new {api_class}({{ lmsCommitUrl: false, logLevel: 5 }});
  api.loadFromFlattenedJSON({lms_data});
  window.{api_global} = api;
  document.getElementById("content").src = {launch};
</script></body></html>
"""

#: SCORM 2004 content: what RunTimeAdvancedCalls-like quizzes write.
CONTENT_2004 = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>2004 SCO</title></head>
<body><p id="done"></p><script>
  var api = window.parent.API_1484_11;
  var out = {};
  api.Initialize("");
  var set = [
    ["cmi.interactions.0.id", "q1"], ["cmi.interactions.0.type", "choice"],
    ["cmi.interactions.0.objectives.0.id", "obj-rules"], ["cmi.interactions.0.timestamp", "2026-11-30T10:15:30"],
    ["cmi.interactions.0.correct_responses.0.pattern", "a[,]c"], ["cmi.interactions.0.weighting", "2"],
    ["cmi.interactions.0.learner_response", "a[,]b"], ["cmi.interactions.0.result", "incorrect"],
    ["cmi.interactions.0.latency", "PT1M5.5S"], ["cmi.interactions.0.description", "Which are rules?"],
    ["cmi.interactions.1.id", "q2"], ["cmi.interactions.1.type", "true-false"],
    ["cmi.interactions.1.learner_response", "true"], ["cmi.interactions.1.result", "correct"],
    ["cmi.comments_from_learner.0.comment", "Too easy"], ["cmi.comments_from_learner.0.location", "page 2"],
    ["cmi.comments_from_learner.1.comment", "Liked the pictures"]
  ];
  out.set = set.map(function (pair) { return api.SetValue(pair[0], pair[1]); });
  out.count = api.GetValue("cmi.interactions._count");
  out.response = api.GetValue("cmi.interactions.0.learner_response");
  out.description = api.GetValue("cmi.interactions.0.description");
  out.learnerComments = api.GetValue("cmi.comments_from_learner._count");
  out.lmsComments = api.GetValue("cmi.comments_from_lms._count");
  out.lmsComment = api.GetValue("cmi.comments_from_lms.0.comment");
  out.commit = api.Commit("");
  window.parent.parent.results = out;
  document.getElementById("done").textContent = "done";
</script></body></html>
"""

#: SCORM 1.2 content.
CONTENT_12 = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>1.2 SCO</title></head>
<body><p id="done"></p><script>
  var api = window.parent.API;
  var out = {};
  api.LMSInitialize("");
  var set = [
    ["cmi.interactions.0.id", "q1"], ["cmi.interactions.0.type", "choice"],
    ["cmi.interactions.0.objectives.0.id", "obj-rules"], ["cmi.interactions.0.time", "10:15:30"],
    ["cmi.interactions.0.correct_responses.0.pattern", "a,c"], ["cmi.interactions.0.weighting", "2"],
    ["cmi.interactions.0.student_response", "a,b"], ["cmi.interactions.0.result", "wrong"],
    ["cmi.interactions.0.latency", "00:01:05.5"],
    ["cmi.interactions.1.id", "q2"], ["cmi.interactions.1.type", "true-false"],
    ["cmi.interactions.1.student_response", "t"], ["cmi.interactions.1.result", "correct"],
    ["cmi.interactions.2.id", "q3"], ["cmi.interactions.2.type", "matching"],
    ["cmi.interactions.2.student_response", "1.a,2.b"],
    ["cmi.comments", "Too easy"], ["cmi.comments", "Liked the pictures"]
  ];
  out.set = set.map(function (pair) { return api.LMSSetValue(pair[0], pair[1]); });
  out.count = api.LMSGetValue("cmi.interactions._count");
  out.lmsComments = api.LMSGetValue("cmi.comments_from_lms");
  out.commit = api.LMSCommit("");
  window.parent.parent.results = out;
  document.getElementById("done").textContent = "done";
</script></body></html>
"""


def play(tmp_path: Path, content_version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Play the content written for ``content_version`` under scorm-again of the other version, through
    the adapter; what the content saw, and scorm-again's data model as it would commit it."""
    executable = require_chromium()
    scripts = require_scorm_again()
    from playwright.sync_api import sync_playwright

    site = tmp_path / "lms"
    package = site / "package"
    (package / "content").mkdir(parents=True)
    (package / ADAPTER_PAGE).parent.mkdir(parents=True)
    here = resources.files("capcourse.packages")
    (package / ADAPTER_PAGE).write_bytes(here.joinpath("scorm-adapter.html").read_bytes())
    (package / ADAPTER_SCRIPT).write_bytes(here.joinpath("scorm-adapter.js").read_bytes())
    (package / "content" / "sco.html").write_text(
        CONTENT_2004 if content_version == "2004" else CONTENT_12, encoding="utf-8"
    )
    if content_version == "2004":  # the LMS is 1.2
        api_class, module, api_global = "Scorm12API", "scorm12.js", "API"
        lms_data = {"cmi.comments_from_lms": "See me after class"}
    else:
        api_class, module, api_global = "Scorm2004API", "scorm2004.js", "API_1484_11"
        lms_data = {
            "cmi.comments_from_lms.0.comment": "See me after class",
            "cmi.comments_from_lms.1.comment": "Well done",
        }
    (site / "scorm-again").mkdir()
    shutil.copy(scripts / module, site / "scorm-again" / module)
    launch = f"package/{ADAPTER_PAGE}?capcourse_api={content_version}&capcourse_launch=content/sco.html"
    (site / "player.html").write_text(
        PLAYER.format(
            api_class=api_class,
            module=module,
            api_global=api_global,
            lms_data=json.dumps(lms_data),
            launch=json.dumps(launch),
        ),
        encoding="utf-8",
    )
    console: list[str] = []
    with static_server(site) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(f"{url}/player.html")
        page.wait_for_function("() => window.results !== undefined", timeout=20000)
        seen = page.evaluate("window.results")
        committed = page.evaluate(f"JSON.parse(JSON.stringify(window.{api_global}.renderCommitCMI(true)))")
        browser.close()
    assert seen["set"] and all(answer == "true" for answer in seen["set"]), (seen, console[-10:])
    return seen, committed["cmi"]


def clock_seconds(value: str) -> float:
    hours, minutes, seconds = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_2004_content_under_a_12_lms(tmp_path: Path) -> None:
    seen, cmi = play(tmp_path, "2004")
    assert seen["count"] == "2" and seen["commit"] == "true"
    # The content reads back its own values, 1.2 having made interactions write-only.
    assert (seen["response"], seen["description"]) == ("a[,]b", "Which are rules?")
    assert seen["learnerComments"] == "2"
    assert (seen["lmsComments"], seen["lmsComment"]) == ("1", "See me after class")
    first, second = cmi["interactions"]["0"], cmi["interactions"]["1"]
    assert (first["id"], first["type"], first["time"], first["weighting"]) == ("q1", "choice", "10:15:30", "2")
    assert (first["student_response"], first["result"]) == ("a,b", "wrong")
    assert clock_seconds(first["latency"]) == 65.5
    assert first["objectives"]["0"]["id"] == "obj-rules"
    assert first["correct_responses"]["0"]["pattern"] == "a,c"
    assert (second["id"], second["type"], second["student_response"], second["result"]) == (
        "q2",
        "true-false",
        "t",
        "correct",
    )
    assert cmi["comments"] == "Too easy\nLiked the pictures"


def test_12_content_under_a_2004_lms(tmp_path: Path) -> None:
    seen, cmi = play(tmp_path, "1.2")
    assert seen["count"] == "3" and seen["commit"] == "true"
    assert seen["lmsComments"] == "See me after class\nWell done"
    first, second, third = (cmi["interactions"][str(n)] for n in range(3))
    assert (first["id"], first["type"], first["weighting"]) == ("q1", "choice", "2")
    assert first["timestamp"].endswith("T10:15:30")
    assert (first["learner_response"], first["result"]) == ("a[,]b", "incorrect")
    assert first["latency"] == "PT0H1M5.5S"
    assert first["objectives"]["0"]["id"] == "obj-rules"
    assert first["correct_responses"]["0"]["pattern"] == "a[,]c"
    assert (second["type"], second["learner_response"], second["result"]) == ("true-false", "true", "correct")
    assert third["learner_response"] == "1[.]a[,]2[.]b"
    comments = cmi["comments_from_learner"]
    assert [comments[str(n)]["comment"] for n in range(2)] == ["Too easy", "Liked the pictures"]
