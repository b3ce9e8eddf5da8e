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

  async function load() {
    clearTimeout(timer);
    const query = new URLSearchParams({ page, per_page: PER_PAGE });
    if (filter.status.value) query.set("status", filter.status.value);
    if (filter.type.value) query.set("type", filter.type.value);
    try {
      const data = await cbrtl.call("GET", `/api/v1/jobs?${query}`);
      const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
      body.innerHTML = data.items.length ? data.items.map(row).join("") : '<tr><td colspan="8" class="muted">No jobs match.</td></tr>';
      pageText.textContent = `Page ${page} of ${pages} · ${data.total} jobs`;
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      updated.textContent = `Could not refresh: ${error.message}`;
    }
    timer = setTimeout(load, EVERY_MS);
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
  prev.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  load();
})();
