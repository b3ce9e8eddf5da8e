// Upload: create the title, send the file in chunks (resuming after a dropped
// connection or a reload), then follow the transcode until the video is ready.
"use strict";

(() => {
  const form = document.querySelector("[data-upload-form]");
  if (!form) return;
  const panel = document.querySelector("[data-upload-progress]");
  const sent = panel.querySelector("[data-sent]");
  const sentText = panel.querySelector("[data-sent-text]");
  const processed = panel.querySelector("[data-processed]");
  const processedText = panel.querySelector("[data-processed-text]");
  const links = panel.querySelector("[data-done-links]");
  const maxBytes = Number(form.dataset.maxBytes);
  const TYPES = { mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", mkv: "video/x-matroska", webm: "video/webm", avi: "video/x-msvideo", mpg: "video/mpeg", mpeg: "video/mpeg", ts: "video/mp2t" };
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const mb = (bytes) => (bytes / 1048576).toFixed(1) + " MB";
  const fingerprint = (file) => `cbrtl-upload:${file.name}:${file.size}:${file.lastModified}`;
  const typeOf = (file) => file.type || TYPES[file.name.split(".").pop().toLowerCase()] || "application/octet-stream";

  const fieldError = (name, message) => {
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (slot) slot.textContent = message || "";
  };

  const showSent = (received, total, note = "") => {
    sent.value = total ? received / total : 0;
    sentText.textContent = `${mb(received)} of ${mb(total)} sent (${Math.round(100 * sent.value)}%)${note ? " — " + note : ""}`;
  };

  // Where the server says to go on from; transient failures are retried with backoff.
  async function received(uploadId) {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await cbrtl.call("GET", `/api/v1/uploads/${uploadId}`)).received;
      } catch (error) {
        if (cbrtl.isFinal(error)) throw error;
        sentText.textContent = `Connection lost; retrying (attempt ${attempt + 1})…`;
        await wait(cbrtl.backoffMs(attempt, 1000));
      }
    }
  }

  async function send(file, uploadId, chunk) {
    let offset = await received(uploadId);
    let failures = 0;
    while (offset < file.size) {
      const end = Math.min(offset + chunk, file.size);
      showSent(offset, file.size, failures ? "connection lost, retrying" : "");
      try {
        const answer = await cbrtl.call("PUT", `/api/v1/uploads/${uploadId}`, {
          body: file.slice(offset, end),
          headers: { "Content-Range": `bytes ${offset}-${end - 1}/${file.size}`, "Content-Type": "application/octet-stream" },
        });
        offset = answer.received;
        failures = 0;
      } catch (error) {
        if (error.status === 409 && error.details && error.details.received !== undefined) {
          offset = Number(error.details.received); // the server has more (or less) than we thought
          continue;
        }
        if (cbrtl.isFinal(error)) throw error;
        failures += 1;
        showSent(offset, file.size, `connection lost, retrying (attempt ${failures})`);
        await wait(cbrtl.backoffMs(failures, 1000));
        offset = await received(uploadId);
      }
    }
    showSent(file.size, file.size, "done");
  }

  async function follow(contentId) {
    for (let failures = 0; ; ) {
      let video;
      try {
        video = await cbrtl.call("GET", `/api/v1/content/${contentId}/video`);
        failures = 0;
      } catch (error) {
        if (cbrtl.isFinal(error)) {
          processedText.textContent = `Could not follow the processing: ${error.message}`;
          return;
        }
        failures += 1;
        await wait(cbrtl.backoffMs(failures, 1500));
        continue;
      }
      processed.value = video.status === "ready" ? 1 : video.progress || 0;
      panel.dataset.videoStatus = video.status;
      if (video.status === "ready") {
        processedText.textContent = "Ready to watch.";
        links.innerHTML = `<a class="button" href="/video?id=${contentId}">▶ Watch it</a> <a href="/content?id=${contentId}">Title page</a>`;
        links.hidden = false;
        return;
      }
      if (video.status === "failed") {
        processedText.textContent = `The video could not be processed: ${video.error || "unknown reason"}.`;
        processedText.dataset.kind = "error";
        return;
      }
      processedText.textContent = `${video.status[0].toUpperCase()}${video.status.slice(1)}: ${Math.round(processed.value * 100)}%`;
      await wait(1500);
    }
  }

  async function start(file) {
    const key = fingerprint(file);
    const saved = JSON.parse(localStorage.getItem(key) || "null");
    let contentId;
    let upload;
    let created = false;
    if (saved) {
      try {
        const state = await cbrtl.call("GET", `/api/v1/uploads/${saved.uploadId}`);
        const fresh = !state.expires_at || new Date(state.expires_at) > new Date(Date.now() + 60000);
        if (state.status === "open" && fresh) {
          contentId = saved.contentId;
          upload = { upload_id: saved.uploadId, chunk_size: saved.chunk };
          cbrtl.status(form, `Resuming your earlier upload of ${file.name} (the title and details typed then are kept).`, "busy");
          panel.dataset.resumed = "yes";
        }
      } catch (error) { /* expired or gone: start again */ }
      if (!upload) localStorage.removeItem(key);
    }
    if (!upload) {
      const fields = {
        title: form.title.value,
        description: form.description.value,
        genres: [...form.querySelectorAll("input[name=genres]:checked")].map((el) => el.value),
      };
      if (form.release_year.value) fields.release_year = Number(form.release_year.value);
      const item = await cbrtl.call("POST", "/api/v1/content", { json: fields });
      contentId = item.id;
      created = true;
      try {
        upload = await cbrtl.call("POST", `/api/v1/content/${contentId}/uploads`, {
          json: { filename: file.name, size_bytes: file.size, content_type: typeOf(file) },
        });
      } catch (error) {
        await cbrtl.call("DELETE", `/api/v1/content/${contentId}`).catch(() => {});
        error.details = { file: error.message };
        throw error;
      }
      localStorage.setItem(key, JSON.stringify({ contentId, uploadId: upload.upload_id, chunk: upload.chunk_size }));
    }
    panel.hidden = false;
    panel.dataset.contentId = String(contentId);
    try {
      await send(file, upload.upload_id, upload.chunk_size);
    } catch (error) {
      // Refused for good (expired, not a video...): the next try starts afresh, and a
      // title made for this upload does not stay behind without its video.
      localStorage.removeItem(key);
      if (created) await cbrtl.call("DELETE", `/api/v1/content/${contentId}`).catch(() => {});
      panel.hidden = true;
      throw error;
    }
    await cbrtl.call("POST", `/api/v1/uploads/${upload.upload_id}/complete`);
    localStorage.removeItem(key);
    cbrtl.status(form, "Uploaded. The video is being processed.", "ok");
    await follow(contentId);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    const file = form.file.files[0];
    if (!file) { fieldError("file", "Choose a video file."); return; }
    if (file.size > maxBytes) { fieldError("file", `This file is ${mb(file.size)}; the limit is ${mb(maxBytes)}.`); return; }
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    cbrtl.status(form, "Starting…", "busy");
    try {
      await start(file);
    } catch (error) {
      for (const [name, message] of Object.entries(error.details || {})) fieldError(name, message);
      cbrtl.status(form, error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
})();
