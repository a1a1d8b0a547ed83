// Visual Buffet GUI: plain JavaScript, no build step. Pages are hash routes:
// #/library, #/search?q=, #/photo?path=, #/tag, #/settings, #/settings/plugins/NAME.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const PAGE_SIZE = 60;
const main = () => document.getElementById("main");

// --- small helpers -------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(child));
  return el;
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: {}, ...options };
  if (init.method === "POST") {
    init.headers["X-CSRF-Token"] = CSRF;
    if (init.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(init.json);
    }
  }
  const response = await fetch(path, init);
  let body = null;
  const type = response.headers.get("content-type") || "";
  body = type.includes("json") ? await response.json() : { error: await response.text() };
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function route() {
  const hash = location.hash.replace(/^#/, "") || "/library";
  const [path, query] = hash.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function setPage(title, page, ...content) {
  document.title = `${title} · Visual Buffet`;
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const gear = document.getElementById("settings-button");
  if (page === "settings") gear.setAttribute("aria-current", "page");
  else gear.removeAttribute("aria-current");
  main().replaceChildren(...content);
}

function score(x) {
  // Sigmoid scores of poor matches are tiny: keep them apart instead of printing 0.000.
  return x >= 0.001 ? x.toFixed(3) : x.toExponential(1);
}
function percent(x) { return `${(x * 100).toFixed(1)} %`; }
function photoLink(path) { return `#/photo?path=${encodeURIComponent(path)}`; }
function thumbUrl(path) { return `/api/thumb?path=${encodeURIComponent(path)}`; }
function baseName(path) { return path.split(/[\\/]/).pop(); }
function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${Math.ceil(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// --- Library and search --------------------------------------------------------------------
function searchForms(params) {
  const q = params.get("q") || "";
  const tag = params.get("tag") || "";
  return h("div", { class: "row" },
    h("form", { class: "row", role: "search", onsubmit: (e) => {
      e.preventDefault();
      const text = e.target.querySelector("#search").value.trim();
      location.hash = text ? `#/search?q=${encodeURIComponent(text)}` : "#/library";
    } },
      h("div", { class: "field" }, h("label", { for: "search", text: "Search" }),
        h("input", { id: "search", type: "search", value: q, placeholder: "e.g. red circle" })),
      h("button", { type: "submit", text: "Search" })),
    h("form", { class: "row", onsubmit: (e) => {
      e.preventDefault();
      const text = e.target.querySelector("#tag-filter").value.trim();
      location.hash = text ? `#/library?tag=${encodeURIComponent(text)}` : "#/library";
    } },
      h("div", { class: "field" }, h("label", { for: "tag-filter", text: "Filter by tag" }),
        h("input", { id: "tag-filter", type: "text", value: tag, placeholder: "e.g. blue" })),
      h("button", { type: "submit", class: "secondary", text: "Filter" })));
}

function card(item, extra) {
  return h("li", { class: "card", "data-path": item.path },
    h("a", { class: "thumb", href: photoLink(item.path), "aria-label": item.name || baseName(item.path) },
      h("img", { src: thumbUrl(item.path), alt: "", loading: "lazy", decoding: "async" })),
    h("div", { class: "meta" },
      extra || null,
      h("div", { class: "name", title: item.path, text: item.name || baseName(item.path) }),
      h("div", { class: "chips" }, (item.tags || []).slice(0, 5).map((t) =>
        h("a", { class: "chip", href: `#/library?tag=${encodeURIComponent(t.label)}`,
          title: percent(t.confidence), text: t.label })))));
}

async function libraryPage(params) {
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const tag = params.get("tag") || "";
  const status = h("p", { class: "muted", role: "status", text: "Loading…" });
  setPage("Library", "library", h("h1", { text: tag ? `Library: tagged “${tag}”` : "Library" }),
    searchForms(params), status);
  const query = new URLSearchParams({ offset, limit: PAGE_SIZE });
  if (tag) query.set("tag", tag);
  let data;
  try { data = await api(`/api/library?${query}`); } catch (err) {
    status.textContent = err.message; status.className = "message error"; return;
  }
  if (!data.total) {
    status.textContent = tag ? `No photo is tagged “${tag}”.`
      : "The library is empty. Tag a folder on the Tag page to fill it.";
    return;
  }
  const end = Math.min(offset + data.items.length, data.total);
  status.textContent = `${offset + 1}–${end} of ${data.total} photos`;
  const nav = (to) => {
    const p = new URLSearchParams({ offset: to });
    if (tag) p.set("tag", tag);
    return `#/library?${p}`;
  };
  main().append(
    h("ul", { class: "grid", "aria-label": "Photos" }, data.items.map((item) => card(item))),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: offset === 0,
        onclick: () => { location.hash = nav(Math.max(0, offset - PAGE_SIZE)); }, text: "Previous" }),
      h("button", { type: "button", class: "secondary", disabled: end >= data.total,
        onclick: () => { location.hash = nav(offset + PAGE_SIZE); }, text: "Next" })));
}

async function searchPage(params) {
  const q = params.get("q") || "";
  const status = h("p", { class: "muted", role: "status", text: "Searching…" });
  setPage(`Search: ${q}`, "library", h("h1", { text: "Search" }), searchForms(params), status);
  let data;
  try { data = await api(`/api/search?${new URLSearchParams({ q, limit: PAGE_SIZE })}`); } catch (err) {
    status.textContent = err.message; status.className = "message error"; return;
  }
  status.textContent = data.results.length
    ? `${data.results.length} results for “${q}”, best first` : `Nothing matches “${q}”.`;
  main().append(h("ol", { class: "grid", id: "results", "aria-label": "Search results" },
    data.results.map((item, i) => card(item,
      h("div", { class: "rank", text: `#${i + 1} · score ${score(item.score)}` })))));
}

// --- Photo ---------------------------------------------------------------------------------
function whereText(found) {
  if (!found) return "";
  const [l, t, r, b] = found.box;
  // The words of the CLI's table: "whole photo" / "detail (x1,y1)-(x2,y2)".
  const what = found.view === "window" ? `detail (${l},${t})-(${r},${b})` : "whole photo";
  return `${what} at ${found.resolution} px`;
}

function sidecarText(sidecar) {
  if (!sidecar) return "none";
  const words = sidecar.keywords && sidecar.keywords.length
    ? ` (keywords: ${sidecar.keywords.join(", ")})` : "";
  return `${sidecar.path}${words}`;
}

async function photoPage(params) {
  const path = params.get("path") || "";
  setPage(baseName(path), "library", h("p", { class: "muted", text: "Loading…" }));
  let data;
  try { data = await api(`/api/photo?${new URLSearchParams({ path })}`); } catch (err) {
    setPage("Photo", "library", h("h1", { text: "Photo" }),
      h("p", { class: "message error", role: "alert", text: err.message }));
    return;
  }
  const width = data.width || 1;
  const height = data.height || 1;
  const overlay = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
    role: "img", "aria-label": "Windows where tags were found", id: "windows" });
  // One rectangle per window, labelled with every tag found in it (hover a tag: it lights up).
  const windows = new Map();
  const rows = [];
  for (const record of data.records) {
    for (const tag of record.tags) {
      const found = tag.found_in;
      if (found && found.view === "window") {
        const key = found.box.join(",");
        if (!windows.has(key)) windows.set(key, { box: found.box, labels: [] });
        windows.get(key).labels.push(tag.label);
      }
      const bar = h("div", { class: "barfill" });
      bar.style.width = `${Math.min(100, tag.confidence * 100)}%`;
      const hot = (on) => () => {
        const key = found && found.view === "window" ? found.box.join(",") : null;
        const rect = key && overlay.querySelector(`rect[data-box="${key}"]`);
        if (rect) rect.classList.toggle("hot", on);
      };
      rows.push(h("tr", { "data-label": tag.label, onmouseenter: hot(true), onmouseleave: hot(false) },
        h("th", { scope: "row", text: tag.label }),
        h("td", {}, h("div", { class: "barbox", role: "meter", "aria-valuemin": 0, "aria-valuemax": 1,
          "aria-valuenow": tag.confidence, "aria-label": `${tag.label} confidence` }, bar)),
        h("td", { class: "num", text: percent(tag.confidence) }),
        h("td", { class: "where", text: whereText(found) })));
    }
  }
  for (const [key, { box, labels }] of windows) {
    const [l, t, r, b] = box;
    const text = labels.join(", ");
    overlay.append(svg("g", { class: "window", "data-labels": text },
      svg("title", {}, text),
      svg("rect", { x: l, y: t, width: r - l, height: b - t, "data-box": key,
        "data-label": labels[0], "data-labels": text }),
      svg("text", { x: l + width * 0.01, y: t + height * 0.05,
        "font-size": Math.max(12, height * 0.035) }, text)));
  }
  const sidecar = data.sidecar;
  setPage(data.name, "library",
    h("p", {}, h("a", { href: "#/library", text: "← Library" })),
    h("h1", { text: data.name }),
    h("div", { class: "photo" },
      h("div", { class: "stage" },
        h("img", { src: `/api/image?${new URLSearchParams({ path })}`, alt: data.name, width, height }),
        overlay),
      h("div", {},
        h("h2", { text: "Tags" }),
        rows.length ? h("table", { class: "tags" },
          h("thead", {}, h("tr", {}, h("th", { text: "tag" }), h("th", { text: "confidence" }),
            h("th", { text: "" }), h("th", { text: "found in" }))),
          h("tbody", {}, rows)) : h("p", { class: "muted", text: "No tags above the threshold." }),
        h("h2", { text: "File" }),
        h("dl", { class: "facts" },
          h("dt", { text: "path" }), h("dd", { text: data.path }),
          h("dt", { text: "size" }), h("dd", { text: `${data.width} × ${data.height} px` }),
          data.records.map((r) => [h("dt", { text: "tagged by" }),
            h("dd", { text: `${r.plugin}${r.model && r.model.variant ? ` (${r.model.variant})` : ""}` })]),
          h("dt", { text: "sidecar" }),
          h("dd", { id: "sidecar", text: sidecarText(sidecar) })))));
}

