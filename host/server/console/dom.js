// Building the page. Every value is put in as text (a Text node or an attribute), never as
// markup: event data, names and messages are untrusted, and nothing here parses them as HTML.

/** An element: h("a", {href: "/ui/"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes, or anything else as text. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A number with thousands separators. */
export function num(n) {
  return typeof n === "number" ? n.toLocaleString("en-US", { maximumFractionDigits: 1 }) : String(n ?? "");
}

/** Bytes as KiB, MiB or GiB. */
export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A time in milliseconds since the epoch, as an ISO date and time (UTC). */
export function time(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A link to a console page. */
export function link(href, ...children) {
  return h("a", { href }, ...children);
}

/** The console's address of a stream. */
export function streamHref(stream) {
  return `/ui/streams/${encodeURIComponent(stream)}`;
}

/** The console's address of an aggregate, if the stream is one of a module's. */
export function aggregateHref(module, id) {
  return `/ui/aggregates/${encodeURIComponent(module)}/${encodeURIComponent(id)}`;
}

/** A small labelled value for a row of figures. */
export function figure(label, value, attrs = {}) {
  return h("div", { class: "figure", ...attrs }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
}

/** A button that asks before it acts. */
export function confirmButton(label, question, action, attrs = {}) {
  return h("button", {
    type: "button",
    ...attrs,
    onclick: async (e) => {
      if (!window.confirm(question)) return;
      e.target.disabled = true;
      try { await action(); } finally { e.target.disabled = false; }
    },
  }, label);
}
