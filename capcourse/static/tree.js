// Progressive enhancement of the framework tree: filter by words, expand and
// collapse all. Without JavaScript the tree still works as <details> elements.
(function () {
  "use strict";
  var tree = document.querySelector("[data-tree]");
  var input = document.querySelector("[data-tree-filter]");
  var status = document.querySelector(".filter-status");
  if (!tree) return;
  var nodes = Array.prototype.slice.call(tree.querySelectorAll("li.node"));
  var texts = nodes.map(function (node) { return (node.getAttribute("data-text") || "").toLowerCase(); });

  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    // A node is visible when it matches or one of its descendants does;
    // walking backwards visits descendants before their ancestors.
    var visible = new Array(nodes.length);
    for (var i = nodes.length - 1; i >= 0; i--) {
      var match = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      var childMatch = Array.prototype.some.call(nodes[i].querySelectorAll("li.node"), function (child) {
        return !child.hidden;
      });
      visible[i] = !words.length || match || childMatch;
      nodes[i].hidden = !visible[i];
      nodes[i].classList.toggle("match", words.length > 0 && match);
      if (words.length && match) shown++;
      var details = nodes[i].querySelector(":scope > details");
      if (details && words.length && childMatch) details.open = true;
    }
    status.textContent = words.length ? shown + " matching item" + (shown === 1 ? "" : "s") : "";
  }

  if (input) {
    input.addEventListener("input", filter);
    // What was typed before this script ran (it is deferred; a slow page, or a browser
    // restoring the form) applies now, not only at the next keystroke.
    if (input.value) filter();
  }
  document.querySelectorAll("[data-expand]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("data-expand") === "open";
      tree.querySelectorAll("details").forEach(function (d) { d.open = open; });
    });
  });
})();
