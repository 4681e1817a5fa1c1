// CareBusiness GPS: the map every GPS page shares (written for this project).
// Leaflet comes from the xstatic-leaflet package. Without a tile server (the default: closed
// dealership networks) the map draws a light grid of its own that pans and zooms with the
// vehicles, tracks and fences; with the setting gps.tile_url it uses those tiles instead.
(function () {
  "use strict";
  var GridLayer = L.GridLayer.extend({
    createTile: function (coords) {
      var tile = document.createElement("canvas");
      var size = this.getTileSize();
      tile.width = size.x; tile.height = size.y;
      var ctx = tile.getContext("2d");
      ctx.fillStyle = "#f3f5f7"; ctx.fillRect(0, 0, size.x, size.y);
      ctx.strokeStyle = "#e2e6ea"; ctx.lineWidth = 1;
      for (var i = 0; i <= size.x; i += size.x / 4) {
        ctx.beginPath(); ctx.moveTo(i + 0.5, 0); ctx.lineTo(i + 0.5, size.y); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(0, i + 0.5); ctx.lineTo(size.x, i + 0.5); ctx.stroke();
      }
      ctx.strokeStyle = "#cfd5db";
      ctx.strokeRect(0.5, 0.5, size.x, size.y);
      return tile;
    }
  });

  function config() {
    var el = document.getElementById("gps-config");
    return el ? JSON.parse(el.textContent) : { words: {} };
  }

  var cfg = config();
  var STATUS_COLOURS = { moving: "#198754", stopped: "#0d6efd", offline: "#6c757d", alarm: "#dc3545" };

  function create(el, options) {
    var map = L.map(el, Object.assign({ zoomControl: true, preferCanvas: false,
                                        worldCopyJump: true }, options || {}));
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution || "" }).addTo(map);
    } else {
      new GridLayer({ maxZoom: 22 }).addTo(map);
      map.attributionControl.setPrefix(false);
    }
    L.control.scale({ imperial: false }).addTo(map);
    map.setView([31.2304, 121.4737], 11);
    return map;
  }

  function escape(text) {
    var d = document.createElement("div");
    d.textContent = text == null ? "" : String(text);
    return d.innerHTML;
  }

  function url(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return encodeURIComponent(values[k]); });
  }

  function when(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(document.documentElement.lang || undefined);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds || 0));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h ? h + " h " + m + " min" : m + " min";
  }

  function haversine(a, b) {
    var R = 6378137, rad = Math.PI / 180;
    var dLat = (b[0] - a[0]) * rad, dLon = (b[1] - a[1]) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
            Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * R * Math.asin(Math.sqrt(h));
  }

  function csrf() {
    var m = document.querySelector("meta[name=csrf-token]");
    var el = document.getElementById("gps-root");
    return (el && el.getAttribute("data-csrf")) || (m && m.content) || "";
  }

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRFToken": csrf() } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(cfg.api + path, init).then(function (r) {
      return r.text().then(function (text) {
        var data = {};
        try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { message: text }; }
        if (!r.ok) {
          var err = new Error(data.message || (data.error && data.error.message) || r.statusText);
          err.status = r.status; err.body = data; throw err;
        }
        return data;
      });
    });
  }

  // All pages of a list endpoint ({"items", "total"}), for a track of many fixes.
  function all(path, perPage) {
    perPage = perPage || 5000;
    var items = [];
    function next(page) {
      var sep = path.indexOf("?") >= 0 ? "&" : "?";
      return api("GET", path + sep + "page=" + page + "&per_page=" + perPage).then(function (body) {
        var got = body.items || [];
        items = items.concat(got);
        if (got.length && items.length < (body.total || 0) && page < 200) { return next(page + 1); }
        return items;
      });
    }
    return next(1);
  }

  function vehicleIcon(status, course, label) {
    var colour = STATUS_COLOURS[status] || STATUS_COLOURS.offline;
    var arrow = status === "moving"
      ? '<svg viewBox="0 0 24 24" width="24" height="24" style="transform:rotate(' + (course || 0) +
        'deg)"><circle cx="12" cy="12" r="10" fill="' + colour + '" stroke="#fff" stroke-width="2"/>' +
        '<path d="M12 5 L17 16 L12 13.5 L7 16 Z" fill="#fff"/></svg>'
      : '<svg viewBox="0 0 24 24" width="22" height="22"><circle cx="12" cy="12" r="9" fill="' +
        colour + '" stroke="#fff" stroke-width="2"/><circle cx="12" cy="12" r="3" fill="#fff"/></svg>';
    return L.divIcon({ className: "gps-vehicle gps-" + status, iconSize: [24, 24], iconAnchor: [12, 12],
                       popupAnchor: [0, -12],
                       html: arrow + (label ? '<span class="gps-plate">' + escape(label) + "</span>" : "") });
  }

  window.GpsMap = { create: create, config: cfg, colours: STATUS_COLOURS, escape: escape, url: url,
                    when: when, duration: duration, haversine: haversine, api: api, all: all,
                    vehicleIcon: vehicleIcon, words: cfg.words || {} };
})();
