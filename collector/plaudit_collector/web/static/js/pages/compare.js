// /compare: two groups on one score: the difference with its interval, the test, P(A better), the verdict.
import { fixed, groupCell, h, isNum, num, pct, pvalue } from "../dom.js";
import { analysisPage, choice, directionPicker, scorePicker, slowNote, text, verdictBox } from "../parts/analysis.js";
import { dimensions } from "../parts/querymodel.js";

function stat(label, value, detail) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), detail ? h("div", { class: "detail" }, detail) : null);
}

function pair(values, name) {
  const first = [].concat(values[name] || [])[0] || "";
  const at = first.indexOf("=");
  return at < 0 ? ["variant", ""] : [first.slice(0, at), first.slice(at + 1)];
}

export async function render(main) {
  const dims = await dimensions();
  await analysisPage(main, {
    question: "compare",
    title: "Compare",
    sub: "Group A against group B: how big is the difference, and is it real?",
    async build(values) {
      const score = await scorePicker(values.score, { kinds: ["boolean", "numeric", "preference"] });
      const [dimA, valueA] = pair(values, "a");
      const [, valueB] = pair(values, "b");
      const dim = choice("Dimension", dims.map((d) => [d, d]), dimA);
      const a = text("Group A", valueA, "e.g. v2");
      const b = text("Group B", valueB, "e.g. v1");
      const direction = directionPicker(values.higher_is_better);
      return {
        nodes: [score.node, dim.node, a.node, b.node, direction.node],
        read: () => ({ score: score.value(), a: a.value() ? [`${dim.value()}=${a.value()}`] : [], b: b.value() ? [`${dim.value()}=${b.value()}`] : [], higher_is_better: direction.value() }),
        ready: (q) => q.score && q.a.length && q.b.length,
        hint: "Name the two groups to compare (a value of the dimension each).",
      };
    },
    draw(answer) {
      const diff = answer.difference;
      const sides = [answer.a, answer.b].filter(Boolean);
      const tone = isNum(answer.p_value) && answer.p_value < 0.05 ? "clear" : "unclear";
      return h(
        "section",
        { class: "panel" },
        verdictBox(answer.verdict, tone),
        slowNote(answer),
        h(
          "div",
          { class: "stat-cards" },
          stat("Difference (A − B)", fixed(diff, 3), isNum(answer.diff_ci_low) ? `95% interval ${fixed(answer.diff_ci_low, 3)} to ${fixed(answer.diff_ci_high, 3)}` : null),
          stat("p-value", pvalue(answer.p_value), answer.test ? `${answer.test} test` : null),
          stat("P(A better)", pct(answer.prob_a_better, 1), answer.prob_method || null),
        ),
        h(
          "table",
          { "aria-label": "The two groups" },
          h("thead", {}, h("tr", {}, ["Side", "Group", "Mean", "95% interval", "Items", "Ratings"].map((t, i) => h("th", { class: i > 1 ? "num" : null }, t)))),
          h("tbody", {}, sides.map((side, i) => h("tr", {}, h("td", {}, i ? "B" : "A"), h("td", {}, groupCell(side.group)), h("td", { class: "num" }, h("b", {}, fixed(side.mean, 3))), h("td", { class: "num" }, isNum(side.ci_low) ? `${fixed(side.ci_low, 3)} – ${fixed(side.ci_high, 3)}` : "—"), h("td", { class: "num" }, num(side.rated)), h("td", { class: "num" }, num(side.count))))),
        ),
      );
    },
  });
}
