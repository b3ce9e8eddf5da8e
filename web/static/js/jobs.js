// The jobs board: the list refreshes every 2 s; retry and cancel go through the API.
"use strict";

(() => {
  const table = document.querySelector("[data-jobs]");
  if (!table) return;
  const body = table.querySelector("[data-jobs-body]");
  const filter = document.querySelector("[data-jobs-filter]");
  const updated = document.querySelector("[data-jobs-updated]");
  const pageText = document.querySelector("[data-jobs-page]");
  const prev = document.querySelector("[data-jobs-prev]");
  const next = document.querySelector("[data-jobs-next]");
  const PER_PAGE = 25;
  const EVERY_MS = 2000;
  let page = 1;
  let timer = null;
  const esc = cbrtl.escape;

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

  const row = (job) => {
    const pct = Math.round((job.progress || 0) * 100);
    const actions = [];
    if (job.status === "failed" || job.status === "dead") actions.push(`<button type="button" data-retry="${job.id}">Retry</button>`);
    if (job.status === "queued" || job.status === "running") actions.push(`<button type="button" class="secondary" data-cancel="${job.id}">Cancel</button>`);
    return `<tr data-job-id="${job.id}" data-job-status="${esc(job.status)}">
      <td>${job.id}</td><td>${esc(job.type)}</td>
      <td><span class="badge ${esc(job.status)}">${esc(job.status)}</span></td>
      <td><progress max="100" value="${pct}" aria-label="Job ${job.id} progress">${pct}%</progress> ${pct}%</td>
      <td>${job.attempts}</td><td class="error-cell">${esc(job.error || "")}</td>
      <td><time datetime="${esc(job.created_at)}">${esc(when(job.created_at))}</time></td>
      <td>${actions.join(" ")}</td></tr>`;
  };

  let shown = "";
  let failures = 0;

  // Rows are replaced only when they changed, and a focused button keeps its focus.
  const render = (html) => {
    if (html === shown) return;
    const focused = document.activeElement && body.contains(document.activeElement)
      ? [...document.activeElement.attributes].find((a) => a.name.startsWith("data-retry") || a.name.startsWith("data-cancel"))
      : null;
    body.innerHTML = html;
    shown = html;
    if (focused) {
      const again = body.querySelector(`[${focused.name}="${focused.value}"]`);
      (again || table).focus();
    }
  };

  async function load() {
    clearTimeout(timer);
    if (document.hidden) { timer = setTimeout(load, EVERY_MS); return; } // no polling in the background
    const query = new URLSearchParams({ page, per_page: PER_PAGE });
    if (filter.status.value) query.set("status", filter.status.value);
    if (filter.type.value) query.set("type", filter.type.value);
    try {
      const data = await cbrtl.call("GET", `/api/v1/jobs?${query}`);
      const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
      render(data.items.length ? data.items.map(row).join("") : '<tr><td colspan="8" class="muted">No jobs match.</td></tr>');
      pageText.textContent = `Page ${page} of ${pages} · ${data.total} jobs`;
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      failures = 0;
    } catch (error) {
      updated.textContent = `Could not refresh: ${error.message}`;
      if (error.status === 401 || error.status === 403) return; // signed out: stop
      failures += 1;
    }
    // Back off while the server is unreachable: 2 s, 4 s, ... up to 30 s.
    timer = setTimeout(load, cbrtl.backoffMs(failures, EVERY_MS));
  }

  const act = async (path, done) => {
    try {
      await cbrtl.call("POST", path);
      cbrtl.status(table, done, "ok");
    } catch (error) {
      cbrtl.status(table, error.message, "error");
    }
    load();
  };

  body.addEventListener("click", (event) => {
    const retry = event.target.closest("[data-retry]");
    const cancel = event.target.closest("[data-cancel]");
    if (retry) act(`/api/v1/jobs/${retry.dataset.retry}/retry`, `Job ${retry.dataset.retry} queued again.`);
    if (cancel) act(`/api/v1/jobs/${cancel.dataset.cancel}/cancel`, `Job ${cancel.dataset.cancel} cancelled.`);
  });
  filter.addEventListener("change", () => {
    page = 1;
    const url = new URL(location.href);
    url.searchParams.set("status", filter.status.value);
    history.replaceState(null, "", url);
    load();
  });
  filter.addEventListener("submit", (event) => event.preventDefault());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
  prev.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  load();
})();
