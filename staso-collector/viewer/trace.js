// One trace: its summary, the waterfall and the selected span's detail. The address
// (`/traces/<id>?span=<id>`) names the selection, so it can be shared.

import {
  api, h, link, replace, fmtDuration, fmtInt, fmtTime, shortId, kindChip, statusBadge,
  markReady, markLoading,
} from "./util.js";
import { Waterfall } from "./waterfall.js";
import { renderDetail } from "./detail.js";

export function renderTrace(main, traceId, spanId) {
  markLoading("trace");
  const t0 = performance.now();
  const head = h("header", { class: "trace-head" });
  const wfPane = h("section", { class: "wf-pane", "aria-label": "Waterfall" });
  const detailPane = h("aside", { class: "detail-pane", "aria-label": "Span detail", tabindex: -1 });
  replace(main, h("section", { class: "trace-view" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, link("/", null, "Traces"), " / ", h("span", { class: "mono" }, shortId(traceId))),
    head, h("div", { class: "trace-body" }, wfPane, detailPane)));

  let waterfall = null;
  let detail = null;
  let data = null;
  let selectTimer = null;
  let loading = null;

  function onSelect(span, opts = {}) {
    if (!span) return;
    const url = `/traces/${encodeURIComponent(traceId)}?span=${encodeURIComponent(span.span_id)}`;
    if (location.pathname + location.search !== url) history.replaceState(null, "", url);
    clearTimeout(selectTimer);
    // Arrowing through many rows fetches only where the selection rests.
    const show = () => {
      if (detail) detail.destroy();
      detail = renderDetail(detailPane, traceId, span, data.trace);
      if (opts.focusDetail) detailPane.focus();
    };
    if (opts.focusDetail || !detail) show();
    else selectTimer = setTimeout(show, 90);
  }

  function drawHead(t, runningUntil) {
    const facts = [
      ["Duration", t.status === "running" ? `${fmtDuration(Math.max(t.duration_ms, runningUntil ?? 0))} so far` : fmtDuration(t.duration_ms)],
      ["Spans", fmtInt(t.span_count)],
      ["Errors", t.error_count ? h("span", { class: "err-text" }, fmtInt(t.error_count)) : "0"],
      ["Tokens", t.total_tokens ? `${fmtInt(t.total_tokens)} (in ${fmtInt(t.input_tokens)} · out ${fmtInt(t.output_tokens)})` : "–"],
      ["Agent", t.agent_name],
      ["Environment", t.environment],
      ["Conversation", t.session_id ? link(`/conversations/${encodeURIComponent(t.session_id)}`, { class: "mono" }, t.session_id) : "–"],
      ["User", t.user_id || "–"],
      ["Started", h("span", { title: t.timestamp }, fmtTime(t.timestamp))],
      ["Commit", t.git_commit ? h("span", { class: "mono", title: t.git_commit }, t.git_commit.slice(0, 12) + (t.git_branch ? ` (${t.git_branch})` : "")) : "–"],
      ["Trace id", h("span", { class: "mono" }, t.trace_id)],
    ];
    replace(head,
      h("h1", null, kindChip(t.root_kind || "custom"), " ", t.root_name || "(root not received yet)", " ", statusBadge(t.status)),
      h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))));
  }

  async function load(first) {
    const controller = new AbortController();
    if (loading) loading.abort();
    loading = controller;
    const tFetch = performance.now();
    let next;
    try {
      next = await api(`/api/traces/${encodeURIComponent(traceId)}`, controller.signal);
    } catch (e) {
      if (e.name === "AbortError") return;
      if (first) {
        replace(head, h("h1", null, e.status === 404 ? "Trace not found (yet)" : "Could not load the trace"),
          h("p", { class: "muted" }, e.status === 404
            ? `No trace ${traceId} is stored. It appears here as soon as its first span arrives.`
            : e.message));
        markReady("trace", { notFound: "1" });
      }
      return;
    }
    const tData = performance.now();
    data = next;
    // Running: the root's bar reaches the present (the collector is on this machine).
    const started = Date.parse(data.trace.timestamp);
    const runningUntil = data.trace.status === "running" && !Number.isNaN(started)
      ? Math.max(0, Date.now() - started) : null;
    drawHead(data.trace, runningUntil);
    const newWaterfall = !waterfall;
    if (newWaterfall) waterfall = new Waterfall(wfPane, { onSelect });
    waterfall.setSpans(data.spans, runningUntil);
    const tRender = performance.now();
    if (newWaterfall) {
      const want = spanId && waterfall.byId.has(spanId) ? spanId : (waterfall.rows[0] && waterfall.rows[0].span.span_id);
      if (want) waterfall.select(want);
    } else if (waterfall.selected && waterfall.byId.has(waterfall.selected)) {
      // A live refresh: redraw the selection's detail only if that span changed.
      const s = waterfall.byId.get(waterfall.selected);
      if (detail && detail.stale(s)) onSelect(s, { focusDetail: false });
    }
    if (first) {
      const timing = {
        spans: data.spans.length,
        fetch_ms: +(tData - tFetch).toFixed(1),
        render_ms: +(tRender - tData).toFixed(1),
        page_to_render_ms: +(tRender - t0).toFixed(1),
      };
      // After the browser painted the rows.
      requestAnimationFrame(() => setTimeout(() => {
        timing.painted_ms = +(performance.now() - tData).toFixed(1);
        timing.navigation_to_paint_ms = +performance.now().toFixed(1);
        window.__stasoRender = timing;
        markReady("trace", { spanCount: String(data.spans.length) });
      }, 0));
    } else {
      markReady("trace", { spanCount: String(data.spans.length) });
    }
  }

  load(true);
  // Live refreshes of a running trace: at most one fetch in flight and two a second, so
  // a large trace arriving in many batches is not fetched once per batch.
  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      await load(!data);
      await new Promise((res) => setTimeout(res, 500));
    } finally {
      refreshing = false;
    }
    if (again) { again = false; refresh(); }
  }
  return {
    update() {
      // Only a trace still arriving changes; a finished one is left as it is.
      if (!data || data.trace.status === "running") refresh();
    },
    destroy() {
      if (loading) loading.abort();
      clearTimeout(selectTimer);
      if (waterfall) waterfall.destroy();
      if (detail) detail.destroy();
    },
  };
}
