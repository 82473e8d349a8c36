// The overview: the log's head, event and command rates over the last minutes, the modules,
// the projections' health, the store's size and cairn's version. Kept current by the stats
// subscription.

import * as api from "../api.js";
import { bytes, figure, h, link, num, replace } from "../dom.js";
import { redraw, sparkline } from "../chart.js";
import { shortHash, stateBadge, table } from "./common.js";

/** How many rate points a chart shows. */
const POINTS = 120;

export default {
  title: "Overview",
  nav: "overview",
  path: /^\/ui\/?$/,
  async render(main) {
    const [stats, modules, projections] = await Promise.all([
      api.get("/v1/stats"),
      api.get("/v1/modules"),
      api.get("/v1/projections"),
    ]);
    const events = stats.rates.map((r) => r.events_per_s).slice(-POINTS);
    const commands = stats.rates.map((r) => r.commands_per_s).slice(-POINTS);
    const last = (values) => num(values.at(-1) ?? 0);
    const head = h("span", { id: "head" }, num(stats.head));
    const size = h("span", { id: "store-size" }, bytes(stats.store_bytes));
    const eventsNow = h("span", {}, last(events));
    const commandsNow = h("span", {}, last(commands));
    const eventsChart = sparkline(events, { label: "Events per second, last ten minutes" });
    const commandsChart = sparkline(commands, { label: "Commands per second, last ten minutes" });
    const health = h("div", { id: "projection-health" });
    const showHealth = (list) => replace(health, list.length === 0
      ? h("p", { class: "muted" }, "No projections are loaded.")
      : table("Projections", ["Projection", "State", "Position"], list.map((p) => [
          link("/ui/projections", p.name), stateBadge(p), `${num(p.position)} of ${num(p.head)}`,
        ]), { id: "health-table", class: "quiet" }));
    showHealth(projections.projections);

    replace(main,
      h("h1", {}, "Overview"),
      h("section", { class: "figures", "aria-label": "The store" },
        figure("Head", head, { id: "figure-head" }),
        figure("Store size", size),
        figure("Commands since start", h("span", { id: "commands-total" }, num(stats.commands))),
        figure("cairn", h("span", { id: "version" }, stats.version))),
      h("section", { class: "charts", "aria-label": "Rates" },
        h("div", { class: "chart" }, h("h2", {}, "Events per second ", eventsNow), eventsChart),
        h("div", { class: "chart" }, h("h2", {}, "Commands per second ", commandsNow), commandsChart)),
      h("section", { "aria-labelledby": "modules-title" },
        h("h2", { id: "modules-title" }, "Modules"),
        modules.modules.length === 0
          ? h("p", { class: "muted" }, "No modules are loaded. Deploy one with `cairn deploy`, or drop a .wasm file on the Modules page.")
          : table("Modules", ["Module", "Kind", "Version", "Hash"], modules.modules.map((m) => [
              link("/ui/modules", m.name), m.kind, `v${m.version}`, shortHash(m.hash),
            ]), { id: "modules-table", class: "quiet" })),
      h("section", { "aria-labelledby": "health-title" },
        h("h2", { id: "health-title" }, "Projections"), health));

    return api.subscribe("/v1/stats/subscribe", {}, {
      stats(live) {
        head.textContent = num(live.head);
        size.textContent = bytes(live.store_bytes);
        events.push(live.events_per_s);
        commands.push(live.commands_per_s);
        if (events.length > POINTS) events.shift();
        if (commands.length > POINTS) commands.shift();
        eventsNow.textContent = last(events);
        commandsNow.textContent = last(commands);
        redraw(eventsChart, events);
        redraw(commandsChart, commands);
        showHealth(live.projections);
      },
    });
  },
};
