// The router (the address says what to show, so links can be shared) and the live
// updates: one long poll on /api/changes that tells the current view the store changed.

import { api, navigate } from "./util.js";
import { renderList } from "./list.js";
import { renderTrace } from "./trace.js";
import { renderConversations, renderConversation } from "./conversations.js";

const main = document.getElementById("main");
let current = null; // the mounted view: { update(), destroy() }

function route() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const params = new URLSearchParams(location.search);
  let m;
  if (current && current.destroy) current.destroy();
  current = null;
  let nav = "traces";
  if (path === "/" || path === "/traces") {
    current = renderList(main, params);
  } else if ((m = path.match(/^\/traces\/([^/]+)$/))) {
    current = renderTrace(main, decodeURIComponent(m[1]), params.get("span"));
  } else if (path === "/conversations") {
    nav = "conversations";
    current = renderConversations(main);
  } else if ((m = path.match(/^\/conversations\/([^/]+)$/))) {
    nav = "conversations";
    current = renderConversation(main, decodeURIComponent(m[1]));
  } else {
    main.replaceChildren();
    main.append("Nothing here. ");
    const a = document.createElement("a");
    a.href = "/";
    a.dataset.link = "";
    a.textContent = "Back to the traces";
    main.append(a);
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// Links inside the page move without a reload (new tab / modified clicks are left alone).
document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[data-link]");
  if (!a || e.defaultPrevented || e.button !== 0) return;
  if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
  main.focus({ preventScroll: true });
});

window.addEventListener("popstate", route);
window.addEventListener("staso:route", route);

// Live updates. The server answers as soon as something was stored after `seq`.
const live = document.getElementById("live");
async function watch() {
  let seq = null;
  let failures = 0;
  for (;;) {
    try {
      const q = seq === null ? "" : `?after=${seq}`;
      const r = await api(`/api/changes${q}`);
      if (seq !== null && r.seq !== seq && current && current.update) current.update();
      seq = r.seq;
      failures = 0;
      live.textContent = r.store === "count-only" ? "count-only: nothing stored" : "live";
      live.className = "live on";
    } catch {
      failures += 1;
      live.textContent = "collector unreachable";
      live.className = "live off";
      await new Promise((res) => setTimeout(res, Math.min(5000, 500 * failures)));
    }
  }
}

route();
watch();
