// /traces/{id}: the span tree with a timing waterfall; the selected span's conversation, facts, attributes,
// events and feedback; and the forms to rate the span and the trace right where they are read.
import { api } from "../api.js";
import { clear, errorBox, h, isNum, money, ms, num, typing, when } from "../dom.js";
import { plainText, renderValue, json } from "../parts/conversation.js";
import { feedbackList } from "../parts/feedback.js";
import { rateForm } from "../parts/rateform.js";
import { statusBadge } from "./traces.js";

/** Milliseconds since the epoch with the microseconds ISO times carry (Date keeps only milliseconds). */
function isoMs(iso) {
  const base = Date.parse(iso);
  const frac = /\.(\d+)/.exec(iso || "");
  return frac ? Math.floor(base) + Number(`0.${frac[1]}`) * 1000 - Math.floor(Number(`0.${frac[1]}`) * 1000) : base;
}
const startMs = (s) => isoMs(s.start_time);
const endMs = (s) => isoMs(s.end_time);

/** Spans in tree order (depth-first by start time), each with its depth; orphans (lost parents) at the top. */
function ordered(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const s of spans) {
    const parent = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(s);
  }
  for (const list of children.values()) list.sort((a, b) => startMs(a) - startMs(b));
  const out = [];
  const walk = (parent, depth) => {
    for (const s of children.get(parent) || []) {
      out.push({ span: s, depth });
      walk(s.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

function kindOf(span) {
  if (span.status === "ERROR") return "error";
  return span.span_kind || (span.model ? "llm" : "chain");
}

function tree(rows, t0, t1, onSelect) {
  const total = Math.max(1, t1 - t0);
  const tick = (f) => ms(total * f);
  const list = h("div", { class: "tree", role: "tree", "aria-label": "Spans", tabindex: "0" });
  for (const { span, depth } of rows) {
    const left = ((startMs(span) - t0) / total) * 100;
    const width = Math.max(0.4, ((endMs(span) - startMs(span)) / total) * 100);
    const fbCount = (span.feedback || []).length;
    const row = h(
      "div",
      { class: "tree-row", role: "treeitem", "aria-level": depth + 1, "aria-selected": "false", id: `row-${span.span_id}`, dataset: { span: span.span_id } },
      h(
        "div",
        { class: "tree-name", style: `padding-left:${depth * 14}px` },
        h("span", { class: `kind-dot ${kindOf(span)}`, "aria-hidden": "true" }),
        h("span", { class: "nm" }, span.name),
        span.span_kind ? h("span", { class: "badge kind" }, span.span_kind) : null,
        fbCount ? h("span", { class: "chip accent", title: `${fbCount} feedback` }, `★ ${fbCount}`) : null,
        h("span", { class: "dur" }, ms(span.duration_ms ?? endMs(span) - startMs(span))),
      ),
      h("div", { class: "bar-track", "aria-hidden": "true" }, h("div", { class: `bar ${kindOf(span)}`, style: `left:${left}%;width:${Math.min(width, 100 - left)}%` })),
    );
    row.addEventListener("click", () => onSelect(span.span_id));
    list.append(row);
  }
  return h(
    "div",
    {},
    h("div", { class: "waterfall-axis", "aria-hidden": "true" }, h("span", {}, "Span"), h("div", { class: "ticks" }, h("span", {}, "0"), h("span", {}, tick(0.5)), h("span", {}, tick(1)))),
    list,
  );
}

function fact(label, value) {
  if (value === null || value === undefined || value === "" || value === "—") return null;
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

function configOf(span) {
  const prefix = "plaudit.config.";
  const out = {};
  for (const [k, v] of Object.entries(span.attributes || {})) if (k.startsWith(prefix) && k !== "plaudit.config.hash") out[k.slice(prefix.length)] = v;
  for (const [k, v] of Object.entries(span.attributes || {})) if (k.startsWith("gen_ai.request.") && k !== "gen_ai.request.model") out[k.slice(15)] = v;
  return out;
}

function spanDetail(span, trace, reload) {
  const isLlm = span.span_kind === "llm" || Boolean(span.model);
  const config = configOf(span);
  const tokens = isNum(span.input_tokens) || isNum(span.output_tokens) ? `${num(span.input_tokens)} in · ${num(span.output_tokens)} out` : null;
  const prompt = span.prompt_name ? `${span.prompt_name}${span.prompt_version ? `@${span.prompt_version}` : ""}` : null;
  const attrs = Object.entries(span.attributes || {}).sort(([a], [b]) => a.localeCompare(b));
  const events = span.events || [];
  const here = { trace_id: trace.trace_id, span_id: span.span_id };
  const output = span.output === null || span.output === undefined ? null : plainText(span.output);
  const panel = h(
    "section",
    { class: "panel", "aria-label": `Span ${span.name}` },
    h("div", { class: "span-head" }, h("h2", {}, span.name), span.span_kind ? h("span", { class: "badge kind" }, span.span_kind) : null, statusBadge(span.status), h("span", { class: "spacer" }), h("span", { class: "mono muted" }, span.span_id)),
    span.status_message ? h("div", { class: "error" }, span.status_message) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Model", span.model ? `${span.model}${span.response_model && span.response_model !== span.model ? ` → ${span.response_model}` : ""}` : null),
      fact("Provider", span.provider),
      fact("Tokens", tokens),
      fact("Cost", isNum(span.cost) ? money(span.cost) : null),
      fact("Latency", ms(span.duration_ms ?? endMs(span) - startMs(span))),
      fact("Prompt", prompt),
      fact("Variant", span.variant),
      fact("Config", span.config_hash ? h("span", { class: "mono", title: JSON.stringify(config) }, span.config_hash.slice(0, 12)) : null),
      fact("Started", when(span.start_time)),
    ),
    Object.keys(config).length ? h("details", {}, h("summary", {}, `Config (${Object.keys(config).length})`), json(config)) : null,
    h("h3", {}, "Input"),
    renderValue(span.input, { role: isLlm ? "user" : null }),
    h("h3", {}, "Output"),
    renderValue(span.output, { role: isLlm ? "assistant" : null }),
    h("h3", {}, "Feedback"),
    feedbackList(span.feedback || [], { output, here, traceId: trace.trace_id }),
    h("div", { class: "rate-slot" }),
    h("details", {}, h("summary", {}, `Attributes (${attrs.length})`), h("table", { class: "kv" }, h("tbody", {}, attrs.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v))))))),
    events.length ? h("details", { open: events.some((e) => e.name === "exception") }, h("summary", {}, `Events (${events.length})`), events.map((e) => h("div", { class: "fb" }, h("div", { class: "top" }, h("span", { class: "name" }, e.name), h("span", { class: "meta" }, e.time_ns ? when(new Date(e.time_ns / 1e6).toISOString()) : "")), json(e.attributes || e.body || {})))) : null,
  );
  rateForm({ title: "Rate this span", target: here, output, primary: true, onDone: reload }).then((form) => panel.querySelector(".rate-slot").append(h("div", { class: "panel", style: "background:#fafbfd" }, form)));
  return panel;
}

