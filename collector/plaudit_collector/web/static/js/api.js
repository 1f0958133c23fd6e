// The REST API, the one source of every number the pages show. With auth on, the API key is asked once per
// tab (a form, kept in sessionStorage) and sent as "Authorization: Bearer".
import { h } from "./dom.js";

const KEY_STORE = "plaudit.apiKey";
const REVIEWER_STORE = "plaudit.reviewer";
const PROJECT_STORE = "plaudit.project";

/** The project the pages read: ?project= in the URL (remembered for this tab), else the tab's last choice, else
 * none (the collector's default, or the API key's project). */
export function currentProject() {
  const fromUrl = new URLSearchParams(location.search).get("project");
  if (fromUrl && fromUrl.trim()) {
    sessionStorage.setItem(PROJECT_STORE, fromUrl.trim());
    return fromUrl.trim();
  }
  return sessionStorage.getItem(PROJECT_STORE);
}

export function chooseProject(name) {
  if (name) sessionStorage.setItem(PROJECT_STORE, name);
  else sessionStorage.removeItem(PROJECT_STORE);
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || (typeof body === "string" && body) || `request failed (${status})`);
    this.status = status;
    this.code = error.code || null;
    this.field = error.field || null;
  }
}

/** Query parameters: arrays repeat their key; empty values are left out. */
export function query(params) {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== "") out.append(key, String(v));
    }
  }
  return out;
}

export async function api(path, { method = "GET", params, body } = {}) {
  const qs = params ? query(params).toString() : "";
  const url = qs ? `${path}?${qs}` : path;
  for (let attempt = 0; attempt < 4; attempt++) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const project = currentProject();
    if (project) headers["X-Plaudit-Project"] = project;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401) {
      const data = await response.json().catch(() => null);
      const stored = sessionStorage.getItem(KEY_STORE);
      // a request sent before another one's key was entered: retry with that key instead of asking again
      if (stored && stored !== key) continue;
      sessionStorage.removeItem(KEY_STORE);
      await askApiKey(data && data.error ? data.error.message : null, Boolean(key));
      continue;
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
  throw new ApiError(401, { error: { message: "no valid API key given" } });
}

/** GET that resolves to null instead of throwing when the endpoint does not exist (older collectors). */
export async function optional(path, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
    throw err;
  }
}

function modal(title, build) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h("dialog", { "aria-labelledby": titleId });
    const done = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.append(h("h2", { id: titleId }, title), build(done));
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
  });
}

let pendingKey = null;
function askApiKey(message, wasWrong) {
  if (pendingKey) return pendingKey;
  pendingKey = modal("API key required", (done) => {
    const input = h("input", { type: "password", id: "api-key-input", autocomplete: "off", required: true, spellcheck: "false" });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: (event) => {
          event.preventDefault();
          const key = input.value.trim();
          if (!key) return;
          sessionStorage.setItem(KEY_STORE, key);
          done(key);
        },
      },
      h("p", { class: "muted" }, wasWrong ? message || "That key was refused." : "This collector requires an API key. It is kept for this tab only."),
      h("label", { class: "field" }, h("span", {}, "API key"), input),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Use this key")),
    );
    return form;
  }).finally(() => {
    pendingKey = null;
  });
  return pendingKey;
}

/** The reviewer's name: from ?reviewer= (which also remembers it), else localStorage, else asked once. */
export function reviewerName() {
  const fromUrl = new URLSearchParams(location.search).get("reviewer");
  if (fromUrl && fromUrl.trim()) localStorage.setItem(REVIEWER_STORE, fromUrl.trim());
  return localStorage.getItem(REVIEWER_STORE);
}

export async function requireReviewer() {
  const known = reviewerName();
  if (known) return known;
  return askReviewer();
}

export function askReviewer() {
  return modal("Who is reviewing?", (done) => {
    const input = h("input", { type: "text", id: "reviewer-input", autocomplete: "name", required: true, maxlength: 200, value: reviewerName() || "" });
    return h(
      "form",
      {
        method: "dialog",
        onsubmit: (event) => {
          event.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          localStorage.setItem(REVIEWER_STORE, name);
          document.dispatchEvent(new CustomEvent("plaudit:reviewer", { detail: name }));
          done(name);
        },
      },
      h("p", { class: "muted" }, "Your ratings are stored under this name (remembered in this browser)."),
      h("label", { class: "field" }, h("span", {}, "Your name"), input),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Save")),
    );
  });
}

export function showDialog(title, content) {
  return modal(title, (done) =>
    h("form", { method: "dialog", onsubmit: (e) => (e.preventDefault(), done(null)) }, content, h("div", { class: "actions" }, h("button", { type: "submit" }, "Close"))),
  );
}

// Cached per page load: the score names and configs every picker and form offers.
let scoresPromise = null;
export function scores() {
  if (!scoresPromise) {
    scoresPromise = (async () => {
      const listed = await optional("/v1/scores");
      if (listed && Array.isArray(listed.scores)) return listed.scores;
      const configs = await api("/v1/score-configs");
      return (configs.data || []).map((config) => ({ name: config.name, count: 0, kind: config.type, config }));
    })();
  }
  return scoresPromise;
}

export function forgetScores() {
  scoresPromise = null;
}
