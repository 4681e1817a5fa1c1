/* The query builder's condition rows, loaded only on query pages. The page works without it
   (rows are rendered on the server, three blank ones to fill, and a value may be typed as a
   code or a label); with it, a row's conditions and value box follow the field and operator
   chosen (a select box of labels, a date picker, nothing for "this month"), and "Add a
   condition" adds rows without a reload. */
(function () {
  "use strict";
  var form = document.getElementById("query-form");
  var data = document.getElementById("query-fields");
  if (!form || !data) { return; }
  var info = JSON.parse(data.textContent);
  var noValue = ["empty", "not_empty", "today", "yesterday", "this_week", "last_week",
                 "this_month", "last_month", "this_quarter", "this_year", "last_7_days",
                 "last_30_days"];
  var pickOps = ["eq", "ne"], dateOps = ["eq", "ne", "lt", "le", "gt", "ge"];
  var opLabels = {};
  form.querySelectorAll(".query-row .query-op option").forEach(function (o) {
    opLabels[o.value] = o.textContent;
  });
  var chooseText = form.dataset.choose || "—";

  function widgetFor(f, op) {
    if (!f) { return "text"; }
    if (noValue.indexOf(op) >= 0) { return "none"; }
    if (f.choices.length && pickOps.indexOf(op) >= 0) { return "select"; }
    if (f.input === "date" && dateOps.indexOf(op) >= 0) { return "date"; }
    return "text";
  }

  function makeValue(row, f, fieldName, op) {
    var old = row.querySelector(".query-value");
    var kind = widgetFor(f, op);
    if (old && old.dataset.widget === kind && kind !== "select") { return; }
    var current = old ? old.value : "";
    var box;
    if (kind === "select") {
      box = document.createElement("select");
      box.className = "form-select query-value";
      var blank = document.createElement("option");
      blank.value = ""; blank.textContent = chooseText;
      box.appendChild(blank);
      f.choices.forEach(function (pair) {
        var o = document.createElement("option");
        o.value = pair[0]; o.textContent = pair[1];
        o.selected = current === pair[0] || current.toLowerCase() === pair[1].toLowerCase();
        box.appendChild(o);
      });
    } else {
      box = document.createElement("input");
      box.className = "form-control query-value";
      if (kind === "date") {
        box.type = "date";
        if (/^\d{4}-\d{2}-\d{2}$/.test(current)) { box.value = current; }
      } else if (kind === "none") {
        box.readOnly = true;
        box.placeholder = old ? (old.getAttribute("placeholder") || "") : "";
      } else {
        box.value = kind === "text" && old && old.dataset.widget !== "none" ? current : "";
        if (f && f.choices.length) { box.setAttribute("list", "choices-" + fieldName); }
        if (f && f.input === "number") { box.setAttribute("inputmode", "decimal"); }
      }
    }
    box.name = "v";
    box.dataset.widget = kind;
    box.setAttribute("aria-label", old ? old.getAttribute("aria-label") : "");
    if (old) { old.replaceWith(box); } else { row.querySelector(".query-value-cell").prepend(box); }
  }

  function wire(row) {
    var field = row.querySelector(".query-field"), op = row.querySelector(".query-op");
    field.addEventListener("change", function () {
      var f = info[field.value], current = op.value;
      if (f) {
        op.innerHTML = "";
        f.ops.forEach(function (name) {
          var o = document.createElement("option");
          o.value = name; o.textContent = opLabels[name] || name; o.selected = name === current;
          op.appendChild(o);
        });
      }
      makeValue(row, f, field.value, op.value);
    });
    op.addEventListener("change", function () {
      makeValue(row, info[field.value], field.value, op.value);
    });
  }

  var rows = form.querySelectorAll(".query-row");
  rows.forEach(wire);
  var add = document.getElementById("query-add-row");
  if (add && rows.length) {
    add.classList.remove("d-none");
    add.addEventListener("click", function () {
      var all = form.querySelectorAll(".query-row");
      var copy = all[all.length - 1].cloneNode(true);
      copy.dataset.row = String(all.length);
      copy.querySelector(".query-field").value = "";
      copy.querySelectorAll(".invalid-feedback").forEach(function (e) { e.remove(); });
      copy.querySelectorAll(".is-invalid").forEach(function (e) { e.classList.remove("is-invalid"); });
      var value = copy.querySelector(".query-value");
      var blank = document.createElement("input");
      blank.className = "form-control query-value"; blank.name = "v";
      blank.dataset.widget = "text";
      blank.setAttribute("aria-label", value.getAttribute("aria-label") || "");
      value.replaceWith(blank);
      all[all.length - 1].after(copy);
      wire(copy);
      copy.querySelector(".query-field").focus();
    });
  }
})();
