// The rating form: one control per score (from the score configs, else from the kind of feedback already given
// under that name), plus Comment, Correction (pre-filled with the output) and a free score name. Stored as
// feedback with source "annotator" and the reviewer's name as author.
import { api, forgetScores, requireReviewer, scores } from "../api.js";
import { h, toast, typing } from "../dom.js";
import { checkName } from "./filters.js";
import { thumb } from "./icons.js";

const KINDS = new Set(["boolean", "numeric", "categorical", "text"]);
let uid = 0;

/** The scores a form offers: every config, then names in use with a ratable kind (most used first). */
export async function formScores(only) {
  const all = await scores();
  if (only) return only.map((name) => all.find((s) => s.name === name) || { name, kind: null, config: null });
  return all.filter((s) => s.config || KINDS.has(s.kind)).slice(0, 8);
}

function typeOf(score) {
  return (score.config && score.config.type) || (KINDS.has(score.kind) ? score.kind : "numeric");
}

function thumbs(name, id) {
  const option = (value, words) =>
    h("label", {}, h("input", { type: "radio", name: id, value: String(value), "aria-label": `${words[0]}${words[1]}` }), h("span", { class: "face", "aria-hidden": "true" }, thumb(value), words[0]));
  const group = h("fieldset", { class: "seg thumbs", dataset: { score: name, type: "boolean" } }, h("legend", { class: "sr-only" }, name), option(true, ["Yes", ", thumbs up"]), option(false, ["No", ", thumbs down"]));
  return { node: h("div", { class: "field" }, h("span", { class: "field-label", "aria-hidden": "true" }, name), group), read: () => {
    const checked = group.querySelector("input:checked");
    return checked ? checked.value === "true" : null;
  }, key: (k) => {
    const input = group.querySelector(`input[value="${k === "y" ? "true" : "false"}"]`);
    input.checked = true;
    input.focus();
  }, boolean: true };
}

function scale(name, config) {
  const min = config && Number.isFinite(config.min) ? config.min : null;
  const max = config && Number.isFinite(config.max) ? config.max : null;
  const input = h("input", { type: "number", id: `score-${++uid}`, step: "any", min: min ?? undefined, max: max ?? undefined, dataset: { score: name, type: "numeric" } });
  const steps = min !== null && max !== null && Number.isInteger(min) && Number.isInteger(max) && max - min <= 10 ? [...Array(max - min + 1).keys()].map((i) => min + i) : [];
  const buttons = steps.map((v) => h("button", { type: "button", "aria-pressed": "false", tabindex: "-1", title: `${name} ${v}`, onclick: () => set(v) }, String(v)));
  const sync = () => buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(input.value !== "" && Number(input.value) === steps[i])));
  const set = (v) => {
    input.value = String(v);
    sync();
  };
  input.addEventListener("input", sync);
  const range = min !== null || max !== null ? ` (${min ?? "−∞"}–${max ?? "∞"})` : "";
  return {
    node: h("div", { class: "field" }, h("label", { class: "field-label", for: input.id }, name, h("span", { class: "muted", "aria-hidden": "true" }, range)), h("div", { class: "scale" }, buttons, input)),
    read: () => (input.value === "" ? null : Number(input.value)),
    key: (k) => steps.length && Number(k) >= steps[0] && Number(k) <= steps[steps.length - 1] && set(Number(k)),
    numeric: steps.length > 0,
  };
}

function category(name, config) {
  const select = h("select", { id: `score-${++uid}`, dataset: { score: name, type: "categorical" } }, h("option", { value: "" }, "—"), (config.categories || []).map((c) => h("option", { value: c }, c)));
  return { node: h("div", { class: "field" }, h("label", { class: "field-label", for: select.id }, name), select), read: () => select.value || null };
}

function freeLabel(name) {
  const input = h("input", { type: "text", id: `score-${++uid}`, dataset: { score: name, type: "categorical" }, maxlength: 200 });
  return { node: h("div", { class: "field" }, h("label", { class: "field-label", for: input.id }, name), input), read: () => input.value.trim() || null };
}

function textScore(name) {
  const area = h("textarea", { id: `score-${++uid}`, rows: 2, dataset: { score: name, type: "text" } });
  return { node: h("div", { class: "field", style: "flex:1 1 100%" }, h("label", { class: "field-label", for: area.id }, name), area), read: () => area.value.trim() || null, text: true };
}

function control(score) {
  const type = typeOf(score);
  if (type === "boolean") return thumbs(score.name, `r${++uid}-${score.name}`);
  if (type === "categorical") return score.config ? category(score.name, score.config) : freeLabel(score.name);
  if (type === "text") return textScore(score.name);
  return scale(score.name, score.config);
}

/** A typed value: true/false, a number, else a label. */
function coerce(text) {
  const t = text.trim();
  if (/^(true|yes)$/i.test(t)) return true;
  if (/^(false|no)$/i.test(t)) return false;
  if (t !== "" && Number.isFinite(Number(t))) return Number(t);
  return t || null;
}

/**
 * options: {title, target: {trace_id, span_id}, output (text the correction starts from), only (score names),
 *   submit(items, fields) (instead of POST /v1/feedback), onDone(), onSkip(), primary (gets the shortcuts)}
 */
