// /traces: the trace search. Every filter of the query vocabulary as a control, sortable columns, cursor paging,
// and the whole view in the URL.
import { api } from "../api.js";
import { clear, errorBox, h, isNum, money, ms, num, when } from "../dom.js";
import { filterForm, toUrl } from "../parts/filters.js";
import { fromUrl, termsFor } from "../parts/querymodel.js";
import { dataTable } from "../parts/table.js";

const PAGE = 50;

export function feedbackChips(feedback) {
  // {name: {count, mean}} from the search, or [{name, count, mean}] from the session/user lists
  const entries = Array.isArray(feedback) ? feedback.map((f) => [f.name, f]) : Object.entries(feedback || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: "chips" },
    entries.slice(0, 4).map(([name, f]) => {
      const mean = f && isNum(f.mean) ? f.mean : null;
      const tone = mean === null ? "" : mean >= 0.66 ? "good" : mean <= 0.34 && mean >= 0 ? "bad" : "";
      return h("span", { class: `chip ${tone}`, title: `${name}: ${f.count} rating(s)${mean === null ? "" : `, mean ${num(mean, 2)}`}` }, name, " ", h("b", {}, mean === null ? `×${f.count}` : num(mean, 2)), mean === null ? null : h("span", { class: "muted" }, `(${f.count})`));
    }),
  );
}

export function statusBadge(status) {
  if (status === "ERROR") return h("span", { class: "badge err" }, "error");
  if (status === "OK") return h("span", { class: "badge ok" }, "ok");
  return h("span", { class: "muted" }, "—");
}

export function traceColumns(extra = []) {
  return [
    { label: "Started", sort: "time", cell: (t) => when(t.start_time) },
    { label: "Name", cell: (t) => h("span", {}, h("b", {}, t.name || "(no root)"), h("span", { class: "muted mono" }, ` ${String(t.trace_id).slice(0, 8)}`)) },
    { label: "Model", cell: (t) => t.model || "—" },
    { label: "Variant", cell: (t) => t.variant || "—" },
    { label: "User", cell: (t) => t.user_id || "—" },
    { label: "Duration", num: true, sort: "latency", cell: (t) => ms(t.duration_ms) },
    { label: "Tokens", num: true, cell: (t) => (isNum(t.input_tokens) || isNum(t.output_tokens) ? num((t.input_tokens || 0) + (t.output_tokens || 0)) : "—") },
    { label: "Cost", num: true, sort: "cost", cell: (t) => money(t.cost) },
    { label: "Feedback", sort: "score", cell: (t) => feedbackChips(t.feedback) },
    { label: "Status", cell: (t) => statusBadge(t.status) },
    ...extra,
  ];
}

/** One page of the search; a collector without search answers {data, count} (limit/offset): read that too. */
export async function searchTraces(params, cursor) {
  const query = { ...params, limit: PAGE };
  delete query.from_preset;
  if (cursor && cursor.startsWith("offset:")) {
    const answer = await api("/v1/traces", { params: { limit: PAGE, offset: cursor.slice(7) } });
    return { traces: answer.data || [], next_cursor: nextOffset(answer, Number(cursor.slice(7))), legacy: true };
  }
  if (cursor) query.cursor = cursor;
  const answer = await api("/v1/traces", { params: query });
  if (Array.isArray(answer.traces)) return answer;
  return { traces: answer.data || [], next_cursor: nextOffset(answer, 0), legacy: true };
}

function nextOffset(answer, offset) {
  const next = offset + (answer.data || []).length;
  return next < (answer.count || 0) ? `offset:${next}` : null;
}

export async function render(main) {
  const terms = await termsFor("traces");
  let values = fromUrl(terms);
  const cursors = values.cursor ? [values.cursor] : [];
  delete values.cursor;
  const results = h("div", { class: "panel flush" });
  const count = h("span", { class: "sub" });
  const form = await filterForm(terms, values, (next, reset) => {
    values = reset ? {} : { ...next, sort: values.sort };
    if (reset) return (location.href = location.pathname);
    cursors.length = 0;
    load();
  });
  clear(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Traces"), count),
    h("div", { class: "panel" }, form.node),
    results,
  );

  async function load() {
    const cursor = cursors[cursors.length - 1];
    toUrl({ ...values, ...(cursor ? { cursor } : {}) });
    clear(results, h("p", { class: "loading" }, "Searching…"));
    let page;
    try {
      page = await searchTraces(values, cursor);
    } catch (err) {
      clear(results, errorBox(err));
      return;
    }
    const rows = page.traces;
    count.textContent = `${rows.length}${page.next_cursor ? "+" : ""} trace${rows.length === 1 ? "" : "s"}${cursors.length ? ` · page ${cursors.length + 1}` : ""}`;
    const notice = page.legacy && Object.keys(values).length
      ? h("p", { class: "error" }, "This collector does not search traces yet: showing the most recent, unfiltered.")
      : null;
    const table = rows.length
      ? dataTable(traceColumns(), rows, {
          sort: values.sort || "time",
          onSort: page.legacy ? null : (sort) => {
            values.sort = sort;
            if (sort === "score" && !values.score) values.score = values.has_feedback || undefined;
            cursors.length = 0;
            load();
          },
          href: (t) => `/traces/${t.trace_id}`,
          caption: "Matching traces",
        })
      : h("p", { class: "empty" }, "No trace matches these filters.");
    const pager = h(
      "div",
      { class: "pager" },
      h("button", { type: "button", disabled: !cursors.length, onclick: () => (cursors.pop(), load()) }, "← Previous"),
      h("button", { type: "button", disabled: !page.next_cursor, onclick: () => (cursors.push(page.next_cursor), load()) }, "Next →"),
      h("span", { class: "spacer" }),
      h("span", { class: "small" }, "j / k to move, Enter to open"),
    );
    clear(results, notice, table, pager);
  }
  await load();
}
