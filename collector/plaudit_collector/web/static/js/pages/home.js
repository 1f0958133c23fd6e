// /: the workspace's home: the leaderboard of the most used score, the newest traces, the open review queues.
import { api, scores } from "../api.js";
import { clear, errorBox, h } from "../dom.js";
import { dataTable } from "../parts/table.js";
import { drawLeaderboard } from "./leaderboard.js";
import { progressBar } from "./queues.js";
import { searchTraces, traceColumns } from "./traces.js";

export async function render(main) {
  const board = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const recent = h("div", { class: "panel flush" }, h("p", { class: "loading" }, "Loading…"));
  const queues = h("div");
  clear(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Home"), h("span", { class: "sub" }, "Which prompt, model or variant gets the best feedback — and is the difference real?")),
    h("h2", {}, "Leaderboard"),
    board,
    queues,
    h("div", { class: "row", style: "margin-bottom:8px" }, h("h2", { style: "margin:0" }, "Recent traces"), h("span", { class: "spacer" }), h("a", { href: "/traces" }, "Search all traces →")),
    recent,
  );
  const names = (await scores()).filter((s) => ["boolean", "numeric"].includes(s.kind) || (s.config && ["boolean", "numeric"].includes(s.config.type)));
  if (!names.length) clear(board, h("p", { class: "panel empty" }, "No ratings yet. Send feedback with plaudit.feedback(), or rate spans from a trace."));
  else {
    try {
      const answer = await api("/v1/analytics/leaderboard", { params: { score: names[0].name, group_by: ["variant"] } });
      clear(board, drawLeaderboard(answer), h("p", { class: "small" }, h("a", { href: `/leaderboard?score=${encodeURIComponent(names[0].name)}` }, "Open the leaderboard →")));
    } catch (err) {
      clear(board, errorBox(err));
    }
  }
  try {
    const open = (await api("/v1/queues")).queues.filter((q) => q.progress.percent < 100).slice(0, 5);
    if (open.length) {
      clear(queues, h("h2", {}, "Open review queues"), h("div", { class: "panel flush" }, dataTable([{ label: "Queue", cell: (q) => q.name }, { label: "Kind", cell: (q) => q.kind }, { label: "Progress", cell: (q) => progressBar(q.progress) }], open, { href: (q) => `/queues/${q.id}` })));
    }
  } catch {
    /* an older collector without queues: leave the section out */
  }
  try {
    const page = await searchTraces({}, null);
    clear(recent, page.traces.length ? dataTable(traceColumns(), page.traces.slice(0, 15), { href: (t) => `/traces/${t.trace_id}`, caption: "Recent traces" }) : h("p", { class: "empty", style: "padding:12px" }, "No traces yet. Point an app at this collector (PLAUDIT_ENDPOINT) to see them here."));
  } catch (err) {
    clear(recent, errorBox(err));
  }
}
