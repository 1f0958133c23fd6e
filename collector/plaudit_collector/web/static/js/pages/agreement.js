// /agreement: do two raters (humans and a judge, or two people) agree? Kappa with its interval, Spearman, and the
// confusion table.
import { h, isNum, num, pct, pvalue } from "../dom.js";
import { analysisPage, choice, text, verdictBox } from "../parts/analysis.js";

export function matrix(score, a, b) {
  const table = score.table || [];
  const cats = score.categories || [];
  if (!table.length) return null;
  const max = Math.max(1, ...table.flat());
  return h(
    "table",
    { class: "matrix", "aria-label": `Confusion table for ${score.name}` },
    h("thead", {}, h("tr", {}, h("th", {}, `${a} ↓ / ${b} →`), cats.map((c) => h("th", {}, String(c))))),
    h("tbody", {}, table.map((row, i) => h("tr", {}, h("th", { scope: "row" }, String(cats[i])), row.map((n, j) => h("td", { class: `${i === j ? "" : "off "}heat-${Math.min(4, Math.ceil((n / max) * 4))}` }, num(n)))))),
  );
}

export async function render(main) {
  await analysisPage(main, {
    question: "agreement",
    title: "Agreement",
    sub: "Do two raters agree on the same items?",
    async build(values) {
      const by = choice("Raters told apart by", [["source", "source"], ["author", "author"]], values.by || "source");
      const a = text("Rater A", values.rater_a || "human");
      const b = text("Rater B", values.rater_b || "llm_judge");
      const score = text("Scores (comma separated)", [].concat(values.score || []).join(", "), "every name both used");
      return {
        nodes: [by.node, a.node, b.node, score.node],
        read: () => ({ by: by.value(), rater_a: a.value(), rater_b: b.value(), score: score.value().split(",").map((s) => s.trim()).filter(Boolean) }),
      };
    },
    draw(answer) {
      const scores = answer.scores || [];
      return h(
        "div",
        {},
        h("section", { class: "panel" }, verdictBox(answer.verdict, scores.some((s) => isNum(s.kappa) && s.kappa >= 0.6) ? "clear" : "unclear")),
        scores.length || answer.verdict ? null : h("p", { class: "empty" }, `No item was rated by both ${answer.rater_a} and ${answer.rater_b}.`),
        scores.map((s) =>
          h(
            "section",
            { class: "panel", "aria-label": `Agreement on ${s.name}` },
            h("h2", {}, s.name, h("span", { class: "muted small" }, `${num(s.n)} items rated by both · ${s.kind || ""}`)),
            h(
              "div",
              { class: "stat-cards" },
              h("div", { class: "stat" }, h("div", { class: "label" }, "Cohen's kappa"), h("div", { class: "value" }, num(s.kappa, 3)), h("div", { class: "detail" }, isNum(s.kappa_ci_low) ? `95% interval ${num(s.kappa_ci_low, 3)} to ${num(s.kappa_ci_high, 3)}` : "")),
              isNum(s.weighted_kappa) ? h("div", { class: "stat" }, h("div", { class: "label" }, "Weighted kappa"), h("div", { class: "value" }, num(s.weighted_kappa, 3))) : null,
              h("div", { class: "stat" }, h("div", { class: "label" }, "Observed agreement"), h("div", { class: "value" }, pct(s.observed_agreement, 1))),
              isNum(s.spearman) ? h("div", { class: "stat" }, h("div", { class: "label" }, "Spearman's rho"), h("div", { class: "value" }, num(s.spearman, 3)), h("div", { class: "detail" }, `p ${pvalue(s.spearman_p)}`)) : null,
            ),
            matrix(s, answer.rater_a, answer.rater_b),
          ),
        ),
      );
    },
  });
}
