// /trend: a score over time per group, with intervals, and markers where a prompt version or a model first
// appears. Drawn with the vendored uPlot; the numbers are all the API's.
import { api } from "../api.js";
import { clear, fixed, groupText, h, isNum, num, pvalue, when } from "../dom.js";
import { analysisPage, choice, directionPicker, groupPicker, scorePicker, slowNote, verdictBox } from "../parts/analysis.js";
import { COLORS, loadUplot } from "../parts/uplot.js";

const MARKED = ["prompt.version", "model"];

/** Where each prompt version and model first shows up in the score's trend: the answer's own markers if it has
 * them, else the first bucket of each group of a trend by that dimension. */
async function markers(answer, params) {
  if (Array.isArray(answer.markers)) return answer.markers;
  const out = [];
  for (const dim of MARKED) {
    try {
      const byDim = await api("/v1/analytics/trend", { params: { ...params, group_by: [dim] } });
      const first = new Map();
      for (const p of byDim.points || []) {
        const key = p.group ? p.group[dim] : null;
        if (key === null || key === undefined) continue;
        if (!first.has(key) || p.bucket_start < first.get(key)) first.set(key, p.bucket_start);
      }
      const starts = [...first.values()].sort();
      for (const [value, at] of first) if (at !== starts[0] || first.size === 1) out.push({ dimension: dim, value, time: at });
    } catch {
      /* markers are a help, not the answer */
    }
  }
  return out.sort((a, b) => a.time.localeCompare(b.time));
}

async function chart(node, answer, marks) {
  const uPlot = await loadUplot();
  const groups = new Map();
  for (const p of answer.points || []) {
    const key = groupText(p.group);
    if (!groups.has(key)) groups.set(key, new Map());
    groups.get(key).set(p.bucket_start, p);
  }
  const times = [...new Set((answer.points || []).map((p) => p.bucket_start))].sort();
  const xs = times.map((t) => Date.parse(t) / 1000);
  const data = [xs];
  const series = [{}];
  const bands = [];
  [...groups.entries()].forEach(([key, byTime], i) => {
    const color = COLORS[i % COLORS.length];
    const col = (field) => times.map((t) => (byTime.has(t) && isNum(byTime.get(t)[field]) ? byTime.get(t)[field] : null));
    const base = data.length;
    data.push(col("mean"), col("ci_high"), col("ci_low"));
    series.push(
      { label: key, stroke: color, width: 2, points: { show: true, size: 5 }, spanGaps: true },
      { label: `${key} high`, stroke: "transparent", points: { show: false }, spanGaps: true },
      { label: `${key} low`, stroke: "transparent", points: { show: false }, spanGaps: true },
    );
    bands.push({ series: [base + 1, base + 2], fill: `${color}22` });
  });
  const drawMarks = (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    marks.forEach((m, i) => {
      const x = u.valToPos(Date.parse(m.time) / 1000, "x", true);
      if (!Number.isFinite(x)) return;
      ctx.strokeStyle = "#9aa3b2";
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillStyle = "#4b5563";
      ctx.fillText(`${m.dimension === "model" ? "" : "v"}${m.value}`, x + 4, u.bbox.top + 12 * devicePixelRatio * (1 + (i % 3)));
    });
    ctx.restore();
  };
  const width = Math.max(480, node.clientWidth - 4);
  const step = { hour: 3600, day: 86400, week: 7 * 86400 }[answer.bucket] || 86400;
  const range = xs.length ? [xs[0] - step / 2, xs[xs.length - 1] + step / 2] : null;
  const legend = h("div", { class: "legend-row" }, [...groups.keys()].map((key, i) => h("span", {}, h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }), key)), h("span", { class: "muted" }, "shaded: 95% interval"));
  clear(node);
  // eslint-disable-next-line no-new
  new uPlot({ width, height: 300, series, bands, scales: { x: { time: true, range: () => range } }, axes: [{}, { label: answer.score }], legend: { show: false }, hooks: { draw: [drawMarks] } }, data, node);
  node.append(legend);
}

export async function render(main) {
  await analysisPage(main, {
    question: "trend",
    title: "Trend",
    sub: "A score over time: did quality move after a change?",
    async build(values) {
      const score = await scorePicker(values.score, { kinds: ["boolean", "numeric"] });
      const bucket = choice("Bucket", [["day", "Day"], ["hour", "Hour"], ["week", "Week"]], values.bucket || "day");
      const group = await groupPicker(values.group_by || [], { label: "Group by (optional)", max: 2 });
      const direction = directionPicker(values.higher_is_better);
      return {
        nodes: [score.node, bucket.node, group.node, direction.node],
        read: () => ({ score: score.value(), bucket: bucket.value(), group_by: group.value(), higher_is_better: direction.value() }),
        ready: (q) => Boolean(q.score),
      };
    },
    draw(answer, params) {
      const plot = h("div", { class: "chart", role: "img", "aria-label": `${answer.score} over time` });
      const marksList = h("div", { class: "legend-row" });
      const section = h(
        "div",
        {},
        h("section", { class: "panel" }, verdictBox(answer.verdict, "none"), plot, marksList, slowNote(answer)),
        h(
          "section",
          { class: "panel flush" },
          h(
            "table",
            { "aria-label": "Points" },
            h("thead", {}, h("tr", {}, ["Bucket", "Group", "Mean", "95% interval", "Items", "Change", "p vs previous"].map((t, i) => h("th", { class: i > 1 ? "num" : null }, t)))),
            h("tbody", {}, (answer.points || []).map((p) => h("tr", {}, h("td", {}, when(p.bucket_start)), h("td", {}, groupText(p.group)), h("td", { class: "num" }, h("b", {}, fixed(p.mean, 3))), h("td", { class: "num" }, isNum(p.ci_low) ? `${fixed(p.ci_low, 3)} – ${fixed(p.ci_high, 3)}` : "—"), h("td", { class: "num" }, num(p.rated)), h("td", { class: "num" }, isNum(p.change) ? fixed(p.change, 3) : "—"), h("td", { class: "num" }, pvalue(p.p_vs_previous))))),
          ),
        ),
      );
      if ((answer.points || []).length) {
        markers(answer, params).then((marks) => {
          clear(marksList, marks.length ? h("span", { class: "muted" }, "First seen:") : null, marks.map((m) => h("span", {}, `${m.dimension} ${m.value} — ${when(m.time)}`)));
          requestAnimationFrame(() => chart(plot, answer, marks));
        });
      } else clear(plot, h("p", { class: "empty" }, "No rated spans in this range."));
      return section;
    },
  });
}
