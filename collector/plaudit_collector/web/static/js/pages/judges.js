// /judges: how far to trust each LLM judge. Its ratings against the humans' on the same items (bias with its
// interval, correlations, kappa and alpha, the confusion table, the bias per group with the flagged groups),
// the defined judges, and the items where judge and humans disagree most. Every figure is the API's.
import { api } from "../api.js";
import { ciBar, clear, errorBox, fixed, groupCell, h, isNum, num, pvalue, short, truncate } from "../dom.js";
import { analysisPage, choice, groupPicker, scorePicker, verdictBox } from "../parts/analysis.js";
import { queryModel } from "../parts/querymodel.js";
import { dataTable } from "../parts/table.js";
import { matrix } from "./agreement.js";

const signed = (x, digits = 3) => (isNum(x) ? `${x > 0 ? "+" : ""}${x.toFixed(digits)}` : "—");
const interval = (low, high, digits = 3) => (isNum(low) && isNum(high) ? `${signed(low, digits)} to ${signed(high, digits)}` : "no interval yet");

function stat(label, value, detail) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), detail ? h("div", { class: "detail" }, detail) : null);
}

/** The bias bars share one scale centred on 0, so a bar's side of the centre line is the bias's sign. */
function biasScale(rows) {
  const extent = Math.max(0.1, ...rows.flatMap((r) => [r.ci_low, r.ci_high, r.bias]).filter(isNum).map(Math.abs));
  return [-extent * 1.1, extent * 1.1];
}

function groupTable(entry) {
  const rows = entry.groups || [];
  if (!rows.length) return null;
  const [lo, hi] = biasScale(rows);
  const differs = entry.group_bias_differs;
  return h(
    "div",
    {},
    h("h3", {}, "Bias per group"),
    h("p", { class: "small muted" }, differs === null ? "Too few groups with two or more items to test whether the bias differs between them." : differs ? `The bias differs between groups (p ${pvalue(entry.group_bias_p)}): a leaderboard from this judge alone would be misordered.` : `No evidence the bias differs between groups (p ${pvalue(entry.group_bias_p)}).`),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": `Bias per group for ${entry.judge}` },
        h("thead", {}, h("tr", {}, ["Group", "Items", "Bias", "95% interval", "", "p vs the rest", ""].map((t, i) => h("th", { class: [1, 2, 3, 5].includes(i) ? "num" : null, scope: "col" }, t)))),
        h(
          "tbody",
          {},
          rows.map((r) =>
            h(
              "tr",
              { class: r.flagged ? "flagged" : null },
              h("td", {}, groupCell(r.group)),
              h("td", { class: "num" }, num(r.n)),
              h("td", { class: "num" }, h("b", {}, signed(r.bias))),
              h("td", { class: "num" }, `[${signed(r.ci_low, 2)}, ${signed(r.ci_high, 2)}]`),
              h("td", { class: "bias-bar" }, ciBar(r.bias, r.ci_low, r.ci_high, lo, hi, `bias ${signed(r.bias)}, ${interval(r.ci_low, r.ci_high)}`)),
              h("td", { class: "num" }, pvalue(r.p_vs_rest)),
              h("td", {}, r.flagged ? h("span", { class: "chip bad" }, "flagged") : null),
            ),
          ),
        ),
      ),
    ),
  );
}

function judgePanel(entry, answer) {
  const sure = isNum(entry.bias_ci_low) && (entry.bias_ci_low > 0 || entry.bias_ci_high < 0);
  return h(
    "section",
    { class: "panel", "aria-label": `Judge ${entry.judge}` },
    h(
      "h2",
      {},
      entry.name,
      entry.hash ? h("span", { class: "badge kind", title: "definition hash" }, `@${short(entry.hash, 12)}`) : null,
      h("span", { class: "muted small" }, `${num(entry.n)} items rated by both ${answer.human_source} and this judge`),
    ),
    h(
      "div",
      { class: "stat-cards" },
      stat("Bias (judge − human)", signed(entry.bias), `95% interval ${interval(entry.bias_ci_low, entry.bias_ci_high)}${isNum(entry.bias_ci_low) ? (sure ? " · real" : " · not distinguishable from 0") : ""}`),
      stat("Means", `${fixed(entry.judge_mean, 2)} vs ${fixed(entry.human_mean, 2)}`, "judge vs human"),
      stat("Pearson", num(entry.pearson, 3)),
      stat("Spearman", num(entry.spearman, 3)),
      stat("Cohen's kappa", num(entry.kappa, 3), isNum(entry.weighted_kappa) ? `weighted ${num(entry.weighted_kappa, 3)}` : null),
      stat("Krippendorff's alpha", num(entry.alpha, 3), isNum(entry.alpha_ci_low) ? `95% interval ${num(entry.alpha_ci_low, 3)} to ${num(entry.alpha_ci_high, 3)}` : null),
    ),
    h("div", { class: "judge-grid" }, (entry.table || []).length ? h("div", {}, h("h3", {}, "Confusion table (rounded ratings)"), matrix({ name: entry.judge, table: entry.table, categories: entry.categories }, answer.human_source, "judge")) : null, groupTable(entry)),
  );
}

