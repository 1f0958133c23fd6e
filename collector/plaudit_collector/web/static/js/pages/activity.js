// The sessions and users lists: most recently active first, with trace counts and a feedback summary, each
// linking to its traces. Shared by /sessions and /users.
import { api } from "../api.js";
import { clear, errorBox, h, money, ms, num, when } from "../dom.js";
import { dataTable } from "../parts/table.js";
import { feedbackChips } from "./traces.js";

export async function activityPage(main, kind) {
  const plural = kind === "session" ? "Sessions" : "Users";
  const key = kind === "session" ? "session_id" : "user_id";
  const dim = kind === "session" ? "session.id" : "user.id";
  const out = h("div", { class: "panel flush" });
  const cursors = [];
  clear(main, h("div", { class: "page-head" }, h("h1", {}, plural), h("span", { class: "sub" }, "most recently active first")), out);
  const columns = [
    { label: kind === "session" ? "Session" : "User", cell: (r) => h("b", {}, r[key]) },
    kind === "session" ? { label: "User", cell: (r) => r.user_id || "—" } : { label: "Sessions", num: true, cell: (r) => num(r.sessions) },
    { label: "Traces", num: true, cell: (r) => num(r.traces) },
    { label: "Spans", num: true, cell: (r) => num(r.spans) },
    { label: "Errors", num: true, cell: (r) => (r.errors ? h("span", { class: "chip bad" }, num(r.errors)) : "0") },
    { label: "First", cell: (r) => when(r.first_start) },
    { label: "Last", cell: (r) => when(r.last_start) },
    ...(kind === "session" ? [{ label: "Span", num: true, cell: (r) => ms(r.duration_ms) }] : []),
    { label: "Tokens", num: true, cell: (r) => num((r.input_tokens || 0) + (r.output_tokens || 0)) },
    { label: "Cost", num: true, cell: (r) => money(r.cost) },
    { label: "Feedback", cell: (r) => feedbackChips(r.feedback) },
  ];
  const load = async () => {
    clear(out, h("p", { class: "loading" }, "Loading…"));
    try {
      // a user aggregates all of their spans: smaller pages keep a page of heavy users quick
      const page = await api(`/v1/${kind}s`, { params: { limit: kind === "user" ? 25 : 50, cursor: cursors[cursors.length - 1] } });
      const rows = page[`${kind}s`] || [];
      clear(
        out,
        rows.length ? dataTable(columns, rows, { href: (r) => `/traces?where=${encodeURIComponent(`${dim}=${r[key]}`)}`, caption: plural }) : h("p", { class: "empty", style: "padding:12px" }, `No ${plural.toLowerCase()} yet: spans carry them through plaudit.context(${key}=...).`),
        h("div", { class: "pager" }, h("button", { type: "button", disabled: !cursors.length, onclick: () => (cursors.pop(), load()) }, "← Previous"), h("button", { type: "button", disabled: !page.next_cursor, onclick: () => (cursors.push(page.next_cursor), load()) }, "Next →"), h("span", { class: "spacer" }), h("span", { class: "small" }, "Open a row to see its traces")),
      );
    } catch (err) {
      clear(out, errorBox(err));
    }
  };
  await load();
}
