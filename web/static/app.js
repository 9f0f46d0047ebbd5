// Progressive enhancement only: every link and form works without this file.
(function () {
  "use strict";
  // Ask: open a citation beside the answer instead of leaving the page.
  const panel = document.getElementById("evidence");
  if (panel) {
    document.addEventListener("click", async (event) => {
      const link = event.target.closest("a.cite[data-evidence]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      document.querySelectorAll("a.cite.active").forEach((a) => a.classList.remove("active"));
      document.querySelectorAll(`a.cite[data-key="${link.dataset.key}"]`).forEach((a) => a.classList.add("active"));
      panel.hidden = false;
      panel.parentElement.classList.add("with-panel");
      panel.textContent = "Loading the evidence…";
      try {
        const response = await fetch(link.dataset.evidence, { headers: { Accept: "text/html" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        panel.innerHTML = await response.text(); // server-rendered and escaped by the template
        const mark = panel.querySelector("mark");
        if (mark) mark.scrollIntoView({ block: "center", behavior: "smooth" });
      } catch (err) {
        panel.textContent = `Could not load the evidence (${err.message}); follow the link instead.`;
      }
    });
  }
  // Review: select all rows; a row's reject button asks for the reason when none is typed.
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('input[name="ids"]').forEach((box) => { box.checked = all.checked; });
    });
  }
  const queue = document.getElementById("queue");
  if (queue) {
    queue.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (!button) return;
      const reason = document.getElementById("reason");
      const rejecting = button.value === "reject" || (button.value || "").startsWith("reject:");
      if (rejecting && reason && !reason.value.trim()) {
        const why = window.prompt("Why reject? (goes into the audit log)");
        if (!why) { event.preventDefault(); return; }
        reason.value = why;
      }
      if (button.name === "action") {
        const n = document.querySelectorAll('input[name="ids"]:checked').length;
        if (n === 0) { event.preventDefault(); window.alert("Select at least one triple."); return; }
        if (n > 1 && !window.confirm(`${button.textContent.trim()}: ${n} triples?`)) event.preventDefault();
      }
    });
  }
})();
