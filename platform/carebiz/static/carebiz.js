// CareBusiness: small page behaviours written for this project (no third-party code).
(function () {
  "use strict";
  // Ask before submitting forms marked with data-confirm (revoke, switch off, delete).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Poll a background job and move its progress bar until it ends.
  document.querySelectorAll("[data-job-poll]").forEach(function (el) {
    var url = el.getAttribute("data-job-poll");
    var bar = el.querySelector(".progress-bar");
    var text = el.querySelector("[data-job-status]");
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          bar.style.width = job.progress + "%";
          bar.setAttribute("aria-valuenow", job.progress);
          bar.textContent = job.progress + " %";
          if (text) { text.textContent = job.status_label || job.status; }
          if (job.status === "finished" || job.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(tick, 1000);
          }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  });
})();
