// Building DOM nodes and formatting values. Strings always become text nodes: data is never parsed as HTML.

export function h(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  let deferred = null;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "value") deferred = value;
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string" && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, kids);
  if (deferred !== null) node.value = String(deferred); // after the options exist (select) or as text (textarea)
  return node;
}

function append(node, kids) {
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    if (Array.isArray(kid)) append(node, kid);
    else node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

/** SVG elements (charts and interval bars). */
export function svg(tag, attrs, ...kids) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  append(node, kids);
  return node;
}

export function clear(node, ...kids) {
  node.replaceChildren();
  append(node, kids);
  return node;
}

export const isNum = (x) => typeof x === "number" && Number.isFinite(x);

export function num(x, digits = 2) {
  if (!isNum(x)) return "—";
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return x.toLocaleString("en-US");
  return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: Math.min(digits, 2) });
}

/** A mean or a bound: always `digits` decimals, so a column of them lines up. */
export function fixed(x, digits = 3) {
  return isNum(x) ? x.toFixed(digits) : "—";
}

export function pct(x, digits = 0) {
  return isNum(x) ? `${(x * 100).toFixed(digits)}%` : "—";
}

export function ms(x) {
  if (!isNum(x)) return "—";
  if (x < 1) return `${x.toFixed(2)} ms`;
  if (x < 1000) return `${Math.round(x)} ms`;
  if (x < 60000) return `${(x / 1000).toFixed(x < 10000 ? 2 : 1)} s`;
  return `${Math.floor(x / 60000)}m ${Math.round((x % 60000) / 1000)}s`;
}

export function money(x) {
  if (!isNum(x)) return "—";
  return x >= 0.01 ? `$${x.toFixed(4)}` : `$${x.toPrecision(2)}`;
}

export function pvalue(p) {
  if (!isNum(p)) return "—";
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString("en-US", { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function ago(iso) {
  const d = new Date(iso);
  const s = (Date.now() - d.getTime()) / 1000;
  if (!Number.isFinite(s)) return "";
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function short(id, n = 8) {
  return id ? String(id).slice(0, n) : "—";
}

export function truncate(text, n = 140) {
  if (text === null || text === undefined) return "";
  const s = String(text).replace(/\s+/g, " ").trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** A feedback value as a person reads it. */
export function valueText(fb) {
  const v = fb.value;
  if (fb.kind === "preference") return fb.winner === "tie" ? "tie" : `${(fb.winner || v || "?").toUpperCase()} better`;
  if (v === true) return "✓ yes";
  if (v === false) return "✗ no";
  if (v === null || v === undefined) return fb.correction ? "correction" : "comment";
  return String(v);
}

/** A group {dim: value} as "dim value" pairs; null values read "(none)". */
export function groupCell(group) {
  const entries = Object.entries(group || {});
  if (!entries.length) return h("span", { class: "group-cell" }, h("span", { class: "v" }, "(all)"));
  return h(
    "span",
    { class: "group-cell" },
    entries.map(([k, v], i) => [
      i ? " · " : null,
      entries.length > 1 ? h("span", { class: "k" }, `${k} `) : null,
      v === null ? h("span", { class: "none" }, "(none)") : h("span", { class: "v" }, String(v)),
    ]),
  );
}

export function groupText(group) {
  const entries = Object.entries(group || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v === null ? "(none)" : v}`).join(", ") : "(all)";
}

/** An interval bar: the mean as a dot, the interval as a line, on the scale [lo, hi]. */
export function ciBar(mean, low, high, lo, hi, label) {
  const W = 200;
  const M = 5; // room for the dot at either end
  const x = (v) => (isNum(v) && hi > lo ? M + Math.max(0, Math.min(1, (v - lo) / (hi - lo))) * (W - 2 * M) : null);
  const s = svg("svg", { class: "ci", viewBox: `0 0 ${W} 16`, preserveAspectRatio: "none", role: "img", "aria-label": label || "" });
  s.append(svg("line", { class: "track", x1: M, x2: W - M, y1: 8, y2: 8 }));
  if (x(low) !== null && x(high) !== null) s.append(svg("line", { class: "range", x1: x(low), x2: x(high), y1: 8, y2: 8 }));
  if (x(mean) !== null) s.append(svg("circle", { class: "dot", cx: x(mean), cy: 8, r: 4 }));
  return s;
}

let toastTimer = null;
export function toast(message) {
  const node = document.getElementById("toast");
  if (!node) return;
  node.textContent = message;
  node.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("show"), 2600);
}

export function errorBox(err) {
  const message = err && err.message ? err.message : String(err);
  return h("div", { class: "error", role: "alert" }, message);
}

/** True when a key event comes from a place where typing means typing (not a shortcut). */
export function typing(event) {
  const t = event.target;
  if (!t || !t.tagName) return false;
  if (t.isContentEditable) return true;
  if (t.tagName === "TEXTAREA" || t.tagName === "SELECT") return true;
  if (t.tagName === "INPUT") return !["radio", "checkbox", "button", "submit", "range"].includes(t.type);
  return false;
}
