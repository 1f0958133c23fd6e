// /experiments/{name}: the experiment's report, overall and per segment: traffic share over time, each variant's
// score with its interval, probability of being best, expected loss, the IPS and self-normalised estimates beside
// the plain mean, the regret, and the stop/promote recommendation. Every figure is the API's.
import { api } from "../api.js";
import { ciBar, clear, errorBox, fixed, h, isNum, num, pct, when } from "../dom.js";
import { COLORS, loadUplot } from "../parts/uplot.js";
import { statusBadge } from "./experiments.js";

const span = (low, high) => (isNum(low) && isNum(high) ? `${fixed(low, 3)} – ${fixed(high, 3)}` : "—");

function estimate(value, low, high, lo, hi, label) {
  if (!isNum(value)) return "—";
  return h("div", { class: "estimate" }, h("b", {}, fixed(value, 3)), h("span", { class: "small muted" }, span(low, high)), ciBar(value, low, high, lo, hi, `${label} ${fixed(value, 3)}, ${span(low, high)}`));
}

function scaleOf(rows) {
  const values = rows.flatMap((r) => [r.mean, r.ci_low, r.ci_high, r.snips, r.snips_ci_low, r.snips_ci_high, r.ips, r.ips_ci_low, r.ips_ci_high]).filter(isNum);
  if (!values.length) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (lo >= 0 && hi <= 1) return [0, 1];
  const pad = (hi - lo) * 0.08 || 1;
  return [lo - pad, hi + pad];
}

function recommendation(rec) {
  const tone = rec.action === "promote" ? "clear" : rec.action === "continue" ? "unclear" : "none";
  const head = rec.action === "promote" ? `Promote ${rec.variant}` : rec.action === "continue" ? "Keep running" : rec.variant ? `Stopped: serves ${rec.variant}` : "Stopped";
  return h("div", { class: `verdict ${tone}`, role: "status" }, h("b", {}, `${head}. `), rec.reason);
}

function variantsTable(scope, label, order) {
  const rows = scope.variants || [];
  const [lo, hi] = scaleOf(rows);
  const cols = [
    ["Variant", false, (r) => h("span", { class: "variant-cell" }, h("span", { class: "swatch", style: `background:${COLORS[order.indexOf(r.variant) % COLORS.length]}` }), h("b", {}, r.variant), r.status === "active" ? null : h("span", { class: "chip warn", style: "margin-left:6px" }, r.status))],
    ["Choices", true, (r) => [num(r.choices), h("div", { class: "small muted" }, pct(r.share, 1))]],
    ["Now served", true, (r) => pct(r.probability, 1)],
    ["Rated", true, (r) => num(r.count)],
    ["Mean · 95% interval", false, (r) => estimate(r.mean, r.ci_low, r.ci_high, lo, hi, "mean")],
    ["IPS", false, (r) => estimate(r.ips, r.ips_ci_low, r.ips_ci_high, lo, hi, "IPS")],
    ["Self-normalised", false, (r) => estimate(r.snips, r.snips_ci_low, r.snips_ci_high, lo, hi, "self-normalised IPS")],
    ["P(best)", true, (r) => h("b", {}, pct(r.prob_best, 1))],
    ["Expected loss", true, (r) => fixed(r.expected_loss, 4)],
  ];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": `Variants, ${label}` },
      h("thead", {}, h("tr", {}, cols.map(([t, n]) => h("th", { class: n ? "num" : null, scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", { class: scope.recommendation.variant === r.variant ? "leader" : null }, cols.map(([, n, cell]) => h("td", { class: n ? "num" : null }, cell(r)))))),
    ),
  );
}

async function trafficChart(node, timeline, order, bucket) {
  if (!timeline.length) {
    clear(node, h("p", { class: "empty" }, "No choice made in this window."));
    return;
  }
  const uPlot = await loadUplot();
  const xs = timeline.map((t) => Date.parse(t.bucket) / 1000);
  const data = [xs, ...order.map((v) => timeline.map((t) => (isNum(t.share[v]) ? t.share[v] : 0)))];
  const series = [{}, ...order.map((v, i) => ({ label: v, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 6 } }))];
  const step = bucket === "hour" ? 3600 : 86400;
  const range = [xs[0] - step / 2, xs[xs.length - 1] + step / 2];
  clear(node);
  // eslint-disable-next-line no-new
  new uPlot(
    { width: Math.max(360, node.clientWidth - 4), height: 180, series, scales: { x: { time: true, range: () => range }, y: { range: [0, 1] } }, axes: [{}, { label: "share of choices", values: (u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) }], legend: { show: false } },
    data,
    node,
  );
}

function scopeSection(scope, label, order, bucket, timelineNodes) {
  const chart = h("div", { class: "chart", role: "img", "aria-label": `Traffic share over time, ${label}` });
  timelineNodes.push([chart, scope.timeline || []]);
  return h(
    "section",
    { class: "panel", "aria-label": label },
    h("h2", {}, label, h("span", { class: "muted small" }, `${num(scope.choices)} choices · ${num(scope.rated)} rated`)),
    recommendation(scope.recommendation),
    variantsTable(scope, label, order),
    h(
      "div",
      { class: "scope-grid" },
      h("div", {}, h("h3", {}, "Traffic share over time"), chart, h("div", { class: "legend-row" }, order.map((v, i) => h("span", {}, h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }), v)))),
      h(
        "div",
        { class: "stat-cards stacked" },
      h("div", { class: "stat" }, h("div", { class: "label" }, "Expected regret per choice"), h("div", { class: "value" }, fixed(scope.expected_regret, 4)), h("div", { class: "detail" }, "what the current allocation is expected to give up")),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Regret so far"), h("div", { class: "value" }, fixed(scope.regret_so_far, 2)), h("div", { class: "detail" }, "summed over the choices made")),
      ),
    ),
  );
}

