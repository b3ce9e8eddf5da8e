// A title's page: rate it in half stars, change or clear the rating.
"use strict";

(() => {
  const form = document.querySelector("[data-rating-form]");
  if (!form) return;
  const id = form.dataset.contentId;
  const mine = form.querySelector("[data-your-rating]");
  const clear = form.querySelector("[data-clear-rating]");

  const show = (score) => {
    mine.textContent = score === null ? "Not rated yet" : `You gave it ${score.toFixed(1)} ★`;
    clear.hidden = score === null;
  };

  // Arrow keys step through every half star: save the one the user stops on, and
  // let only the latest answer speak.
  let timer = null;
  let sequence = 0;
  form.addEventListener("change", (event) => {
    if (event.target.name !== "score") return;
    const score = Number(event.target.value);
    clearTimeout(timer);
    cbrtl.status(form, "Saving…", "busy");
    timer = setTimeout(async () => {
      const mine = ++sequence;
      try {
        const saved = await cbrtl.call("PUT", `/api/v1/content/${id}/rating`, { json: { score } });
        if (mine !== sequence) return;
        show(saved.score);
        cbrtl.status(form, "Rating saved.", "ok");
      } catch (error) {
        if (mine === sequence) cbrtl.status(form, error.message, "error");
      }
    }, 400);
  });

  clear.addEventListener("click", async () => {
    clearTimeout(timer);
    const mine = ++sequence;
    cbrtl.status(form, "Clearing…", "busy");
    try {
      await cbrtl.call("DELETE", `/api/v1/content/${id}/rating`);
      if (mine !== sequence) return;
      for (const radio of form.querySelectorAll("input[name=score]")) radio.checked = false;
      show(null);
      cbrtl.status(form, "Rating cleared.", "ok");
    } catch (error) {
      cbrtl.status(form, error.message, "error");
    }
  });
})();
