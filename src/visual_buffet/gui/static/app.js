// Visual Buffet GUI: plain JavaScript modules, no build step. Pages are hash routes:
// #/library, #/search?q=, #/photo?path=, #/tag, #/settings, #/settings/plugins/NAME.
"use strict";

import { main, route } from "./common.js";
import { libraryPage, searchPage } from "./library.js";
import { photoPage } from "./photo.js";
import { settingsPage } from "./settings.js";
import { stopFollowing, tagPage } from "./tag.js";

// --- router --------------------------------------------------------------------------------
function render() {
  const { path, params } = route();
  if (path !== "/tag") stopFollowing();
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
