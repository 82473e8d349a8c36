// Projections: each one's state, position, lag and rate with a small lag chart, a rebuild's
// progress, a fault's event (linked) with its error and what to do, pause, resume and reset
// (each confirmed first), and a query box. Kept current by the stats subscription.

import * as api from "../api.js";
import { confirmButton, h, link, num, replace, streamHref } from "../dom.js";
import { redraw, sparkline } from "../chart.js";
import { jsonView } from "../json_view.js";
import { errorBox } from "../nav.js";
import { eventAt, stateBadge } from "./common.js";

const POINTS = 60;

function progress(generation, label) {
  const share = generation.head === 0 ? 1 : generation.position / generation.head;
  return h("div", { class: "progress-row" },
    h("progress", { max: 1, value: share.toFixed(4), "aria-label": label }),
    h("span", {}, `${num(generation.position)} of ${num(generation.head)} (${(share * 100).toFixed(1)}%)`));
}

function card(name) {
  const lags = [];
  const chart = sparkline([], { label: `Lag of ${name} in events, last minute` });
  const body = h("div", { class: "projection-body" });
  const fault = h("div", { class: "fault-slot" });
  const answer = h("div", { class: "query-answer", "aria-live": "polite" });
  const request = h("textarea", { id: `query-${name}`, rows: 3, spellcheck: "false" }, '{"type": "count"}');
  let faultShown = null;

  async function act(action) {
    try {
      await api.post(`/v1/projections/${api.seg(name)}/${action}`);
    } catch (error) {
      replace(fault, errorBox(error));
    }
  }

  const el = h("article", { class: "projection", id: `projection-${name}`, "data-name": name },
    h("header", {}, h("h2", {}, name), h("span", { class: "state-slot" })),
    body, fault,
    h("div", { class: "chart" }, h("h3", {}, "Lag"), chart),
    h("div", { class: "actions" },
      confirmButton("Pause", `Pause projection ${name}? Its read model stops following the log until you resume it.`, () => act("pause"), { class: "pause", "aria-label": `Pause ${name}` }),
      confirmButton("Resume", `Resume projection ${name}?`, () => act("resume"), { class: "resume", "aria-label": `Resume ${name}` }),
      confirmButton("Reset", `Reset projection ${name}? It rebuilds its read model from the start of the log beside the serving one, which keeps answering until the new one is live.`, () => act("reset"), { class: "reset danger", "aria-label": `Reset ${name}` })),
    h("form", { class: "query", onsubmit: async (e) => {
      e.preventDefault();
      let body;
      try { body = JSON.parse(request.value); } catch (error) {
        replace(answer, h("p", { class: "error", role: "alert" }, `The query is not JSON: ${error.message}`));
        return;
      }
      try {
        replace(answer, jsonView(await api.post(`/v1/projections/${api.seg(name)}/query`, body), { label: "the answer" }));
      } catch (error) {
        replace(answer, errorBox(error));
      }
    } },
      h("label", { for: `query-${name}` }, "Query (JSON)"), request,
      h("button", { type: "submit", class: "ask", "aria-label": `Ask ${name}` }, "Ask")),
    answer);

  async function update(status) {
    el.querySelector(".state-slot").replaceChildren(stateBadge(status));
    el.dataset.state = status.state;
    el.dataset.rebuilding = status.rebuilding ? status.rebuilding.state : "";
    lags.push(status.lag_events);
    if (lags.length > POINTS) lags.shift();
    redraw(chart, lags);
    replace(body,
      h("p", {}, `Version ${status.version}, generation ${status.generation}. Position ${num(status.position)} of ${num(status.head)}; ${num(status.lag_events)} events behind${status.lag_ms ? ` (${num(status.lag_ms / 1000)} s)` : ""}; ${num(status.events_per_s)} events/s.`),
      status.rebuilding
        ? h("div", { class: "rebuild" }, h("h3", {}, `Rebuilding (generation ${status.rebuilding.generation}, ${status.rebuilding.state.replace("_", " ")})`),
            progress(status.rebuilding, `Rebuild of ${name}`))
        : status.state === "catching_up" ? progress(status, `Catch-up of ${name}`) : null);
    const f = status.fault ?? status.rebuilding?.fault;
    const key = f ? `${f.position}:${f.error}` : null;
    if (key === faultShown) return;
    faultShown = key;
    if (!f) { fault.replaceChildren(); return; }
    const e = await eventAt(f.position).catch(() => null);
    if (faultShown !== key) return;
    replace(fault, h("div", { class: "fault", role: "alert" },
      h("h3", {}, "Faulted"),
      h("p", {}, "On the event at position ", num(f.position), " (", h("code", {}, f.event_type), ")",
        e ? [" in ", link(`${streamHref(e.stream)}?from=${e.version}&direction=forward`, `${e.stream} version ${e.version}`)] : null, ":"),
      h("pre", { class: "fault-error" }, f.error),
      h("p", { class: "hint" }, "To fix it: change the module so it handles this event (or add an upcaster that gives old events the shape it expects) and deploy the new version: it rebuilds beside the serving one. Resume tries the same event again.")));
  }
  return { el, update };
}

export default {
  title: "Projections",
  nav: "projections",
  path: /^\/ui\/projections\/?$/,
  async render(main) {
    const list = await api.get("/v1/projections");
    const cards = new Map();
    const holder = h("div", { id: "projections" });
    function showAll(statuses) {
      if (statuses.length === 0 && cards.size === 0) {
        replace(holder, h("p", { class: "muted" }, "No projections are loaded."));
        return;
      }
      for (const status of statuses) {
        if (!cards.has(status.name)) {
          const c = card(status.name);
          cards.set(status.name, c);
          if (cards.size === 1) holder.replaceChildren();
          holder.append(c.el);
        }
        cards.get(status.name).update(status);
      }
    }
    replace(main, h("h1", {}, "Projections"), holder);
    showAll(list.projections);
    return api.subscribe("/v1/stats/subscribe", {}, { stats: (live) => showAll(live.projections) });
  },
};
