// JSON as a foldable tree: objects and arrays are <details> a reader opens and closes, with
// "expand all" and "collapse all" for a whole view. Every key and value is text.

import { h } from "./dom.js";

function scalar(value) {
  const kind = value === null ? "null" : typeof value;
  return h("span", { class: `j-${kind}` }, kind === "string" ? JSON.stringify(value) : String(value));
}

function node(key, value, depth) {
  const label = key === undefined ? null : h("span", { class: "j-key" }, `${key}: `);
  if (value === null || typeof value !== "object") {
    return h("div", { class: "j-row" }, label, scalar(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return h("div", { class: "j-row" }, label, h("span", { class: "j-punct" }, brackets.join("")));
  }
  const summary = h("summary", {}, label, h("span", { class: "j-punct" }, brackets[0]),
    h("span", { class: "j-count" }, ` ${entries.length} ${Array.isArray(value) ? "items" : "keys"} `),
    h("span", { class: "j-punct j-close" }, brackets[1]));
  const details = h("details", { class: "j-node", open: depth < 1 }, summary,
    h("div", { class: "j-children" }, entries.map(([k, v]) => node(k, v, depth + 1))));
  return details;
}

/** A foldable view of `value`, with its own expand-all and collapse-all buttons. */
export function jsonView(value, { label = "JSON" } = {}) {
  const tree = h("div", { class: "j-tree" }, node(undefined, value, 0));
  const tools = h("div", { class: "j-tools" },
    h("button", { type: "button", class: "small", "aria-label": `Expand all of ${label}`, onclick: () => setOpen(tree, true) }, "Expand all"),
    h("button", { type: "button", class: "small", "aria-label": `Collapse all of ${label}`, onclick: () => setOpen(tree, false) }, "Collapse all"));
  return h("div", { class: "json-view" }, tools, tree);
}

/** Opens or closes every fold under `root`. */
export function setOpen(root, open) {
  for (const details of root.querySelectorAll("details.j-node")) details.open = open;
}
