/* The query builder's condition rows, loaded only on query pages. The page works without it
   (rows are rendered on the server, three blank ones to fill, and a value may be typed as a
   code or a label); with it, a row's conditions and value box follow the field and operator
   chosen (a select box of labels, a date picker, nothing for "this month"), and "Add a
   condition" adds rows without a reload. "Between" gets two inputs (two date pickers for
   dates), "is one of" a multi-select of labels (fields with known values) or tags (free
   values); the form still sends one "v" per row, "a .. b" or "a; b", as saved queries and
   shared links read. */
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
    if (op === "between") { return "range"; }
    if (op === "in") { return f.choices.length ? "multi" : "tags"; }
    if (f.choices.length && pickOps.indexOf(op) >= 0) { return "select"; }
    if (f.input === "date" && dateOps.indexOf(op) >= 0) { return "date"; }
    return "text";
  }

  /* The row's value as the URL carries it: "a .. b" for a range, "a; b; c" for several
     values (a semicolon: a comma may be a thousands separator), else what is in the box. */
  function currentText(row) {
    var hidden = row.querySelector(".query-value");
    var kind = hidden ? hidden.dataset.widget : "text";
    if (kind === "range") {
      var ends = row.querySelectorAll(".query-range .query-part");
      var low = ends[0].value.trim(), high = ends[1].value.trim();
      return low || high ? low + " .. " + high : "";
    }
    if (kind === "multi") {
      var picked = [];
      row.querySelectorAll("select.query-part option").forEach(function (o) {
        if (o.selected) { picked.push(o.value); }
      });
      return picked.join("; ");
    }
    if (kind === "tags") {
      var typed = row.querySelector(".query-tag-input");
      var tags = tagValues(row);
      if (typed && typed.value.trim()) { tags.push(typed.value.trim()); }
      return tags.join("; ");
    }
    return hidden && kind !== "none" ? hidden.value : "";
  }

  function splitList(text) {
    return text.split(/;|,(?!\d{3}(?!\d))/).map(function (t) { return t.trim(); })
      .filter(function (t) { return t; });
  }

  function splitRange(text) {
    var parts = text.indexOf("..") >= 0 ? text.split("..") : [text, ""];
    return [parts[0].trim(), (parts[1] || "").trim()];
  }

  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function tagValues(row) {
    var found = [];
    row.querySelectorAll(".query-tag").forEach(function (t) { found.push(t.dataset.value); });
    return found;
  }

  function addTag(row, text, hidden) {
    text = text.trim();
    if (!text) { return; }
    var list = row.querySelector(".query-tags");
    var tag = el("span", "badge text-bg-secondary me-1 mb-1 query-tag");
    tag.dataset.value = text;
    tag.textContent = text + " ";
    var x = el("button", "btn-close btn-close-white ms-1", {
      "type": "button", "aria-label": (form.dataset.remove || "Remove") + " " + text});
    x.style.fontSize = "0.6em";
    x.addEventListener("click", function () { tag.remove(); hidden.value = currentText(row); });
    tag.appendChild(x);
    list.appendChild(tag);
    hidden.value = currentText(row);
  }

  /* A free-values box as tags: Enter, Tab or a semicolon ends a tag, Backspace in the
     empty box takes the last one back; the hidden "v" always holds them all. */
  function makeTags(row, box) {
    var hidden = el("input", "query-value", {"type": "hidden", "name": "v"});
    hidden.dataset.widget = "tags";
    var wrap = el("div", "form-control d-flex flex-wrap align-items-center query-tags-box");
    var list = el("span", "d-flex flex-wrap query-tags");
    var input = el("input", "border-0 flex-grow-1 query-tag-input", {
      "aria-label": box.getAttribute("aria-label") || form.dataset.values || "",
      "placeholder": form.dataset.tagHint || ""});
    input.style.outline = "none";
    input.style.minWidth = "8em";
    if (box.getAttribute("inputmode")) { input.setAttribute("inputmode", box.getAttribute("inputmode")); }
    wrap.appendChild(list); wrap.appendChild(input);
    box.replaceWith(wrap);
    wrap.after(hidden);
    splitList(box.value || "").forEach(function (t) { addTag(row, t, hidden); });
    hidden.value = currentText(row);
    input.addEventListener("keydown", function (e) {
      if ((e.key === "Enter" || e.key === ";" || (e.key === "Tab" && input.value.trim()))) {
        e.preventDefault();
        addTag(row, input.value, hidden);
        input.value = "";
      } else if (e.key === "Backspace" && !input.value) {
        var tags = row.querySelectorAll(".query-tag");
        if (tags.length) { tags[tags.length - 1].remove(); hidden.value = currentText(row); }
      }
    });
    input.addEventListener("input", function () { hidden.value = currentText(row); });
    wrap.addEventListener("click", function () { input.focus(); });
  }

  function clearValue(row) {
    var cell = row.querySelector(".query-value-cell");
    Array.prototype.slice.call(cell.children).forEach(function (child) {
      if (!child.classList.contains("invalid-feedback")) { child.remove(); }
    });
    return cell;
  }

  function makeValue(row, f, fieldName, op) {
    var old = row.querySelector(".query-value");
    var kind = widgetFor(f, op);
    var oldKind = old ? old.dataset.widget : "";
    if (old && oldKind === kind && kind !== "select" && kind !== "multi" && kind !== "range") {
      return;
    }
    var current = old ? currentText(row) : "";
    var label = (kind === "multi" || kind === "tags" ? form.dataset.values : form.dataset.value) || "";
    var cell = clearValue(row);
    var first = cell.firstChild;
    function put(node) { cell.insertBefore(node, first); }
    var box;
    if (kind === "range") {
      var ends = oldKind === "range" ? splitRange(current) : ["", ""];
      var date = f && f.input === "date";
      var group = el("div", "input-group query-range");
      group.dataset.widget = "range";
      [["from", form.dataset.from || ""], ["to", form.dataset.to || ""]].forEach(function (p, n) {
        var end = el("input", "form-control query-part", {"aria-label": p[1]});
        end.type = date && (!ends[n] || /^\d{4}-\d{2}-\d{2}$/.test(ends[n])) ? "date" : "text";
        end.value = ends[n];
        end.dataset.part = p[0];
        if (f && f.input === "number") { end.setAttribute("inputmode", "decimal"); }
        group.appendChild(end);
        if (n === 0) {
          var word = el("span", "input-group-text");
          word.textContent = form.dataset.toWord || "–";
          group.appendChild(word);
        }
      });
      put(group);
      box = el("input", "query-value", {"type": "hidden"});
    } else if (kind === "multi") {
      var had = oldKind === "multi" || oldKind === "select" || oldKind === "tags"
        ? splitList(current) : [];
      var multi = el("select", "form-select query-part", {"aria-label": label});
      multi.multiple = true;
      multi.size = Math.min(f.choices.length, 4);
      multi.dataset.part = "in";
      f.choices.forEach(function (pair) {
        var o = document.createElement("option");
        o.value = pair[0]; o.textContent = pair[1];
        o.selected = had.some(function (t) {
          return t === pair[0] || t.toLowerCase() === pair[1].toLowerCase();
        });
        multi.appendChild(o);
      });
      put(multi);
      box = el("input", "query-value", {"type": "hidden"});
    } else if (kind === "select") {
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
        box.placeholder = form.dataset.noValue || "";
      } else {
        box.value = oldKind && oldKind !== "none" && oldKind !== "range" ? current : "";
        if (f && f.choices.length && kind === "text") { box.setAttribute("list", "choices-" + fieldName); }
        if (f && f.input === "number") { box.setAttribute("inputmode", "decimal"); }
      }
    }
    box.name = "v";
    box.dataset.widget = kind;
    if (box.type !== "hidden") { box.setAttribute("aria-label", label); }
    put(box);
    if (kind === "tags") { makeTags(row, box); }
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
  rows.forEach(function (row) {
    var box = row.querySelector(".query-value");
    if (box && box.dataset.widget === "tags") { makeTags(row, box); }
  });
  /* Sent as the saved query reads: each row's value in its one "v" (the inputs of a range
     or a multi-select lose their names, which only a page without this script needs). */
  form.addEventListener("submit", function () {
    form.querySelectorAll(".query-row").forEach(function (row) {
      var hidden = row.querySelector(".query-value");
      if (!hidden) { return; }
      var kind = hidden.dataset.widget;
      if (kind === "range" || kind === "multi" || kind === "tags") {
        hidden.value = currentText(row);
        row.querySelectorAll(".query-part").forEach(function (p) { p.removeAttribute("name"); });
      }
    });
  });
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
      var cell = clearValue(copy);
      var blank = document.createElement("input");
      blank.className = "form-control query-value"; blank.name = "v";
      blank.dataset.widget = "text";
      blank.setAttribute("aria-label", form.dataset.values || "");
      cell.prepend(blank);
      all[all.length - 1].after(copy);
      wire(copy);
      copy.querySelector(".query-field").focus();
    });
  }
})();
