/* capcourse's launch page for an activity with no content of its own: tells the LMS, through
   the SCORM API it provides (2004 or 1.2, found the standard way), that the learner completed it. */
(function () {
  "use strict";

  function search(win, name) {
    for (var hops = 0; win && hops < 20; hops += 1) {
      try {
        if (win[name]) { return win[name]; }
      } catch (e) { return null; } /* a frame of another origin */
      if (win.parent === win) { break; }
      win = win.parent;
    }
    return null;
  }

  function locate(name) {
    return search(window, name) || (window.opener ? search(window.opener, name) : null);
  }

  var api2004 = locate("API_1484_11");
  var api12 = api2004 ? null : locate("API");
  var button = document.getElementById("complete");
  var status = document.getElementById("status");
  var finished = false;

  function say(text) { status.textContent = text; }

  function finish() {
    if (finished) { return; }
    finished = true;
    if (api2004) { api2004.Terminate(""); } else if (api12) { api12.LMSFinish(""); }
  }

  if (api2004) {
    api2004.Initialize("");
  } else if (api12) {
    api12.LMSInitialize("");
  } else {
    say("Open this activity from your learning platform to have your progress recorded.");
  }

  button.addEventListener("click", function () {
    if (api2004) {
      api2004.SetValue("cmi.completion_status", "completed");
      api2004.SetValue("cmi.exit", "normal");
      api2004.Commit("");
    } else if (api12) {
      api12.LMSSetValue("cmi.core.lesson_status", "completed");
      api12.LMSCommit("");
    }
    button.disabled = true;
    say(api2004 || api12 ? "Recorded as completed." : "Not recorded: no learning platform is listening.");
    finish();
  });

  window.addEventListener("pagehide", finish);
}());
