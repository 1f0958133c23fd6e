// The vendored uPlot, loaded on first use by the pages that draw a chart.
import { h } from "../dom.js";

export const COLORS = ["#3451b2", "#c2410c", "#15803d", "#7c3aed", "#0e7490", "#b91c1c", "#4d7c0f", "#a21caf"];

export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  document.head.append(h("link", { rel: "stylesheet", href: "/static/vendor/uplot/uPlot.min.css" }));
  return new Promise((resolve, reject) => {
    const script = h("script", { src: "/static/vendor/uplot/uPlot.iife.min.js" });
    script.onload = () => resolve(window.uPlot);
    script.onerror = reject;
    document.head.append(script);
  });
}
