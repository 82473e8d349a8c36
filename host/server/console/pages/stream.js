// A stream: its events a page at a time, newest first or oldest first, each with its data and
// metadata as foldable JSON ("expand all" for the page), a filter by type for the page, and a
// link to the command that produced each event. A stream of an aggregate links to the inspector.

import * as api from "../api.js";
import { h, link, num, replace } from "../dom.js";
import { setOpen } from "../json_view.js";
import { setQuery } from "../nav.js";
import { aggregateOf, eventCard } from "./events.js";

const PAGE = 20;

export default {
  title: "Stream",
  nav: "streams",
  path: /^\/ui\/streams\/([^/]+)$/,
  async render(main, [name], query) {
    const modules = await api.get("/v1/modules");
    const aggregates = new Set(modules.modules.filter((m) => m.kind === "aggregate").map((m) => m.name));
    const list = h("div", { id: "events" });
    const status = h("p", { class: "muted", id: "stream-status", "aria-live": "polite" });
    const typeFilter = h("select", { id: "type-filter" }, h("option", { value: "" }, "every type"));
    const pager = h("div", { class: "pager" });
    let from = query.get("from") ? Number(query.get("from")) : null;
    let direction = query.get("direction") === "forward" ? "forward" : "backward";
    let events = [];

    function showEvents() {
      const wanted = typeFilter.value;
      const shown = events.filter((e) => !wanted || e.type === wanted);
      replace(list, shown.length === 0 ? h("p", { class: "muted" }, "No events here.") : shown.map((e) => eventCard(e)));
    }

    async function load() {
      setQuery({ from, direction: direction === "forward" ? "forward" : "" });
      const page = await api.get(`/v1/streams/${api.seg(name)}`, { from, limit: PAGE, direction });
      events = page.events;
      const types = [...new Set(events.map((e) => e.type))].sort();
      const kept = typeFilter.value;
      replace(typeFilter, h("option", { value: "" }, "every type"), types.map((t) => h("option", { value: t }, t)));
      typeFilter.value = types.includes(kept) ? kept : "";
      // Upcasters may serve more or fewer events than were stored: the page covers the
      // stored versions up to `read_to`, and pages on from there.
      const versions = events.map((e) => e.version).concat(page.read_to ?? []);
      const low = Math.min(...versions, from ?? Infinity);
      const high = Math.max(...versions, from ?? 0);
      status.textContent = page.version === 0
        ? "This stream has no events."
        : events.length === 0
          ? `Version ${num(page.version)}. No events to show here.`
          : `Version ${num(page.version)}. Showing ${num(events.length)} events, versions ${num(low)} to ${num(high)}, ${direction === "backward" ? "newest" : "oldest"} first.`;
      replace(pager,
        h("button", { type: "button", id: "newer", disabled: page.version === 0 || high >= page.version,
          onclick: () => { direction = "forward"; from = high + 1; load(); } }, "Newer"),
        h("button", { type: "button", id: "older", disabled: page.version === 0 || low <= 1,
          onclick: () => { direction = "backward"; from = low - 1; load(); } }, "Older"),
        h("button", { type: "button", id: "newest", onclick: () => { direction = "backward"; from = null; load(); } }, "Newest"),
        h("button", { type: "button", id: "oldest", onclick: () => { direction = "forward"; from = 1; load(); } }, "Oldest"));
      showEvents();
    }

    typeFilter.addEventListener("change", showEvents);
    const inspect = aggregateOf(name, aggregates);
    replace(main,
      h("h1", {}, "Stream ", h("code", { id: "stream-name" }, name)),
      inspect ? h("p", {}, link(inspect, "Inspect this aggregate: time travel and commands")) : null,
      status,
      h("div", { class: "toolbar" },
        h("label", { for: "type-filter" }, "Show "), typeFilter,
        h("button", { type: "button", id: "expand-all", onclick: () => setOpen(list, true) }, "Expand all"),
        h("button", { type: "button", id: "collapse-all", onclick: () => setOpen(list, false) }, "Collapse all")),
      list, pager);
    await load();
  },
};
