// The Library page (paged thumbnails, tag filter) and Search (ranked results).
"use strict";

import { PAGE_SIZE, api, baseName, h, main, percent, photoLink, score, setPage, thumbUrl } from "./common.js";

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

export async function libraryPage(params) {
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

export async function searchPage(params) {
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