export async function render(main, rawName) {
  const name = decodeURIComponent(rawName);
  const params = new URLSearchParams(location.search);
  const bucket = params.get("bucket") === "hour" ? "hour" : "day";
  const out = h("div", {}, h("p", { class: "loading" }, "Loading the report…"));
  const bucketSelect = h("select", { id: "exp-bucket" }, h("option", { value: "day" }, "Day"), h("option", { value: "hour" }, "Hour"));
  bucketSelect.value = bucket;
  bucketSelect.addEventListener("change", () => {
    params.set("bucket", bucketSelect.value);
    location.search = params.toString();
  });
  clear(main, h("div", { class: "page-head" }, h("h1", {}, name), h("span", { class: "sub" }, h("a", { href: "/experiments" }, "Experiments")), h("span", { class: "spacer" }), h("label", { class: "field-label", for: "exp-bucket" }, "Traffic per"), bucketSelect), out);
  let report;
  try {
    report = await api(`/v1/experiments/${encodeURIComponent(name)}/report`, { params: { bucket } });
  } catch (err) {
    clear(out, errorBox(err));
    return;
  }
  document.title = `${name} · Experiment · Plaudit`;
  const order = (report.overall.variants || []).map((v) => v.variant);
  const charts = [];
  const direction = report.higher_is_better === false ? "lower is better" : "higher is better";
  clear(
    out,
    h(
      "section",
      { class: "panel" },
      h(
        "dl",
        { class: "facts" },
        [
          ["Status", statusBadge(report.status, report.winner)],
          ["Score", `${report.score} (${direction})`],
          ["Policy", report.policy],
          ["Reward", report.reward],
          ["Segments by", report.segment_by || "—"],
          ["Window", report.from || report.to ? `${when(report.from)} – ${when(report.to)}` : "all time"],
        ].map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
      ),
      h("p", { class: "small muted" }, "An adaptive policy serves a variant more where it did well, so its plain mean describes the choices it happened to get. IPS weighs each rated choice by one over the probability it had; the self-normalised estimate does the same, divided by the weights' sum: both estimate what serving that variant to everyone would earn."),
    ),
    scopeSection(report.overall, "Overall", order, report.bucket, charts),
    (report.segments || []).map((s) => scopeSection(s, `Segment ${report.segment_by} = ${s.segment === null ? "(none)" : s.segment}`, order, report.bucket, charts)),
  );
  requestAnimationFrame(() => charts.forEach(([node, timeline]) => trafficChart(node, timeline, order, report.bucket)));
}
