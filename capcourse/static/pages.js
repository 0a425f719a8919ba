// Small behaviours of the coverage pages, kept out of the HTML for the Content-Security-Policy.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-action=print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
