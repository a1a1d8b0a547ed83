// The Tag page: a folder or dropped photos, live progress over server-sent events, cancel.
"use strict";

import { api, baseName, h, photoLink, seconds, setPage } from "./common.js";

let events = null;

/** Stop following a run's events (another page is shown). */
export function stopFollowing() {
  if (events) { events.close(); events = null; }
}

export function tagPage() {
  const message = h("div", { class: "message", role: "alert", id: "tag-message" });
  const bar = h("progress", { id: "progress", max: 1, value: 0, "aria-label": "Progress" });
  const stats = h("p", { class: "stats", id: "stats", role: "status", "aria-live": "polite" });
  const errors = h("ul", { class: "log errors", id: "errors", "aria-label": "Errors" });
  const done = h("ul", { class: "log", id: "results", "aria-label": "Tagged photos" });
  const start = h("button", { type: "submit", id: "start", text: "Start" });
  const cancel = h("button", { type: "button", class: "secondary", id: "cancel", disabled: true,
    text: "Cancel", onclick: () => api("/api/tag/cancel", { method: "POST" }) });
  const fileInput = h("input", { type: "file", id: "files", multiple: true, accept: "image/*",
    onchange: (e) => upload(e.target.files) });
  const drop = h("div", { class: "drop", id: "drop" },
    "Or drop photos here, or ", h("label", { for: "files", text: "choose files" }), fileInput);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files);
  });

  function running(on) { start.disabled = on; cancel.disabled = !on; }

  function follow(after) {
    if (events) events.close();
    errors.replaceChildren(); done.replaceChildren();
    events = new EventSource(`/api/tag/events?after=${after}`);
    events.onmessage = (msg) => {
      const ev = JSON.parse(msg.data);
      if (ev.type === "start") {
        bar.max = ev.total; bar.value = 0; running(true);
        stats.textContent = `0 / ${ev.total} · starting…`;
      } else if (ev.type === "phase") {
        stats.textContent = ev.phase === "checking" ? "Checking the library…" : `Loading ${ev.plugin}…`;
      } else if (ev.type === "progress") {
        bar.max = ev.total; bar.value = ev.done;
        stats.textContent = `${ev.done} / ${ev.total} · ${ev.rate.toFixed(1)} images/s · ` +
          `${seconds(ev.eta_s)} left${ev.errors ? ` · ${ev.errors} errors` : ""}`;
        done.prepend(h("li", {}, h("a", { href: photoLink(ev.file), text: baseName(ev.file) }),
          `: ${ev.tags.join(", ") || "(no tags)"}`));
      } else if (ev.type === "error" || ev.type === "warning") {
        errors.append(h("li", { text: ev.file ? `${ev.file}: ${ev.message}` : ev.message }));
      } else if (ev.type === "end") {
        running(false); events.close(); events = null;
        if (ev.failed_to_start) {
          message.className = "message error"; message.textContent = ev.failed_to_start;
        } else {
          stats.textContent = `${ev.cancelled ? "Cancelled" : "Done"}: ${ev.tagged} tagged, ` +
            `${ev.failed} failed, in ${seconds(ev.elapsed_s)}.`;
          message.className = "message ok";
          message.replaceChildren(`${ev.cancelled ? "Cancelled." : "Finished."} `,
            h("a", { href: "#/library", text: "Open the library" }));
        }
      }
    };
  }

  async function begin(promise) {
    message.textContent = ""; message.className = "message";
    try { const r = await promise; follow(r.after ?? 0); } catch (err) {
      message.className = "message error"; message.textContent = err.message;
    }
  }

  function upload(files) {
    if (!files || !files.length) return;
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    begin(api("/api/upload", { method: "POST", body: form }));
  }

  setPage("Tag", "tag", h("h1", { text: "Tag photos" }),
    h("form", { class: "row", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      begin(api("/api/tag", { method: "POST", json: {
        folder: document.getElementById("folder").value,
        recursive: document.getElementById("recursive").checked,
        xmp: document.getElementById("xmp").checked } }));
    } },
      h("div", { class: "field" }, h("label", { for: "folder", text: "Folder" }),
        h("input", { id: "folder", type: "text", size: 48, placeholder: "/home/me/Pictures", autocomplete: "off" })),
      h("div", { class: "field" }, h("label", {},
        h("input", { id: "recursive", type: "checkbox", checked: true }), " Include sub-directories"),
        h("label", {}, h("input", { id: "xmp", type: "checkbox" }), " Write XMP sidecars")),
      start, cancel),
    drop, message, bar, stats,
    h("h2", { text: "Errors" }), errors,
    h("h2", { text: "Tagged" }), done);
  api("/api/tag/status").then((s) => {
    document.getElementById("xmp").checked = s.xmp; // images.xmp.write in the config file
    if (s.running) follow(s.after);
  }).catch(() => {});
}
