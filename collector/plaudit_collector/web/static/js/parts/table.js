// Tables: a header (optionally sortable), rows that j/k move through and Enter (or a click) opens.
import { h, typing } from "../dom.js";

/**
 * columns: [{label, num, sort (the API's sort name), cell(row) -> node|string}]
 * options: {sort, onSort(name), onOpen(row), href(row), caption}
 */
export function dataTable(columns, rows, options = {}) {
  const head = h(
    "tr",
    {},
    columns.map((col) => {
      const sorted = options.sort && col.sort === options.sort;
      const content = col.sort && options.onSort
        ? h("button", { type: "button", class: "sort", onclick: () => options.onSort(col.sort) }, col.label, sorted ? " ↓" : "")
        : col.label;
      return h("th", { class: col.num ? "num" : null, scope: "col", "aria-sort": sorted ? "descending" : null }, content);
    }),
  );
  const body = h("tbody");
  rows.forEach((row, index) => {
    const tr = h(
      "tr",
      { class: options.onOpen || options.href ? "clickable" : null, dataset: { index: String(index) } },
      columns.map((col, i) => {
        let content = col.cell(row);
        if (i === 0 && options.href) content = h("a", { href: options.href(row) }, content);
        return h("td", { class: [col.num ? "num" : "", col.cls || ""].join(" ").trim() || null }, content);
      }),
    );
    if (options.href || options.onOpen) {
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a, button, input, select, textarea")) return;
        open(row);
      });
    }
    body.append(tr);
  });
  const open = (row) => (options.onOpen ? options.onOpen(row) : (location.href = options.href(row)));
  const table = h("table", {}, options.caption ? h("caption", { class: "sr-only" }, options.caption) : null, h("thead", {}, head), body);
  if (options.href || options.onOpen) keyboardRows(body, rows, open);
  return h("div", { class: "table-wrap" }, table);
}

let active = null;
function keyboardRows(body, rows, open) {
  let selected = -1;
  const select = (index) => {
    const trs = body.querySelectorAll("tr");
    if (!trs.length) return;
    selected = Math.max(0, Math.min(trs.length - 1, index));
    trs.forEach((tr, i) => tr.classList.toggle("selected", i === selected));
    trs[selected].scrollIntoView({ block: "nearest" });
  };
  const handler = (event) => {
    if (!body.isConnected || event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "j") select(selected + 1);
    else if (event.key === "k") select(selected - 1);
    else if (event.key === "Enter" && selected >= 0 && event.target === document.body) open(rows[selected]);
    else return;
    event.preventDefault();
  };
  if (active) document.removeEventListener("keydown", active);
  active = handler;
  document.addEventListener("keydown", handler);
}
