// The Photo page: the image, its tags with confidence bars, the windows they were found in.
"use strict";

import { api, baseName, h, percent, setPage, svg } from "./common.js";

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

export async function photoPage(params) {
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
