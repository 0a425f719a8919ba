// Progressive enhancement of the mapping screen: filter the framework trees by
// words, item type and curriculum area; count the ticked items. Without
// JavaScript every item is listed and the form still submits.
(function () {
  "use strict";
  var form = document.querySelector("[data-mapping-form]");
  if (!form) return;
  var text = form.querySelector("[data-filter-text]");
  var type = form.querySelector("[data-filter-type]");
  var area = form.querySelector("[data-filter-area]");
  var status = form.querySelector(".filter-status");
  var count = form.querySelector("[data-selected-count]");
  var nodes = Array.prototype.slice.call(form.querySelectorAll("li.node"));
  var data = nodes.map(function (node) {
    return {
      text: (node.getAttribute("data-text") || "").toLowerCase(),
      type: node.getAttribute("data-type") || "",
      areas: (node.getAttribute("data-areas") || "").split("|").filter(Boolean)
    };
  });

  function filter() {
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wantType = type ? type.value : "";
    var wantArea = area ? area.value : "";
    var active = words.length || wantType || wantArea;
    var shown = 0;
    // Backwards, so children are decided before their parents.
    for (var i = nodes.length - 1; i >= 0; i--) {
      var d = data[i];
      var match = words.every(function (w) { return d.text.indexOf(w) !== -1; }) &&
        (!wantType || d.type === wantType) &&
        (!wantArea || d.areas.indexOf(wantArea) !== -1);
      var children = nodes[i].querySelectorAll(":scope > details > ul > li.node");
      var childShown = Array.prototype.some.call(children, function (c) { return !c.hidden; });
      nodes[i].hidden = active && !match && !childShown;
      var details = nodes[i].querySelector(":scope > details");
      if (details && active && childShown) details.open = true;
      nodes[i].classList.toggle("match", Boolean(active && match));
      if (active && match) shown++;
    }
    if (active) {
      form.querySelectorAll("details.pane").forEach(function (pane) {
        pane.open = pane.querySelector("li.node.match") !== null;
      });
    }
    status.textContent = active ? shown + " matching item" + (shown === 1 ? "" : "s") : "";
  }

  function updateCount() {
    var n = form.querySelectorAll("input[name=item_ids]:checked:not(:disabled)").length;
    count.textContent = n ? n + " selected" : "";
  }

  [text, type, area].forEach(function (el) { if (el) el.addEventListener("input", filter); });
  form.addEventListener("change", updateCount);
  // What was typed or chosen before this script ran (it is deferred; a slow page, or a
  // browser restoring the form) applies now, not only at the next keystroke.
  if ((text && text.value) || (type && type.value) || (area && area.value)) filter();
  updateCount();
})();
