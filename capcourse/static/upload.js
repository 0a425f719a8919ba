/* The SCORM upload form with a progress bar: sent by XHR (so the browser reports upload progress),
   answered in JSON; without script the form posts as usual and the server redirects. */
(function () {
  "use strict";
  var form = document.getElementById("package-upload");
  if (!form || !window.FormData) { return; }
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = form.querySelector("button[type=submit]");

  var maxBytes = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
  var fileInput = form.querySelector("input[type=file]");

  function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = fileInput && fileInput.files.length ? fileInput.files[0] : null;
    if (file && maxBytes && file.size > maxBytes) {
      /* Said before a byte is sent; the server would answer 413 from the Content-Length anyway. */
      status.textContent = "The package is " + mib(file.size) + "; this server takes packages up to " + mib(maxBytes) + ".";
      status.className = "flash flash-error";
      return;
    }
    status.className = "";
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    /* The token as a header: the server checks it before it reads the (large) body. */
    var token = form.querySelector("input[name=csrf_token]");
    if (token) { request.setRequestHeader("X-CSRFToken", token.value); }
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    status.textContent = "Uploading…";
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = "Uploading… " + progress.value + "%";
        if (e.loaded === e.total) { status.textContent = "Uploaded; unpacking and importing…"; }
      }
    });
    request.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (e) { body = null; }
      if (request.status === 201 && body && body.location) {
        window.location.assign(body.location);
        return;
      }
      button.disabled = false;
      progress.hidden = true;
      var message = body && body.message ? body.message : "The upload failed (HTTP " + request.status + ").";
      if (request.status === 413 && !(body && body.message)) {
        message = "The package is bigger than this server accepts.";
      }
      var details = [];
      if (body && body.errors) {
        Object.keys(body.errors).forEach(function (key) {
          var value = body.errors[key];
          if (Array.isArray(value)) { details = details.concat(value.slice(0, 5)); }
        });
      }
      status.textContent = message + (details.length ? " " + details.join(" · ") : "");
      status.className = "flash flash-error";
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      status.textContent = "The upload did not reach the server; check the connection and try again.";
    });
    request.send(new FormData(form));
  });
}());
