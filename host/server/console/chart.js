// A small line chart of recent values, drawn as SVG elements (no markup is parsed).

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A chart of `values` (oldest first), labelled for screen readers by `label`. */
export function sparkline(values, { label, width = 240, height = 48 } = {}) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "spark", role: "img", "aria-label": label ?? "chart" });
  const title = el("title", {});
  title.textContent = label ?? "";
  svg.append(title);
  draw(svg, values, width, height);
  return svg;
}

/** Redraws a chart made by `sparkline` with new values. */
export function redraw(svg, values) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  for (const old of svg.querySelectorAll("polyline, line")) old.remove();
  draw(svg, values, width, height);
}

function draw(svg, values, width, height) {
  svg.append(el("line", { x1: 0, y1: height - 1, x2: width, y2: height - 1, class: "axis" }));
  if (values.length < 2) return;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`);
  svg.append(el("polyline", { points: points.join(" "), class: "line" }));
}
