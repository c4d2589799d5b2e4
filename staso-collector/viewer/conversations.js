// Conversations (session ids): the list, and the traces of one conversation in order.

import {
  api, h, link, replace, fmtDuration, fmtInt, fmtTime, fmtAgo, shortId, kindChip,
  statusBadge, markReady, markLoading, plural,
} from "./util.js";

export function renderConversations(main) {
  markLoading("conversations");
  const tbody = h("tbody");
  const more = h("nav", { class: "pager" });
  replace(main, h("section", { class: "list-view" },
    h("h1", null, "Conversations"),
    h("p", { class: "muted" }, "Traces grouped by session id (staso::conversation(..) / the SDK's session), most recently active first."),
    h("div", { class: "table-wrap" }, h("table", { class: "traces" },
      h("thead", null, h("tr", null, ["Conversation", "User", "Traces", "Agents", "Errors", "Tokens", "Last active"].map((c) => h("th", { scope: "col" }, c)))),
      tbody)), more));
  let offset = 0;
  const PAGE = 50;
  async function load(append) {
    const r = await api(`/api/conversations?limit=${PAGE}&offset=${offset}`);
    const rows = r.conversations.map((c) => h("tr", { "data-session-id": c.session_id },
      h("td", null, link(`/conversations/${encodeURIComponent(c.session_id)}`, { class: "mono", title: c.session_id }, c.session_id || "(none)")),
      h("td", null, c.user_id),
      h("td", { class: "num" }, fmtInt(c.trace_count)),
      h("td", null, c.agents.join(", ")),
      h("td", { class: "num" }, c.error_count ? h("span", { class: "err-text" }, fmtInt(c.error_count)) : "0"),
      h("td", { class: "num" }, fmtInt(c.total_tokens)),
      h("td", { title: c.last_timestamp }, fmtAgo(c.last_timestamp))));
    if (append) tbody.append(...rows);
    else replace(tbody, ...rows);
    if (!append && rows.length === 0) tbody.append(h("tr", null, h("td", { colspan: 7, class: "empty" }, "No conversations yet.")));
    replace(more, r.conversations.length === PAGE
      ? h("button", { type: "button", class: "button", onclick: () => { offset += PAGE; load(true); } }, "More")
      : null);
    markReady("conversations");
  }
  load(false);
  return { update() { if (offset === 0) load(false); } };
}

export function renderConversation(main, sessionId) {
  markLoading("conversation");
  const list = h("ol", { class: "conversation" });
  const head = h("p", { class: "muted" });
  replace(main, h("section", { class: "list-view" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, link("/conversations", null, "Conversations"), " / ", h("span", { class: "mono" }, shortId(sessionId))),
    h("h1", null, "Conversation ", h("span", { class: "mono" }, sessionId)), head, list));
  async function load() {
    const traces = [];
    let cursor = null;
    // A conversation is read whole, oldest first (pages of 500).
    for (let i = 0; i < 20; i++) {
      const q = new URLSearchParams({ session: sessionId, order: "asc", limit: "500" });
      if (cursor) q.set("cursor", cursor);
      const r = await api(`/api/traces?${q}`);
      traces.push(...r.traces);
      cursor = r.next_cursor;
      if (!cursor) break;
    }
    const users = [...new Set(traces.map((t) => t.user_id).filter(Boolean))];
    const tokens = traces.reduce((n, t) => n + t.total_tokens, 0);
    replace(head, `${traces.length} trace${traces.length === 1 ? "" : "s"}`,
      users.length ? ` · user ${users.join(", ")}` : "", ` · ${fmtInt(tokens)} tokens`);
    replace(list, ...traces.map((t, i) => h("li", { class: `conv-item status-row-${t.status}`, "data-trace-id": t.trace_id },
      h("span", { class: "conv-n" }, `${i + 1}`),
      h("div", null,
        h("div", null, kindChip(t.root_kind || "custom"), " ",
          link(`/traces/${encodeURIComponent(t.trace_id)}`, null, t.root_name || "(no root yet)"), " ", statusBadge(t.status)),
        h("div", { class: "muted" }, `${fmtTime(t.timestamp)} · ${t.agent_name} · ${fmtDuration(t.duration_ms)} · ${plural(t.span_count, "span")} · ${t.total_tokens ? plural(t.total_tokens, "token") : "no tokens"}`,
          t.first_error ? h("span", { class: "err-text" }, ` · ${t.first_error}`) : "")))));
    if (!traces.length) list.append(h("li", { class: "empty" }, "No trace in this conversation (yet)."));
    markReady("conversation", { traceCount: String(traces.length) });
  }
  load();
  return { update: load };
}
