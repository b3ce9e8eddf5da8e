// The pages' one door to the JSON API: same-origin cookies, the CSRF header the
// API wants for cookie sessions, one session refresh on a 401, and errors in words.
"use strict";

const cbrtl = (() => {
  const cookie = (name) => {
    const hit = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  };

  let refreshing = null;
  // One refresh at a time, across tabs too: a refresh token works once, and a second
  // use of it would revoke the whole sign-in. A tab that waited for another tab's
  // refresh finds a new access cookie and has nothing to do.
  const refreshOnce = async () => {
    const before = cookie("csrf_access_token");
    const run = async () => {
      if (cookie("csrf_access_token") && cookie("csrf_access_token") !== before) return 200;
      try {
        const response = await fetch("/api/v1/auth/refresh", {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-TOKEN": cookie("csrf_refresh_token") },
        });
        return response.status;
      } catch (e) {
        return 0;
      }
    };
    return navigator.locks ? navigator.locks.request("cbrtl-refresh", run) : run();
  };
  // Resolves to the refresh's HTTP status (0: the server could not be reached).
  const refresh = () => {
    refreshing = refreshing || refreshOnce().finally(() => { refreshing = null; });
    return refreshing;
  };

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || (status === 0 ? "The server could not be reached; check your connection." : `The server answered ${status}.`));
      this.status = status;
      this.code = error.code || "";
      this.details = error.details || {};
    }
  }

  async function call(method, path, { json, body, headers = {}, retry = true, keepalive = false } = {}) {
    const init = { method, credentials: "same-origin", keepalive, headers: { Accept: "application/json", ...headers } };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-TOKEN"] = cookie("csrf_access_token");
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(path.startsWith("/") ? path : "/api/v1/" + path, init);
    } catch (e) {
      throw new ApiError(0, null);
    }
    // Sign-in calls answer 401 for a wrong password: nothing to refresh there.
    const renewable = retry && !path.startsWith("/api/v1/auth/") && cookie("csrf_refresh_token");
    if (response.status === 401 && renewable && (await refresh()) === 200) {
      return call(method, path, { json, body, headers, retry: false, keepalive });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // <form data-api="/api/v1/..." data-method="PUT" data-then="/next | message:... | sign-in:/next">
  const formJson = (form) => {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "file" || el.type === "submit") continue;
      if (el.type === "checkbox") {
        out[el.name] = out[el.name] || [];
        if (el.checked) out[el.name].push(el.value);
      } else if (el.type === "radio") {
        if (el.checked) out[el.name] = el.value;
      } else if (el.dataset.type === "number") {
        if (el.value !== "") out[el.name] = Number(el.value);
      } else {
        out[el.name] = el.value;
      }
    }
    return out;
  };

  const showErrors = (form, error) => {
    for (const slot of form.querySelectorAll("[data-error-for]")) {
      const message = error && error.details ? error.details[slot.dataset.errorFor] : "";
      slot.textContent = message || "";
      const input = form.querySelector(`[name="${slot.dataset.errorFor}"]`);
      if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
    }
  };

  const status = (form, text, kind) => {
    const slot = form.querySelector("[data-form-status]") || document.querySelector("[data-form-status]");
    if (!slot) return;
    slot.textContent = text;
    slot.dataset.kind = kind || "";
  };

  async function submit(form) {
    const button = form.querySelector("[type=submit]");
    const then = form.dataset.then || "";
    const payload = formJson(form);
    showErrors(form, null);
    status(form, "Working…", "busy");
    if (button) button.disabled = true;
    try {
      await call(form.dataset.method || "POST", form.dataset.api, { json: payload });
      if (then.startsWith("sign-in:")) {
        await call("POST", "/api/v1/auth/login", { json: { email: payload.email, password: payload.password } });
        location.assign(then.slice(8));
      } else if (then.startsWith("message:")) {
        status(form, then.slice(8), "ok");
        if (form.hasAttribute("data-reset")) form.reset();
      } else {
        location.assign(then || location.href);
      }
    } catch (error) {
      showErrors(form, error);
      status(form, error.message, "error");
      const first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
    } finally {
      if (button) button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    event.preventDefault();
    submit(form);
  });

  document.addEventListener("click", async (event) => {
    if (!event.target.closest("[data-sign-out]")) return;
    try { await call("POST", "/api/v1/auth/logout"); } catch (e) { /* already signed out */ }
    location.assign("/");
  });

  // The server saw no usable access cookie but a refresh cookie: renew, then reload
  // (twice at most in a row, so a clock skew between hosts cannot loop).
  if (document.body && document.body.hasAttribute("data-refresh-session")) {
    const reloads = Number(sessionStorage.getItem("cbrtl-reloads") || 0);
    refresh().then((status) => {
      if (status === 200 && reloads < 2) {
        sessionStorage.setItem("cbrtl-reloads", String(reloads + 1));
        location.reload();
        return;
      }
      // Only a refused refresh ends the session; a network blip keeps it for later.
      if (status === 401) document.cookie = "csrf_refresh_token=; Max-Age=0; path=/";
      if (document.title.startsWith("Signing you back in")) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      }
    });
  } else if (window.sessionStorage) {
    sessionStorage.removeItem("cbrtl-reloads");
  }

  // A refusal that trying again will not change (not a dropped connection, a 5xx or a 429).
  const isFinal = (error) => error.status >= 400 && error.status < 500 && error.status !== 429;
  // How long to wait before try number `failures` + 1: base, 2 x base, ... at most 30 s.
  const backoffMs = (failures, baseMs) => Math.min(30000, baseMs * 2 ** Math.min(failures, 5));

  const escape = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  return { call, cookie, status, ApiError, escape, isFinal, backoffMs };
})();
