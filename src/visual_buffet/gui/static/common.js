// Shared helpers of the pages: DOM building, the API client (CSRF header on POSTs), formats.
"use strict";

export const CSRF = document.querySelector('meta[name="csrf-token"]').content;
export const PAGE_SIZE = 60;
export const main = () => document.getElementById("main");

export function h(tag, attrs, ...children) {
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

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(child));
  return el;
}

export async function api(path, options = {}) {
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

export function route() {
  const hash = location.hash.replace(/^#/, "") || "/library";
  const [path, query] = hash.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

export function setPage(title, page, ...content) {
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

export function score(x) {
  // Sigmoid scores of poor matches are tiny: keep them apart instead of printing 0.000.
  return x >= 0.001 ? x.toFixed(3) : x.toExponential(1);
}
export function percent(x) { return `${(x * 100).toFixed(1)} %`; }
export function photoLink(path) { return `#/photo?path=${encodeURIComponent(path)}`; }
export function thumbUrl(path) { return `/api/thumb?path=${encodeURIComponent(path)}`; }
export function baseName(path) { return path.split(/[\\/]/).pop(); }
export function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${Math.ceil(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
