// What pages share with the shell: going to another address, and showing an error.

import { h } from "./dom.js";

/** Goes to a console address without a reload (the shell shows it). */
export function go(href) {
  window.history.pushState({}, "", href);
  window.dispatchEvent(new Event("cairn:navigate"));
}

/** Changes the address's query without a reload or a new page. */
export function setQuery(values) {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === "") url.searchParams.delete(k); else url.searchParams.set(k, v);
  }
  window.history.replaceState({}, "", url);
}

/** An error as a page shows it: the server's message and code. */
export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error.message ?? String(error),
    error.code ? h("code", { class: "code" }, ` ${error.code}`) : null);
}
