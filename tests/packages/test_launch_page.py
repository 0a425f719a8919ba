"""The launch page capcourse generates checks every answer of the LMS's SCORM API, in Chromium.

A platform that says no (to Initialize, to Commit) must not be reported to the
learner as "Recorded": the page shows what really happened, with the
platform's error code and text.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from capcourse.packages.exporting import _launch_page
from tests.browser import CHROMIUM_ARGS, require_chromium
from tests.launches.test_browser import static_server

pytestmark = pytest.mark.browser

#: An LMS whose API answers as ``answers`` says (a SCORM 2004 API, or a 1.2 one), and records the calls.
PLAYER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stub LMS</title></head>
<body><iframe id="content" title="Activity" src="activity/page.html"></iframe>
<script>
  var answers = {answers};
  window.calls = [];
  function stub(name) {{
    return function () {{
      window.calls.push(name + "(" + Array.prototype.join.call(arguments, ",") + ")");
      return name in answers ? answers[name] : "true";
    }};
  }}
  var api = {{}};
  {names}.forEach(function (name) {{ api[name] = stub(name); }});
  window["{global_name}"] = api;
</script></body></html>
"""
NAMES_2004 = ["Initialize", "Terminate", "GetValue", "SetValue", "Commit", "GetLastError", "GetErrorString",
              "GetDiagnostic"]  # fmt: skip
NAMES_12 = ["LMSInitialize", "LMSFinish", "LMSGetValue", "LMSSetValue", "LMSCommit", "LMSGetLastError",
            "LMSGetErrorString", "LMSGetDiagnostic"]  # fmt: skip


def play(tmp_path: Path, version: str, answers: dict[str, str]) -> tuple[str, list[str], bool]:
    """Open the generated page under a stub LMS, click the button if it can be; its status, the calls, and
    whether the button could be clicked."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    site = tmp_path / "lms"
    (site / "activity").mkdir(parents=True)
    activity = SimpleNamespace(title="Reading", description="Read the chapter.")
    (site / "activity" / "page.html").write_bytes(_launch_page(activity))  # type: ignore[arg-type]
    script = resources.files("capcourse.packages").joinpath("launch.js").read_bytes()
    (site / "activity" / "launch.js").write_bytes(script)
    names, global_name = (NAMES_2004, "API_1484_11") if version == "2004" else (NAMES_12, "API")
    (site / "player.html").write_text(
        PLAYER.format(answers=json.dumps(answers), names=json.dumps(names), global_name=global_name), encoding="utf-8"
    )
    with static_server(site) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.goto(f"{url}/player.html")
        frame = page.frame_locator("#content")
        button = frame.get_by_role("button", name="I have completed this activity")
        button.wait_for()
        enabled = button.is_enabled()
        if enabled:
            button.click()
        text = frame.locator("#status").text_content()
        calls = page.evaluate("window.calls")
        browser.close()
    return text or "", calls, enabled


@pytest.mark.parametrize("version", ["2004", "1.2"])
def test_a_refused_commit_is_not_reported_as_recorded(tmp_path: Path, version: str) -> None:
    commit, error = ("Commit", "GetLastError") if version == "2004" else ("LMSCommit", "LMSGetLastError")
    strings = "GetErrorString" if version == "2004" else "LMSGetErrorString"
    status, _calls, enabled = play(
        tmp_path, version, {commit: "false", error: "391", strings: "General Commit Failure"}
    )
    assert enabled
    assert status.startswith("Not recorded: Sending it to the platform was refused (error 391: General Commit Failure)")
    assert "Recorded as completed" not in status


@pytest.mark.parametrize("version", ["2004", "1.2"])
def test_a_refused_start_disables_the_button_and_says_why(tmp_path: Path, version: str) -> None:
    initialize, error = ("Initialize", "GetLastError") if version == "2004" else ("LMSInitialize", "LMSGetLastError")
    status, _calls, enabled = play(tmp_path, version, {initialize: "false", error: "103"})
    assert not enabled
    assert "did not start this activity" in status and "error 103" in status


def test_all_answers_yes_is_recorded(tmp_path: Path) -> None:
    status, calls, _enabled = play(tmp_path, "2004", {})
    assert status == "Recorded as completed: your learning platform accepted it."
    assert calls[:1] == ["Initialize()"] and "Commit()" in calls and calls[-1] == "Terminate()"
