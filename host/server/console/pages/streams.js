// Streams: search by name prefix or category, paged forward and backward through any number of
// streams (GET /v1/streams), and a live tail of the global log (GET /v1/subscribe) with
// category and type filters and a pause.

import * as api from "../api.js";
import { h, link, num, replace, streamHref, time } from "../dom.js";
import { errorBox, setQuery } from "../nav.js";
import { table } from "./common.js";

const PAGE = 25;
const TAIL_ROWS = 100;

function searchSection(query) {
  const prefix = h("input", { id: "stream-prefix", name: "prefix", type: "search", value: query.get("prefix") ?? "", autocomplete: "off", placeholder: "account-" });
  const category = h("input", { id: "stream-category", name: "category", type: "search", value: query.get("category") ?? "", autocomplete: "off", placeholder: "account" });
  const results = h("div", { id: "stream-results", "aria-live": "polite" });
  let cursor = { after: query.get("after"), before: query.get("before") };

  async function load() {
    const params = { limit: PAGE, after: cursor.after, before: cursor.before };
    if (category.value.trim()) params.category = category.value.trim();
    else if (prefix.value) params.prefix = prefix.value;
    setQuery({ prefix: prefix.value, category: category.value.trim(), after: cursor.after, before: cursor.before });
    let page;
    try {
      page = await api.get("/v1/streams", params);
    } catch (error) {
      replace(results, errorBox(error));
      return;
    }
    // A page read backward comes newest name first: show every page ascending.
    const backward = Boolean(cursor.before);
    const streams = backward ? [...page.streams].reverse() : page.streams;
    const moreBefore = backward ? page.more : Boolean(cursor.after);
    const moreAfter = backward ? true : page.more;
    // An empty page still pages on from where it was asked for.
    const first = streams[0]?.stream ?? cursor.after ?? cursor.before;
    const last = streams.at(-1)?.stream ?? cursor.before ?? cursor.after;
    replace(results,
      streams.length === 0
        ? h("p", { class: "muted", id: "no-streams" }, "No stream matches.")
        : table(`Streams ${first} to ${last}`, ["Stream", "Version"],
            streams.map((s) => [link(streamHref(s.stream), s.stream), num(s.version)]), { id: "streams-table" }),
      h("div", { class: "pager" },
        h("button", { type: "button", id: "streams-previous", disabled: !moreBefore || !first,
          onclick: () => { cursor = { before: first }; load(); } }, "← Previous"),
        h("button", { type: "button", id: "streams-next", disabled: !moreAfter || !last || (!backward && !page.more),
          onclick: () => { cursor = { after: last }; load(); } }, "Next →")));
  }

  const form = h("form", { class: "search", role: "search", onsubmit: (e) => { e.preventDefault(); cursor = {}; load(); } },
    h("div", { class: "field" }, h("label", { for: "stream-prefix" }, "Name begins with"), prefix),
    h("div", { class: "field" }, h("label", { for: "stream-category" }, "or category"), category),
    h("button", { type: "submit", id: "stream-search" }, "Search"));
  load();
  return h("section", { "aria-labelledby": "search-title" }, h("h2", { id: "search-title" }, "Find a stream"), form, results);
}

function tailSection() {
  const category = h("input", { id: "tail-category", type: "search", autocomplete: "off", placeholder: "any" });
  const type = h("input", { id: "tail-type", type: "search", autocomplete: "off", placeholder: "any" });
  const rows = h("tbody", { id: "tail-rows" });
  const state = h("span", { id: "tail-state", class: "muted", "aria-live": "polite" }, "connecting…");
  const pause = h("button", { type: "button", id: "tail-pause" }, "Pause");
  let paused = false;
  let held = [];
  let close = () => {};
  let started = 0;
  let left = false;

  function row(e) {
    return h("tr", {},
      h("td", {}, num(e.position)),
      h("td", {}, link(streamHref(e.stream), e.stream)),
      h("td", {}, num(e.version)),
      h("td", {}, h("code", {}, e.type)),
      h("td", {}, time(e.recorded_at)));
  }
  function show(events) {
    rows.prepend(...events.reverse().map(row));
    while (rows.children.length > TAIL_ROWS) rows.lastChild.remove();
  }
  async function start() {
    close();
    close = () => {};
    rows.replaceChildren();
    held = [];
    const mine = ++started;
    let head = 0;
    try { head = (await api.get("/v1/stats")).head; } catch { /* from the start */ }
    if (left || mine !== started) return;
    close = api.subscribe("/v1/subscribe", { after: head, category: category.value.trim(), type: type.value.trim() }, {
      open: () => { state.textContent = paused ? "paused" : "live"; },
      failed: () => { state.textContent = "reconnecting…"; },
      message(e) { if (paused) { held.push(e); pause.textContent = `Resume (${held.length} new)`; } else show([e]); },
      error(e) { state.textContent = `stopped: ${e.message ?? e}`; },
    });
  }
  pause.addEventListener("click", () => {
    paused = !paused;
    state.textContent = paused ? "paused" : "live";
    if (!paused) { show(held); held = []; pause.textContent = "Pause"; }
  });
  const filters = h("form", { class: "search", onsubmit: (e) => { e.preventDefault(); start(); } },
    h("div", { class: "field" }, h("label", { for: "tail-category" }, "Category"), category),
    h("div", { class: "field" }, h("label", { for: "tail-type" }, "Event type"), type),
    h("button", { type: "submit" }, "Filter"), pause, state);
  start();
  const section = h("section", { "aria-labelledby": "tail-title" },
    h("h2", { id: "tail-title" }, "Live tail of the log"), filters,
    h("div", { class: "table-wrap" }, h("table", { id: "tail-table" },
      h("caption", {}, "Newest first"),
      h("thead", {}, h("tr", {}, ["Position", "Stream", "Version", "Type", "Recorded"].map((t) => h("th", { scope: "col" }, t)))),
      rows)));
  return { section, close: () => { left = true; close(); } };
}

export default {
  title: "Streams",
  nav: "streams",
  path: /^\/ui\/streams\/?$/,
  async render(main, _params, query) {
    const tail = tailSection();
    replace(main, h("h1", {}, "Streams"), searchSection(query), tail.section);
    return tail.close;
  },
};
