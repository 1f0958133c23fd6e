// /preferences: pairwise verdicts as a ranking: Bradley–Terry strengths with intervals, win scores, head to head.
import { ciBar, groupCell, groupText, h, isNum, num, pct } from "../dom.js";
import { analysisPage, groupPicker, scorePicker, verdictBox } from "../parts/analysis.js";

function headToHead(answer) {
  const pairs = answer.head_to_head || [];
  if (!pairs.length) return null;
  return h(
    "table",
    { "aria-label": "Head to head" },
    h("thead", {}, h("tr", {}, ["A", "B", "A wins", "B wins", "Ties", "A's share"].map((t, i) => h("th", { class: i > 1 ? "num" : null }, t)))),
    h(
      "tbody",
      {},
      pairs.map((p) => {
        const n = p.a_wins + p.b_wins + p.ties;
        return h("tr", {}, h("td", {}, groupCell(p.a)), h("td", {}, groupCell(p.b)), h("td", { class: "num" }, num(p.a_wins)), h("td", { class: "num" }, num(p.b_wins)), h("td", { class: "num" }, num(p.ties)), h("td", { class: "num" }, n ? pct((p.a_wins + p.ties / 2) / n, 0) : "—"));
      }),
    ),
  );
}

export async function render(main) {
  await analysisPage(main, {
    question: "preferences",
    title: "Preferences",
    sub: "Pairwise verdicts: who beats whom (Bradley–Terry)",
    async build(values) {
      const score = await scorePicker(values.score || "preference", { kinds: ["preference"], label: "Preference name" });
      const group = await groupPicker(values.group_by || ["variant"]);
      return { nodes: [score.node, group.node], read: () => ({ score: score.value() || "preference", group_by: group.value() }) };
    },
    draw(answer) {
      const rows = answer.rows || [];
      const strengths = rows.flatMap((r) => [r.strength_ci_low, r.strength_ci_high, r.strength]).filter(isNum);
      const lo = strengths.length ? Math.min(...strengths) : -1;
      const hi = strengths.length ? Math.max(...strengths) : 1;
      return h(
        "div",
        {},
        h(
          "section",
          { class: "panel" },
          verdictBox(answer.verdict, !rows.length ? "none" : rows.length > 1 && isNum(rows[0].strength_ci_low) && rows[0].strength_ci_low > rows[1].strength_ci_high ? "clear" : "unclear"),
          rows.length
            ? h(
                "table",
                { "aria-label": "Bradley–Terry ranking" },
                h("thead", {}, h("tr", {}, ["#", "Group", "Strength", "95% interval", "Win score", "Wins", "Comparisons"].map((t, i) => h("th", { class: i > 1 && i !== 3 ? "num" : null }, t)))),
                h("tbody", {}, rows.map((r, i) => h("tr", { class: i === 0 ? "leader" : null }, h("td", { class: "num" }, String(i + 1)), h("td", {}, groupCell(r.group)), h("td", { class: "num" }, h("b", {}, num(r.strength, 2))), h("td", { style: "width:28%" }, ciBar(r.strength, r.strength_ci_low, r.strength_ci_high, lo - 0.1, hi + 0.1, `${groupText(r.group)} strength`)), h("td", { class: "num" }, isNum(r.win_score) ? `${pct(r.win_score, 0)} (${num(r.ci_low, 2)}–${num(r.ci_high, 2)})` : "—"), h("td", { class: "num" }, num(r.wins)), h("td", { class: "num" }, num(r.comparisons))))),
              )
            : h("p", { class: "empty" }, `No preference named “${answer.score}” yet. Run a pairwise review queue to collect some.`),
        ),
        rows.length ? h("section", { class: "panel" }, h("h2", {}, "Head to head"), headToHead(answer)) : null,
      );
    },
  });
}
