// prow admin: small enhancements; every page works without this file.
(function () {
  "use strict";
  // "Select all" on the change list.
  var all = document.getElementById("select-all");
  if (all) {
    all.hidden = false;
    var boxes = document.querySelectorAll('input[name="_selected"]');
    var counter = document.querySelector("[data-selected-count]");
    var update = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) { n += 1; } });
      if (counter) { counter.textContent = n ? n + " of " + boxes.length + " selected" : ""; }
      all.checked = n > 0 && n === boxes.length;
    };
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
    boxes.forEach(function (b) { b.addEventListener("change", update); });
  }
  // Foreign keys over large tables: suggestions from the related model's search.
  document.querySelectorAll("input[data-autocomplete]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = input.dataset.autocomplete + "?q=" + encodeURIComponent(input.value);
        fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) {
            list.replaceChildren();
            data.results.forEach(function (item) {
              var option = document.createElement("option");
              option.value = item.id;
              option.textContent = item.text;
              list.appendChild(option);
            });
          });
      }, 200);
    });
  });
})();