// --- Tag -----------------------------------------------------------------------------------
let events = null;

function tagPage() {
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

// --- Settings ------------------------------------------------------------------------------
async function settingsPage(pluginName) {
  let plugins;
  try { plugins = (await api("/api/plugins")).plugins; } catch (err) {
    setPage("Settings", "settings", h("p", { class: "message error", text: err.message })); return;
  }
  const side = h("nav", { "aria-label": "Settings sections" }, h("h2", { text: "Plugins" }),
    h("ul", {}, plugins.map((p) => h("li", {}, h("a", { href: `#/settings/plugins/${p.name}`,
      "aria-current": p.name === pluginName ? "page" : null, text: p.title })))));
  const body = h("div", {});
  setPage("Settings", "settings", h("h1", { text: "Settings" }), h("div", { class: "settings" }, side, body));
  if (!pluginName) {
    body.append(h("p", { class: "muted", text: "Choose a plugin to see and change its settings." }));
    return;
  }
  let panel;
  try { panel = await api(`/api/settings/${encodeURIComponent(pluginName)}`); } catch (err) {
    body.append(h("p", { class: "message error", text: err.message })); return;
  }
  const message = h("div", { class: "message", id: "settings-message", role: "alert" });
  const loaded = {};
  const form = h("form", { novalidate: true, "aria-label": `${panel.title} settings` });
  for (const section of panel.sections) {
    const fs = h("fieldset", { id: `section-${section.id}` }, h("legend", { text: section.heading || "General" }));
    for (const s of section.settings) fs.append(settingControl(s, loaded));
    form.append(fs);
  }
  form.append(h("button", { type: "submit", text: "Save" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = {};
    for (const [key, before] of Object.entries(loaded)) {
      const now = form.elements[`setting-${key}`].value;
      if (now !== before) values[key] = now;
    }
    if (!Object.keys(values).length) {
      message.className = "message ok"; message.textContent = "Nothing changed."; return;
    }
    try {
      const r = await api(`/api/settings/${encodeURIComponent(pluginName)}`, { method: "POST", json: { values } });
      for (const [key, value] of Object.entries(values)) loaded[key] = value;
      message.className = "message ok";
      message.textContent = `Saved ${Object.keys(r.saved).join(", ")} to ${r.config_path}.`;
    } catch (err) {
      message.className = "message error"; message.textContent = err.message;
    }
  });
  body.append(h("div", {}, h("h2", { text: panel.title }),
    panel.description ? h("p", { class: "muted", text: panel.description }) : null,
    panel.config_problem ? h("p", { class: "message error", text: panel.config_problem }) : null,
    form, message,
    h("p", { class: "muted", text: `Save writes ${panel.config_path}, as visual-buffet config set does.` })));
}

function settingControl(s, loaded) {
  const id = `setting-${s.key}`;
  const helpId = `${id}-help`;
  loaded[s.key] = s.value;
  let control;
  const common = { id, name: id, "aria-describedby": helpId };
  if (s.widget === "select") {
    control = h("select", common, s.choices.map((c) => h("option", { value: c, selected: c === s.value, text: c })));
  } else if (s.widget === "range") {
    const out = h("output", { for: id, id: `${id}-value`, text: s.value });
    const input = h("input", { ...common, type: "range", min: s.min, max: s.max, step: s.step, value: s.value });
    input.addEventListener("input", () => { out.textContent = input.value; });
    control = h("span", { class: "control" }, input, out);
  } else if (s.widget === "number") {
    control = h("input", { ...common, type: "number", min: s.min ?? null, max: s.max ?? null,
      step: s.step, value: s.value });
  } else {
    control = h("input", { ...common, type: "text", value: s.value, placeholder: s.default ? `default: ${s.default}` : "not set" });
  }
  return h("div", { class: "setting", "data-key": s.key },
    h("label", { for: id, text: s.label }),
    control.tagName === "SPAN" ? control : h("span", { class: "control" }, control),
    h("small", { class: "help", id: helpId, text: `${s.help} Allowed: ${s.allowed}. ` +
      `(${s.source === "default" ? "default" : "set in the config file"})` }));
}

// --- router --------------------------------------------------------------------------------
function render() {
  const { path, params } = route();
  if (events && path !== "/tag") { events.close(); events = null; }
  if (path === "/library") libraryPage(params);
  else if (path === "/search") searchPage(params);
  else if (path === "/photo") photoPage(params);
  else if (path === "/tag") tagPage();
  else if (path.startsWith("/settings")) settingsPage(path.split("/")[3] || "");
  else libraryPage(params);
  main().focus({ preventScroll: true });
}

document.getElementById("settings-button").addEventListener("click", () => { location.hash = "#/settings"; });
window.addEventListener("hashchange", render);
render();
