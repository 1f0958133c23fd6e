// The feedback on a span or a trace: scores, labels, comments, corrections (as a diff against the output),
// preferences (with a link to the other side), and on request the replaced and deleted history.
import { api } from "../api.js";
import { ago, clear, errorBox, h, valueText, when } from "../dom.js";
import { diff } from "./diff.js";

function sideLink(traceId, spanId, text) {
  return h("a", { href: `/traces/${traceId}${spanId ? `#span=${spanId}` : ""}` }, text);
}

function preferenceLine(fb, here) {
  // A is (trace_id, span_id); B is (other_trace_id, other_span_id). `here` is the span this list belongs to.
  const hereIsA = fb.trace_id === here.trace_id && (fb.span_id || null) === (here.span_id || null);
  const otherTrace = hereIsA ? fb.other_trace_id : fb.trace_id;
  const otherSpan = hereIsA ? fb.other_span_id : fb.span_id;
  const won = fb.winner === "tie" ? "tie" : (fb.winner === "a") === hereIsA ? "this one" : "the other";
  const verdict = fb.winner === "tie" ? "Tie with " : won === "this one" ? "Preferred over " : "Lost to ";
  return h("div", { class: "comment" }, verdict, sideLink(otherTrace, otherSpan, `${String(otherTrace).slice(0, 8)}${otherSpan ? ` / ${otherSpan.slice(0, 8)}` : ""}`));
}

export function feedbackItem(fb, { output = null, here = null, old = false } = {}) {
  const tone = fb.value === true ? "good" : fb.value === false ? "bad" : "";
  return h(
    "div",
    { class: `fb${old ? " old" : ""}`, role: "listitem" },
    h(
      "div",
      { class: "top" },
      h("span", { class: "name" }, fb.name),
      h("span", { class: `val chip ${tone}` }, valueText(fb)),
      h("span", { class: "badge kind" }, fb.source),
      fb.author ? h("span", { class: "meta" }, `by ${fb.author}`) : null,
      h("span", { class: "meta", title: when(fb.created_at) }, ago(fb.created_at)),
      old ? h("span", { class: "badge" }, fb.deleted_at ? "deleted" : "replaced") : null,
    ),
    fb.kind === "preference" && here ? preferenceLine(fb, here) : null,
    fb.comment ? h("div", { class: "comment" }, `“${fb.comment}”`) : null,
    fb.correction !== null && fb.correction !== undefined
      ? h("details", { open: true }, h("summary", {}, "Correction"), output !== null ? diff(output, fb.correction) : h("pre", {}, fb.correction))
      : null,
  );
}

/** The list for one target (span or trace), with a "Show history" switch that asks the API for the rest. */
export function feedbackList(items, { output = null, here, traceId }) {
  const list = h("div", { class: "fb-list", role: "list", "aria-label": here.span_id ? "Feedback on this span" : "Feedback on this trace" });
  const fill = (rows, old = []) => {
    clear(list);
    if (!rows.length && !old.length) list.append(h("p", { class: "empty", role: "listitem" }, "No feedback yet."));
    rows.forEach((fb) => list.append(feedbackItem(fb, { output, here })));
    old.forEach((fb) => list.append(feedbackItem(fb, { output, here, old: true })));
  };
  fill(items);
  let shown = false;
  const button = h("button", { type: "button", class: "link small", "aria-pressed": "false" }, "Show history");
  button.addEventListener("click", async () => {
    shown = !shown;
    button.setAttribute("aria-pressed", String(shown));
    button.textContent = shown ? "Hide history" : "Show history";
    if (!shown) return fill(items);
    try {
      const all = await api("/v1/feedback", { params: { trace_id: traceId, history: true, limit: 1000 } });
      const mine = (all.data || []).filter((fb) => (fb.span_id || null) === (here.span_id || null) && (!fb.is_current || fb.deleted_at));
      fill(items, mine);
    } catch (err) {
      list.append(errorBox(err));
    }
  });
  return h("div", {}, list, h("div", { class: "row", style: "margin-top:4px" }, button));
}
