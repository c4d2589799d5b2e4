// The detail pane of the selected span: error, LLM facts and transcript, input and
// output as collapsible JSON, tags, metadata, attributes, code location, git context.

import {
  api, h, link, replace, fmtDuration, fmtInt, fmtTime, kindChip, statusBadge,
} from "./util.js";
import { renderTranscript, hasTranscript } from "./transcript.js";

/** Attribute keys the SDKs write themselves; the rest is the user's metadata. */
const OPERATIONAL = new Set([
  "code.filepath", "code.lineno", "code.function", "tool_name", "provider", "tags",
  "exception.type", "time_to_first_token", "stop_reason", "response_id", "service_tier",
  "reasoning_tokens", "cache_read_input_tokens", "cache_write_input_tokens",
  "cache_creation_input_tokens", "cache_write_5m_input_tokens", "cache_write_1h_input_tokens",
  "has_thinking", "temperature", "max_tokens", "top_p", "top_k", "frequency_penalty",
  "presence_penalty", "seed", "stop_sequences", "tool_choice", "response_format", "thinking",
  "guard_evaluations", "extra_body", "api_base",
]);
const isOperational = (k) => OPERATIONAL.has(k) || k.startsWith("vcs.") || k.startsWith("staso.") || k.startsWith("guard_");

export function renderDetail(pane, traceId, light, trace) {
  const controller = new AbortController();
  replace(pane, h("h2", { class: "detail-title" }, kindChip(light.kind), " ", light.name, " ", statusBadge(light.status)),
    h("p", { class: "muted" }, "Loading…"));
  pane.dataset.spanId = light.span_id;
  delete pane.dataset.ready;
  const shown = { status: light.status, provisional: light.provisional, duration: light.duration_ms };

  api(`/api/traces/${encodeURIComponent(traceId)}/spans/${encodeURIComponent(light.span_id)}`, controller.signal)
    .then((span) => {
      replace(pane, ...sections(span, light, trace));
      pane.dataset.ready = "1";
    })
    .catch((e) => {
      if (e.name === "AbortError") return;
      replace(pane, h("p", { class: "err-text" }, `Could not load the span: ${e.message}`));
    });

  return {
    destroy() { controller.abort(); },
    stale(s) {
      return s.status !== shown.status || s.provisional !== shown.provisional || s.duration_ms !== shown.duration;
    },
  };
}

function section(title, open, ...body) {
  return h("details", { class: "sect", open: open || null, "data-section": title.toLowerCase() },
    h("summary", null, h("h3", null, title)), ...body);
}

