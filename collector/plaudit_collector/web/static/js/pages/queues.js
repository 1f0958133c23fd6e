// /queues: the review queues with their progress, and a form to create one from a filter.
import { api, scores } from "../api.js";
import { ago, clear, errorBox, h, num } from "../dom.js";
import { filterForm } from "../parts/filters.js";
import { termsFor } from "../parts/querymodel.js";
import { dataTable } from "../parts/table.js";

export function progressBar(progress) {
  const percent = progress && Number.isFinite(progress.percent) ? progress.percent : 0;
  return h(
    "div",
    { class: "row", style: "flex-wrap:nowrap" },
    h("div", { class: "progress", role: "progressbar", "aria-valuenow": String(percent), "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Progress" }, h("div", { style: `width:${Math.min(100, percent)}%` })),
    h("span", { class: "small" }, `${percent}%`),
  );
}

const QUEUE_TERMS = new Set(["q", "from", "to", "status", "where", "span_name", "span_kind", "tag", "metadata", "source", "has_feedback", "missing_feedback", "score", "min_score", "max_score"]);

async function createForm(onCreated) {
  const all = await scores();
  const terms = new Map([...(await termsFor("traces"))].filter(([name]) => QUEUE_TERMS.has(name)));
  let filter = {};
  const filters = await filterForm(terms, {}, (values) => (filter = values), { search: true });
  filters.node.setAttribute("aria-label", "Which spans to review");
  const name = h("input", { type: "text", id: "q-name", required: true, maxlength: 200, placeholder: "e.g. Weekly thumbs review" });
  const kind = h("select", { id: "q-kind" }, h("option", { value: "single" }, "Rate each span"), h("option", { value: "pairwise" }, "Pairwise: two variants side by side"));
  const scoreBoxes = h("div", { class: "chips", role: "group", "aria-label": "Scores to fill" });
  for (const s of all.filter((s) => s.kind !== "preference" && s.kind !== "correction")) {
    scoreBoxes.append(h("label", { class: "chip" }, h("input", { type: "checkbox", value: s.name, checked: scoreBoxes.children.length === 0 }), s.name));
  }
  const extra = h("input", { type: "text", id: "q-extra", placeholder: "other names, comma separated", spellcheck: "false" });
  const pairName = h("input", { type: "text", id: "q-pair", value: "preference", spellcheck: "false" });
  const sample = h("input", { type: "number", id: "q-sample", min: 1, max: 10000, placeholder: "all matching" });
  const overlap = h("input", { type: "number", id: "q-overlap", min: 1, max: 20, value: 1 });
  const order = h(
    "select",
    { id: "q-order" },
    h("option", { value: "random" }, "Random"),
    h("option", { value: "oldest" }, "Oldest first"),
    h("option", { value: "newest" }, "Newest first"),
    h("option", { value: "disagreement", "data-single": "" }, "Judge–human disagreement first"),
    h("option", { value: "informative", "data-single": "" }, "Most informative first"),
  );
  const status = h("div", { role: "status", "aria-live": "polite" });
  const field = (label, control) => h("div", { class: "field" }, h("label", { class: "field-label", for: control.id }, label), control);
  const singleOnly = h("div", { class: "field", style: "flex:1 1 320px" }, h("span", { class: "field-label" }, "Scores to fill"), scoreBoxes, extra);
  const pairOnly = h("div", { hidden: true }, field("Preference name", pairName));
  const orderHint = h("p", { class: "muted small", id: "q-order-hint" });
  const explainOrder = () => {
    orderHint.textContent = {
      disagreement: "Spans where the judge and the humans differ most on the first score come first; the other matching spans follow, newest first.",
      informative: "Judge-rated spans whose human rating would narrow the judge-assisted leaderboard most come first; the other matching spans follow, newest first.",
    }[order.value] || "";
  };
  order.setAttribute("aria-describedby", orderHint.id);
  order.addEventListener("change", explainOrder);
  kind.addEventListener("change", () => {
    singleOnly.hidden = kind.value === "pairwise";
    pairOnly.hidden = kind.value !== "pairwise";
    order.querySelectorAll("[data-single]").forEach((o) => (o.disabled = kind.value === "pairwise"));
    if (kind.value === "pairwise" && order.selectedOptions[0].disabled) order.value = "random";
    explainOrder();
  });
  const form = h(
    "form",
    {
      "aria-label": "Create a review queue",
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = [...scoreBoxes.querySelectorAll("input:checked")].map((i) => i.value);
        const typed = extra.value.split(",").map((s) => s.trim()).filter(Boolean);
        const body = {
          name: name.value.trim(),
          kind: kind.value,
          filter: Object.fromEntries(Object.entries(filter).filter(([k]) => k !== "from_preset")),
          scores: kind.value === "pairwise" ? [pairName.value.trim() || "preference"] : [...new Set([...chosen, ...typed])],
          overlap: Number(overlap.value || 1),
          order: order.value,
        };
        if (sample.value) body.sample = Number(sample.value);
        try {
          const created = await api("/v1/queues", { method: "POST", body });
          onCreated(created);
        } catch (err) {
          clear(status, errorBox(err));
        }
      },
    },
    h("div", { class: "filters" }, field("Name", name), field("Kind", kind), singleOnly, pairOnly),
    h("div", { class: "filters", style: "margin-top:10px" }, field("Sample size", sample), field("Reviewers per item (overlap)", overlap), field("Order", order)),
    orderHint,
    h("h3", {}, "Which spans"),
    h("p", { class: "muted small" }, "The queue is fixed when created: the spans matching these filters (pairwise: pairs with the same input from two variants)."),
    filters.node,
    h("div", { class: "form-actions", style: "margin-top:10px" }, h("button", { class: "primary", type: "submit" }, "Create queue"), status),
  );
  return form;
}

