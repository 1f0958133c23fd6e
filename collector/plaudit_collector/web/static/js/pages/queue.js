// /queues/{id}: one item at a time, reserved for this reviewer; Submit or Skip; the queue's progress alongside.
// Pairwise queues show two outputs for the same input side by side: "A is better", "B is better", "Tie".
import { api, requireReviewer } from "../api.js";
import { clear, errorBox, h, ms, num, toast, typing } from "../dom.js";
import { plainText, renderValue } from "../parts/conversation.js";
import { rateForm } from "../parts/rateform.js";
import { progressBar } from "./queues.js";

function progressPanel(queue, reviewer) {
  const p = queue.progress;
  return h(
    "section",
    { class: "panel", "aria-label": "Progress" },
    h("h2", {}, "Progress"),
    progressBar(p),
    h("p", { class: "small muted", style: "margin-top:6px" }, `${num(p.ratings)} of ${num(p.needed)} ratings · ${num(p.completed_items)} of ${num(p.items)} items complete · ${queue.overlap} reviewer${queue.overlap > 1 ? "s" : ""} per item`),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "Reviewer"), h("th", { class: "num" }, "Done"), h("th", { class: "num" }, "Skipped"), h("th", { class: "num" }, "Holding"))),
      h("tbody", {}, (p.reviewers || []).map((r) => h("tr", {}, h("td", {}, r.reviewer === reviewer ? h("b", {}, `${r.reviewer} (you)`) : r.reviewer), h("td", { class: "num" }, num(r.done)), h("td", { class: "num" }, num(r.skipped)), h("td", { class: "num" }, num(r.reserved))))),
    ),
  );
}

function spanFacts(span) {
  if (!span) return h("p", { class: "error" }, "This span is not stored (yet): rate from what you know, or skip.");
  const bits = [span.model, span.prompt_name ? `${span.prompt_name}${span.prompt_version ? `@${span.prompt_version}` : ""}` : null, span.variant ? `variant ${span.variant}` : null, ms(span.duration_ms)].filter(Boolean);
  return h("p", { class: "small muted" }, bits.join(" · "));
}

function isLlm(span) {
  return Boolean(span && (span.span_kind === "llm" || span.model));
}

export async function render(main, queueId) {
  const reviewer = await requireReviewer();
  const side = h("div");
  const card = h("div");
  let queue;
  const head = h("div", { class: "page-head" });
  clear(main, head, h("div", { class: "review" }, card, side));

  const refreshProgress = async () => {
    queue = await api(`/v1/queues/${queueId}`);
    clear(head, h("a", { href: "/queues", class: "small" }, "← Queues"), h("h1", {}, queue.name), h("span", { class: "badge kind" }, queue.kind), h("span", { class: "sub" }, `reviewing as ${reviewer}`));
    clear(side, progressPanel(queue, reviewer));
  };
  const post = (itemId, body) => api(`/v1/queues/${queueId}/items/${itemId}`, { method: "POST", body: { reviewer, ...body } });

  const next = async () => {
    clear(card, h("p", { class: "loading" }, "Fetching the next item…"));
    let item;
    try {
      item = await api(`/v1/queues/${queueId}/next`, { params: { reviewer } });
      await refreshProgress();
    } catch (err) {
      clear(card, errorBox(err));
      return;
    }
    if (!item) {
      clear(card, h("section", { class: "panel" }, h("h2", {}, "Nothing left for you here"), h("p", { class: "muted" }, queue.progress.percent >= 100 ? "The queue is complete: every item has its reviewers." : "You have rated or skipped every item still open; others may finish the rest."), h("a", { href: "/queues" }, "Back to the queues")));
      return;
    }
    const skip = async () => {
      await post(item.id, { skip: true });
      toast("Skipped");
      await next();
    };
    if (item.kind === "pairwise") clear(card, pairwise(item, post, next, skip));
    else clear(card, await single(item, queue, post, next, skip));
  };
  await next();
}

