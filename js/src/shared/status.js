// Status of a widget: the busy indicator (floats over the panels, so it never reflows them; slow
// methods report their forward batches in it: "Score-CAM 37 / 512" and a thin bar), the error box
// (Python's `error` and every array decoding problem) and the notice line.

import { h, show } from "../dom.js";
import { busyText, progressFraction } from "./methods.js";

export function createStatus(sync) {
  const { model, queue } = sync;
  const bar = h("span", { class: "cam-busy-bar", "data-testid": "busy-bar", hidden: true }, h("span", { class: "cam-busy-bar-fill" }));
  const busy = h("span", { class: "cam-busy-indicator", "data-testid": "busy", role: "status", "aria-hidden": "true" },
    h("span", { class: "cam-spinner" }), h("span", { class: "cam-busy-text", "data-testid": "busy-text" }, "computing…"), bar);
  let progress = null; // the last {type: "progress"} message of the running explanation
  sync.on("msg:custom", (content) => {
    if (content?.type !== "progress" || !model.get("busy")) return; // none arrives after busy turned false
    progress = content;
    syncBusy();
  });
  const error = h("div", { class: "cam-error", "data-testid": "error", role: "alert", hidden: true });
  const notice = h("div", { class: "cam-notice", "data-testid": "notice" });
  let root = null;

  /** Show Python's error and the array errors (an object of strings). */
  function messages(arrayErrors = {}) {
    const list = [model.get("error"), ...Object.values(arrayErrors)].filter(Boolean);
    error.textContent = list.join("\n");
    show(error, list.length > 0);
    const text = model.get("notice") || "";
    notice.textContent = text;
    notice.classList.toggle("empty", !text); // keeps its line: nothing below jumps
  }

  function syncBusy() {
    const isBusy = !!model.get("busy");
    if (!isBusy) progress = null; // the next explanation starts from "computing…"
    root?.classList.toggle("busy", isBusy);
    busy.setAttribute("aria-hidden", String(!isBusy));
    const held = queue.pending();
    const n = Object.keys(held).length;
    busy.querySelector(".cam-busy-text").textContent = busyText(progress, n);
    show(bar, !!progress);
    bar.firstChild.style.width = `${(progressFraction(progress) * 100).toFixed(1)}%`;
    busy.dataset.done = progress ? String(progress.done) : "";
    busy.dataset.total = progress ? String(progress.total) : "";
    busy.title = n ? `queued: ${Object.entries(held).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}` : "";
  }

  return {
    busy, error, notice, messages, syncBusy,
    /** The element that gets the `busy` class. */
    attach(node) {
      root = node;
      syncBusy();
    },
  };
}
