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
      document.querySelectorAll('input[name="ids"], input[name="claims"]').forEach((box) => { box.checked = all.checked; });
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
        const n = document.querySelectorAll('input[name="ids"]:checked, input[name="claims"]:checked').length;
        if (n === 0) { event.preventDefault(); window.alert("Select at least one claim."); return; }
        if (n > 1 && !window.confirm(`${button.textContent.trim()}: ${n} claims?`)) event.preventDefault();
      }
      if (!event.defaultPrevented) rememberNext(button);
    });
  }
  // Review by claim: keyboard shortcuts (j/k move, a accept and next, r reject, x select, e edit).
  const rows = () => Array.from(document.querySelectorAll("tr.claim"));
  const FOCUS_KEY = "pgxlit-review-next";
  function focusRow(i) {
    const list = rows();
    if (!list.length) return;
    const row = list[Math.max(0, Math.min(i, list.length - 1))];
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  function currentIndex() {
    return rows().indexOf(document.activeElement && document.activeElement.closest("tr.claim"));
  }
  function rememberNext(button) {
    // After a decision the page reloads: focus the claim that comes next.
    const row = button.closest("tr.claim");
    if (!row) return;
    const filter = document.querySelector('select[name="status"]');
    const status = { accept: "accepted", reject: "rejected" }[(button.value || "").split(":")[0]];
    const stays = !filter || filter.value === "" || filter.value === status;
    const i = rows().indexOf(row);
    try { window.sessionStorage.setItem(FOCUS_KEY, JSON.stringify({ path: location.pathname + location.search, i: stays ? i + 1 : i })); } catch (e) { /* private mode */ }
  }
  if (document.querySelector("tr.claim")) {
    let start = 0;
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(FOCUS_KEY) || "null");
      window.sessionStorage.removeItem(FOCUS_KEY);
      if (saved && saved.path === location.pathname + location.search) start = saved.i;
    } catch (e) { /* nothing saved */ }
    focusRow(start);
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
      let i = currentIndex();
      const row = rows()[i];
      if (event.key === "j" || event.key === "ArrowDown") { focusRow(i + 1); event.preventDefault(); }
      else if (event.key === "k" || event.key === "ArrowUp") { focusRow(i < 0 ? 0 : i - 1); event.preventDefault(); }
      else if (!row) { return; }
      else if (event.key === "a") { const b = row.querySelector("button.acc"); if (b) { event.preventDefault(); b.click(); } }
      else if (event.key === "r") { const b = row.querySelector("button.rej"); if (b) { event.preventDefault(); b.click(); } }
      else if (event.key === "x") { const box = row.querySelector('input[name="claims"]'); if (box) { box.checked = !box.checked; event.preventDefault(); } }
      else if (event.key === "e") { const link = row.querySelector('a[href^="/review/triple/"]'); if (link) { event.preventDefault(); link.click(); } }
    });
  }
})();
