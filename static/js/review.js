/* Review page keyboard shortcuts (templates/review/review.html). */
(function () {
  "use strict";
  var form = document.getElementById("decision");
  var help = document.getElementById("shortcuts");
  var sections = Array.prototype.slice.call(document.querySelectorAll(".replay section"));
  var current = -1;
  function decide(verdict) {
    if (!form) return;
    var button = form.querySelector('button[data-verdict="' + verdict + '"]');
    if (button) form.requestSubmit(button);
  }
  function move(step) {
    if (!sections.length) return;
    current = Math.max(0, Math.min(sections.length - 1, current + step));
    sections[current].scrollIntoView({block: "start"});
    sections.forEach(function (s, i) { s.classList.toggle("review-focus", i === current); });
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.isContentEditable);
    if (event.key === "Escape" && typing) { target.blur(); event.preventDefault(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (key === "?") { help.open ? help.close() : help.showModal(); event.preventDefault(); return; }
    if (help.open) { if (key === "Escape") help.close(); return; }
    var category = form && form.querySelector('select[name="category"]');
    if (/^[1-9]$/.test(key) && category && category.options.length > Number(key)) {
      category.selectedIndex = Number(key); event.preventDefault(); return;
    }
    var actions = {
      c: function () { decide("confirm"); }, r: function () { decide("reject"); },
      e: function () { decide("escalate"); }, n: function () { decide("skip"); },
      j: function () { move(1); }, k: function () { move(-1); },
      w: function () { form && form.querySelector('textarea[name="correction"]').focus(); },
      o: function () { form && form.querySelector('textarea[name="notes"]').focus(); },
      d: function () { var choice = document.getElementById("dataset-choice"); if (choice) choice.focus(); },
      a: function () { var add = document.getElementById("add-last"); if (add) add.requestSubmit(); }
    };
    if (actions[key]) { event.preventDefault(); actions[key](); }
  });
})();
