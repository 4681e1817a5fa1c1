// CareBusiness GPS: geofences. Lists them from GET /api/v1/gps/geofences and draws them;
// users with gps.geofences draw new ones (polygon: click the corners; circle: click the
// centre and set the radius; corridor: click along the route and set the half-width) and
// save, edit or delete them through the API (PUT carries the version: a stale edit is 409).
(function () {
  "use strict";
  var G = window.GpsMap, W = G.words;
  var root = document.getElementById("gps-root");
  var canEdit = root.getAttribute("data-can-edit") === "1";
  var map = G.create(document.getElementById("gps-map"));
  var shapes = L.featureGroup().addTo(map), draft = L.layerGroup().addTo(map);
  var fences = [], points = [], drawing = false, editing = null;
  var form = document.getElementById("gf-form");
  var COLOUR = "#6f42c1";

  function geometry(f) {
    var g = f.geometry;
    if (typeof g === "string") { try { g = JSON.parse(g); } catch (e) { g = null; } }
    if (g && g.type === "Feature") { g = g.geometry; }
    return g;
  }
  function latlngs(coords) { return coords.map(function (c) { return [c[1], c[0]]; }); }

  // a corridor's band in pixels follows the zoom, so it shows its real width in metres
  function corridorWeight(halfWidth, lat) {
    var metresPerPixel = 40075016.686 * Math.abs(Math.cos(lat * Math.PI / 180)) / Math.pow(2, map.getZoom() + 8);
    return Math.max(3, 2 * halfWidth / metresPerPixel);
  }
  var corridors = [];
  map.on("zoomend", function () {
    corridors.forEach(function (c) { c.layer.setStyle({ weight: corridorWeight(c.half, c.lat) }); });
  });

  function shape(kind, g, f, style) {
    style = Object.assign({ color: COLOUR, weight: 2, fillOpacity: 0.12 }, style || {});
    if (!g) { return null; }
    if (kind === "circle" && g.type === "Point") {
      return L.circle([g.coordinates[1], g.coordinates[0]], Object.assign({ radius: f.radius_m || 100 }, style));
    }
    if (g.type === "Polygon") { return L.polygon(latlngs(g.coordinates[0]), style); }
    if (g.type === "LineString") {
      var ll = latlngs(g.coordinates), half = f.half_width_m || 50;
      var band = L.polyline(ll, Object.assign({}, style, { weight: corridorWeight(half, ll[0][0]), opacity: 0.25, lineCap: "round", lineJoin: "round" }));
      corridors.push({ layer: band, half: half, lat: ll[0][0] });
      return L.featureGroup([band, L.polyline(ll, Object.assign({}, style, { weight: 2, dashArray: "6 4" }))]);
    }
    return null;
  }

  function render() {
    shapes.clearLayers(); corridors = [];
    var q = (document.getElementById("gf-filter").value || "").toLowerCase();
    var html = fences.filter(function (f) { return !q || String(f.name).toLowerCase().indexOf(q) >= 0; }).map(function (f) {
      var s = shape(f.kind, geometry(f), f, f.active === false ? { color: "#adb5bd", dashArray: "4 4" } : {});
      if (s) {
        s.bindTooltip(G.escape(f.name), { permanent: true, direction: "center", className: "gps-fence-label" }).addTo(shapes);
        s.on("click", function () { select(f); });
        f._layer = s;
      }
      var facts = [W[f.kind] || f.kind];
      if (f.kind === "circle" && f.radius_m) { facts.push(Math.round(f.radius_m) + " m"); }
      if (f.speed_limit_kmh) { facts.push("≤ " + Math.round(f.speed_limit_kmh) + " " + W.kmh); }
      var n = (f.vehicle_ids || []).length + (f.group_ids || []).length;
      if (n) { facts.push(W.vehicle + " " + n); }
      return '<div class="gps-list-item" data-fence="' + f.id + '"><span class="gps-dot" style="background:' +
        (f.active === false ? "#adb5bd" : COLOUR) + '"></span><div><div class="gps-plate-text">' + G.escape(f.name) +
        '</div><div class="gps-meta">' + G.escape(facts.join(" · ")) + "</div></div></div>";
    });
    document.getElementById("gf-list").innerHTML = html.join("") || '<div class="p-3 text-muted small">—</div>';
    if (shapes.getLayers().length && !editing && !drawing) { map.fitBounds(shapes.getBounds().pad(0.2)); }
    root.setAttribute("data-fences", String(fences.length));
  }

  function load() {
    return G.all("/geofences", 500).then(function (items) { fences = items; render(); })
      .catch(function (e) { document.getElementById("gf-list").innerHTML = '<div class="p-3 text-danger small">' + G.escape(e.message) + "</div>"; });
  }

  document.getElementById("gf-filter").addEventListener("input", render);
  document.getElementById("gf-list").addEventListener("click", function (e) {
    var row = e.target.closest("[data-fence]");
    if (!row) { return; }
    var f = fences.filter(function (x) { return String(x.id) === row.getAttribute("data-fence"); })[0];
    if (f) { select(f); }
  });

  function select(f) {
    if (f._layer) { map.fitBounds(f._layer.getBounds().pad(0.3)); }
    if (canEdit) { edit(f); }
  }

  if (!canEdit) { load(); return; }

  function kind() { return form.querySelector("input[name=kind]:checked").value; }
  function hint() {
    var k = kind();
    document.getElementById("gf-hint").textContent = k === "circle" ? W.clickCentre : k === "corridor" ? W.clickLine : W.clickVertices;
    form.querySelectorAll("[data-for]").forEach(function (el) {
      el.classList.toggle("d-none", el.getAttribute("data-for") !== k);
    });
  }
  function drawDraft() {
    draft.clearLayers();
    var k = kind(), f = { radius_m: +form.radius_m.value || 100, half_width_m: +form.half_width_m.value || 50 };
    points.forEach(function (p) { L.circleMarker(p, { radius: 4, color: COLOUR, fillOpacity: 1 }).addTo(draft); });
    var g = draftGeometry();
    if (g) { var s = shape(k, g, f, { color: "#fd7e14" }); if (s) { s.addTo(draft); } }
  }
  function draftGeometry() {
    var k = kind(), c = points.map(function (p) { return [p[1], p[0]]; });
    if (k === "circle") { return c.length ? { type: "Point", coordinates: c[0] } : null; }
    if (k === "corridor") { return c.length >= 2 ? { type: "LineString", coordinates: c } : null; }
    return c.length >= 3 ? { type: "Polygon", coordinates: [c.concat([c[0]])] } : null;
  }

  map.on("click", function (e) {
    if (!drawing) { return; }
    var ll = [e.latlng.lat, e.latlng.lng];
    if (kind() === "circle") { points = [ll]; } else { points.push(ll); }
    drawDraft();
  });
  form.querySelectorAll("input[name=kind]").forEach(function (r) {
    r.addEventListener("change", function () { points = []; drawing = true; hint(); drawDraft(); });
  });
  ["radius_m", "half_width_m"].forEach(function (n) { form[n].addEventListener("input", drawDraft); });
  document.getElementById("gf-finish").addEventListener("click", function () { drawing = false; drawDraft(); });
  document.getElementById("gf-clear").addEventListener("click", function () { points = []; drawing = true; drawDraft(); });

  function open(title) {
    form.classList.remove("d-none");
    document.getElementById("gf-form-title").textContent = title;
    document.getElementById("gf-error").classList.add("d-none");
    hint();
    form.scrollIntoView({ block: "nearest" });
  }
  function close() {
    form.classList.add("d-none"); drawing = false; editing = null; points = []; draft.clearLayers();
  }
  document.getElementById("gf-cancel").addEventListener("click", close);
  document.getElementById("gf-new").addEventListener("click", function () {
    form.reset(); form.id.value = ""; form.version.value = "";
    document.getElementById("gf-delete").classList.add("d-none");
    editing = null; points = []; drawing = true; draft.clearLayers();
    open(document.getElementById("gf-new").textContent);
  });

  function setMulti(select, values) {
    var wanted = (values || []).map(String);
    Array.prototype.forEach.call(select.options, function (o) { o.selected = wanted.indexOf(o.value) >= 0; });
  }

  function edit(f) {
    editing = f;
    form.reset();
    form.id.value = f.id; form.version.value = f.version == null ? "" : f.version;
    form.name.value = f.name || "";
    form.querySelector("input[name=kind][value=" + (f.kind || "polygon") + "]").checked = true;
    if (f.radius_m) { form.radius_m.value = f.radius_m; }
    if (f.half_width_m) { form.half_width_m.value = f.half_width_m; }
    form.speed_limit_kmh.value = f.speed_limit_kmh == null ? "" : f.speed_limit_kmh;
    form.active.checked = f.active !== false;
    setMulti(form.vehicle_ids, f.vehicle_ids); setMulti(form.group_ids, f.group_ids);
    var sch = f.schedule || {};
    form.querySelectorAll("input[name=days]").forEach(function (c) {
      c.checked = !sch.days || sch.days.map(String).indexOf(c.value) >= 0;
    });
    form.start.value = sch.from || ""; form.end.value = sch.to || "";
    var g = geometry(f);
    points = !g ? [] : g.type === "Point" ? [[g.coordinates[1], g.coordinates[0]]]
      : g.type === "Polygon" ? latlngs(g.coordinates[0]).slice(0, -1) : latlngs(g.coordinates);
    drawing = false; drawDraft();
    document.getElementById("gf-delete").classList.remove("d-none");
    open(f.name);
  }

  function number(v) { return v === "" || v == null ? null : Number(v); }
  function error(message) {
    var el = document.getElementById("gf-error");
    el.textContent = message; el.classList.remove("d-none");
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var g = draftGeometry();
    if (!g) { error(W.needShape); return; }
    var days = Array.prototype.map.call(form.querySelectorAll("input[name=days]:checked"), function (c) { return Number(c.value); });
    var schedule = (days.length === 7 && !form.start.value && !form.end.value) ? null
      : (form.start.value && form.end.value ? { days: days, from: form.start.value, to: form.end.value } : { days: days });
    var k = kind();
    var body = {
      name: form.name.value.trim(), kind: k, geometry: g,
      radius_m: k === "circle" ? number(form.radius_m.value) : null,
      half_width_m: k === "corridor" ? number(form.half_width_m.value) : null,
      speed_limit_kmh: number(form.speed_limit_kmh.value), active: form.active.checked, schedule: schedule,
      vehicle_ids: Array.prototype.map.call(form.vehicle_ids.selectedOptions, function (o) { return Number(o.value); }),
      group_ids: Array.prototype.map.call(form.group_ids.selectedOptions, function (o) { return Number(o.value); })
    };
    var id = form.id.value;
    if (id) { body.version = number(form.version.value); }
    G.api(id ? "PUT" : "POST", "/geofences" + (id ? "/" + id : ""), body)
      .then(function () { close(); return load(); })
      .catch(function (err) {
        var fields = err.body && (err.body.errors || (err.body.error && err.body.error.fields));
        error(err.message + (fields ? " " + JSON.stringify(fields) : ""));
      });
  });

  document.getElementById("gf-delete").addEventListener("click", function () {
    if (!editing || !window.confirm(W.deleteConfirm)) { return; }
    G.api("DELETE", "/geofences/" + editing.id).then(function () { close(); return load(); })
      .catch(function (err) { error(err.message); });
  });

  load();
})();
