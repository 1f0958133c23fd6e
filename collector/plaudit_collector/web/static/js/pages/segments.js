// /segments: the ranking inside each segment, flagging where the overall leader loses.
import { groupCell, groupText, h, num, pvalue } from "../dom.js";
import { analysisPage, choice, groupPicker, scorePicker, verdictBox } from "../parts/analysis.js";
import { dimensions } from "../parts/querymodel.js";
import { leaderboardTable } from "./leaderboard.js";

export async function render(main) {
  const dims = await dimensions();
  await analysisPage(main, {
    question: "segments",
    title: "Segments",
    sub: "Where does the overall winner lose?",
    async build(values) {
      const score = await scorePicker(values.score, { kinds: ["boolean", "numeric"] });
      const segment = choice("Segment by", [...dims.map((d) => [d, d])], values.segment || "user.id");
      const group = await groupPicker(values.group_by || ["variant"]);
      return {
        nodes: [score.node, segment.node, group.node],
        read: () => ({ score: score.value(), segment: segment.value(), group_by: group.value() }),
        ready: (q) => Boolean(q.score),
      };
    },
    draw(answer) {
      const segments = answer.segments || [];
      const flagged = segments.filter((s) => s.reverses);
      return h(
        "div",
        {},
        h("section", { class: "panel" }, verdictBox(answer.verdict, flagged.some((s) => s.significant) ? "unclear" : "clear"), h("p", { class: "small muted" }, `Overall candidate: ${answer.candidate ? groupText(answer.candidate) : "none"} · ${segments.length} segment(s) by ${answer.segment}`)),
        segments.map((s) =>
          h(
            "section",
            { class: "panel", "aria-label": `Segment ${s.segment}` },
            h("h2", {}, `${answer.segment} = ${s.segment ?? "(none)"}`, s.reverses ? h("span", { class: `chip ${s.significant ? "bad" : "warn"}` }, s.significant ? "leader loses (significant)" : "leader behind") : null, h("span", { class: "muted small" }, `${num(s.rated)} rated`), s.best ? h("span", { class: "small" }, "best: ", groupCell(s.best)) : null, s.p_adjusted !== null && s.p_adjusted !== undefined ? h("span", { class: "muted small" }, `p adj. ${pvalue(s.p_adjusted)}`) : null),
            leaderboardTable({ ...answer, rows: s.rows || [], leader: s.best }, { compact: true, badge: "best here" }),
          ),
        ),
      );
    },
  });
}
