// The few icons the pages use, drawn here (no icon font, no emoji: they render the same everywhere).
import { svg } from "../dom.js";

const THUMB = "M6 11 L10 4 Q11 2.5 12.5 3.2 Q14 4 13.5 6 L12.8 9.5 H19 Q21 9.5 20.7 11.5 L19.3 19 Q19 21 17 21 H6 Z";

export function thumb(up = true) {
  return svg(
    "svg",
    { viewBox: "0 0 24 24", width: 15, height: 15, fill: "none", stroke: "currentColor", "stroke-width": 1.8, "stroke-linejoin": "round", "aria-hidden": "true", class: "icon" },
    svg("g", { transform: up ? null : "rotate(180 12 12)" }, svg("rect", { x: 2, y: 10, width: 4, height: 11, rx: 1 }), svg("path", { d: THUMB })),
  );
}