export async function render(main, traceId) {
  let trace;
  const load = async () => {
    trace = await api(`/v1/traces/${traceId.toLowerCase()}`);
  };
  try {
    await load();
  } catch (err) {
    clear(main, h("h1", {}, "Trace"), errorBox(err), h("p", {}, h("a", { href: "/traces" }, "← All traces")));
    return;
  }
  let selected = new URLSearchParams(location.hash.slice(1)).get("span");

  const draw = () => {
    const spans = trace.spans || [];
    const rows = ordered(spans);
    const root = rows.length ? rows[0].span : null;
    if (!spans.find((s) => s.span_id === selected)) selected = root ? root.span_id : null;
    const t0 = Math.min(...spans.map(startMs));
    const t1 = Math.max(...spans.map(endMs));
    const tokens = spans.reduce((n, s) => n + (s.input_tokens || 0) + (s.output_tokens || 0), 0);
    const cost = spans.reduce((n, s) => n + (isNum(s.cost) ? s.cost : 0), 0);
    const errors = spans.filter((s) => s.status === "ERROR").length;
    const detail = h("div", { class: "detail" });
    const select = (spanId) => {
      selected = spanId;
      history.replaceState(null, "", `#span=${spanId}`);
      main.querySelectorAll(".tree-row").forEach((r) => r.setAttribute("aria-selected", String(r.dataset.span === spanId)));
      const span = spans.find((s) => s.span_id === spanId);
      clear(detail, span ? spanDetail(span, trace, refresh) : h("p", { class: "empty" }, "No span selected."));
    };
    const user = root && root.user_id;
    const session = root && root.session_id;
    const traceRate = h("div");
    clear(
      main,
      h("div", { class: "page-head" }, h("a", { href: "/traces", class: "small" }, "← Traces"), h("h1", {}, root ? root.name : "Trace"), h("span", { class: "mono muted" }, trace.trace_id)),
      h(
        "div",
        { class: "trace-head" },
        h(
          "div",
          { class: "meta" },
          h("span", {}, "Started ", h("b", {}, when(root && root.start_time))),
          h("span", {}, "Duration ", h("b", {}, spans.length ? ms(root && isNum(root.duration_ms) ? Math.max(root.duration_ms, t1 - t0) : t1 - t0) : "—")),
          h("span", {}, "Spans ", h("b", {}, String(spans.length))),
          errors ? h("span", {}, "Errors ", h("b", { style: "color:var(--bad)" }, String(errors))) : null,
          tokens ? h("span", {}, "Tokens ", h("b", {}, num(tokens))) : null,
          cost ? h("span", {}, "Cost ", h("b", {}, money(cost))) : null,
          user ? h("span", {}, "User ", h("a", { href: `/traces?where=${encodeURIComponent(`user.id=${user}`)}` }, user)) : null,
          session ? h("span", {}, "Session ", h("a", { href: `/traces?where=${encodeURIComponent(`session.id=${session}`)}` }, session)) : null,
        ),
      ),
      h(
        "div",
        { class: "trace-grid" },
        h(
          "div",
          {},
          h("section", { class: "panel flush", "aria-label": "Span tree and timing" }, spans.length ? tree(rows, t0, t1, select) : h("p", { class: "empty" }, "No spans stored for this trace yet.")),
          h(
            "section",
            { class: "panel", "aria-label": "Trace feedback" },
            h("h2", {}, "Trace feedback"),
            feedbackList(trace.feedback || [], { output: null, here: { trace_id: trace.trace_id, span_id: null }, traceId: trace.trace_id }),
            traceRate,
          ),
        ),
        detail,
      ),
    );
    rateForm({ title: "Rate this trace", target: { trace_id: trace.trace_id, span_id: null }, output: root && root.output !== null && root.output !== undefined ? plainText(root.output) : null, onDone: refresh }).then((form) => traceRate.append(form));
    if (selected) select(selected);
    treeKeys(main, rows, () => selected, select);
  };
  const refresh = async () => {
    await load();
    draw();
  };
  draw();
}

let activeTreeKeys = null;
function treeKeys(main, rows, current, select) {
  const handler = (event) => {
    if (!main.isConnected || event.ctrlKey || event.metaKey || event.altKey || typing(event) || document.querySelector("dialog[open]")) return;
    if (event.key !== "j" && event.key !== "k" && event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (event.key.startsWith("Arrow") && !event.target.closest(".tree")) return;
    const index = rows.findIndex((r) => r.span.span_id === current());
    const next = rows[Math.max(0, Math.min(rows.length - 1, index + (event.key === "j" || event.key === "ArrowDown" ? 1 : -1)))];
    if (next) {
      event.preventDefault();
      select(next.span.span_id);
      document.getElementById(`row-${next.span.span_id}`)?.scrollIntoView({ block: "nearest" });
    }
  };
  if (activeTreeKeys) document.removeEventListener("keydown", activeTreeKeys);
  activeTreeKeys = handler;
  document.addEventListener("keydown", handler);
}
