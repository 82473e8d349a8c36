// Pieces more than one page shows: a projection's state as a badge, a table, and the event at
// a position (a fault's).

import * as api from "../api.js";
import { h, num } from "../dom.js";

/** The event at `position` of the log as stored, or null. */
export async function eventAt(position) {
  const page = await api.get("/v1/all", { after: position - 1, limit: 1, raw: "true" });
  return page.events.find((e) => e.position === position) ?? null;
}

/** A projection's state, in words: live, catching up (with its lag), faulted, paused. */
export function stateBadge(status) {
  const labels = { live: "live", catching_up: "catching up", faulted: "faulted", paused: "paused", elsewhere: "run by another node" };
  const lag = status.state === "catching_up" ? ` (${num(status.lag_events)} behind)` : "";
  return h("span", { class: `badge state-${status.state}` }, `${labels[status.state] ?? status.state}${lag}`);
}

/** A table with a caption, column headings and rows of cells. */
export function table(caption, headings, rows, attrs = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attrs,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))));
}

/** A module's hash, shortened for a table, whole in its title. */
export function shortHash(hash) {
  return h("code", { title: hash }, String(hash).slice(0, 12));
}
