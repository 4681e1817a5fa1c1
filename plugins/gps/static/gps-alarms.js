// CareBusiness GPS: acknowledging alarms with a note (POST /api/v1/gps/alarms/<id>/acknowledge)
// and a notice when new alarms arrive (polls the open count) without losing typed notes.
(function () {
  "use strict";
  var G = window.GpsMap;
  var root = document.getElementById("gps-root");
  var words = JSON.parse(document.getElementById("gps-alarm-words").textContent);
  var known = {};
  document.querySelectorAll("[data-alarm]").forEach(function (r) { known[r.getAttribute("data-alarm")] = true; });

  document.querySelectorAll("form[data-ack]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var id = form.getAttribute("data-ack"), row = form.closest("tr");
      var body = { note: form.note.value.trim() };
      var version = form.getAttribute("data-version");
      if (version) { body.version = Number(version); }
      form.querySelector("button").disabled = true;
      G.api("POST", "/alarms/" + id + "/acknowledge", body).then(function () {
        row.classList.add("table-success");
        form.outerHTML = '<span class="text-success small" data-acknowledged>✓ ' + G.escape(words.done) +
          (body.note ? " · " + G.escape(body.note) : "") + "</span>";
        window.setTimeout(function () { row.remove(); }, 1500);
        var badge = document.getElementById("gps-alarm-count");
        if (badge) { badge.textContent = Math.max(0, parseInt(badge.textContent, 10) - 1); }
      }).catch(function (err) {
        form.querySelector("button").disabled = false;
        var el = row.querySelector("[data-ack-error]");
        el.textContent = err.message; el.classList.remove("d-none");
      });
    });
  });

  function poll() {
    G.api("GET", "/alarms?status=open&per_page=100").then(function (body) {
      var fresh = (body.items || []).filter(function (a) { return !known[String(a.id)]; }).length;
      var box = document.getElementById("al-new");
      if (fresh) {
        document.getElementById("al-new-text").textContent = words["new"].replace("{n}", fresh);
        box.classList.remove("d-none");
      }
      document.getElementById("gps-updated").textContent = G.words.updated + " " + new Date().toLocaleTimeString(document.documentElement.lang || undefined);
    }).catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 10000);
  root.setAttribute("data-ready", "1");
})();
