// Filter controls built from the query vocabulary, kept in the page's URL so a view can be shared.
import { scores } from "../api.js";
import { h } from "../dom.js";

const LABELS = {
  q: "Search", from: "From", to: "To", status: "Status", span_name: "Span name", span_kind: "Span kind", tag: "Tag",
  metadata: "Metadata (key=value)", where: "Other (dim=value)", source: "Feedback source", author: "Feedback author",
  has_feedback: "Has feedback", missing_feedback: "Missing feedback", score: "Score", min_score: "Min score",
  max_score: "Max score", min_duration_ms: "Min duration (ms)", max_duration_ms: "Max duration (ms)",
  min_tokens: "Min tokens", max_tokens: "Max tokens", higher_is_better: "Direction",
};
/** The dimensions offered as their own controls; each sets a where=dim=value term. */
export const WHERE_CONTROLS = [
  ["model", "Model"], ["variant", "Variant"], ["prompt.version", "Prompt version"], ["user.id", "User"], ["session.id", "Session"],
];
const SCORE_TERMS = new Set(["has_feedback", "missing_feedback", "score"]);
const SKIP = new Set(["q", "sort", "limit", "cursor", "group_by", "a", "b", "segment", "confidence", "correction", "health", "min_count", "test", "bucket", "by", "rater_a", "rater_b"]);
const PRESETS = [["", "Any time"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]];
const PRESET_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

