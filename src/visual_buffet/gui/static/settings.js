// Settings → Plugins → NAME: panels built from the plugin's settings schema.
"use strict";

import { api, h, setPage } from "./common.js";

export async function settingsPage(pluginName) {
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
  let control;
  let input;
  let note = "";
  const common = { id, name: id, "aria-describedby": helpId };
  if (s.widget === "select") {
    control = input = h("select", common,
      s.choices.map((c) => h("option", { value: c, selected: c === s.value, text: c })));
  } else if (s.widget === "range") {
    input = h("input", { ...common, type: "range", min: s.min, max: s.max, step: s.step, value: s.value });
    const out = h("output", { for: id, id: `${id}-value`, text: input.value });
    input.addEventListener("input", () => { out.textContent = input.value; });
    control = h("span", { class: "control" }, input, out);
    if (input.value !== s.value) {
      // A valid value outside the slider's useful range: shown, kept unless moved.
      note = ` The config file says ${s.value}, outside this slider's ${s.min}-${s.max}; it is kept unless you move the slider.`;
    }
  } else if (s.widget === "number") {
    control = input = h("input", { ...common, type: "number", min: s.min ?? null, max: s.max ?? null,
      step: s.step, value: s.value });
  } else {
    control = input = h("input", { ...common, type: "text", value: s.value,
      placeholder: s.default ? `default: ${s.default}` : "not set" });
  }
  // What Save compares with: the control's own value (a browser clamps a range input).
  loaded[s.key] = input.value;
  return h("div", { class: "setting", "data-key": s.key },
    h("label", { for: id, text: s.label }),
    control.tagName === "SPAN" ? control : h("span", { class: "control" }, control),
    h("small", { class: "help", id: helpId, text: `${s.help} Allowed: ${s.allowed}. ` +
      `(${s.source === "default" ? "default" : "set in the config file"})${note}` }));
}
