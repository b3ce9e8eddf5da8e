// The player: hls.js (or native HLS), a quality menu, resume, progress saved as you watch,
// and a page that waits for a video still being processed.
"use strict";

(() => {
  const page = document.querySelector("[data-player]");
  if (!page) return;
  const id = page.dataset.contentId;
  const state = page.querySelector("[data-video-state]");
  const SAVE_EVERY_S = 10;

  // Follow a video being prepared until it is ready (then reload to play it) or failed.
  const waitUntilReady = () => {
    const bar = page.querySelector("[data-video-progress]");
    let failures = 0;
    const poll = async () => {
      if (document.hidden) { setTimeout(poll, 2000); return; }
      try {
        const video = await cbrtl.call("GET", `/api/v1/content/${id}/video`);
        failures = 0;
        if (video.status === "ready") { location.reload(); return; }
        if (video.status === "failed") {
          state.innerHTML = `<p class="error-text">This video could not be processed: ${cbrtl.escape(video.error || "unknown reason")}.</p>`;
          return;
        }
        if (video.status === "none") return;
        if (bar) bar.value = video.progress || 0;
        const text = state.querySelector("p");
        if (text) text.textContent = `This video is still being prepared (${video.status}, ${Math.round((video.progress || 0) * 100)}%). The page will start it when it is ready.`;
      } catch (error) {
        if (cbrtl.isFinal(error)) return;
        failures += 1;
      }
      setTimeout(poll, cbrtl.backoffMs(failures, 2000));
    };
    setTimeout(poll, 2000);
  };

  const status = page.dataset.status;
  const source = page.dataset.masterUrl;
  const video = page.querySelector("video");
  if (["uploading", "queued", "processing"].includes(status)) waitUntilReady();
  if (!video || !source) return;

  const menu = page.querySelector("[data-quality]");
  const now = page.querySelector("[data-level-now]");
  const resume = Number(page.dataset.resume || 0);
  const signedIn = page.dataset.signedIn === "yes";

  const label = (level) => `${level.height}p · ${Math.round(level.bitrate / 1000)} kb/s`;

  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ startPosition: resume > 0 ? resume : -1, capLevelToPlayerSize: false });
    hls.loadSource(source);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      data.levels.forEach((level, index) => {
        const option = document.createElement("option");
        option.value = String(index);
        option.textContent = label(level);
        menu.append(option);
      });
      menu.disabled = false;
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      page.dataset.levelHeight = String(level.height);
      now.textContent = `Playing ${level.height}p${hls.autoLevelEnabled ? " (auto)" : ""}`;
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) state.innerHTML = `<p class="error-text">Playback failed (${cbrtl.escape(data.details)}). Reload the page to try again.</p>`;
    });
    menu.addEventListener("change", () => {
      // currentLevel switches at once (flushing the buffer); -1 goes back to automatic.
      hls.currentLevel = Number(menu.value);
    });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source; // Safari plays HLS itself and picks the rung on its own
    menu.hidden = true;
    if (resume > 0) video.addEventListener("loadedmetadata", () => { video.currentTime = resume; }, { once: true });
  } else {
    state.innerHTML = '<p class="error-text">This browser cannot play HLS video.</p>';
    return;
  }

  if (!signedIn) return;
  let savedAt = -Infinity;
  const save = (completed = false, keepalive = false) => {
    if (!Number.isFinite(video.currentTime) || (video.currentTime === 0 && !completed)) return;
    savedAt = video.currentTime;
    cbrtl.call("POST", `/api/v1/content/${id}/progress`, {
      json: { position_s: Math.round(video.currentTime * 100) / 100, completed },
      keepalive,
    }).catch(() => { /* the next save carries it */ });
  };
  video.addEventListener("timeupdate", () => {
    if (Math.abs(video.currentTime - savedAt) >= SAVE_EVERY_S) save();
  });
  video.addEventListener("pause", () => { if (!video.ended) save(); });
  video.addEventListener("seeked", () => save());
  video.addEventListener("ended", () => save(true));
  window.addEventListener("pagehide", () => save(video.ended, true));
})();