export async function render(main) {
  const list = h("div", { class: "panel flush" }, h("p", { class: "loading" }, "Loading…"));
  const creating = h("section", { class: "panel", hidden: true, "aria-label": "New queue" });
  const newButton = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, "New queue");
  newButton.addEventListener("click", async () => {
    if (!creating.childElementCount) creating.append(h("h2", {}, "New review queue"), await createForm((q) => (location.href = `/queues/${q.id}`)));
    creating.hidden = !creating.hidden;
    newButton.setAttribute("aria-expanded", String(!creating.hidden));
    if (!creating.hidden) creating.querySelector("input")?.focus();
  });
  clear(main, h("div", { class: "page-head" }, h("h1", {}, "Review queues"), h("span", { class: "sub" }, "Spans to rate, one at a time, by one or more reviewers"), h("span", { class: "spacer" }), newButton), creating, list);
  try {
    const { queues } = await api("/v1/queues");
    if (!queues.length) {
      clear(list, h("p", { class: "empty", style: "padding:16px" }, "No queue yet. Create one to review spans from a filter, alone or with colleagues."));
      creating.hidden = true;
      return;
    }
    clear(
      list,
      dataTable(
        [
          { label: "Name", cell: (q) => q.name },
          { label: "Kind", cell: (q) => h("span", { class: "badge kind" }, q.kind) },
          { label: "Scores", cell: (q) => (q.scores || []).join(", ") },
          { label: "Items", num: true, cell: (q) => num(q.items) },
          { label: "Overlap", num: true, cell: (q) => num(q.overlap) },
          { label: "Progress", cell: (q) => progressBar(q.progress) },
          { label: "Reviewers", cell: (q) => (q.progress.reviewers || []).map((r) => r.reviewer).join(", ") || "—" },
          { label: "Created", cell: (q) => ago(q.created_at) },
        ],
        queues,
        { href: (q) => `/queues/${q.id}`, caption: "Review queues" },
      ),
    );
  } catch (err) {
    clear(list, errorBox(err));
  }
}