let uid = 0;
function labelled(text, control, extraClass) {
  const id = control.id || (control.id = `f-${++uid}`);
  return h("div", { class: `field ${extraClass || ""}`.trim() }, h("label", { class: "field-label", for: id }, text), control);
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The filter form for `terms` (Map name -> term), starting from `values` (the URL's), calling onChange(values)
 * whenever a control changes. Returns {node, values(), setValue(name, value)}.
 */
export async function filterForm(terms, values, onChange, { search = true } = {}) {
  const names = (await scores()).map((s) => s.name);
  const datalist = h("datalist", { id: `score-names-${++uid}` }, names.map((n) => h("option", { value: n })));
  const controls = new Map(); // name -> () => value(s)
  const where = new Map((values.where || []).map((pair) => [pair.split("=")[0], pair.slice(pair.indexOf("=") + 1)]));
  const emit = () => onChange(read());
  let timer = null;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(emit, 300);
  };
  const primary = h("div", { class: "filters" });
  const more = h("div", { class: "filter-more" });
  const warn = h("div", { class: "small", role: "status", "aria-live": "polite" });

  if (search && terms.has("q")) {
    const box = h("input", { type: "search", id: "search", "aria-label": "Search", placeholder: "Search inputs and outputs…  ( / )", value: values.q || "", oninput: later, autocomplete: "off", spellcheck: "false" });
    controls.set("q", () => box.value.trim());
    primary.append(h("div", { class: "field grow" }, box));
  }
  if (terms.has("from")) {
    const preset = h("select", { onchange: emit });
    preset.append(...PRESETS.map(([v, t]) => h("option", { value: v }, t)));
    preset.value = PRESETS.some(([v]) => v && values.from_preset === v) ? values.from_preset : "";
    controls.set("_preset", () => preset.value);
    primary.append(labelled("Time range", preset));
  }
  if (terms.has("status")) {
    const status = h("select", { onchange: emit }, h("option", { value: "" }, "Any status"), (terms.get("status").choices || ["error", "ok"]).map((c) => h("option", { value: c }, c === "error" ? "Errors" : c === "ok" ? "OK" : c)));
    status.value = values.status || "";
    controls.set("status", () => status.value);
    primary.append(labelled("Status", status));
  }
  if (terms.has("where")) {
    for (const [dim, label] of WHERE_CONTROLS) {
      const input = h("input", { type: "text", value: where.get(dim) || "", onchange: emit, placeholder: "any", spellcheck: "false" });
      controls.set(`where:${dim}`, () => input.value.trim());
      more.append(labelled(label, input));
      where.delete(dim);
    }
  }
  for (const [name, term] of terms) {
    if (SKIP.has(name) || name === "status" || controls.has(name)) continue;
    let control;
    if (term.type === "time") {
      control = h("input", { type: "datetime-local", value: toLocalInput(values[name]), onchange: emit });
      controls.set(name, () => (control.value ? new Date(control.value).toISOString() : ""));
    } else if (term.type === "choice" || term.type === "choices" || term.type === "bool") {
      const choices = term.type === "bool" ? ["true", "false"] : term.choices || [];
      control = h("select", { onchange: emit }, h("option", { value: "" }, "any"), choices.map((c) => h("option", { value: c }, c)));
      control.value = [].concat(values[name] || "")[0] || "";
      controls.set(name, () => control.value);
    } else if (term.type === "float" || term.type === "int") {
      control = h("input", { type: "number", step: term.type === "int" ? 1 : "any", value: values[name] || "", onchange: emit });
      controls.set(name, () => control.value);
    } else if (name === "where") {
      const rest = [...where.entries()].map(([k, v]) => `${k}=${v}`).join(", ");
      control = h("input", { type: "text", value: rest, placeholder: "attr.plan=pro, provider=openai", onchange: emit, spellcheck: "false" });
      controls.set("where:rest", () => control.value);
    } else {
      const list = SCORE_TERMS.has(name) ? datalist.id : null;
      const current = [].concat(values[name] || []).join(", ");
      control = h("input", { type: "text", value: current, list, onchange: emit, spellcheck: "false", autocomplete: "off" });
      controls.set(name, () => (term.repeatable ? control.value.split(",").map((s) => s.trim()).filter(Boolean) : control.value.trim()));
      if (SCORE_TERMS.has(name)) control.addEventListener("input", () => checkName(control.value, names, warn));
    }
    more.append(labelled(LABELS[name] || name, control));
  }

  function read() {
    const out = {};
    for (const [key, get] of controls) {
      const value = get();
      if (key === "_preset") {
        if (value) {
          out.from = new Date(Date.now() - PRESET_MS[value]).toISOString();
          out.from_preset = value;
        }
      } else if (key.startsWith("where:")) {
        const dim = key.slice(6);
        if (dim === "rest") {
          for (const pair of value.split(",").map((s) => s.trim()).filter((s) => s.includes("="))) (out.where = out.where || []).push(pair);
        } else if (value) (out.where = out.where || []).push(`${dim}=${value}`);
      } else if (Array.isArray(value) ? value.length : value !== "") {
        if (!(key === "from" && out.from_preset)) out[key] = value;
      }
    }
    return out;
  }

  const active = Object.keys(values).filter((k) => !["q", "status", "cursor", "sort", "from_preset"].includes(k)).length;
  const toggle = h("button", { type: "button", "aria-expanded": active ? "true" : "false", "aria-controls": "filter-more" }, `Filters${active ? ` (${active})` : ""}`);
  more.id = "filter-more";
  more.hidden = !active;
  toggle.addEventListener("click", () => {
    more.hidden = !more.hidden;
    toggle.setAttribute("aria-expanded", String(!more.hidden));
  });
  const reset = h("button", { type: "button", class: "ghost", onclick: () => onChange({}, true) }, "Clear");
  primary.append(h("div", { class: "field" }, h("span", { class: "field-label" }, " "), h("div", { class: "row" }, toggle, reset)));
  const node = h("form", { role: "search", "aria-label": "Filters", onsubmit: (e) => (e.preventDefault(), emit()) }, primary, more, warn, datalist);
  for (const name of SCORE_TERMS) if (values[name]) checkName(values[name], names, warn);
  return { node, read };
}

/** A score name nobody used: say which names exist. */
export function checkName(name, names, box) {
  const typed = String(name || "").trim();
  if (!typed || names.includes(typed) || !names.length) {
    box.textContent = "";
    box.className = "small";
    return true;
  }
  box.className = "small error";
  box.textContent = `No feedback is named “${typed}”. Names in use: ${names.join(", ")}.`;
  return false;
}

/** Put the values in the URL (replacing the history entry) so a view can be shared or reloaded. */
export function toUrl(values) {
  const params = new URLSearchParams();
  const project = new URLSearchParams(location.search).get("project");
  if (project) params.set("project", project); // the page's project stays in its URL
  for (const [key, value] of Object.entries(values)) {
    for (const v of [].concat(value)) if (v !== "" && v !== null && v !== undefined) params.append(key, String(v));
  }
  const qs = params.toString();
  history.replaceState(null, "", qs ? `${location.pathname}?${qs}` : location.pathname);
}
