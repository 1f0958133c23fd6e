// /leaderboard: mean score per group, best first, with intervals, health figures and the verdict.
import { ciBar, fixed, groupCell, h, isNum, money, ms, num, pct, pvalue } from "../dom.js";
import { analysisPage, directionPicker, groupPicker, scorePicker, slowNote, verdictBox } from "../parts/analysis.js";

const SCORED = ["boolean", "numeric"];

/** The scale of the interval bars: [0, 1] for yes/no and rates, else the rows' own range. */
function scaleOf(rows) {
  const values = rows.flatMap((r) => [r.ci_low, r.ci_high, r.mean]).filter(isNum);
  if (!values.length) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (lo >= 0 && hi <= 1) return [0, 1];
  const pad = (hi - lo) * 0.08 || 1;
  return [lo - pad, hi + pad];
}

export function directionText(answer) {
  const hib = answer.higher_is_better ?? (answer.direction ? answer.direction === "higher" : null);
  if (hib === null || hib === undefined) return null;
  return hib ? "higher is better" : "lower is better";
}

export function leaderboardTable(answer, { compact = false, badge = "leader" } = {}) {
  const rows = answer.rows || [];
  if (!rows.length) return h("p", { class: "empty" }, `No rated spans for “${answer.score}” with these filters.`);
  const [lo, hi] = scaleOf(rows);
  const leader = answer.leader ? JSON.stringify(answer.leader) : null;
  const cols = [
    ["#", true, (r, i) => String(i + 1)],
    ["Group", false, (r) => [groupCell(r.group), leader === JSON.stringify(r.group) ? h("span", { class: "chip good", style: "margin-left:6px" }, badge) : null, r.eligible === false ? h("span", { class: "chip", title: `fewer than ${answer.min_count} rated items`, style: "margin-left:6px" }, "few") : null]],
    ["Mean", true, (r) => h("b", {}, fixed(r.mean, 3))],
    ["95% interval", false, (r) => h("div", {}, ciBar(r.mean, r.ci_low, r.ci_high, lo, hi, `${fixed(r.ci_low, 3)} to ${fixed(r.ci_high, 3)}`), h("div", { class: "scale-labels" }, h("span", {}, fixed(r.ci_low, 3)), h("span", {}, fixed(r.ci_high, 3))))],
    ["Items", true, (r) => num(r.rated ?? r.count)],
    ["Ratings", true, (r) => num(r.count)],
  ];
  if (!compact) {
    cols.push(
      ["Spans", true, (r) => num(r.spans)],
      ["Coverage", true, (r) => pct(r.coverage, 1)],
      ["Errors", true, (r) => pct(r.error_rate, 1)],
      ["p50 / p95", true, (r) => (isNum(r.latency_p50_ms) ? `${ms(r.latency_p50_ms)} / ${ms(r.latency_p95_ms)}` : "—")],
      ["Tokens in/out", true, (r) => (isNum(r.input_tokens_mean) ? `${num(r.input_tokens_mean, 0)} / ${num(r.output_tokens_mean, 0)}` : "—")],
      ["Cost", true, (r) => money(r.cost_mean)],
      ["p vs leader", true, (r) => pvalue(r.p_vs_leader)],
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": `Leaderboard for ${answer.score}` },
      h("thead", {}, h("tr", {}, cols.map(([label, n]) => h("th", { class: n ? "num" : null, scope: "col" }, label)))),
      h("tbody", {}, rows.map((r, i) => h("tr", { class: leader === JSON.stringify(r.group) ? "leader" : null }, cols.map(([, n, cell]) => h("td", { class: n ? "num" : null }, cell(r, i)))))),
    ),
  );
}

export function drawLeaderboard(answer) {
  const direction = directionText(answer);
  return h(
    "section",
    { class: "panel" },
    verdictBox(answer.verdict, answer.leader ? "clear" : (answer.rows || []).length ? "unclear" : "none"),
    h("p", { class: "small muted" }, [`Score “${answer.score}”`, direction, answer.method ? `intervals: ${answer.method}` : null, answer.filters ? `filters: ${answer.filters}` : null, isNum(answer.needed_per_group) ? `about ${num(answer.needed_per_group)} rated items per group would separate the top two` : null].filter(Boolean).join(" · ")),
    leaderboardTable(answer),
    slowNote(answer),
  );
}

export async function render(main) {
  await analysisPage(main, {
    question: "leaderboard",
    title: "Leaderboard",
    sub: "Which group gets the best feedback, and is it really ahead?",
    async build(values) {
      const score = await scorePicker(values.score, { kinds: SCORED });
      const group = await groupPicker(values.group_by || ["variant"]);
      const direction = directionPicker(values.higher_is_better);
      return {
        nodes: [score.node, group.node, direction.node],
        read: () => ({ score: score.value(), group_by: group.value(), higher_is_better: direction.value() }),
        ready: (q) => Boolean(q.score),
        hint: "No score yet: rate some spans, or type a score name.",
      };
    },
    draw: drawLeaderboard,
  });
}
