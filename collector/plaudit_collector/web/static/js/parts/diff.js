// A correction shown against the output it corrects: a word-level diff (longest common subsequence), falling
// back to whole lines when the texts are too long for a word diff to stay quick.
import { h } from "../dom.js";

const MAX_CELLS = 4_000_000;

function tokens(text, byLine) {
  return byLine ? text.split(/(?<=\n)/) : text.match(/\s+|[^\s]+/g) || [];
}

function lcs(a, b) {
  const n = a.length;
  const m = b.length;
  const table = new Array(n + 1);
  for (let i = 0; i <= n; i++) table[i] = new Uint32Array(m + 1);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) ops.push(["=", a[i++]]), j++;
    else if (table[i + 1][j] >= table[i][j + 1]) ops.push(["-", a[i++]]);
    else ops.push(["+", b[j++]]);
  }
  while (i < n) ops.push(["-", a[i++]]);
  while (j < m) ops.push(["+", b[j++]]);
  return ops;
}

export function diff(before, after) {
  const a0 = String(before ?? "");
  const b0 = String(after ?? "");
  let byLine = false;
  let a = tokens(a0, false);
  let b = tokens(b0, false);
  if (a.length * b.length > MAX_CELLS) {
    byLine = true;
    a = tokens(a0, true);
    b = tokens(b0, true);
  }
  const box = h("div", { class: "diff", "aria-label": "Correction against the output" });
  if (a.length * b.length > MAX_CELLS) {
    box.append(h("del", {}, a0), h("ins", {}, b0));
    return box;
  }
  let run = null;
  for (const [op, text] of lcs(a, b)) {
    const tag = op === "=" ? null : op === "-" ? "del" : "ins";
    if (run && run.tag === tag) run.node.append(text);
    else {
      run = { tag, node: tag ? h(tag, {}, text) : document.createTextNode(text) };
      if (!tag) run.node = h("span", {}, text);
      box.append(run.node);
    }
  }
  if (byLine) box.title = "line diff (texts too long for a word diff)";
  return box;
}
