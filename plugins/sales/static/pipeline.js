// The pipeline boards: drag a card onto a column of its own board and its move form is
// submitted with that stage. Without this script every card's own form does the same (see
// pipeline.html). Each board is one pipeline: a card never drops onto another board.
(function () {
  "use strict";
  document.querySelectorAll("[data-board]").forEach(function (board) {
    if (board.dataset.canMove !== "1") { return; }
    var dragged = null;
    board.addEventListener("dragstart", function (e) {
      var card = e.target.closest("[data-card]");
      if (!card) { return; }
      dragged = card;
      card.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", card.dataset.card);
    });
    board.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); }
      dragged = null;
      board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    });
    function allowed(col) {
      return dragged && col.dataset.stage &&
        (dragged.dataset.allowed || "").split(" ").indexOf(col.dataset.stage) >= 0;
    }
    board.addEventListener("dragover", function (e) {
      var col = e.target.closest(".sales-col");
      if (col && allowed(col)) { e.preventDefault(); col.classList.add("drop-target"); }
    });
    board.addEventListener("dragleave", function (e) {
      var col = e.target.closest(".sales-col");
      if (col && !col.contains(e.relatedTarget)) { col.classList.remove("drop-target"); }
    });
    board.addEventListener("drop", function (e) {
      var col = e.target.closest(".sales-col");
      if (!col || !allowed(col)) { return; }
      e.preventDefault();
      var form = dragged.querySelector("[data-move-form]");
      form.querySelector("[data-move-stage]").value = col.dataset.stage;
      if (col.dataset.kind === "lost" && !form.querySelector("[data-move-reason]").value) {
        // a lost deal needs its reason: open the card's form at the reason instead
        var details = form.closest("details");
        if (details) { details.open = true; }
        form.querySelector("[data-move-reason]").focus();
        return;
      }
      form.submit();
    });
  });
})();
