// The frame every "who wins" page shares: a score picker (the names in use), the question's options, the shared
// filters, all kept in the URL; the answer comes from /v1/analytics/<question> and is drawn by the page.
import { api, scores } from "../api.js";
import { clear, errorBox, h } from "../dom.js";
import { checkName, filterForm, toUrl } from "./filters.js";
import { dimensions, fromUrl, termsFor } from "./querymodel.js";

const FILTER_NAMES = new Set(["from", "to", "span_name", "span_kind", "tag", "metadata", "where", "source", "author"]);
let uid = 0;

export function field(label, control) {
  if (!control.id) control.id = `a-${++uid}`;
  return h("div", { class: "field" }, h("label", { class: "field-label", for: control.id }, label), control);
}

/** A select of the score names in use (`kinds` keeps some), with "Other…" to type any name. */
export async function scorePicker(current, { kinds = null, label = "Score" } = {}) {
  const all = (await scores()).filter((s) => !kinds || kinds.includes(s.kind) || (s.config && kinds.includes(s.config.type)));
  const names = all.map((s) => s.name);
  const select = h("select", { id: `score-${++uid}` }, names.map((n) => h("option", { value: n }, n)), h("option", { value: "__other" }, "Other…"));
  const typed = h("input", { type: "text", "aria-label": `${label} name`, placeholder: "score name", spellcheck: "false", hidden: true });
  const warn = h("span", { class: "small", role: "status", "aria-live": "polite" });
  if (current && !names.includes(current)) {
    select.value = "__other";
    typed.hidden = false;
    typed.value = current;
    checkName(current, (await scores()).map((s) => s.name), warn);
  } else if (current) select.value = current;
  select.addEventListener("change", () => {
    typed.hidden = select.value !== "__other";
    if (!typed.hidden) typed.focus();
  });
  typed.addEventListener("input", () => checkName(typed.value, (all.length ? all : []).map((s) => s.name), warn));
  return {
    node: h("div", { class: "field" }, h("label", { class: "field-label", for: select.id }, label), h("div", { class: "row" }, select, typed), warn),
    value: () => (select.value === "__other" ? typed.value.trim() : select.value),
    control: select,
    empty: !names.length,
  };
}

/** The dimensions to group by (checkboxes in a drop-down, plus attr.<key>), at most `max`. */
export async function groupPicker(current, { label = "Group by", max = 4 } = {}) {
  const dims = await dimensions();
  const chosen = new Set(current);
  const attrs = current.filter((d) => d.startsWith("attr."));
  const attr = h("input", { type: "text", "aria-label": "Attribute dimension", placeholder: "attr.<key>", value: attrs.join(", "), spellcheck: "false" });
  const boxes = dims.map((dim) => h("label", {}, h("input", { type: "checkbox", value: dim, checked: chosen.has(dim) }), dim));
  const summary = h("summary", {});
  const value = () => [...boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value), ...attr.value.split(",").map((s) => s.trim()).filter((s) => s.startsWith("attr."))].slice(0, max);
  const show = () => (summary.textContent = value().join(" · ") || "(nothing: one group)");
  const menu = h("fieldset", { class: "menu" }, h("legend", { class: "sr-only" }, label), boxes, attr);
  menu.addEventListener("change", show);
  attr.addEventListener("input", show);
  show();
  return { node: h("div", { class: "field" }, h("span", { class: "field-label" }, label), h("details", { class: "dropdown" }, summary, menu)), value };
}

export function directionPicker(current) {
  const select = h("select", {}, h("option", { value: "" }, "The score's own"), h("option", { value: "true" }, "Higher is better"), h("option", { value: "false" }, "Lower is better"));
  select.value = current || "";
  return { node: field("Direction", select), value: () => select.value };
}

export function choice(label, options, current) {
  const select = h("select", {}, options.map(([v, t]) => h("option", { value: v }, t)));
  select.value = current ?? options[0][0];
  return { node: field(label, select), value: () => select.value };
}

export function text(label, current, placeholder = "") {
  const input = h("input", { type: "text", value: current || "", placeholder, spellcheck: "false" });
  return { node: field(label, input), value: () => input.value.trim() };
}

/** Why an answer read every rating or span, and what would make it fast (the reply's path_hint). */
export function slowNote(answer) {
  if (!answer || !answer.path_hint) return null;
  return h("p", { class: "small muted slow-path" }, `Slow path: ${answer.path_hint}`);
}

export function verdictBox(verdict, tone) {
  if (!verdict) return null;
  return h("div", { class: `verdict ${tone || "none"}`, role: "status" }, verdict);
}

/**
 * question: the REST question ("leaderboard", ...); build(values) -> {nodes: [...], read() -> params};
 * draw(answer, params) -> node. Returns after the first answer is drawn.
 */
export async function analysisPage(main, { question, title, sub, build, draw, path }) {
  const terms = await termsFor(question);
  const values = fromUrl(terms);
  const own = await build(values);
  const filterTerms = new Map([...terms].filter(([name]) => FILTER_NAMES.has(name)));
  let filters = Object.fromEntries(Object.entries(values).filter(([k]) => FILTER_NAMES.has(k) || k === "from_preset"));
  const filterPart = await filterForm(filterTerms, filters, (next) => {
    filters = next;
    run();
  }, { search: false });
  const out = h("div", {});
  const form = h(
    "form",
    { class: "panel", "aria-label": `${title} options`, onsubmit: (e) => (e.preventDefault(), run()) },
    h("div", { class: "filters" }, own.nodes, h("div", { class: "field" }, h("span", { class: "field-label" }, " "), h("button", { type: "submit", class: "primary" }, "Update"))),
    h("div", { style: "margin-top:10px" }, filterPart.node),
  );
  form.querySelectorAll("select, input[type=checkbox]").forEach((c) => c.closest('form[role="search"]') || c.addEventListener("change", () => run()));
  clear(main, h("div", { class: "page-head" }, h("h1", {}, title), h("span", { class: "sub" }, sub)), form, out);

  async function run() {
    const params = { ...own.read(), ...filters };
    toUrl(params);
    const query = { ...params };
    delete query.from_preset;
    if (own.ready && !own.ready(query)) {
      clear(out, h("p", { class: "empty" }, own.hint || "Choose what to compare."));
      return;
    }
    clear(out, h("p", { class: "loading" }, "Computing…"));
    try {
      const answer = await api(path || `/v1/analytics/${question}`, { params: query });
      clear(out, draw(answer, query));
    } catch (err) {
      clear(out, errorBox(err));
    }
  }
  await run();
}
