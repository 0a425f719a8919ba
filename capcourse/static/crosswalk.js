// Progressive enhancement of the crosswalk editor: filter each side's items by words.
// Without JavaScript every item is listed.
(function () {
  "use strict";
  document.querySelectorAll("[data-side]").forEach(function (side) {
    var input = side.querySelector("[data-side-filter]");
    var status = side.querySelector("[data-side-status]");
    var rows = Array.prototype.slice.call(side.querySelectorAll("li[data-text]"));
    var texts = rows.map(function (row) { return row.getAttribute("data-text").toLowerCase(); });
    if (!input) return;
    function filter() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row, i) {
        var match = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
        // A chosen item stays visible, so the choice is never hidden.
        var chosen = row.querySelector("input:checked");
        row.hidden = !(match || chosen);
        if (match) shown++;
      });
      status.textContent = words.length ? shown + " matching item" + (shown === 1 ? "" : "s") : "";
    }
    input.addEventListener("input", filter);
    // What was typed before this script ran (it is deferred) applies now.
    if (input.value) filter();
  });
})();