export async function rateForm(options) {
  const titleId = `rate-${++uid}`;
  const list = await formScores(options.only);
  const controls = list.map((score) => ({ score, ...control(score) }));
  const names = (await scores()).map((s) => s.name);
  const n = ++uid; // after the last await: forms built at the same time get different ids
  const comment = h("textarea", { id: `c-${n}`, rows: 2, placeholder: "What was good or wrong?" });
  const hasOutput = options.output !== null && options.output !== undefined;
  const correction = hasOutput ? h("textarea", { id: `k-${n}`, rows: 4, value: options.output }) : null;
  const otherName = h("input", { type: "text", id: `on-${n}`, list: `names-${n}`, placeholder: "score name", autocomplete: "off", spellcheck: "false", maxlength: 200 });
  const otherValue = h("input", { type: "text", id: `ov-${n}`, placeholder: "true, 4, a label…", maxlength: 200 });
  const warn = h("div", { class: "small", role: "status", "aria-live": "polite" });
  otherName.addEventListener("input", () => (otherName.value.trim() && !controls.some((c) => c.score.name === otherName.value.trim()) ? checkName(otherName.value, names, warn) && (warn.textContent = "") : (warn.textContent = "")));
  const status = h("div", { class: "small", role: "status", "aria-live": "polite" });
  const submitButton = h("button", { type: "submit", class: "primary" }, "Submit");
  const skip = options.onSkip ? h("button", { type: "button", onclick: () => options.onSkip() }, "Skip") : null;

  const form = h(
    "form",
    { class: "rate", "aria-labelledby": titleId, novalidate: true },
    h("h3", { id: titleId }, options.title),
    controls.length ? h("div", { class: "score-row" }, controls.map((c) => c.node)) : h("p", { class: "muted small" }, "No score configured yet: type a score name below, or declare one with PUT /v1/score-configs/{name}."),
    options.only ? null : h("div", { class: "score-row" }, h("div", { class: "field" }, h("label", { class: "field-label", for: otherName.id }, "Other score"), otherName), h("div", { class: "field" }, h("label", { class: "field-label", for: otherValue.id }, "Value"), otherValue), h("datalist", { id: `names-${n}` }, names.map((n) => h("option", { value: n })))),
    warn,
    h("div", { class: "field" }, h("label", { class: "field-label", for: comment.id }, "Comment"), comment),
    correction ? h("div", { class: "field" }, h("label", { class: "field-label", for: correction.id }, "Correction"), correction) : null,
    h("div", { class: "form-actions" }, submitButton, skip, status, h("span", { class: "hint" }, controls.some((c) => c.boolean) ? "y / n, 1–9, Enter" : "Enter to submit")),
  );

  const collect = () => {
    const ratings = [];
    for (const c of controls) {
      const value = c.read();
      if (value === null) continue;
      ratings.push(c.text ? { name: c.score.name, comment: value } : { name: c.score.name, value });
    }
    const typedName = otherName.value.trim();
    if (typedName && otherValue.value.trim()) ratings.push({ name: typedName, value: coerce(otherValue.value) });
    const note = comment.value.trim() || null;
    const fixed = correction && correction.value.trim() !== String(options.output).trim() ? correction.value : null;
    return { ratings, comment: note, correction: fixed };
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ratings, comment: note, correction: fixed } = collect();
    if (!ratings.length && !note && !fixed) {
      status.textContent = "Pick a rating, or write a comment or a correction.";
      return;
    }
    submitButton.disabled = true;
    status.textContent = "Saving…";
    try {
      if (options.submit) await options.submit({ ratings, comment: note, correction: fixed });
      else await store(options.target, ratings, note, fixed);
      forgetScores();
      status.textContent = "Saved.";
      toast("Rating saved");
      if (options.onDone) await options.onDone();
    } catch (err) {
      status.textContent = "";
      status.className = "small error";
      status.textContent = err.message || String(err);
    } finally {
      submitButton.disabled = false;
    }
  });
  if (options.primary) shortcuts(form, controls, options);
  return form;
}

async function store(target, ratings, comment, correction) {
  const author = await requireReviewer();
  const items = ratings.map((r) => ({ ...target, ...r, source: "annotator", author }));
  if (comment || correction) {
    if (items.length) Object.assign(items[0], comment ? { comment: [items[0].comment, comment].filter(Boolean).join("\n") } : {}, correction ? { correction } : {});
    else items.push({ ...target, name: correction ? "correction" : "comment", comment, correction, source: "annotator", author });
  }
  return api("/v1/feedback", { method: "POST", body: { items } });
}

let activeKeys = null;
function shortcuts(form, controls, options) {
  const handler = (event) => {
    if (!form.isConnected || event.altKey || event.metaKey || document.querySelector("dialog[open]")) return;
    if (event.key === "Enter" && (event.ctrlKey || !typing(event)) && (form.contains(event.target) || event.target === document.body)) {
      if (event.target.tagName === "BUTTON" || event.target.tagName === "A") return;
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.ctrlKey || typing(event)) return;
    if (event.key === "y" || event.key === "n") {
      const first = controls.find((c) => c.boolean);
      if (first) (event.preventDefault(), first.key(event.key));
    } else if (/^[0-9]$/.test(event.key)) {
      const first = controls.find((c) => c.numeric);
      if (first) (event.preventDefault(), first.key(event.key));
    } else if (event.key === "s" && options.onSkip) {
      event.preventDefault();
      options.onSkip();
    }
  };
  if (activeKeys) document.removeEventListener("keydown", activeKeys);
  activeKeys = handler;
  document.addEventListener("keydown", handler);
}
