// The waterfall: one row per span in nesting order (children under their parent, by
// start time), a bar on a shared time axis, kind colours, errors marked. Only the rows
// in view are in the DOM, so a trace of 10 000 spans draws as fast as one of ten.

import { h, fmtDuration, KINDS } from "./util.js";

export const ROW_HEIGHT = 26;
const OVERSCAN = 12;
const INDENT = 14;

export class Waterfall {
  constructor(container, { onSelect }) {
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selected = null;
    this.spans = [];
    this.rows = [];
    this.total = 1;
    this.frame = 0;

    this.axis = h("div", { class: "wf-axis", "aria-hidden": "true" });
    this.spacer = h("div", { class: "wf-spacer" });
    this.viewport = h("div", {
      class: "wf-viewport",
      role: "tree",
      tabindex: 0,
      "aria-label": "Spans of this trace: arrow keys move, left and right fold, Enter opens the detail",
    }, this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("keydown", (e) => this.onKey(e));
    this.viewport.addEventListener("click", (e) => this.onClick(e));
    this.root = h("div", { class: "waterfall" },
      h("div", { class: "wf-head" }, h("div", { class: "wf-name-head" }, "Span"), this.axis),
      this.viewport);
    container.append(this.root);
    window.addEventListener("resize", this.onResize = () => this.schedule());
  }

  destroy() {
    window.removeEventListener("resize", this.onResize);
    cancelAnimationFrame(this.frame);
  }

  /**
   * New data (first load or a live refresh): keeps folds, selection and scroll.
   * `runningUntil` (ms from the trace's start) is how far spans still running reach: now,
   * for a trace that is still arriving.
   */
  setSpans(spans, runningUntil = null) {
    this.spans = spans;
    this.runningUntil = runningUntil;
    this.byId = new Map();
    for (const s of spans) this.byId.set(s.span_id, s);
    const children = new Map();
    const roots = [];
    for (const s of spans) {
      const p = s.parent_span_id;
      if (p && this.byId.has(p) && p !== s.span_id) {
        let list = children.get(p);
        if (!list) children.set(p, (list = []));
        list.push(s);
      } else {
        roots.push(s);
      }
    }
    // The API sends spans by start time, so each child list is already in order.
    this.children = children;
    this.rootSpans = roots;
    let end = 0;
    for (const s of spans) end = Math.max(end, s.offset_ms + this.duration(s));
    this.total = Math.max(end, 0.001);
    this.flatten();
    this.drawAxis();
    this.draw();
  }

  /** The visible rows: a depth-first walk that skips folded subtrees (no recursion). */
  flatten() {
    const rows = [];
    const seen = new Set();
    const stack = [];
    for (let i = this.rootSpans.length - 1; i >= 0; i--) stack.push([this.rootSpans[i], 0]);
    while (stack.length) {
      const [s, depth] = stack.pop();
      if (seen.has(s.span_id)) continue;
      seen.add(s.span_id);
      const kids = this.children.get(s.span_id);
      rows.push({ span: s, depth, hasChildren: !!kids });
      if (kids && !this.collapsed.has(s.span_id)) {
        for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
      }
    }
    // Spans caught in a parent cycle are reachable from no root: list them at the end.
    if (seen.size < this.spans.length && this.collapsed.size === 0) {
      for (const s of this.spans) if (!seen.has(s.span_id)) rows.push({ span: s, depth: 0, hasChildren: false });
    }
    this.rows = rows;
    this.index = new Map(rows.map((r, i) => [r.span.span_id, i]));
    this.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.viewport.dataset.rows = String(rows.length);
  }

  drawAxis() {
    const ticks = [];
    for (let i = 0; i <= 4; i++) {
      const ms = (this.total * i) / 4;
      ticks.push(h("span", { class: "tick", style: { left: `${i * 25}%` } }, fmtDuration(ms)));
    }
    this.axis.replaceChildren(...ticks);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  draw() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const els = [];
    for (let i = first; i < last; i++) els.push(this.rowEl(this.rows[i], i));
    this.spacer.replaceChildren(...els);
    const sel = this.selected !== null ? this.index.get(this.selected) : undefined;
    if (sel !== undefined && sel >= first && sel < last) this.viewport.setAttribute("aria-activedescendant", `wf-row-${sel}`);
    else this.viewport.removeAttribute("aria-activedescendant");
  }

  /** A span's duration; a running one reaches `runningUntil`. */
  duration(s) {
    if (s.provisional && this.runningUntil !== null) return Math.max(s.duration_ms, this.runningUntil - s.offset_ms);
    return s.duration_ms;
  }

  rowEl(row, i) {
    const s = row.span;
    const kind = KINDS.includes(s.kind) ? s.kind : "custom";
    const failed = s.status === "error" || s.status === "timeout";
    const left = (s.offset_ms / this.total) * 100;
    const width = (this.duration(s) / this.total) * 100;
    const open = row.hasChildren && !this.collapsed.has(s.span_id);
    const selected = s.span_id === this.selected;
    const title = `${s.name} · ${s.kind} · ${fmtDuration(s.duration_ms)} · ${s.status}` +
      (s.error_message ? ` · ${s.error_message}` : "");
    const bar = h("div", {
      class: `wf-bar kind-${kind}${failed ? " failed" : ""}${s.provisional ? " running" : ""}`,
      style: { left: `${Math.min(left, 99.7)}%`, width: `max(2px, ${Math.min(width, 100 - left)}%)` },
    });
    const label = h("span", {
      class: "wf-dur",
      style: left > 70 ? { right: `${100 - left}%`, textAlign: "right" } : { left: `calc(${Math.min(left + width, 100)}% + 4px)` },
    }, s.provisional ? "running…" : fmtDuration(s.duration_ms), failed ? ` · ${s.status}` : "");
    return h("div", {
      class: `wf-row${selected ? " selected" : ""}${failed ? " failed" : ""}`,
      id: `wf-row-${i}`,
      role: "treeitem",
      "aria-level": row.depth + 1,
      "aria-selected": selected ? "true" : "false",
      "aria-expanded": row.hasChildren ? String(open) : null,
      "data-span-id": s.span_id,
      "data-depth": row.depth,
      "data-kind": s.kind,
      "data-status": s.status,
      title,
      style: { top: `${i * ROW_HEIGHT}px` },
    },
    h("div", { class: "wf-name", style: { paddingLeft: `${row.depth * INDENT + 4}px` } },
      h("span", { class: "wf-toggle", "data-toggle": row.hasChildren ? "1" : null, "aria-hidden": "true" },
        row.hasChildren ? (open ? "▾" : "▸") : ""),
      h("span", { class: `dot kind-${kind}`, "aria-hidden": "true" }),
      h("span", { class: "wf-label" }, s.name),
      failed ? h("span", { class: "wf-err", title: s.error_message || s.status }, "⚠") : null),
    h("div", { class: "wf-track" }, bar, label));
  }

  /** Selects a span (and reveals it: unfolds its ancestors, scrolls to it). */
  select(spanId, { notify = true, focus = false } = {}) {
    if (!this.byId || !this.byId.has(spanId)) return;
    let p = this.byId.get(spanId).parent_span_id;
    let unfolded = false;
    const guard = new Set();
    while (p && this.byId.has(p) && !guard.has(p)) {
      guard.add(p);
      if (this.collapsed.delete(p)) unfolded = true;
      p = this.byId.get(p).parent_span_id;
    }
    if (unfolded) this.flatten();
    this.selected = spanId;
    this.reveal(this.index.get(spanId));
    this.draw();
    if (focus) this.viewport.focus();
    if (notify) this.onSelect(this.byId.get(spanId));
  }

  reveal(i) {
    if (i === undefined) return;
    const top = i * ROW_HEIGHT;
    const vp = this.viewport;
    if (top < vp.scrollTop) vp.scrollTop = top;
    else if (top + ROW_HEIGHT > vp.scrollTop + vp.clientHeight) vp.scrollTop = top + ROW_HEIGHT - vp.clientHeight;
  }

  toggle(spanId) {
    if (this.collapsed.has(spanId)) this.collapsed.delete(spanId);
    else this.collapsed.add(spanId);
    this.flatten();
    this.draw();
  }

  onClick(e) {
    const rowEl = e.target.closest(".wf-row");
    if (!rowEl) return;
    const id = rowEl.dataset.spanId;
    if (e.target.closest("[data-toggle]")) this.toggle(id);
    this.select(id, { focus: true });
  }

  onKey(e) {
    const i = this.selected !== null ? this.index.get(this.selected) : undefined;
    const n = this.rows.length;
    if (!n) return;
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_HEIGHT) - 1);
    let next;
    const row = i !== undefined ? this.rows[i] : null;
    switch (e.key) {
      case "ArrowDown": next = i === undefined ? 0 : Math.min(n - 1, i + 1); break;
      case "ArrowUp": next = i === undefined ? 0 : Math.max(0, i - 1); break;
      case "Home": next = 0; break;
      case "End": next = n - 1; break;
      case "PageDown": next = Math.min(n - 1, (i ?? 0) + page); break;
      case "PageUp": next = Math.max(0, (i ?? 0) - page); break;
      case "ArrowRight":
        if (row && row.hasChildren && this.collapsed.has(row.span.span_id)) { this.toggle(row.span.span_id); e.preventDefault(); return; }
        if (row && row.hasChildren) next = i + 1;
        break;
      case "ArrowLeft":
        if (row && row.hasChildren && !this.collapsed.has(row.span.span_id)) { this.toggle(row.span.span_id); e.preventDefault(); return; }
        if (row && row.span.parent_span_id && this.index.has(row.span.parent_span_id)) next = this.index.get(row.span.parent_span_id);
        break;
      case "Enter":
        if (row) { e.preventDefault(); this.onSelect(row.span, { focusDetail: true }); }
        return;
      default: return;
    }
    e.preventDefault();
    if (next !== undefined && this.rows[next]) this.select(this.rows[next].span.span_id);
  }
}
