// The traces list: newest first, filters in the address, pages by cursor, live.

import {
  api, h, link, navigate, replace, fmtDuration, fmtInt, fmtTime, fmtAgo, shortId,
  kindChip, statusBadge, markReady, markLoading,
} from "./util.js";

const STATUSES = ["ok", "error", "timeout", "running"];
const FILTERS = ["agent", "status", "session", "q"];
const PAGE = 50;

export function renderList(main, params) {
  markLoading("list");
  const state = { params, focusIndex: 0, controller: null, traces: [] };

  const agentSelect = h("select", { id: "f-agent", name: "agent" }, h("option", { value: "" }, "all agents"));
  const statusSelect = h("select", { id: "f-status", name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const sessionInput = h("input", { id: "f-session", name: "session", type: "search", placeholder: "conversation id", autocomplete: "off" });
  const textInput = h("input", { id: "f-q", name: "q", type: "search", placeholder: "search names, ids, errors…", autocomplete: "off" });
  agentSelect.value = params.get("agent") || "";
  statusSelect.value = params.get("status") || "";
  sessionInput.value = params.get("session") || "";
  textInput.value = params.get("q") || "";

  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter traces" },
    h("label", { for: "f-agent" }, "Agent"), agentSelect,
    h("label", { for: "f-status" }, "Status"), statusSelect,
    h("label", { for: "f-session" }, "Conversation"), sessionInput,
    h("label", { for: "f-q" }, "Text"), textInput);
  form.addEventListener("submit", (e) => { e.preventDefault(); applyFilters(); });
  agentSelect.addEventListener("change", applyFilters);
  statusSelect.addEventListener("change", applyFilters);
  let typing = null;
  for (const input of [sessionInput, textInput]) {
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(applyFilters, 250);
    });
  }

  const summary = h("p", { class: "count", role: "status", "aria-live": "polite" });
  const tbody = h("tbody");
  const table = h("table", { class: "traces", "aria-label": "Traces, newest first" },
    h("thead", null, h("tr", null,
      ["Started", "Agent", "Root", "Status", "Duration", "Spans", "Tokens", "Env", "Conversation / user", "Commit"]
        .map((c) => h("th", { scope: "col", class: ["Duration", "Spans", "Tokens"].includes(c) ? "num" : null }, c)))),
    tbody);
  tbody.addEventListener("keydown", onKey);
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const notice = h("div", { class: "notice", hidden: true });
  replace(main, h("section", { class: "list-view" },
    h("h1", null, "Traces"), form, notice, summary, h("div", { class: "table-wrap" }, table), pager));

  function applyFilters() {
    const p = new URLSearchParams();
    for (const [k, el] of [["agent", agentSelect], ["status", statusSelect], ["session", sessionInput], ["q", textInput]]) {
      if (el.value.trim()) p.set(k, el.value.trim());
    }
    state.params = p;
    const qs = p.toString();
    history.replaceState(null, "", qs ? `/?${qs}` : "/");
    load();
  }

  async function loadFacets() {
    try {
      const f = await api("/api/facets");
      const chosen = agentSelect.value;
      replace(agentSelect, h("option", { value: "" }, "all agents"),
        f.agents.filter((a) => a).map((a) => h("option", { value: a }, a)));
      if (chosen && !f.agents.includes(chosen)) agentSelect.append(h("option", { value: chosen }, chosen));
      agentSelect.value = chosen;
    } catch { /* the list still works without the menu */ }
  }

  async function load() {
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    const q = new URLSearchParams();
    for (const k of FILTERS) if (state.params.get(k)) q.set(k, state.params.get(k));
    if (state.params.get("cursor")) q.set("cursor", state.params.get("cursor"));
    q.set("limit", String(PAGE));
    let page;
    try {
      page = await api(`/api/traces?${q}`, controller.signal);
    } catch (e) {
      if (e.name === "AbortError") return;
      replace(summary, `Could not load traces: ${e.message}`);
      return;
    }
    state.traces = page.traces;
    draw(page);
    markReady("list", { traceCount: String(page.traces.length) });
  }

  function draw(page) {
    const had = tbody.contains(document.activeElement);
    replace(tbody, page.traces.map(row));
    if (page.traces.length === 0) {
      const filtered = FILTERS.some((k) => state.params.get(k));
      tbody.append(h("tr", null, h("td", { colspan: 10, class: "empty" },
        filtered ? "No trace matches these filters."
          : "No traces yet. Point an SDK here (STASO_BASE_URL=" + location.origin + ") and run an agent.")));
    }
    const n = page.total;
    replace(summary, `${fmtInt(n)} trace${n === 1 ? "" : "s"}`,
      state.params.get("cursor") ? " · older page" : "");
    const rows = tbody.querySelectorAll("tr[data-trace-id]");
    state.focusIndex = Math.min(state.focusIndex, Math.max(0, rows.length - 1));
    rows.forEach((r, i) => { r.tabIndex = i === state.focusIndex ? 0 : -1; });
    if (had && rows[state.focusIndex]) rows[state.focusIndex].focus();
    const cursor = state.params.get("cursor");
    replace(pager,
      cursor ? link(pageUrl(null), { class: "button" }, "← Newest") : null,
      page.next_cursor ? link(pageUrl(page.next_cursor), { class: "button", rel: "next" }, "Older →") : null);
    notice.hidden = true;
  }

  function pageUrl(cursor) {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (state.params.get(k)) p.set(k, state.params.get(k));
    if (cursor) p.set("cursor", cursor);
    const qs = p.toString();
    return qs ? `/?${qs}` : "/";
  }

  function row(t, i) {
    const href = `/traces/${encodeURIComponent(t.trace_id)}`;
    const conv = t.session_id
      ? link(`/conversations/${encodeURIComponent(t.session_id)}`, { class: "mono", title: t.session_id, tabindex: -1 }, shortId(t.session_id))
      : "";
    const tr = h("tr", {
      "data-trace-id": t.trace_id,
      "data-status": t.status,
      class: `status-row-${t.status}`,
      tabindex: -1,
      "aria-label": `${t.root_name || "trace"}, ${t.status}, ${fmtDuration(t.duration_ms)}`,
      onclick: (e) => {
        if (e.target.closest("a")) return;
        navigate(href);
      },
      onfocus: () => { state.focusIndex = i; },
    },
    h("td", { title: t.timestamp }, h("span", null, fmtTime(t.timestamp)), h("span", { class: "ago" }, fmtAgo(t.timestamp))),
    h("td", null, t.agent_name),
    h("td", { class: "root" }, kindChip(t.root_kind || "custom"), " ",
      link(href, { tabindex: -1, class: "root-link" }, t.root_name || "(no root yet)")),
    h("td", null, statusBadge(t.status),
      t.error_count > 0 && t.status !== "error" ? h("span", { class: "errs" }, ` ${t.error_count} err`) : null,
      t.status === "error" ? h("span", { class: "errs", title: t.first_error }, ` ${t.error_count}`) : null),
    h("td", { class: "num" }, t.status === "running" ? h("span", { class: "muted", title: "still running" }, `${fmtDuration(Math.max(t.duration_ms, Date.now() - Date.parse(t.timestamp) || 0))}…`) : fmtDuration(t.duration_ms)),
    h("td", { class: "num" }, fmtInt(t.span_count)),
    h("td", { class: "num", title: `in ${t.input_tokens} · out ${t.output_tokens}` }, t.total_tokens ? fmtInt(t.total_tokens) : "–"),
    h("td", null, t.environment),
    h("td", null, conv, t.user_id ? h("span", { class: "muted" }, ` · ${t.user_id}`) : ""),
    h("td", { class: "mono", title: [t.git_commit, t.git_branch].filter(Boolean).join(" on ") },
      t.git_commit ? t.git_commit.slice(0, 7) : ""));
    return tr;
  }

  function onKey(e) {
    const rows = [...tbody.querySelectorAll("tr[data-trace-id]")];
    const i = rows.indexOf(e.target.closest("tr"));
    if (i < 0) return;
    let next = null;
    if (e.key === "ArrowDown") next = Math.min(rows.length - 1, i + 1);
    else if (e.key === "ArrowUp") next = Math.max(0, i - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = rows.length - 1;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      navigate(`/traces/${encodeURIComponent(rows[i].dataset.traceId)}`);
      return;
    }
    if (next === null) return;
    e.preventDefault();
    rows[i].tabIndex = -1;
    rows[next].tabIndex = 0;
    rows[next].focus();
    state.focusIndex = next;
  }

  // "3 s ago" keeps counting while the page stays open.
  const ticker = setInterval(() => {
    for (const td of tbody.querySelectorAll("td[title]")) {
      const ago = td.querySelector(".ago");
      if (ago) ago.textContent = fmtAgo(td.title);
    }
  }, 15000);

  loadFacets();
  load();
  return {
    update() {
      loadFacets();
      if (state.params.get("cursor")) {
        replace(notice, "New traces arrived. ", link(pageUrl(null), null, "Show the newest"));
        notice.hidden = false;
      } else {
        load();
      }
    },
    destroy() {
      if (state.controller) state.controller.abort();
      clearTimeout(typing);
      clearInterval(ticker);
    },
  };
}
