// /experiments: every experiment with its policy, status and variants; each row opens its report.
import { api } from "../api.js";
import { ago, clear, errorBox, h } from "../dom.js";
import { dataTable } from "../parts/table.js";

export function statusBadge(status, winner) {
  if (status === "running") return h("span", { class: "badge ok" }, "running");
  return h("span", { class: "badge" }, winner ? `stopped · serves ${winner}` : status);
}

function variantChips(variants) {
  return h(
    "span",
    { class: "chips" },
    Object.entries(variants || {}).map(([name, v]) => h("span", { class: `chip${v.status === "active" ? "" : " warn"}`, title: v.status }, name, v.status === "active" ? null : ` (${v.status})`)),
  );
}

export async function render(main) {
  const list = h("section", { class: "panel flush" }, h("p", { class: "loading" }, "Loading…"));
  clear(main, h("div", { class: "page-head" }, h("h1", {}, "Experiments"), h("span", { class: "sub" }, "Variants served by a policy that learns from feedback: which one to keep")), list);
  try {
    const { data } = await api("/v1/experiments");
    if (!data.length) {
      clear(list, h("p", { class: "empty", style: "padding:16px" }, "No experiment yet. Register one with plaudit.Experiment(name, variants=..., score=...) or POST /v1/experiments."));
      return;
    }
    clear(
      list,
      dataTable(
        [
          { label: "Name", cell: (e) => h("b", {}, e.name) },
          { label: "Status", cell: (e) => statusBadge(e.status, e.winner) },
          { label: "Score", cell: (e) => e.score },
          { label: "Policy", cell: (e) => e.policy },
          { label: "Segments by", cell: (e) => e.segment_by || "—" },
          { label: "Variants", cell: (e) => variantChips(e.variants) },
          { label: "Updated", cell: (e) => ago(e.updated_at) },
        ],
        data,
        { href: (e) => `/experiments/${encodeURIComponent(e.name)}`, caption: "Experiments" },
      ),
    );
  } catch (err) {
    clear(list, errorBox(err));
  }
}
