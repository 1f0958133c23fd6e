// The query vocabulary the controls are built from: GET /v1/query-model, the one declaration REST, the Client and
// the CLI share. The page keeps no copy of it: when the collector cannot serve it, the page says so.
import { api } from "../api.js";

let loaded = null;
export function queryModel() {
  if (!loaded) {
    loaded = api("/v1/query-model")
      .then((served) => {
        if (!served || !Array.isArray(served.terms)) throw new Error("GET /v1/query-model answered without terms");
        return served;
      })
      .catch((err) => {
        loaded = null; // the next page load asks again
        throw new Error(`Could not read the query vocabulary (GET /v1/query-model): ${err.message}`);
      });
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
    if (key === "project") continue; // the page's project is a header, not a query term
    const term = terms.get(key);
    if ((term && term.repeatable) || (!term && REPEATABLE.has(key))) (out[key] = out[key] || []).push(value);
    else out[key] = value;
  }
  return out;
}
