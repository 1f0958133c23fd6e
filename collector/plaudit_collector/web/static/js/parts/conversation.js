// A span's input or output as a person reads it: LLM messages as a conversation (system, user, assistant,
// tool; tool calls and their results), anything else as formatted JSON or plain text.
import { h } from "../dom.js";

function parse(value) {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (!text || !"[{\"".includes(text[0])) return value;
  try {
    return JSON.parse(text);
  } catch {
    return value;
  }
}

const ROLES = new Set(["system", "user", "assistant", "tool", "function", "developer", "model", "human", "ai"]);

function asMessages(doc) {
  if (Array.isArray(doc) && doc.length && doc.every((m) => m && typeof m === "object" && (ROLES.has(m.role) || m.parts || m.tool_call_id))) return doc;
  if (doc && typeof doc === "object" && !Array.isArray(doc)) {
    if (Array.isArray(doc.messages)) return asMessages(doc.messages);
    if (Array.isArray(doc.choices)) return asMessages(doc.choices.map((c) => c.message).filter(Boolean));
    if (ROLES.has(doc.role)) return [doc];
  }
  return null;
}

function textOf(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

/** Text, tool calls and tool results of one message, from any of the common shapes. */
function pieces(message) {
  const out = [];
  const add = (part) => {
    if (part === null || part === undefined) return;
    if (typeof part === "string") return out.push({ text: part });
    const type = part.type;
    if (type === "text" || type === "input_text" || type === "output_text") return out.push({ text: part.text ?? part.content ?? "" });
    if (type === "tool_call" || type === "tool_use" || type === "function_call") {
      return out.push({ call: { id: part.id || part.call_id, name: part.name, args: part.arguments ?? part.input } });
    }
    if (type === "tool_call_response" || type === "tool_result" || type === "function_call_output") {
      return out.push({ result: { id: part.id || part.tool_use_id || part.call_id, content: part.response ?? part.content ?? part.output } });
    }
    if (type === "reasoning" || type === "thinking") return out.push({ text: part.content ?? part.thinking ?? "", note: "reasoning" });
    if (type === "image_url" || type === "image") return out.push({ text: "[image]", note: "image" });
    return out.push({ text: textOf(part) });
  };
  const content = message.parts ?? message.content;
  if (Array.isArray(content)) content.forEach(add);
  else if (content !== undefined && content !== null) add(typeof content === "string" ? content : { type: "other", ...content });
  for (const call of message.tool_calls || []) {
    const fn = call.function || call;
    out.push({ call: { id: call.id, name: fn.name, args: parse(fn.arguments) } });
  }
  if (message.function_call) out.push({ call: { name: message.function_call.name, args: parse(message.function_call.arguments) } });
  if (message.tool_call_id && out.length === 1 && out[0].text !== undefined) return [{ result: { id: message.tool_call_id, content: out[0].text } }];
  return out;
}

function roleClass(role) {
  if (role === "human") return "user";
  if (role === "ai" || role === "model") return "assistant";
  if (role === "function") return "tool";
  return role || "other";
}

export function conversation(messages) {
  return h(
    "div",
    { class: "convo", role: "list", "aria-label": "Conversation" },
    messages.map((message) => {
      const role = message.role || (message.tool_call_id ? "tool" : "message");
      return h(
        "div",
        { class: `msg ${roleClass(role)}`, role: "listitem", "aria-label": `${role} message` },
        h("div", { class: "role" }, role, message.name ? h("span", { class: "muted" }, message.name) : null, message.finish_reason ? h("span", { class: "muted" }, `finish: ${message.finish_reason}`) : null),
        pieces(message).map((piece) => {
          if (piece.call) {
            return h("div", { class: "tool-call" }, h("span", { class: "muted" }, "calls "), h("span", { class: "fn" }, `${piece.call.name || "tool"}(`), json(piece.call.args, true), h("span", { class: "fn" }, ")"), piece.call.id ? h("span", { class: "muted small" }, ` · ${piece.call.id}`) : null);
          }
          if (piece.result) {
            return h("div", { class: "tool-call" }, h("span", { class: "muted" }, `result${piece.result.id ? ` of ${piece.result.id}` : ""}: `), renderValue(piece.result.content, { inline: true }));
          }
          return h("div", { class: "text" }, piece.note ? h("span", { class: "muted small" }, `[${piece.note}] `) : null, piece.text);
        }),
      );
    }),
  );
}

/** JSON with its keys, strings and numbers coloured; built as text nodes. */
export function json(value, inline = false) {
  const pre = h(inline ? "code" : "pre", { class: "json" });
  const walk = (v, indent) => {
    const pad = inline ? "" : "  ".repeat(indent + 1);
    const end = inline ? "" : "  ".repeat(indent);
    const nl = inline ? " " : "\n";
    if (v === null) return pre.append(h("span", { class: "z" }, "null"));
    if (typeof v === "string") return pre.append(h("span", { class: "s" }, JSON.stringify(v)));
    if (typeof v === "number") return pre.append(h("span", { class: "n" }, String(v)));
    if (typeof v === "boolean") return pre.append(h("span", { class: "b" }, String(v)));
    const isArray = Array.isArray(v);
    const entries = isArray ? v.map((x, i) => [i, x]) : Object.entries(v);
    if (!entries.length) return pre.append(isArray ? "[]" : "{}");
    pre.append(isArray ? "[" : "{", nl);
    entries.forEach(([k, x], i) => {
      pre.append(pad);
      if (!isArray) pre.append(h("span", { class: "k" }, JSON.stringify(k)), ": ");
      walk(x, indent + 1);
      pre.append(i < entries.length - 1 ? "," : "", nl);
    });
    pre.append(end, isArray ? "]" : "}");
  };
  walk(value === undefined ? null : value, 0);
  return pre;
}

/** A stored input or output value, whatever it holds. `llm`: plain text is the model's turn. */
export function renderValue(value, { role = null, inline = false } = {}) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "(none)");
  const doc = parse(value);
  const messages = asMessages(doc);
  if (messages) return conversation(messages);
  if (typeof doc === "string") {
    if (role) return conversation([{ role, content: doc }]);
    return inline ? h("span", { class: "text" }, doc) : h("pre", {}, doc);
  }
  return json(doc, inline);
}

/** The plain text of an output (for the correction box and the diff): the assistant's words when it is a message. */
export function plainText(value) {
  if (value === null || value === undefined) return "";
  const doc = parse(value);
  const messages = asMessages(doc);
  if (messages) return messages.map((m) => pieces(m).map((p) => p.text || "").join("")).join("\n\n");
  return typeof doc === "string" ? doc : JSON.stringify(doc, null, 2);
}
