// The query vocabulary the controls are built from: GET /v1/query-model when the collector serves it, else the
// same declaration kept here (a collector from before the endpoint existed).
import { optional } from "../api.js";

export const SOURCES = ["human", "end_user", "annotator", "llm_judge", "code"];
export const SORTS = ["time", "latency", "cost", "score"];

const T = (name, kind, type, help, questions, more = {}) => ({
  name, kind, type, help, questions, choices: [], repeatable: ["texts", "pairs", "choices"].includes(type), ...more,
});
const ALL = ["leaderboard", "compare", "trend", "agreement", "segments", "preferences", "traces"];

const FALLBACK = {
  dimensions: ["model", "provider", "prompt.name", "prompt.version", "config.hash", "variant", "user.id", "session.id", "span.name", "span.kind", "service.name"].map((name) => ({ name })),
  sources: SOURCES,
  terms: [
    T("q", "filter", "text", "words in the inputs and outputs", ["traces"]),
    T("from", "filter", "time", "spans started at or after", ALL),
    T("to", "filter", "time", "spans started before", ALL),
    T("status", "filter", "choice", "only traces with an error, or without", ["traces"], { choices: ["error", "ok"] }),
    T("span_name", "filter", "texts", "only spans with this name", ALL),
    T("span_kind", "filter", "texts", "only spans of this kind (llm, tool, ...)", ALL),
    T("tag", "filter", "texts", "only spans carrying this tag", ALL),
    T("metadata", "filter", "pairs", "key=value of plaudit.metadata", ALL),
    T("where", "filter", "pairs", "dim=value, e.g. model=gpt-4o", ALL),
    T("source", "filter", "choices", "only feedback from this source", ALL, { choices: SOURCES }),
    T("has_feedback", "filter", "text", "only traces with feedback of this name", ["traces"]),
    T("missing_feedback", "filter", "text", "only traces without feedback of this name", ["traces"]),
    T("score", "option", "text", "the score the range and sort read", ["traces"]),
    T("min_score", "filter", "float", "lowest score", ["traces"]),
    T("max_score", "filter", "float", "highest score", ["traces"]),
  ],
};

let loaded = null;
export function queryModel() {
  if (!loaded) {
    loaded = optional("/v1/query-model")
      .catch(() => null)
      .then((served) => (served && Array.isArray(served.terms) ? served : FALLBACK));
  }
  return loaded;
}

/** The terms one question takes (filters first), by name. */
export async function termsFor(question) {
  const model = await queryModel();
  const out = new Map();
  for (const term of model.terms) {
    if ((term.questions || []).includes(question) && !out.has(term.name)) out.set(term.name, term);
  }
  return out;
}

export async function dimensions() {
  const model = await queryModel();
  return (model.dimensions || []).map((d) => d.name).filter((name) => !name.includes("<"));
}

const REPEATABLE = new Set(["where", "metadata", "tag", "span_name", "span_kind", "source", "author", "group_by", "a", "b"]);

/** The page URL's parameters as the API's: every value a string or a list (repeatable terms). */
export function fromUrl(terms) {
  const params = new URLSearchParams(location.search);
  const out = {};
  for (const [key, value] of params) {
    const term = terms.get(key);
    if ((term && term.repeatable) || (!term && REPEATABLE.has(key))) (out[key] = out[key] || []).push(value);
    else out[key] = value;
  }
  return out;
}
