/* capcourse's launch page for an activity with no content of its own: tells the LMS, through
   the SCORM API it provides (2004 or 1.2, found the standard way), that the learner completed it.
   Every call's answer is checked, and the learner is told what really happened: "Recorded" only
   when the platform said yes to each step. */
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
  var started = false;
  var finished = false;

  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "failed" : "";
  }

  /* SCORM answers "true" or "false" (strings); some APIs answer booleans. Anything else is a no. */
  function ok(answer) { return answer === true || String(answer) === "true"; }

  /* The platform's own account of its last error, for the learner and whoever supports them. */
  function lastError() {
    try {
      var code = api2004 ? api2004.GetLastError() : api12.LMSGetLastError();
      if (!code || String(code) === "0") { return ""; }
      var text = api2004 ? api2004.GetErrorString(code) : api12.LMSGetErrorString(code);
      return " (error " + code + (text ? ": " + text : "") + ")";
    } catch (e) {
      return " (" + e + ")";
    }
  }

  /* One call, its answer checked; the step's name and the platform's error when it says no. */
  function call(step, fn) {
    var answer;
    try { answer = fn(); } catch (e) { return step + " failed (" + e + ")"; }
    return ok(answer) ? null : step + " was refused" + lastError();
  }

  function finish() {
    if (finished || !started) { return null; }
    finished = true;
    return api2004
      ? call("Closing the attempt", function () { return api2004.Terminate(""); })
      : call("Closing the attempt", function () { return api12.LMSFinish(""); });
  }

  if (!api2004 && !api12) {
    button.disabled = true;
    say("Open this activity from your learning platform to have your progress recorded.", true);
  } else {
    var problem = api2004
      ? call("Starting the attempt", function () { return api2004.Initialize(""); })
      : call("Starting the attempt", function () { return api12.LMSInitialize(""); });
    if (problem) {
      button.disabled = true;
      say("Your learning platform did not start this activity: " + problem + ". Your progress cannot be recorded.", true);
    } else {
      started = true;
    }
  }

  button.addEventListener("click", function () {
    var steps = api2004
      ? [
          ["Saving the completion", function () { return api2004.SetValue("cmi.completion_status", "completed"); }],
          ["Saving how the attempt ended", function () { return api2004.SetValue("cmi.exit", "normal"); }],
          ["Sending it to the platform", function () { return api2004.Commit(""); }]
        ]
      : [
          ["Saving the completion", function () { return api12.LMSSetValue("cmi.core.lesson_status", "completed"); }],
          ["Sending it to the platform", function () { return api12.LMSCommit(""); }]
        ];
    button.disabled = true;
    for (var index = 0; index < steps.length; index += 1) {
      var problem = call(steps[index][0], steps[index][1]);
      if (problem) {
        button.disabled = false;
        say("Not recorded: " + problem + ". Try again, or tell whoever runs your learning platform.", true);
        return;
      }
    }
    var closing = finish();
    if (closing) {
      say("Your completion was saved, but " + closing.charAt(0).toLowerCase() + closing.slice(1) + ".", true);
      return;
    }
    say("Recorded as completed: your learning platform accepted it.");
  });

  window.addEventListener("pagehide", finish);
}());
