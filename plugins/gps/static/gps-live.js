// CareBusiness GPS: the live map. Polls GET /api/v1/gps/live every few seconds (with
// ?since= when the answer names a cursor) and moves markers in place, without a reload.
(function () {
  "use strict";
  var G = window.GpsMap, W = G.words;
  var root = document.getElementById("gps-root");
  var map = G.create(document.getElementById("gps-map"));
  var interval = parseInt(root.getAttribute("data-interval") || "5000", 10);
  var markers = {}, items = {}, fitted = false, since = null, selected = null;
  var list = document.getElementById("gps-list");
  var filter = document.getElementById("gps-filter");
  var statusFilter = "";

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "gps-legend");
    div.innerHTML = ["moving", "stopped", "offline", "alarm"].map(function (s) {
      return '<div><i style="background:' + G.colours[s] + '"></i>' + G.escape(W[s]) + "</div>";
    }).join("");
    return div;
  };
  legend.addTo(map);

  function popup(it) {
    var lines = [
      [W.speed, Math.round(it.speed_kmh || 0) + " " + W.kmh],
      [W.time, G.when(it.fix_time)],
      [W.position, Number(it.latitude).toFixed(5) + ", " + Number(it.longitude).toFixed(5)],
      [W.ignition, it.ignition === true ? W.on : it.ignition === false ? W.off : W.unknown]
    ];
    if (it.customer_name) { lines.push([W.customer, it.customer_name]); }
    if (it.alarm_open) { lines.push([W.alarms, String(it.alarm_open)]); }
    var links = [];
    if (it.customer_id) {
      links.push('<a data-link="customer" href="' + G.url(G.config.customerUrl, { id: it.customer_id }) + '">' + G.escape(W.customer) + "</a>");
    }
    if (it.vehicle_id) {
      links.push('<a data-link="vehicle" href="' + G.url(G.config.vehicleUrl, { id: it.vehicle_id }) + '">' + G.escape(W.vehicle) + "</a>");
    }
    links.push('<a data-link="playback" href="' + G.url(G.config.playbackUrl, { imei: it.device }) + '">' + G.escape(W.playback) + "</a>");
    return '<div class="gps-popup" data-popup="' + G.escape(it.device) + '"><div class="gps-popup-title">' +
      G.escape(it.plate || it.device) + ' <span class="badge" style="background:' +
      (G.colours[it.status] || G.colours.offline) + '">' + G.escape(W[it.status] || it.status) +
      "</span></div><dl>" + lines.map(function (l) {
        return "<dt>" + G.escape(l[0]) + "</dt><dd>" + G.escape(l[1]) + "</dd>";
      }).join("") + "</dl>" + links.join(" · ") + "</div>";
  }

  function place(it) {
    if (it.latitude == null || it.longitude == null) { return; }
    var ll = [it.latitude, it.longitude];
    var m = markers[it.device];
    var icon = G.vehicleIcon(it.status, it.course, it.plate || it.device);
    if (!m) {
      m = L.marker(ll, { icon: icon, riseOnHover: true, title: it.plate || it.device }).addTo(map);
      m.bindPopup("");
      m.on("popupopen", function () { selected = it.device; m.setPopupContent(popup(items[it.device])); });
      markers[it.device] = m;
    } else {
      m.setLatLng(ll);
      m.setIcon(icon);
      if (m.isPopupOpen()) { m.setPopupContent(popup(it)); }
    }
    var el = m.getElement();
    if (el) {
      el.setAttribute("data-device", it.device);
      el.setAttribute("data-status", it.status);
      el.setAttribute("data-lat", it.latitude);
      el.setAttribute("data-lon", it.longitude);
    }
  }

  // Devices that left the map since the cursor (disabled, moved out of the user's
  // branches) come back as ids in body.removed; markers and rows are keyed by IMEI.
  function drop(ids) {
    if (!ids.length) { return; }
    var gone = {};
    ids.forEach(function (id) { gone[String(id)] = true; });
    Object.keys(items).forEach(function (imei) {
      if (!gone[String(items[imei].device_id)]) { return; }
      if (markers[imei]) { map.removeLayer(markers[imei]); delete markers[imei]; }
      delete items[imei];
      if (selected === imei) { selected = null; }
    });
  }

  function renderList() {
    var q = (filter.value || "").trim().toLowerCase();
    var counts = { moving: 0, stopped: 0, offline: 0, alarm: 0 }, alarms = 0;
    var rows = Object.keys(items).map(function (k) { return items[k]; });
    rows.sort(function (a, b) { return String(a.plate || a.device).localeCompare(String(b.plate || b.device)); });
    var html = [];
    rows.forEach(function (it) {
      counts[it.status] = (counts[it.status] || 0) + 1;
      alarms += it.alarm_open || 0;
      var name = String(it.plate || it.device);
      if (q && name.toLowerCase().indexOf(q) < 0 && String(it.device).indexOf(q) < 0) { return; }
      if (statusFilter && it.status !== statusFilter) { return; }
      html.push('<div class="gps-list-item' + (selected === it.device ? " active" : "") +
        '" data-item="' + G.escape(it.device) + '"><span class="gps-dot ' + G.escape(it.status) +
        '"></span><div class="flex-grow-1"><div class="gps-plate-text">' + G.escape(name) +
        (it.alarm_open ? ' <span class="badge text-bg-danger">' + it.alarm_open + "</span>" : "") +
        '</div><div class="gps-meta">' + G.escape(W[it.status] || it.status) + " · " +
        Math.round(it.speed_kmh || 0) + " " + G.escape(W.kmh) + " · " + G.escape(G.when(it.fix_time)) +
        "</div></div></div>");
    });
    list.innerHTML = html.join("") || '<div class="p-3 text-muted">—</div>';
    Object.keys(counts).forEach(function (s) {
      var el = document.querySelector('[data-count="' + s + '"]');
      if (el) { el.textContent = counts[s]; }
    });
    var badge = document.getElementById("gps-alarm-count");
    if (badge && alarms) { badge.textContent = alarms; }
  }

  list.addEventListener("click", function (e) {
    var row = e.target.closest("[data-item]");
    if (!row) { return; }
    var m = markers[row.getAttribute("data-item")];
    if (m) { map.setView(m.getLatLng(), Math.max(map.getZoom(), 14)); m.openPopup(); }
  });
  filter.addEventListener("input", renderList);
  document.querySelectorAll("[data-status-filter]").forEach(function (b) {
    b.addEventListener("click", function () {
      statusFilter = statusFilter === b.getAttribute("data-status-filter") ? "" : b.getAttribute("data-status-filter");
      document.querySelectorAll("[data-status-filter]").forEach(function (o) {
        o.classList.toggle("active", o.getAttribute("data-status-filter") === statusFilter);
      });
      renderList();
    });
  });

  function poll() {
    var path = "/live" + (since ? "?since=" + encodeURIComponent(since) : "");
    G.api("GET", path).then(function (body) {
      (body.items || []).forEach(function (it) { items[it.device] = it; place(it); });
      drop(body.removed || []);
      since = body.since || body.cursor || body.now || null;
      renderList();
      var pts = Object.keys(markers).map(function (k) { return markers[k].getLatLng(); });
      var focus = new URLSearchParams(window.location.search).get("focus");
      if (!fitted && focus && markers[focus]) {
        fitted = true;
        map.setView(markers[focus].getLatLng(), 15, { animate: false });
        markers[focus].openPopup();
      }
      if (!fitted && pts.length) {
        fitted = true;
        if (pts.length === 1) { map.setView(pts[0], 14, { animate: false }); } else { map.fitBounds(L.latLngBounds(pts).pad(0.2), { animate: false }); }
      }
      var stamp = document.getElementById("gps-updated");
      if (stamp) { stamp.textContent = W.updated + " " + new Date().toLocaleTimeString(document.documentElement.lang || undefined); stamp.classList.remove("text-danger"); }
      root.setAttribute("data-polled", String((parseInt(root.getAttribute("data-polled") || "0", 10)) + 1));
    }).catch(function () {
      var stamp = document.getElementById("gps-updated");
      if (stamp) { stamp.textContent = W.failed; stamp.classList.add("text-danger"); }
    }).then(function () { window.setTimeout(poll, interval); });
  }
  poll();
})();
