// CareBusiness: the customer picker (written for this project, no third-party code).
// A text box marked data-customer-picker="<datalist id>" inside an element carrying
// data-picker-url asks that address (?q=) as the user types and offers the answers in the
// datalist. Each answer ends with "#<customer number>", which the server reads back; without
// script the typed text is searched on submit and the page offers the matches to tick.
(function () {
  "use strict";
  document.querySelectorAll("input[data-customer-picker]").forEach(function (input) {
    var holder = input.closest("[data-picker-url]");
    var list = document.getElementById(input.getAttribute("data-customer-picker"));
    if (!holder || !list) { return; }
    var url = holder.getAttribute("data-picker-url");
    var timer = null;
    var asked = "";
    function fill(options) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      options.forEach(function (option) {
        var el = document.createElement("option");
        el.value = option.label;  // text, never HTML: names are shown as typed
        list.appendChild(el);
      });
    }
    function ask() {
      var q = input.value.trim();
      if (q.length < 2 || q === asked || /#\d+\s*$/.test(q)) { return; }
      asked = q;
      fetch(url + "?q=" + encodeURIComponent(q),
            { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { options: [] }; })
        .then(function (body) { if (input.value.trim() === q) { fill(body.options || []); } })
        .catch(function () { /* offline or logged out: the search-then-choose path remains */ });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 250);
    });
  });
})();
