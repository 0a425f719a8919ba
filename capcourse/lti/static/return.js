// Send the deep-linking answer back to the LMS at once; the button stays for browsers without script.
"use strict";
(function () {
  var form = document.getElementById("lti-return");
  if (form) {
    form.submit();
  }
})();
