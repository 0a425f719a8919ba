// The site header on narrow screens: the navigation folds behind a Menu button.
// Without JavaScript the navigation simply wraps, and stays usable.
(function () {
  "use strict";
  var button = document.querySelector("[data-nav-toggle]");
  var header = document.querySelector("header.site");
  if (!button || !header) return;
  button.hidden = false;
  header.classList.add("collapsible");
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    header.classList.toggle("nav-open", open);
  });
})();
