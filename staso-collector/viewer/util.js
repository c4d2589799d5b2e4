// Small helpers shared by every view: building elements, calling the API, formatting.

/** Builds an element: h("a", {href: "/", class: "x"}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "style") Object.assign(el.style, v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** GET a JSON document from the collector's API; throws with the server's message. */
export async function api(path, signal) {
  const r = await fetch(path, { signal, headers: { accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const err = new Error((body && body.error) || `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

/** Moves to an address of the page without reloading it. */
export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("staso:route"));
}

/** A link inside the page (handled by the router, still a real link for new tabs). */
export function link(href, attrs, ...children) {
  return h("a", { href, "data-link": "", ...attrs }, ...children);
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtInt(n) {
  if (!n) return "0";
  return Number(n).toLocaleString("en-US");
}

/** "2026-11-26T06:10:47.123456+00:00" as local date and time, to the second. */
export function fmtTime(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts || "";
  const pad = (x) => String(x).padStart(2, "0");
  const today = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** "3 s ago", "5 min ago"... for a timestamp. */
export function fmtAgo(ts) {
  const d = new Date(ts).getTime();
  if (Number.isNaN(d)) return "";
  const s = Math.max(0, (Date.now() - d) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A long id (a UUID) cut to its first 8 characters; short ids stay whole. */
export function shortId(id) {
  if (!id) return "";
  return id.length > 16 ? `${id.slice(0, 8)}…` : id;
}

/** "1 span", "2 spans". */
export function plural(n, word) {
  return `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** The 8-digit tail of a span id (its random part, as the SDKs write them). */
export function shortSpanId(id) {
  return id ? id.slice(-12) : "";
}

export const KINDS = ["agent", "llm", "tool", "retriever", "chain", "custom"];

export function kindChip(kind) {
  return h("span", { class: `chip kind-${KINDS.includes(kind) ? kind : "custom"}` }, kind);
}

export function statusBadge(status) {
  const label = status === "running" ? "running" : status;
  return h("span", { class: `badge status-${status}`, title: `status: ${status}` }, label);
}

/** Clears `el` and puts `children` in it. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The body's data-view/data-ready markers, for people's scripts and the browser tests. */
export function markReady(view, extra) {
  document.body.dataset.view = view;
  document.body.dataset.ready = view;
  if (extra) Object.assign(document.body.dataset, extra);
}

export function markLoading(view) {
  document.body.dataset.view = view;
  delete document.body.dataset.ready;
}
