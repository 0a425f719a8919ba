// LTI Dynamic Registration, last step: tell the LMS that opened this page that capcourse is registered.
"use strict";
(function () {
  var target = window.opener || window.parent;
  if (target && target !== window) {
    target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
})();