function judgesList(node) {
  api("/v1/judges")
    .then((listed) => {
      const rows = listed.data || [];
      clear(
        node,
        h("h2", {}, "Defined judges", h("span", { class: "muted small" }, `${rows.length} in this project`)),
        rows.length
          ? dataTable(
              [
                { label: "Name", cell: (j) => h("b", {}, j.name) },
                { label: "State", cell: (j) => h("span", { class: `badge ${j.enabled ? "ok" : "err"}` }, j.enabled ? "enabled" : "disabled") },
                { label: "Score", cell: (j) => j.score },
                { label: "Model", cell: (j) => `${j.provider} · ${j.model}` },
                { label: "Sample", num: true, cell: (j) => `${Math.round((j.sample_rate ?? 1) * 100)}%` },
                { label: "Author of its ratings", cell: (j) => h("code", {}, j.author) },
                { label: "Key", cell: (j) => (j.api_key_set ? j.api_key_env : h("span", { class: "muted" }, `${j.api_key_env} not set`)) },
              ],
              rows,
              { caption: "Defined judges" },
            )
          : h("p", { class: "empty" }, "No judge is defined here. Ratings from any llm_judge source are still compared below."),
      );
    })
    .catch((err) => clear(node, errorBox(err)));
}

function disagreementList(node, params) {
  const query = { ...params, mode: "judge_vs_human", limit: 25 };
  delete query.group_by;
  delete query.human_source;
  delete query.judge_source;
  delete query.bootstrap;
  api("/v1/analytics/disagreements", { params: query })
    .then((answer) => {
      const items = answer.items || [];
      clear(
        node,
        h("h2", {}, "Largest disagreements", h("span", { class: "muted small" }, `top ${items.length} of ${num(answer.candidates)} items rated by both`)),
        items.length
          ? dataTable(
              [
                { label: "Trace", cell: (d) => h("span", { class: "mono" }, d.trace_id ? short(d.trace_id, 12) : d.session_id) },
                { label: "Span", cell: (d) => h("span", { class: "mono" }, short(d.span_id, 8)) },
                { label: "Human", num: true, cell: (d) => fixed(d.human_mean, 2) },
                { label: "Judge", num: true, cell: (d) => fixed(d.judge_mean, 2) },
                { label: "Gap", num: true, cell: (d) => h("b", {}, fixed(d.disagreement, 2)) },
                { label: "Ratings", cell: (d) => truncate(Object.entries(d.ratings || {}).map(([r, v]) => `${r} ${fixed(v, 2)}`).join(" · "), 90) },
              ],
              items.filter((d) => d.trace_id),
              { href: (d) => `/traces/${d.trace_id}${d.span_id ? `#span=${d.span_id}` : ""}`, caption: `Disagreements on ${answer.score}` },
            )
          : h("p", { class: "empty" }, answer.verdict || "No disagreement."),
      );
    })
    .catch((err) => clear(node, errorBox(err)));
}

export async function render(main) {
  await analysisPage(main, {
    question: "judge_report",
    path: "/v1/analytics/judges",
    title: "Judges",
    sub: "How far to trust each LLM judge: its ratings against the humans' on the same items",
    async build(values) {
      const score = await scorePicker(values.score, { kinds: ["boolean", "numeric"] });
      const group = await groupPicker(values.group_by || ["variant"], { label: "Bias per", max: 2 });
      const sources = (await queryModel()).sources || [];
      const human = choice("Human ratings from", sources.map((s) => [s, s]), values.human_source || "human");
      const judge = choice("Judge ratings from", sources.map((s) => [s, s]), values.judge_source || "llm_judge");
      return {
        nodes: [score.node, group.node, human.node, judge.node],
        read: () => ({ score: score.value(), group_by: group.value(), human_source: human.value(), judge_source: judge.value() }),
        ready: (q) => Boolean(q.score),
        hint: "Choose the score the judges rate.",
      };
    },
    draw(answer, params) {
      const entries = answer.judges || [];
      const defined = h("section", { class: "panel flush-head", "aria-label": "Defined judges" }, h("p", { class: "loading" }, "Loading judges…"));
      const disputed = h("section", { class: "panel", "aria-label": "Largest disagreements" }, h("p", { class: "loading" }, "Finding disagreements…"));
      judgesList(defined);
      disagreementList(disputed, params);
      const flagged = entries.some((e) => e.group_bias_differs);
      return h(
        "div",
        {},
        h("section", { class: "panel" }, verdictBox(answer.verdict, !entries.some((e) => e.n) ? "none" : flagged ? "unclear" : "clear"), h("p", { class: "small muted" }, `Score “${answer.score}” · ${answer.human_source} against ${answer.judge_source} · bias per ${(answer.group_by || []).join(", ") || "—"} · ${Math.round((answer.confidence || 0.95) * 100)}% intervals`)),
        entries.length ? entries.map((e) => judgePanel(e, answer)) : h("p", { class: "empty" }, `No ${answer.judge_source} rating of “${answer.score}” yet.`),
        disputed,
        defined,
      );
    },
  });
}