async function single(item, queue, post, next, skip) {
  const span = item.span;
  const output = span && span.output !== null && span.output !== undefined ? plainText(span.output) : null;
  const form = await rateForm({
    title: item.span_id ? "Rate this span" : "Rate this trace",
    target: { trace_id: item.trace_id, span_id: item.span_id },
    output,
    only: (item.scores || []).map((s) => s.name),
    primary: true,
    onSkip: skip,
    submit: async ({ ratings, comment, correction }) => {
      const values = {};
      const notes = [];
      for (const r of ratings) {
        if ("value" in r) values[r.name] = r.value;
        else if (r.comment) notes.push(`${r.name}: ${r.comment}`);
      }
      const text = [...notes, comment].filter(Boolean).join("\n") || null;
      await post(item.id, { ratings: values, comment: text, correction });
    },
    onDone: next,
  });
  return h(
    "section",
    { class: "panel", "aria-label": "Item to review" },
    h("div", { class: "span-head" }, h("h2", {}, span ? span.name : "Span"), span && span.span_kind ? h("span", { class: "badge kind" }, span.span_kind) : null, h("span", { class: "spacer" }), h("a", { class: "small", href: `/traces/${item.trace_id}${item.span_id ? `#span=${item.span_id}` : ""}`, target: "_blank", rel: "noopener" }, "Open trace ↗")),
    spanFacts(span),
    h("h3", {}, "Input"),
    renderValue(span && span.input, { role: isLlm(span) ? "user" : null }),
    h("h3", {}, "Output"),
    renderValue(span && span.output, { role: isLlm(span) ? "assistant" : null }),
    h("div", { class: "panel", style: "margin-top:14px;background:#fafbfd" }, form),
  );
}

let pairKeys = null;
function pairwise(item, post, next, skip) {
  const comment = h("textarea", { id: "pair-comment", rows: 2, placeholder: "Why? (optional)" });
  const status = h("div", { class: "small", role: "status", "aria-live": "polite" });
  const choose = async (winner) => {
    buttons.forEach((b) => (b.disabled = true));
    try {
      await post(item.id, { winner, comment: comment.value.trim() || null });
      toast(winner === "tie" ? "Tie recorded" : `${winner.toUpperCase()} preferred`);
      await next();
    } catch (err) {
      status.className = "small error";
      status.textContent = err.message;
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  const buttons = [
    h("button", { type: "button", class: "primary", onclick: () => choose("a") }, "A is better"),
    h("button", { type: "button", class: "primary", onclick: () => choose("b") }, "B is better"),
    h("button", { type: "button", onclick: () => choose("tie") }, "Tie"),
    h("button", { type: "button", onclick: skip }, "Skip"),
  ];
  const sideCard = (label, side) =>
    h("div", { class: "side-card", role: "region", "aria-label": `Output ${label}` }, h("h3", {}, `Output ${label}`), renderValue(side.span && side.span.output, { role: isLlm(side.span) ? "assistant" : null }));
  const input = item.a.span ? item.a.span.input : null;
  const handler = (event) => {
    if (!comment.isConnected) return document.removeEventListener("keydown", handler);
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event) || document.querySelector("dialog[open]")) return;
    const winner = { a: "a", b: "b", t: "tie" }[event.key];
    if (winner) (event.preventDefault(), choose(winner));
    else if (event.key === "s") (event.preventDefault(), skip());
  };
  if (pairKeys) document.removeEventListener("keydown", pairKeys);
  pairKeys = handler;
  document.addEventListener("keydown", handler);
  return h(
    "section",
    { class: "panel", "aria-label": "Pair to compare" },
    h("h2", {}, "Which answer is better?"),
    h("p", { class: "small muted" }, "The two answers come in random order, without their variant names."),
    h("h3", {}, "Input"),
    renderValue(input, { role: isLlm(item.a.span) ? "user" : null }),
    h("div", { class: "pair", style: "margin-top:12px" }, sideCard("A", item.a), sideCard("B", item.b)),
    h("div", { class: "field", style: "margin-top:12px" }, h("label", { class: "field-label", for: comment.id }, "Comment"), comment),
    h("div", { class: "big-choices", style: "margin-top:10px" }, buttons, h("span", { class: "hint small muted", style: "margin-left:auto" }, "a / b / t, s to skip")),
    status,
  );
}
