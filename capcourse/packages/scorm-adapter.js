/* capcourse's SCORM version adapter: lets content written for one SCORM run-time API run in an LMS
   that offers the other. The package's manifest launches this page with ?capcourse_api=<1.2|2004>&capcourse_launch=<the
   content's own URL, relative to the package root>; the page finds the LMS's API the standard way
   (its parents, then the opener's), puts the API the content looks for on its own window, translating
   every call to the LMS's, and opens the content in a frame below it. Parameters the LMS appends to the
   launch URL travel on to the content. When the LMS offers the API the content wants, it is passed
   through untouched. capcourse's own code; no third-party code. */
(function () {
  "use strict";

  var params = new URLSearchParams(window.location.search);
  var wanted = params.get("capcourse_api") === "1.2" ? "1.2" : "2004";
  var launch = params.get("capcourse_launch") || "";
  var status = document.getElementById("adapter-status");

  function search(win, name) {
    for (var hops = 0; win && hops < 20; hops += 1) {
      try { if (win[name]) { return win[name]; } } catch (e) { return null; }
      if (win.parent === win) { break; }
      win = win.parent;
    }
    return null;
  }
  function locate(name) {
    var start = window.parent !== window ? window.parent : null;
    return (start && search(start, name)) || (window.opener ? search(window.opener, name) : null);
  }

  var lms2004 = locate("API_1484_11");
  var lms12 = lms2004 ? null : locate("API");

  /* Times: 1.2 writes HHHH:MM:SS.SS, 2004 ISO 8601 durations (PT1H2M3.5S). */
  function isoToClock(value) {
    var m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(String(value));
    if (!m) { return null; }
    var seconds = (parseFloat(m[1] || 0) * 365 + parseFloat(m[2] || 0) * 30 + parseFloat(m[3] || 0)) * 86400 +
      parseFloat(m[4] || 0) * 3600 + parseFloat(m[5] || 0) * 60 + parseFloat(m[6] || 0);
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds - hours * 3600 - minutes * 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var secs = rest.toFixed(2);
    if (rest < 10) { secs = "0" + secs; }
    return (hours < 10 ? "000" : hours < 100 ? "00" : hours < 1000 ? "0" : "") + hours + ":" + two(minutes) + ":" + secs;
  }
  function clockToIso(value) {
    var m = /^(\d{2,4}):(\d{2}):(\d{2})(\.\d{1,2})?$/.exec(String(value));
    if (!m) { return null; }
    return "PT" + parseInt(m[1], 10) + "H" + parseInt(m[2], 10) + "M" + parseFloat(m[3] + (m[4] || "")) + "S";
  }

  /* 1.2's one lesson_status and 2004's completion and success, both ways. */
  function splitStatus(status) {
    switch (status) {
      case "passed": return { completion: "completed", success: "passed" };
      case "failed": return { completion: "completed", success: "failed" };
      case "completed": return { completion: "completed", success: null };
      case "incomplete": case "browsed": return { completion: "incomplete", success: null };
      case "not attempted": return { completion: "not attempted", success: null };
      default: return { completion: null, success: null };
    }
  }
  function joinStatus(completion, success) {
    if (success === "passed" || success === "failed") { return success; }
    if (completion === "completed" || completion === "incomplete" || completion === "not attempted") { return completion; }
    return null;
  }

  /* Interactions: 1.2 and 2004 name a few elements differently and write responses in other forms.
     2004 delimits with [,] [.] [:] and may lead with {lang=…} / {case_matters=…}; 1.2 uses , and . */
  function responseTo12(type, value) {
    value = String(value).replace(/^(\{[a-z_]+=[^}]*\})+/, "");
    if (type === "true-false") { return value === "true" ? "t" : value === "false" ? "f" : value; }
    return value.split("[,]").join(",").split("[.]").join(".").split("[:]").join(":");
  }
  function responseTo2004(type, value) {
    value = String(value);
    if (type === "true-false") {
      return /^(t|1|true)$/i.test(value) ? "true" : /^(f|0|false)$/i.test(value) ? "false" : value;
    }
    if (type === "choice" || type === "sequencing") {
      return value.replace(/^\{(.*)\}$/, "$1").split(",").join("[,]");
    }
    if (type === "matching") {
      return value.replace(/^\{(.*)\}$/, "$1").split(",").map(function (pair) { return pair.split(".").join("[.]"); })
        .join("[,]");
    }
    return value;
  }
  function today() {
    var now = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return now.getFullYear() + "-" + two(now.getMonth() + 1) + "-" + two(now.getDate());
  }
  function interaction(element) {
    var m = /^cmi\.interactions\.(\d+)\.(.+)$/.exec(element);
    return m ? { index: m[1], rest: m[2], key: "cmi.interactions." + m[1] + "." } : null;
  }
  var INTERACTION_CHILDREN_2004 =
    "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,latency,description";

  /* ---- 2004 content, 1.2 LMS ---- */
  function api2004Over12(lms) {
    var local = {};
    var lastError = "0";
    var state = { completion: null, success: null };
    var simple = {
      "cmi.location": "cmi.core.lesson_location", "cmi.learner_id": "cmi.core.student_id",
      "cmi.learner_name": "cmi.core.student_name", "cmi.credit": "cmi.core.credit", "cmi.entry": "cmi.core.entry",
      "cmi.mode": "cmi.core.lesson_mode", "cmi.suspend_data": "cmi.suspend_data", "cmi.launch_data": "cmi.launch_data",
      "cmi.score.raw": "cmi.core.score.raw", "cmi.score.min": "cmi.core.score.min", "cmi.score.max": "cmi.core.score.max",
      "cmi.max_time_allowed": "cmi.student_data.max_time_allowed", "cmi.time_limit_action": "cmi.student_data.time_limit_action",
      "cmi.learner_preference.audio_level": "cmi.student_preference.audio",
      "cmi.learner_preference.language": "cmi.student_preference.language",
      "cmi.learner_preference.delivery_speed": "cmi.student_preference.speed",
      "cmi.learner_preference.audio_captioning": "cmi.student_preference.text"
    };
    var errors = { "0": "0", "101": "101", "201": "201", "202": "201", "203": "201", "301": "122", "401": "401",
      "402": "404", "403": "404", "404": "405", "405": "406" };
    function fromLms(answer) {
      lastError = errors[String(lms.LMSGetLastError())] || "101";
      return answer;
    }
    function pushStatus() {
      var status = joinStatus(state.completion, state.success);
      if (status === "not attempted") { return "true"; } /* content cannot set it in 1.2 */
      return status ? String(lms.LMSSetValue("cmi.core.lesson_status", status)) : "true";
    }
    function objective(element) {
      var m = /^cmi\.objectives\.(\d+)\.(.+)$/.exec(element);
      return m ? { index: m[1], rest: m[2] } : null;
    }
    /* The learner's comments so far, in order: 1.2 keeps them as one cmi.comments string. */
    function learnerComments() {
      var found = [];
      for (var n = 0; ("cmi.comments_from_learner." + n + ".comment") in local; n += 1) {
        found.push(local["cmi.comments_from_learner." + n + ".comment"]);
      }
      return found;
    }
    /* An interaction element in 1.2's name and form (null: 1.2 has no place for it). */
    function interactionTo12(i, value) {
      var type = local[i.key + "type"];
      if (i.rest === "id" || i.rest === "weighting" || /^objectives\.\d+\.id$/.test(i.rest)) {
        return [i.key + i.rest, value];
      }
      if (i.rest === "type") {
        if (value === "long-fill-in") { return [i.key + "type", "fill-in"]; }
        return value === "other" ? null : [i.key + "type", value];
      }
      if (i.rest === "timestamp") {
        var time = /T(\d{2}:\d{2}:\d{2})/.exec(value);
        return time ? [i.key + "time", time[1]] : null;
      }
      if (i.rest === "learner_response") { return [i.key + "student_response", responseTo12(type, value)]; }
      if (/^correct_responses\.\d+\.pattern$/.test(i.rest)) { return [i.key + i.rest, responseTo12(type, value)]; }
      if (i.rest === "result") { return [i.key + "result", value === "incorrect" ? "wrong" : value]; }
      if (i.rest === "latency") {
        var clock = isoToClock(value);
        return clock ? [i.key + "latency", clock] : null;
      }
      return null; /* description: 1.2 has none */
    }
    return {
      Initialize: function () {
        var answer = fromLms(lms.LMSInitialize(""));
        var split = splitStatus(String(lms.LMSGetValue("cmi.core.lesson_status")));
        state.completion = split.completion; state.success = split.success;
        return String(answer);
      },
      Terminate: function () { return String(fromLms(lms.LMSFinish(""))); },
      Commit: function () { return String(fromLms(lms.LMSCommit(""))); },
      GetLastError: function () { return lastError; },
      GetErrorString: function (code) { return code === "0" ? "" : "Error " + code + " (through capcourse's SCORM 1.2 adapter)"; },
      GetDiagnostic: function (code) { return this.GetErrorString(code); },
      GetValue: function (element) {
        lastError = "0";
        if (element === "cmi._version") { return "1.0"; }
        if (element === "cmi.completion_status") {
          return state.completion || (state.success ? "completed" : "unknown");
        }
        if (element === "cmi.success_status") { return state.success || "unknown"; }
        if (element === "cmi.scaled_passing_score") {
          var mastery = String(lms.LMSGetValue("cmi.student_data.mastery_score"));
          return mastery === "" ? (lastError = "403", "") : String(parseFloat(mastery) / 100);
        }
        if (element === "cmi.total_time") { return clockToIso(lms.LMSGetValue("cmi.core.total_time")) || "PT0H0M0S"; }
        if (element === "cmi.score.scaled" && !(element in local)) {
          var raw = parseFloat(lms.LMSGetValue("cmi.core.score.raw"));
          return isNaN(raw) ? (lastError = "403", "") : String(raw / 100);
        }
        if (element === "cmi.objectives._count") { return String(lms.LMSGetValue("cmi.objectives._count") || "0"); }
        if (element === "cmi.interactions._count") { return String(lms.LMSGetValue("cmi.interactions._count") || "0"); }
        if (element === "cmi.interactions._children") { return INTERACTION_CHILDREN_2004; }
        if (element === "cmi.comments_from_learner._children" || element === "cmi.comments_from_lms._children") {
          return "comment,location,timestamp";
        }
        if (element === "cmi.comments_from_learner._count") { return String(learnerComments().length); }
        if (element === "cmi.comments_from_lms._count" || element === "cmi.comments_from_lms.0.comment") {
          /* 1.2 has one comments_from_lms string: one comment, or none. */
          var fromLms = String(lms.LMSGetValue("cmi.comments_from_lms") || "");
          lastError = "0";
          if (element === "cmi.comments_from_lms._count") { return fromLms ? "1" : "0"; }
          return fromLms ? fromLms : (lastError = "301", "");
        }
        var o = objective(element);
        if (o && (o.rest === "id" || /^score\./.test(o.rest))) { return String(fromLms(lms.LMSGetValue(element))); }
        if (o && (o.rest === "success_status" || o.rest === "completion_status")) {
          var split = splitStatus(String(lms.LMSGetValue("cmi.objectives." + o.index + ".status")));
          return (o.rest === "success_status" ? split.success : split.completion) || "unknown";
        }
        if (element in local) { return local[element]; }
        if (simple[element]) {
          var value = lms.LMSGetValue(simple[element]);
          fromLms(value);
          if (element === "cmi.entry" && value === "") { return ""; }
          return String(value);
        }
        lastError = "403";
        return "";
      },
      SetValue: function (element, value) {
        lastError = "0";
        value = String(value);
        local[element] = value;
        if (element === "cmi.completion_status") { state.completion = value; return pushStatus(); }
        if (element === "cmi.success_status") { state.success = value; return pushStatus(); }
        if (element === "cmi.session_time") {
          var clock = isoToClock(value);
          return clock ? String(fromLms(lms.LMSSetValue("cmi.core.session_time", clock))) : (lastError = "406", "false");
        }
        if (element === "cmi.exit") {
          var exit = value === "normal" ? "" : value;
          return String(fromLms(lms.LMSSetValue("cmi.core.exit", exit)));
        }
        if (element === "cmi.score.scaled") {
          if (!("cmi.score.raw" in local)) {
            var raw = Math.round(parseFloat(value) * 10000) / 100;
            if (!isNaN(raw) && raw >= 0) { return String(fromLms(lms.LMSSetValue("cmi.core.score.raw", String(raw)))); }
          }
          return "true";
        }
        var o = objective(element);
        if (o && (o.rest === "id" || /^score\.(raw|min|max)$/.test(o.rest))) {
          fromLms(lms.LMSSetValue(element, value)); lastError = "0"; return "true";
        }
        if (o && (o.rest === "success_status" || o.rest === "completion_status")) {
          var key = "cmi.objectives." + o.index + ".";
          var status = joinStatus(local[key + "completion_status"], local[key + "success_status"]);
          if (status && status !== "not attempted") { lms.LMSSetValue(key + "status", status); }
          return "true";
        }
        if (simple[element]) { return String(fromLms(lms.LMSSetValue(simple[element], value))); }
        var i = interaction(element);
        if (i) {
          /* Forwarded in 1.2's form; what 1.2 cannot take stays here, and the content goes on as under 2004. */
          var forwarded = interactionTo12(i, value);
          if (forwarded) { lms.LMSSetValue(forwarded[0], forwarded[1]); }
          return "true";
        }
        if (/^cmi\.comments_from_learner\.\d+\.comment$/.test(element)) {
          /* 1.2 has one comments string (at most 4096 characters): the learner's comments, one a line. */
          lms.LMSSetValue("cmi.comments", learnerComments().join("\n").slice(0, 4096));
          return "true";
        }
        /* adl.nav.*, progress, comments' location and timestamp: kept here (1.2 has no place for them). */
        return "true";
      }
    };
  }

  /* ---- 1.2 content, 2004 LMS ---- */
  function api12Over2004(lms) {
    var local = {};
    var lastError = "0";
    var simple = {
      "cmi.core.lesson_location": "cmi.location", "cmi.core.student_id": "cmi.learner_id",
      "cmi.core.student_name": "cmi.learner_name", "cmi.core.credit": "cmi.credit", "cmi.core.entry": "cmi.entry",
      "cmi.core.lesson_mode": "cmi.mode", "cmi.suspend_data": "cmi.suspend_data", "cmi.launch_data": "cmi.launch_data",
      "cmi.core.score.raw": "cmi.score.raw", "cmi.core.score.min": "cmi.score.min", "cmi.core.score.max": "cmi.score.max",
      "cmi.student_data.max_time_allowed": "cmi.max_time_allowed",
      "cmi.student_data.time_limit_action": "cmi.time_limit_action",
      "cmi.student_preference.audio": "cmi.learner_preference.audio_level",
      "cmi.student_preference.language": "cmi.learner_preference.language",
      "cmi.student_preference.speed": "cmi.learner_preference.delivery_speed",
      "cmi.student_preference.text": "cmi.learner_preference.audio_captioning"
    };
    var children = {
      "cmi.core._children": "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,lesson_mode,exit,session_time",
      "cmi.core.score._children": "raw,min,max",
      "cmi.objectives._children": "id,score,status",
      "cmi.interactions._children": "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
      "cmi.student_data._children": "mastery_score,max_time_allowed,time_limit_action",
      "cmi.student_preference._children": "audio,language,speed,text"
    };
    function toError(code) {
      code = parseInt(code, 10) || 0;
      if (code === 0 || code === 403) { return "0"; }
      if (code === 122 || code === 132 || code === 142) { return "301"; }
      if (code === 401 || code === 402) { return "401"; }
      if (code === 404) { return "403"; }
      if (code === 405) { return "404"; }
      if (code === 406 || code === 407) { return "405"; }
      if (code >= 200 && code < 300) { return "201"; }
      return "101";
    }
    function fromLms(answer) {
      lastError = toError(lms.GetLastError());
      return answer;
    }
    function scaled() {
      var raw = parseFloat(local["cmi.core.score.raw"]);
      if (isNaN(raw)) { return; }
      var min = parseFloat(local["cmi.core.score.min"]);
      var max = parseFloat(local["cmi.core.score.max"]);
      var value = !isNaN(max) && max > (isNaN(min) ? 0 : min)
        ? (raw - (isNaN(min) ? 0 : min)) / (max - (isNaN(min) ? 0 : min)) : raw / 100;
      lms.SetValue("cmi.score.scaled", String(Math.max(-1, Math.min(1, Math.round(value * 10000) / 10000))));
    }
    function objective(element) {
      var m = /^cmi\.objectives\.(\d+)\.(.+)$/.exec(element);
      return m ? { index: m[1], rest: m[2] } : null;
    }
    /* An interaction element in 2004's name and form (null: nothing to forward). */
    function interactionTo2004(i, value) {
      var type = local[i.key + "type"];
      if (i.rest === "id" || i.rest === "type" || i.rest === "weighting" || /^objectives\.\d+\.id$/.test(i.rest)) {
        return [i.key + i.rest, value];
      }
      if (i.rest === "time") {
        return /^\d{2}:\d{2}:\d{2}/.test(value) ? [i.key + "timestamp", today() + "T" + value.slice(0, 8)] : null;
      }
      if (i.rest === "student_response") { return [i.key + "learner_response", responseTo2004(type, value)]; }
      if (/^correct_responses\.\d+\.pattern$/.test(i.rest)) { return [i.key + i.rest, responseTo2004(type, value)]; }
      if (i.rest === "result") { return [i.key + "result", value === "wrong" ? "incorrect" : value]; }
      if (i.rest === "latency") {
        var iso = clockToIso(value);
        return iso ? [i.key + "latency", iso] : null;
      }
      return null;
    }
    return {
      LMSInitialize: function () { return String(fromLms(lms.Initialize(""))); },
      LMSFinish: function () {
        /* SCORM 1.2: a SCO that finishes without setting lesson_status is completed. */
        if (!("cmi.core.lesson_status" in local)) {
          var completion = String(lms.GetValue("cmi.completion_status"));
          if (completion === "unknown" || completion === "not attempted" || completion === "") {
            lms.SetValue("cmi.completion_status", "completed");
          }
        }
        return String(fromLms(lms.Terminate("")));
      },
      LMSCommit: function () { return String(fromLms(lms.Commit(""))); },
      LMSGetLastError: function () { return lastError; },
      LMSGetErrorString: function (code) { return code === "0" ? "" : "Error " + code + " (through capcourse's SCORM 2004 adapter)"; },
      LMSGetDiagnostic: function (code) { return this.LMSGetErrorString(code); },
      LMSGetValue: function (element) {
        lastError = "0";
        if (children[element]) { return children[element]; }
        if (element === "cmi.core.lesson_status") {
          var status = joinStatus(String(lms.GetValue("cmi.completion_status")), String(lms.GetValue("cmi.success_status")));
          lastError = "0";
          return status || "not attempted";
        }
        if (element === "cmi.core.total_time") { return isoToClock(lms.GetValue("cmi.total_time")) || "0000:00:00.00"; }
        if (element === "cmi.comments_from_lms") {
          /* 2004 keeps the LMS's comments apart; 1.2 reads them as one string, one a line. */
          var comments = [];
          var count = parseInt(lms.GetValue("cmi.comments_from_lms._count"), 10) || 0;
          for (var n = 0; n < count; n += 1) { comments.push(String(lms.GetValue("cmi.comments_from_lms." + n + ".comment"))); }
          lastError = "0";
          return comments.join("\n");
        }
        if (element === "cmi.student_data.mastery_score") {
          var passing = parseFloat(lms.GetValue("cmi.scaled_passing_score"));
          lastError = "0";
          return isNaN(passing) ? "" : String(Math.round(passing * 100));
        }
        if (element === "cmi.objectives._count" || element === "cmi.interactions._count") {
          return String(fromLms(lms.GetValue(element)));
        }
        var o = objective(element);
        if (o && o.rest === "status") {
          var key = "cmi.objectives." + o.index + ".";
          return joinStatus(String(lms.GetValue(key + "completion_status")), String(lms.GetValue(key + "success_status"))) ||
            "not attempted";
        }
        if (o) { return String(fromLms(lms.GetValue(element))); }
        if (simple[element]) {
          var value = lms.GetValue(simple[element]);
          fromLms(value);
          if (element === "cmi.core.entry" && value === "") { return ""; }
          return String(value);
        }
        return element in local ? local[element] : "";
      },
      LMSSetValue: function (element, value) {
        lastError = "0";
        value = String(value);
        local[element] = value;
        if (element === "cmi.core.lesson_status") {
          var split = splitStatus(value);
          var answer = "true";
          if (split.completion) { answer = String(fromLms(lms.SetValue("cmi.completion_status", split.completion))); }
          if (split.success && answer === "true") { answer = String(fromLms(lms.SetValue("cmi.success_status", split.success))); }
          return answer;
        }
        if (element === "cmi.core.session_time") {
          var iso = clockToIso(value);
          return iso ? String(fromLms(lms.SetValue("cmi.session_time", iso))) : (lastError = "405", "false");
        }
        if (element === "cmi.core.exit") { return String(fromLms(lms.SetValue("cmi.exit", value))); }
        var o = objective(element);
        if (o && o.rest === "status") {
          var parts = splitStatus(value);
          var key = "cmi.objectives." + o.index + ".";
          if (parts.completion) { lms.SetValue(key + "completion_status", parts.completion); }
          if (parts.success) { lms.SetValue(key + "success_status", parts.success); }
          return "true";
        }
        if (o) { fromLms(lms.SetValue(element, value)); lastError = "0"; return "true"; }
        if (simple[element]) {
          var result = String(fromLms(lms.SetValue(simple[element], value)));
          if (/^cmi\.core\.score\./.test(element)) { scaled(); }
          return result;
        }
        var i = interaction(element);
        if (i) {
          /* Forwarded in 2004's form; the content's own values stay here for its reads (1.2 makes most of
             an interaction write-only). */
          var forwarded = interactionTo2004(i, value);
          if (forwarded) { lms.SetValue(forwarded[0], forwarded[1]); }
          lastError = "0";
          return "true";
        }
        if (element === "cmi.comments") {
          /* Each comment the SCO writes becomes one of 2004's comments from the learner. */
          var next = parseInt(lms.GetValue("cmi.comments_from_learner._count"), 10) || 0;
          lms.SetValue("cmi.comments_from_learner." + next + ".comment", value);
          lastError = "0";
          return "true";
        }
        return "true";
      }
    };
  }

  var contentApi = null;
  if (wanted === "2004") {
    contentApi = lms2004 || (lms12 && api2004Over12(lms12));
    if (contentApi) { window.API_1484_11 = contentApi; }
  } else {
    contentApi = (lms12 && !lms2004) ? lms12 : (lms2004 && api12Over2004(lms2004));
    if (contentApi) { window.API = contentApi; }
  }
  if (!contentApi) {
    status.textContent = "Open this activity from your learning platform to have your progress recorded.";
  }

  /* The content, with whatever the LMS appended to our URL (item parameters) passed on. */
  if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(launch) || launch.indexOf("..") !== -1) {
    status.textContent = "This launch link is not valid.";
    return;
  }
  params.delete("capcourse_api");
  params.delete("capcourse_launch");
  var extra = params.toString();
  var hashAt = launch.indexOf("#");
  var hash = hashAt === -1 ? "" : launch.slice(hashAt);
  var target = hashAt === -1 ? launch : launch.slice(0, hashAt);
  if (extra) { target += (target.indexOf("?") === -1 ? "?" : "&") + extra; }
  var frame = document.createElement("iframe");
  frame.title = "Learning content";
  frame.src = "../" + target + (hash || window.location.hash);
  document.body.appendChild(frame);
}());
