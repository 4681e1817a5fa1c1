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
  // A due date only for the kinds that have one (follow-ups): the field named by
  // data-due-for="task return_visit" shows while its form's kind is one of those. Without
  // script it always shows, and the server ignores it for other kinds.
  document.querySelectorAll("[data-due-for]").forEach(function (box) {
    var kinds = box.getAttribute("data-due-for").split(" ");
    var kind = box.closest("form") && box.closest("form").querySelector("select[name=kind]");
    if (!kind) { return; }
    function sync() { box.hidden = kinds.indexOf(kind.value) < 0; }
    kind.addEventListener("change", sync);
    sync();
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
