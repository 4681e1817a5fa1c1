// CareBusiness GPS: track playback. Reads /positions, /stops and /trips for one device and
// period; draws the route coloured by speed band, the stops with their duration, and a
// timeline slider (and play button) that moves a marker along the fixes.
(function () {
  "use strict";
  var G = window.GpsMap, W = G.words;
  var root = document.getElementById("gps-root");
  var map = G.create(document.getElementById("gps-map"));
  var BANDS = [[20, "#2c7bb6"], [50, "#1a9641"], [80, "#e6a100"], [110, "#f46d43"], [Infinity, "#d7191c"]];
  var layer = L.layerGroup().addTo(map);
  var fixes = [], marker = null, timer = null;
  var form = document.getElementById("gps-playback-form");
  var slider = document.getElementById("pb-slider"), play = document.getElementById("pb-play");
  var from = document.getElementById("pb-from"), to = document.getElementById("pb-to");

  function band(speed) {
    for (var i = 0; i < BANDS.length; i++) { if (speed < BANDS[i][0]) { return BANDS[i][1]; } }
    return BANDS[BANDS.length - 1][1];
  }

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "gps-legend"), low = 0;
    div.innerHTML = BANDS.map(function (b) {
      var text = b[0] === Infinity ? "> " + low : low + "–" + b[0];
      low = b[0];
      return '<div><i class="band" style="background:' + b[1] + '"></i>' + text + " " + G.escape(W.kmh) + "</div>";
    }).join("");
    return div;
  };
  legend.addTo(map);

  function local(d) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function range(kind) {
    var now = new Date(), start = new Date(now), end = new Date(now);
    start.setHours(0, 0, 0, 0);
    if (kind === "yesterday") { start.setDate(start.getDate() - 1); end = new Date(start); end.setHours(23, 59, 0, 0); }
    if (kind === "week") { start.setDate(start.getDate() - 6); }
    if (kind === "24h") { start = new Date(now.getTime() - 86400000); }
    from.value = local(start); to.value = local(end);
  }
  if (!from.value || !to.value) { range("24h"); }
  document.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () { range(b.getAttribute("data-range")); load(); });
  });

  function show(i) {
    var f = fixes[i];
    if (!f) { return; }
    var ll = [f.latitude, f.longitude];
    var icon = G.vehicleIcon(f.speed_kmh > 3 ? "moving" : "stopped", f.course, null);
    if (!marker) { marker = L.marker(ll, { icon: icon, zIndexOffset: 1000 }).addTo(map); }
    else { marker.setLatLng(ll); marker.setIcon(icon); }
    var el = marker.getElement();
    if (el) { el.setAttribute("data-playback-marker", String(i)); }
    document.getElementById("pb-now").textContent = G.when(f.fix_time) + " · " + Math.round(f.speed_kmh || 0) + " " + W.kmh;
  }

  function totals(trips) {
    var dist = 0, moving = 0, max = 0;
    for (var i = 1; i < fixes.length; i++) {
      var a = fixes[i - 1], b = fixes[i];
      dist += G.haversine([a.latitude, a.longitude], [b.latitude, b.longitude]);
      if ((b.speed_kmh || 0) > 3) { moving += (new Date(b.fix_time) - new Date(a.fix_time)) / 1000; }
    }
    fixes.forEach(function (f) { max = Math.max(max, f.speed_kmh || 0); });
    if (trips.length) {
      dist = trips.reduce(function (s, t) { return s + (t.distance_m || 0); }, 0) || dist;
      moving = trips.reduce(function (s, t) { return s + (t.duration_s || 0); }, 0) || moving;
    }
    var span = fixes.length > 1 ? (new Date(fixes[fixes.length - 1].fix_time) - new Date(fixes[0].fix_time)) / 1000 : 0;
    var set = function (k, v) { document.querySelector('[data-total="' + k + '"]').textContent = v; };
    set("distance", (dist / 1000).toFixed(1) + " " + W.km);
    set("duration", G.duration(span));
    set("moving", G.duration(moving));
    set("max", Math.round(max) + " " + W.kmh);
    root.setAttribute("data-distance-m", String(Math.round(dist)));
  }

  function events(trips, stops) {
    var rows = trips.map(function (t) { return { at: t.start_time, trip: t }; })
      .concat(stops.map(function (s) { return { at: s.start_time, stop: s }; }))
      .sort(function (a, b) { return new Date(a.at) - new Date(b.at); });
    var html = rows.map(function (r) {
      if (r.trip) {
        var t = r.trip;
        return '<div class="gps-list-item" data-trip data-at="' + G.escape(t.start_time) + '"><span class="gps-dot moving"></span><div><div class="gps-plate-text">' +
          G.escape(G.when(t.start_time)) + '</div><div class="gps-meta">' + ((t.distance_m || 0) / 1000).toFixed(1) + " " + G.escape(W.km) +
          " · " + G.escape(G.duration(t.duration_s)) + " · " + G.escape(W.speed) + " ≤ " + Math.round(t.max_speed_kmh || 0) + " " + G.escape(W.kmh) + "</div></div></div>";
      }
      var s = r.stop;
      return '<div class="gps-list-item" data-stop data-at="' + G.escape(s.start_time) + '"><span class="gps-dot" style="background:#6f42c1"></span><div><div class="gps-plate-text">' +
        G.escape(W.stop) + " · " + G.escape(G.when(s.start_time)) + '</div><div class="gps-meta">' + G.escape(W.duration) + " " + G.escape(G.duration(s.duration_s)) + "</div></div></div>";
    });
    document.getElementById("pb-events").innerHTML = html.join("") || '<div class="px-3 text-muted small">—</div>';
  }

  document.getElementById("pb-events").addEventListener("click", function (e) {
    var row = e.target.closest("[data-at]");
    if (!row) { return; }
    var at = new Date(row.getAttribute("data-at"));
    for (var i = 0; i < fixes.length; i++) {
      if (new Date(fixes[i].fix_time) >= at) { slider.value = i; show(i); map.panTo([fixes[i].latitude, fixes[i].longitude]); break; }
    }
  });

  function draw(trips, stops) {
    layer.clearLayers();
    if (marker) { map.removeLayer(marker); marker = null; }
    if (!fixes.length) {
      document.getElementById("pb-now").textContent = W.noData;
      slider.disabled = true; play.disabled = true;
      return;
    }
    // consecutive fixes of one speed band make one polyline, so a long route stays light
    var run = [[fixes[0].latitude, fixes[0].longitude]], colour = band(fixes[0].speed_kmh || 0);
    for (var i = 1; i < fixes.length; i++) {
      var c = band(fixes[i].speed_kmh || 0), ll = [fixes[i].latitude, fixes[i].longitude];
      run.push(ll);
      if (c !== colour || i === fixes.length - 1) {
        L.polyline(run, { color: colour, weight: 5, opacity: 0.9, className: "gps-track" }).addTo(layer);
        run = [ll]; colour = c;
      }
    }
    if (fixes.length === 1) { L.circleMarker(run[0], { radius: 4, color: colour }).addTo(layer); }
    var first = fixes[0], last = fixes[fixes.length - 1];
    L.circleMarker([first.latitude, first.longitude], { radius: 7, color: "#fff", weight: 2, fillColor: "#198754", fillOpacity: 1 })
      .bindTooltip(W.start + " · " + G.when(first.fix_time)).addTo(layer);
    L.circleMarker([last.latitude, last.longitude], { radius: 7, color: "#fff", weight: 2, fillColor: "#dc3545", fillOpacity: 1 })
      .bindTooltip(W.end + " · " + G.when(last.fix_time)).addTo(layer);
    stops.forEach(function (s, n) {
      L.marker([s.latitude, s.longitude], { icon: L.divIcon({ className: "gps-stop-icon", iconSize: [20, 20], html: String(n + 1) }) })
        .bindTooltip(W.stop + " " + (n + 1) + " · " + G.when(s.start_time) + " · " + G.duration(s.duration_s))
        .addTo(layer);
    });
    map.fitBounds(L.latLngBounds(fixes.map(function (f) { return [f.latitude, f.longitude]; })).pad(0.1), { animate: false });
    slider.max = String(fixes.length - 1); slider.value = "0"; slider.disabled = false; play.disabled = false;
    show(0);
    totals(trips);
    events(trips, stops);
    root.setAttribute("data-fixes", String(fixes.length));
  }

  function load() {
    stop();
    var device = document.getElementById("pb-device").value;
    if (!device) { return; }
    var q = "?device=" + encodeURIComponent(device) + "&from=" + encodeURIComponent(new Date(from.value).toISOString()) +
            "&to=" + encodeURIComponent(new Date(to.value).toISOString());
    var soft = function (p) { return p.catch(function () { return []; }); };
    Promise.all([G.all("/positions" + q), soft(G.all("/trips" + q, 1000)), soft(G.all("/stops" + q, 1000))])
      .then(function (got) {
        fixes = got[0].filter(function (f) { return f.valid !== false; })
          .sort(function (a, b) { return new Date(a.fix_time) - new Date(b.fix_time); });
        draw(got[1], got[2]);
        if (window.history.replaceState) {
          window.history.replaceState(null, "", "?device=" + encodeURIComponent(device) + "&from=" + from.value + "&to=" + to.value);
        }
      })
      .catch(function (e) { document.getElementById("pb-now").textContent = e.message || W.failed; });
  }

  function stop() { if (timer) { window.clearInterval(timer); timer = null; play.textContent = "▶"; } }
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    play.textContent = "❚❚";
    timer = window.setInterval(function () {
      var i = Math.min(fixes.length - 1, parseInt(slider.value, 10) + parseInt(document.getElementById("pb-rate").value, 10));
      slider.value = String(i); show(i);
      if (i >= fixes.length - 1) { stop(); }
    }, 250);
  });
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
  load();
})();
