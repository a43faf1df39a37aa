/* AgentLoop UI behaviour that the Content-Security-Policy keeps out of the templates (no inline
   scripts, handlers or style attributes): confirmations and the step timeline's geometry. */
(function () {
  "use strict";

  /* <form data-confirm="…">: asks before submitting; cancelling keeps the page as it is. */
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);

  /* Replay steps carry their depth and timing bar as data attributes; CSSOM writes (unlike
     style="…" attributes) are allowed under style-src 'self'. */
  function layoutSteps(root) {
    root.querySelectorAll("[data-depth]").forEach(function (element) {
      element.style.setProperty("--depth", element.getAttribute("data-depth"));
    });
    root.querySelectorAll("[data-bar-left]").forEach(function (element) {
      element.style.setProperty("margin-left", element.getAttribute("data-bar-left") + "%");
      element.style.setProperty("width", element.getAttribute("data-bar-width") + "%");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { layoutSteps(document); });
  document.addEventListener("htmx:afterSwap", function (event) { layoutSteps(event.target); });
})();
