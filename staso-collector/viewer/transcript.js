// An LLM call as a chat transcript: system / user / assistant / tool messages from the
// span's input (OpenAI chat and Responses, Anthropic messages) and its output.

import { h } from "./util.js";

/** Whether the input or output has a shape a transcript can show. */
export function hasTranscript(input, output) {
  const i = input && typeof input === "object" && !Array.isArray(input) ? input : null;
  return !!(i && (Array.isArray(i.messages) || i.system !== undefined || i.prompt !== undefined)) ||
    (output !== null && output !== undefined && (typeof output === "string" || isAssistant(output)));
}

function isAssistant(o) {
  return o && typeof o === "object" && !Array.isArray(o) &&
    (o.role === "assistant" || "content" in o || "tool_calls" in o);
}

/** Messages as { role, parts: [{ type, ... }] }. */
export function messages(input, output) {
  const out = [];
  const i = input && typeof input === "object" && !Array.isArray(input) ? input : {};
  if (i.system !== undefined && i.system !== null && i.system !== "") {
    out.push({ role: "system", parts: contentParts(i.system) });
  }
  if (Array.isArray(i.messages)) {
    for (const m of i.messages) out.push(...fromMessage(m));
  } else if (typeof i.prompt === "string") {
    out.push({ role: "user", parts: [{ type: "text", text: i.prompt }] });
  }
  if (output !== null && output !== undefined && output !== "") {
    // `#[staso::trace(kind = "llm")]` functions return `{"result": <value>}`.
    const only = output && typeof output === "object" && !Array.isArray(output) && Object.keys(output).length === 1;
    if (only && "result" in output && typeof output.result === "string") {
      out.push({ role: "assistant", parts: [{ type: "text", text: output.result }] });
    } else if (typeof output === "string") out.push({ role: "assistant", parts: [{ type: "text", text: output }] });
    else if (isAssistant(output)) out.push(...fromMessage({ ...output, role: output.role || "assistant" }));
    else out.push({ role: "assistant", parts: [{ type: "json", value: output }] });
  }
  return out;
}

function fromMessage(m) {
  if (m === null || typeof m !== "object") return [{ role: "user", parts: [{ type: "text", text: String(m) }] }];
  // Responses API items without a role.
  if (!m.role && m.type === "function_call") {
    return [{ role: "assistant", parts: [toolCall(m.call_id || m.id, m.name, m.arguments)] }];
  }
  if (!m.role && m.type === "function_call_output") {
    return [{ role: "tool", parts: [{ type: "tool_result", id: m.call_id, content: m.output }] }];
  }
  const role = m.role || "user";
  const parts = contentParts(m.content);
  if (Array.isArray(m.tool_calls)) {
    for (const tc of m.tool_calls) {
      if (tc && tc.function) parts.push(toolCall(tc.id, tc.function.name, tc.function.arguments));
      else if (tc) parts.push(toolCall(tc.call_id || tc.id, tc.name, tc.arguments ?? tc.input));
    }
  }
  if (role === "tool") {
    return [{ role: "tool", parts: [{ type: "tool_result", id: m.tool_call_id, name: m.name, content: m.content }] }];
  }
  return [{ role, parts }];
}

function toolCall(id, name, args) {
  let value = args;
  if (typeof args === "string") {
    try { value = JSON.parse(args); } catch { value = args; }
  }
  return { type: "tool_call", id, name: name || "(unnamed tool)", args: value };
}

function contentParts(content) {
  if (content === null || content === undefined || content === "") return [];
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (!Array.isArray(content)) return [{ type: "json", value: content }];
  const parts = [];
  for (const b of content) {
    if (typeof b === "string") { parts.push({ type: "text", text: b }); continue; }
    if (!b || typeof b !== "object") continue;
    switch (b.type) {
      case "text": case "input_text": case "output_text":
        parts.push({ type: "text", text: b.text ?? "" }); break;
      case "thinking": case "redacted_thinking":
        parts.push({ type: "thinking", text: b.thinking ?? "(redacted)" }); break;
      case "tool_use":
        parts.push(toolCall(b.id, b.name, b.input)); break;
      case "tool_result":
        parts.push({ type: "tool_result", id: b.tool_use_id, content: b.content, error: b.is_error }); break;
      case "image": case "image_url": case "input_image":
        parts.push({ type: "text", text: "[image]" }); break;
      default:
        parts.push({ type: "json", value: b });
    }
  }
  return parts;
}

function resultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((c) => (c && typeof c === "object" && "text" in c ? c.text : JSON.stringify(c))).join("\n");
  }
  return JSON.stringify(content, null, 2);
}

function pretty(v) {
  return typeof v === "string" ? v : JSON.stringify(v, null, 2);
}

function partEl(p) {
  switch (p.type) {
    case "text":
      return h("div", { class: "msg-text" }, p.text);
    case "thinking":
      return h("details", { class: "msg-thinking" }, h("summary", null, "thinking"), h("div", { class: "msg-text" }, p.text));
    case "tool_call":
      return h("div", { class: "msg-tool-call" },
        h("div", { class: "msg-tool-head" }, "calls ", h("strong", null, p.name), p.id ? h("span", { class: "mono muted" }, ` ${p.id}`) : null),
        h("pre", null, pretty(p.args ?? {})));
    case "tool_result":
      return h("div", { class: `msg-tool-result${p.error ? " failed" : ""}` },
        h("div", { class: "msg-tool-head" }, p.error ? "tool error" : "result", p.name ? ` of ${p.name}` : "", p.id ? h("span", { class: "mono muted" }, ` for ${p.id}`) : null),
        h("pre", null, resultText(p.content)));
    default:
      return h("pre", { class: "msg-json" }, pretty(p.value));
  }
}

/** The transcript element; also lists the tools offered to the model. */
export function renderTranscript(input, output) {
  const list = messages(input, output);
  const tools = input && Array.isArray(input.tools) ? input.tools : [];
  const toolNames = tools.map((t) => (t && (t.function ? t.function.name : t.name)) || "?");
  return h("div", { class: "transcript", role: "list", "aria-label": "Conversation with the model" },
    toolNames.length ? h("p", { class: "muted tools-offered" }, `Tools offered: ${toolNames.join(", ")}`) : null,
    list.map((m, i) => h("div", {
      class: `msg role-${["system", "developer", "user", "assistant", "tool"].includes(m.role) ? m.role : "other"}${i === list.length - 1 && output ? " last" : ""}`,
      role: "listitem",
      "data-role": m.role,
    },
    h("div", { class: "msg-role" }, m.role),
    h("div", { class: "msg-body" }, m.parts.length ? m.parts.map(partEl) : h("span", { class: "muted" }, "(empty)")))));
}