function facts(pairs) {
  return h("dl", { class: "facts small" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

function sections(span, light, trace) {
  const a = span.attributes || {};
  const out = [];
  const failed = span.status === "error" || span.status === "timeout";
  out.push(h("h2", { class: "detail-title", id: "detail-title" },
    kindChip(span.kind), " ", span.name, " ", statusBadge(span.provisional ? "running" : span.status)));
  out.push(facts([
    ["Duration", span.provisional ? "still running" : fmtDuration(span.duration_ms)],
    ["Starts", h("span", { title: span.timestamp }, `${fmtTime(span.timestamp)} (+${fmtDuration(light.offset_ms)})`)],
    ["Agent", span.agent_name],
    ["Conversation", span.session_id ? link(`/conversations/${encodeURIComponent(span.session_id)}`, { class: "mono" }, span.session_id) : null],
    ["User", span.user_id],
    ["Span id", h("span", { class: "mono" }, span.span_id)],
    ["Parent", span.parent_span_id ? h("span", { class: "mono" }, span.parent_span_id) : "none (root)"],
    ["Copies received", span.copies_received > 1 ? `${span.copies_received} (${span.final_copies_received} final)` : null],
  ]));

  if (failed || span.error_message || a["exception.type"]) {
    out.push(h("div", { class: "error-box", role: "note", "data-section": "error" },
      h("strong", null, a["exception.type"] ? `${a["exception.type"]}` : span.status === "timeout" ? "Timed out" : "Error"),
      h("p", { class: "error-message" }, span.error_message || (span.status === "error" ? "(no message was sent: a capture category is off)" : ""))));
  }

  if (span.kind === "llm" || span.model || span.usage_available) {
    const tokens = span.usage_available === false && !span.total_tokens
      ? "not reported"
      : `${fmtInt(span.input_tokens)} in · ${fmtInt(span.output_tokens)} out · ${fmtInt(span.total_tokens)} total`;
    out.push(h("div", { class: "llm-box", "data-section": "llm" }, facts([
      ["Model", span.model ? (span.requested_model && span.requested_model !== span.model ? `${span.model} (asked: ${span.requested_model})` : span.model) : "–"],
      ["Provider", span.provider || a.provider],
      ["Tokens", h("span", { class: "tokens" }, tokens)],
      ["Time to first token", a.time_to_first_token !== undefined ? fmtDuration(Number(a.time_to_first_token)) : null],
      ["Reasoning effort", span.reasoning_effort],
      ["Reasoning tokens", a.reasoning_tokens !== undefined ? fmtInt(a.reasoning_tokens) : null],
      ["Cached input tokens", a.cache_read_input_tokens ? fmtInt(a.cache_read_input_tokens) : null],
      ["Stop reason", a.stop_reason],
      ["Response id", a.response_id ? h("span", { class: "mono" }, a.response_id) : null],
    ])));
    if (hasTranscript(span.input, span.output)) {
      out.push(section("Transcript", true, renderTranscript(span.input, span.output)));
    }
  }

  out.push(section("Input", true, span.input === null ? h("p", { class: "muted" }, "nothing captured") : jsonTree(span.input)));
  out.push(section("Output", true, span.output === null ? h("p", { class: "muted" }, span.provisional ? "not yet: the span is still running" : "nothing captured") : jsonTree(span.output)));

  if (Array.isArray(a.tags) && a.tags.length) {
    out.push(section("Tags", true, h("p", { class: "tags" }, a.tags.map((t) => h("span", { class: "tag" }, String(t))))));
  }
  const meta = Object.fromEntries(Object.entries(a).filter(([k]) => !isOperational(k)));
  if (Object.keys(meta).length) out.push(section("Metadata", true, jsonTree(meta)));

  if (a["code.filepath"] || a["code.function"]) {
    out.push(section("Code", true, facts([
      ["Location", h("span", { class: "mono" }, `${a["code.filepath"] || "?"}${a["code.lineno"] !== undefined ? `:${a["code.lineno"]}` : ""}`)],
      ["Function", a["code.function"] ? h("span", { class: "mono" }, a["code.function"]) : null],
      ["Tool name", a.tool_name],
    ])));
  }

  const vcs = Object.entries(a).filter(([k]) => k.startsWith("vcs."));
  if (vcs.length) {
    out.push(section("Git", true, facts([
      ["Commit", a["vcs.commit.sha"] ? h("span", { class: "mono" }, a["vcs.commit.sha"]) : null],
      ["Branch", a["vcs.branch"]],
      ["Repository", a["vcs.repo_url"]],
      ["Uncommitted changes", a["vcs.is_dirty"] === undefined ? null : String(a["vcs.is_dirty"])],
    ])));
  }

  out.push(section("Attributes", false, jsonTree(a, 1)));
  const cap = span.capture || {};
  const off = Object.entries(cap).filter(([, v]) => v !== "captured").map(([k]) => k);
  if (off.length) out.push(h("p", { class: "muted" }, `Not captured: ${off.join(", ")}`));
  out.push(section("Span as sent", false, jsonTree(span, 0)));
  void trace;
  return out;
}

const MAX_ITEMS = 300;

/** A JSON value as a collapsible tree (objects and arrays are <details>). */
export function jsonTree(value, openDepth = 2) {
  return h("div", { class: "json" }, node(value, null, 0, openDepth));
}

function node(value, key, depth, openDepth) {
  const k = key === null ? null : h("span", { class: "j-key" }, typeof key === "number" ? `${key}` : JSON.stringify(key), ": ");
  if (value !== null && typeof value === "object") {
    const arr = Array.isArray(value);
    const entries = arr ? value.map((v, i) => [i, v]) : Object.entries(value);
    if (entries.length === 0) return h("div", { class: "j-line" }, k, h("span", { class: "j-punct" }, arr ? "[]" : "{}"));
    const shownEntries = entries.slice(0, MAX_ITEMS);
    const kids = shownEntries.map(([ck, cv]) => node(cv, ck, depth + 1, openDepth));
    if (entries.length > MAX_ITEMS) kids.push(h("div", { class: "j-line muted" }, `… ${entries.length - MAX_ITEMS} more`));
    const count = arr ? `[${entries.length}]` : `{${entries.length}}`;
    return h("details", { class: "j-node", open: depth < openDepth || null },
      h("summary", null, k, h("span", { class: "j-punct" }, count)),
      h("div", { class: "j-kids" }, kids));
  }
  let cls = "j-null";
  let text = "null";
  if (typeof value === "string") { cls = "j-str"; text = `"${value}"`; }
  else if (typeof value === "number") { cls = "j-num"; text = String(value); }
  else if (typeof value === "boolean") { cls = "j-bool"; text = String(value); }
  return h("div", { class: "j-line" }, k, h("span", { class: cls }, text));
}
