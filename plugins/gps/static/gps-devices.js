// CareBusiness GPS: the devices pages. Registering (POST /api/v1/gps/devices), assigning a
// pending device (POST /devices/<id>/assign), the vehicle picker, the device's small map, and
// the cut-off / restore commands, confirmed twice: a confirm dialog, then the plate typed.
(function () {
  "use strict";
  var G = window.GpsMap;
  var root = document.getElementById("gps-root");
  var wordsEl = document.getElementById("gps-device-words");
  var words = wordsEl ? JSON.parse(wordsEl.textContent) : {};

  // vehicle picker: the typed text asks /gps/vehicles/pick; a chosen "… #<id>" sets the id
  document.querySelectorAll("[data-vehicle-picker]").forEach(function (holder) {
    var input = holder.querySelector("[data-vehicle-input]"), hidden = holder.querySelector("[data-vehicle-id]");
    var list = document.getElementById(input.getAttribute("list")), timer = null;
    input.addEventListener("input", function () {
      var m = /#(\d+)\s*$/.exec(input.value);
      hidden.value = m ? m[1] : "";
      if (m) { return; }
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2) { return; }
        fetch(holder.getAttribute("data-picker-url") + "?q=" + encodeURIComponent(q),
              { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { options: [] }; })
          .then(function (body) {
            list.innerHTML = "";
            (body.options || []).forEach(function (o) {
              var el = document.createElement("option"); el.value = o.label; list.appendChild(el);
            });
          }).catch(function () {});
      }, 200);
    });
  });

  function fail(form, err) {
    var el = form.querySelector("[data-error]");
    var fields = err.body && (err.body.errors || (err.body.error && err.body.error.fields));
    var extra = fields ? Object.keys(fields).map(function (k) { return [].concat(fields[k]).join(" "); }).join(" ") : "";
    el.textContent = (err.message || "") + (extra ? " " + extra : "");
    el.classList.remove("d-none");
  }

  var register = document.getElementById("gps-register");
  if (register) {
    register.addEventListener("submit", function (e) {
      e.preventDefault();
      var imei = register.imei.value.replace(/\s+/g, "");
      if (!/^\d{15}$/.test(imei)) { fail(register, { message: words.imei }); return; }
      var vehicle = register.querySelector("[data-vehicle-id]").value;
      if (!vehicle) { fail(register, { message: words.pickVehicle }); return; }
      G.api("POST", "/devices", { imei: imei, vehicle_id: Number(vehicle) })
        .then(function () { window.location.reload(); })
        .catch(function (err) { fail(register, err); });
    });
  }
  document.querySelectorAll("form[data-assign]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var vehicle = form.querySelector("[data-vehicle-id]").value;
      if (!vehicle) { fail(form, { message: words.pickVehicle }); return; }
      var body = { vehicle_id: Number(vehicle) };
      if (form.getAttribute("data-version")) { body.version = Number(form.getAttribute("data-version")); }
      G.api("POST", "/devices/" + form.getAttribute("data-assign") + "/assign", body)
        .then(function () { window.location.reload(); })
        .catch(function (err) { fail(form, err); });
    });
  });

  var small = document.getElementById("gps-map");
  if (small && small.getAttribute("data-lat")) {
    var ll = [Number(small.getAttribute("data-lat")), Number(small.getAttribute("data-lon"))];
    var map = G.create(small, { scrollWheelZoom: false });
    map.setView(ll, 15);
    L.marker(ll, { icon: G.vehicleIcon(small.getAttribute("data-status"), Number(small.getAttribute("data-course")), small.getAttribute("data-label")) }).addTo(map);
  }

  // commands: first a confirm dialog, then the plate typed in a modal; only then POST
  var modalEl = document.getElementById("cmd-confirm");
  if (modalEl) {
    var modal = new bootstrap.Modal(modalEl), pending = null;
    var typed = document.getElementById("cmd-typed"), send = document.getElementById("cmd-send");
    var norm = function (s) { return String(s).replace(/\s+/g, "").toUpperCase(); };
    typed.addEventListener("input", function () { send.disabled = norm(typed.value) !== norm(typed.getAttribute("data-expected")); });
    modalEl.addEventListener("shown.bs.modal", function () { typed.focus(); });
    document.querySelectorAll("[data-command]").forEach(function (b) {
      b.addEventListener("click", function () {
        var kind = b.getAttribute("data-command"), w = words[kind];
        if (!window.confirm(w.first)) { return; }
        pending = kind;
        document.getElementById("cmd-confirm-title").textContent = w.title;
        document.getElementById("cmd-confirm-text").textContent = w.first;
        typed.value = ""; send.disabled = true;
        modal.show();
      });
    });
    document.getElementById("cmd-confirm-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!pending || send.disabled) { return; }
      send.disabled = true;
      var out = document.getElementById("cmd-result");
      G.api("POST", "/commands", { device: root.getAttribute("data-device"), kind: pending, confirm: typed.value.trim() })
        .then(function () {
          modal.hide();
          out.className = "alert alert-success mt-2 mb-0 py-1 px-2 small"; out.textContent = words.queued;
          window.setTimeout(function () { window.location.reload(); }, 1500);
        })
        .catch(function (err) {
          modal.hide();
          out.className = "alert alert-danger mt-2 mb-0 py-1 px-2 small"; out.textContent = err.message;
        });
    });
  }
})();
